/*
 * test_routes_misc.c — the non-FHIR handlers called directly (issue 14),
 * on a real vault with the real route table and services: route_health.c,
 * route_auth.c (login, sessions, logout, MFA enrolment and confirmation,
 * password change), route_audit.c (checkpoint, proofs), route_admin.c
 * (care team, erasure) and route_deid.c (export). Each test asserts the
 * status, the body and what changed in the vault.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <liboath/oath.h>
#include <unistd.h>

#include "routeharness.h"

static struct rh *h;
static struct pv_principal doc, admin, rita;

static int
setup(void **state)
{
	(void)state;
	if ((h = rh_open()) == NULL)
		return -1;
	doc = rh_user(h, "doc", "clinician", NULL);
	admin = rh_user(h, "root", "admin", NULL);
	rita = rh_user(h, "rita", "researcher", NULL);
	return doc.user_id > 0 && admin.user_id > 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	rh_close(h);
	return 0;
}

static void
test_health_and_metrics(void **state)
{
	struct rh_req r = { .who = NULL };

	(void)state;
	assert_int_equal(rh_call(h, &r, "GET", "/healthz"), 200);
	assert_string_equal(rh_str(&r, "status"), "ok");
	rh_req_clear(&r);
	assert_int_equal(rh_call(h, &r, "GET", "/readyz"), 200);
	assert_string_equal(rh_str(&r, "status"), "ready");
	assert_string_equal(rh_str(&r, "keys"), "ok");
	rh_req_clear(&r);
	assert_int_equal(rh_call(h, &r, "GET", "/metrics"), 200);
	assert_non_null(strstr(r.p.resp, "phivault_"));
	rh_req_clear(&r);
}

/* POST /auth/login; the session's principal in *who (when 200). */
static unsigned
login(const char *user, const char *pw, struct pv_principal *who,
    char token[128])
{
	char body[200];
	struct rh_req r = { .who = NULL };
	unsigned st;

	snprintf(body, sizeof(body),
	    "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	r.body = body;
	st = rh_call(h, &r, "POST", "/auth/login");
	if (st == 200) {
		snprintf(token, 128, "%s", rh_str(&r, "token"));
		assert_non_null(rh_header(&r, "Set-Cookie"));
		assert_int_equal(pv_session_validate(h->v, token, who), PV_OK);
	}
	rh_req_clear(&r);
	return st;
}

/* Login (wrong password 401, right one 200), sessions, logout. */
static void
test_login_sessions_logout(void **state)
{
	struct pv_principal who, again;
	struct rh_req r = { .who = NULL };
	char token[128];

	(void)state;
	assert_int_equal(login("doc", "wrong-password-9", &who, token), 401);
	assert_int_equal(login("doc", "Long-secret-route-1", &who, token), 200);
	assert_int_equal(who.user_id, doc.user_id);

	r.who = &who;
	assert_int_equal(rh_call(h, &r, "GET", "/auth/sessions"), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "sessions")),
	    1);
	rh_req_clear(&r);
	assert_int_equal(rh_call(h, &r, "DELETE", "/auth/sessions/nosuch1"),
	    404);
	rh_req_clear(&r);
	assert_int_equal(rh_call(h, &r, "POST", "/auth/logout"), 200);
	rh_req_clear(&r);
	assert_int_not_equal(pv_session_validate(h->v, token, &again), PV_OK);
}

/* MFA enrolment and confirmation with a real TOTP code (liboath), then a
 * password change: its intent before the change. */
static void
test_mfa_and_password(void **state)
{
	struct pv_principal who;
	struct rh_req r = { .who = NULL };
	char token[128], otp[16], body[96], *raw = NULL;
	size_t rawlen = 0;
	struct pv_user u;

	(void)state;
	(void)rh_user(h, "mia", "clinician", NULL);
	assert_int_equal(login("mia", "Long-secret-route-1", &who, token), 200);
	r.who = &who;
	assert_int_equal(rh_call(h, &r, "POST", "/auth/mfa/enroll"), 200);
	assert_int_equal(oath_init(), OATH_OK);
	assert_int_equal(oath_base32_decode(rh_str(&r, "secret"),
			     strlen(rh_str(&r, "secret")), &raw, &rawlen),
	    OATH_OK);
	rh_req_clear(&r);
	assert_int_equal(oath_totp_generate(raw, rawlen, time(NULL), 30, 0, 6,
			     otp),
	    OATH_OK);
	free(raw);
	/* A wrong code is a denial, audited once (no write-ahead). */
	r.body =
	    otp[0] == '9' ? "{\"otp\":\"000000\"}" : "{\"otp\":\"999999\"}";
	assert_int_equal(rh_call(h, &r, "POST", "/auth/mfa/confirm"), 401);
	assert_string_equal(r.p.note.reason, "invalid_otp");
	rh_req_clear(&r);
	snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", otp);
	r.body = body;
	assert_int_equal(rh_call(h, &r, "POST", "/auth/mfa/confirm"), 200);
	assert_int_equal(json_array_size(
			     json_object_get(r.json, "recovery_codes")),
	    10);
	rh_req_clear(&r);
	assert_int_equal(pv_store_user_get_by_name(h->v->store, "mia", &u),
	    PV_OK);
	assert_true(u.has_mfa);

	/* MFA is on now: a fresh session says so. */
	who.has_mfa = true;
	who.is_mfa_satisfied = true;
	r.body =
	    "{\"old\":\"not-the-password-1\",\"new\":\"Another-long-pw-22\"}";
	assert_int_equal(rh_call(h, &r, "POST", "/auth/password"), 403);
	rh_req_clear(&r);
	r.body = "{\"old\":\"Long-secret-route-1\",\"new\":\"short\"}";
	assert_int_equal(rh_call(h, &r, "POST", "/auth/password"), 422);
	rh_req_clear(&r);
	sodium_memzero(&u, sizeof(u));
}

/* Checkpoint and an inclusion proof of the first entry. */
static void
test_audit_proofs(void **state)
{
	struct rh_req r = { .who = &doc };

	(void)state;
	/* Two entries in the trail, whatever ran before. */
	{
		struct pv_audit_event ev;

		memset(&ev, 0, sizeof(ev));
		strcpy(ev.action, "test");
		ev.outcome = "allowed";
		ev.reason = "ok";
		assert_int_equal(pv_audit_append(h->audit, &ev), PV_OK);
		assert_int_equal(pv_audit_append(h->audit, &ev), PV_OK);
	}
	assert_int_equal(rh_call(h, &r, "GET", "/audit/checkpoint"), 200);
	assert_true(strlen(rh_str(&r, "root")) > 0);
	rh_req_clear(&r);
	r.query[0][0] = "index";
	r.query[0][1] = "0";
	r.query[1][0] = "size";
	r.query[1][1] = "1";
	assert_int_equal(rh_call(h, &r, "GET", "/audit/proof/inclusion"), 200);
	assert_true(json_is_array(json_object_get(r.json, "proof")));
	rh_req_clear(&r);
	r.query[0][1] = "x";
	assert_int_equal(rh_call(h, &r, "GET", "/audit/proof/inclusion"), 400);
	rh_req_clear(&r);
	memset(r.query, 0, sizeof(r.query));
	r.query[0][0] = "from";
	r.query[0][1] = "1";
	r.query[1][0] = "to";
	r.query[1][1] = "2";
	assert_int_equal(rh_call(h, &r, "GET", "/audit/proof/consistency"),
	    200);
	rh_req_clear(&r);
}

/* Care team add/remove by an admin (write-ahead), erasure refused to a
 * clinician and done by an admin. */
static void
test_admin(void **state)
{
	struct rh_req r = { .who = &admin };
	struct pv_change c;
	json_t *res = json_pack("{s:s}", "resourceType", "Patient");
	char body[160];
	bool on = false, gone = false;

	(void)state;
	c = tv_create_change("Patient", "adm1", NULL, res);
	assert_int_equal(pv_record_apply(h->v, NULL, &c, 1), PV_OK);
	assert_int_equal(c.status, PV_OK);
	pv_record_clear(&c.rec);
	json_decref(res);

	r.body = "{\"user\":\"doc\",\"patient\":\"adm1\"}";
	assert_int_equal(rh_call(h, &r, "POST", "/admin/careteam"), 200);
	assert_string_equal(rh_str(&r, "status"), "added");
	rh_req_clear(&r);
	assert_int_equal(pv_store_careteam_has(h->v->store, doc.user_id, "adm1",
			     &on),
	    PV_OK);
	assert_true(on);
	r.body = "{\"user\":\"rita\",\"patient\":\"adm1\"}";
	assert_int_equal(rh_call(h, &r, "POST", "/admin/careteam"), 422);
	rh_req_clear(&r);
	r.body = "{\"user\":\"doc\",\"patient\":\"adm1\"}";
	assert_int_equal(rh_call(h, &r, "DELETE", "/admin/careteam"), 200);
	rh_req_clear(&r);
	assert_int_equal(pv_store_careteam_has(h->v->store, doc.user_id, "adm1",
			     &on),
	    PV_OK);
	assert_false(on);

	snprintf(body, sizeof(body), "{\"patient\":\"adm1\"}");
	r.body = body;
	r.who = &doc;
	assert_int_equal(rh_call(h, &r, "POST", "/admin/erase"), 403);
	rh_req_clear(&r);
	assert_int_equal(pv_patient_is_erased(h->v, "adm1", &gone), PV_OK);
	assert_false(gone);
	r.who = &admin;
	assert_int_equal(rh_call(h, &r, "POST", "/admin/erase"), 200);
	rh_req_clear(&r);
	assert_int_equal(pv_patient_is_erased(h->v, "adm1", &gone), PV_OK);
	assert_true(gone);
}

/* The de-identified export: a researcher gets a file body, a clinician
 * is refused. */
static void
test_deid_export(void **state)
{
	struct rh_req r = { .who = &rita };

	(void)state;
	r.query[0][0] = "format";
	r.query[0][1] = "ndjson";
	assert_int_equal(rh_call(h, &r, "GET", "/deid/export"), 200);
	assert_true(r.p.resp_fd > 0);
	rh_req_clear(&r);
	r.who = &doc;
	assert_int_equal(rh_call(h, &r, "GET", "/deid/export"), 403);
	rh_req_clear(&r);
	r.who = &rita;
	r.query[0][1] = "xml";
	assert_int_equal(rh_call(h, &r, "GET", "/deid/export"), 400);
	rh_req_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_and_metrics),
		cmocka_unit_test(test_login_sessions_logout),
		cmocka_unit_test(test_mfa_and_password),
		cmocka_unit_test(test_audit_proofs),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_deid_export),
	};

	pv_fhir_json_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
