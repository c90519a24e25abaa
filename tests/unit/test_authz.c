/*
 * Unit tests for authz/: SMART scope parsing, the decision function over
 * a real vault (care team, self, restricted data, break-glass, unknown
 * role, missing link), policy-file parsing (errors fail closed), filters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "auth/auth.h"
#include "authz/authz.h"
#include "fhir/fhir.h"
#include "testvault.h"

static int
setup(void **state)
{
	(void)state;
	return pv_crypto_init() == PV_OK ? 0 : -1;
}

static void
test_scopes(void **state)
{
	char ctx;

	(void)state;
	assert_true(pv_scopes_valid("patient/Observation.rs"));
	assert_true(pv_scopes_valid("system/*.cruds user/Patient.r"));
	assert_true(pv_scopes_valid("patient/*.read system/Patient.write"));
	assert_true(pv_scopes_valid("system/*.rs phivault/restricted"));
	assert_false(pv_scopes_valid("patient/Observation.sr")); /* order */
	assert_false(pv_scopes_valid("patient/Observation.rr")); /* repeat */
	assert_false(pv_scopes_valid("patient/Observation.x"));
	assert_false(pv_scopes_valid("admin/*.r"));
	assert_false(pv_scopes_valid(""));
	/* Outside review, finding 11: a "type" that only embeds the
	 * restricted scope's text is no type this server serves. */
	assert_false(pv_scopes_valid("system/phivault/restricted.rs"));
	assert_false(pv_scopes_valid("system/Foo.rs"));
	assert_false(
	    pv_scopes_valid("system/Observation.rs x/phivault/restricted"));
	assert_true(pv_scopes_has("system/*.rs phivault/restricted",
	    PV_SCOPE_RESTRICTED));
	assert_false(pv_scopes_has("system/phivault/restricted.rs",
	    PV_SCOPE_RESTRICTED));
	assert_false(
	    pv_scopes_has("phivault/restricted-x", PV_SCOPE_RESTRICTED));
	assert_false(
	    pv_scopes_has("xphivault/restricted", PV_SCOPE_RESTRICTED));
	assert_true(pv_scopes_allow("patient/Observation.rs", "Observation",
	    PV_ACT_READ, &ctx));
	assert_int_equal(ctx, 'p');
	assert_false(pv_scopes_allow("patient/Observation.rs", "Observation",
	    PV_ACT_CREATE, &ctx));
	assert_false(pv_scopes_allow("patient/Observation.rs", "Condition",
	    PV_ACT_READ, &ctx));
	assert_true(pv_scopes_allow("patient/*.r system/*.r", "Condition",
	    PV_ACT_READ, &ctx));
	assert_int_equal(ctx, 's'); /* the broadest wins */
	assert_false(pv_scopes_allow("system/*.cruds", "Patient",
	    PV_ACT_BREAK_GLASS, &ctx));
}

/* A client registered before the fix with a scope that merely contains
 * the restricted scope's text is not cleared for restricted data. */
static void
test_restricted_scope_is_a_whole_word(void **state)
{
	struct pv_policy p;
	struct pv_principal who;

	(void)state;
	pv_policy_defaults(&p);
	memset(&who, 0, sizeof(who));
	strcpy(who.role, "service");
	strcpy(who.scopes, "system/*.rs system/phivault/restricted.rs");
	assert_false(pv_authz_may_see_restricted(&p, &who));
	strcpy(who.scopes, "system/*.rs phivault/restricted-not");
	assert_false(pv_authz_may_see_restricted(&p, &who));
	strcpy(who.scopes, "system/*.rs phivault/restricted");
	assert_true(pv_authz_may_see_restricted(&p, &who));
}

static char policy_path[64];

static void
write_policy(const char *text)
{
	FILE *f;
	int fd;

	strcpy(policy_path, "/tmp/pv-policy-XXXXXX");
	fd = mkstemp(policy_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static void
test_policy_file(void **state)
{
	struct pv_policy p;
	char err[200];

	(void)state;
	write_policy("# comment\nallow nurse Observation rs careteam\n"
		     "filter nurse Patient identifier\nrestricted clinician\n");
	assert_int_equal(pv_policy_load(&p, policy_path, err, sizeof(err)),
	    PV_OK);
	assert_int_equal(p.rules_n, 1);
	assert_int_equal(p.filters_n, 1);
	unlink(policy_path);
	write_policy(
	    "allow nurse Observation rs careteam\nallow wizard * r any\n");
	assert_int_equal(pv_policy_load(&p, policy_path, err, sizeof(err)),
	    PV_EINVAL);
	assert_non_null(strstr(err, "line 2"));
	unlink(policy_path);
	write_policy("allow nurse Observation rq careteam\n");
	assert_int_equal(pv_policy_load(&p, policy_path, err, sizeof(err)),
	    PV_EINVAL);
	unlink(policy_path);
	write_policy("allow nurse Observation r friends\n");
	assert_int_equal(pv_policy_load(&p, policy_path, err, sizeof(err)),
	    PV_EINVAL);
	unlink(policy_path);
}

static struct pv_principal
principal(struct pv_vault *v, const char *name)
{
	struct pv_principal p;
	struct pv_user u;

	memset(&p, 0, sizeof(p));
	assert_int_equal(pv_store_user_get_by_name(v->store, name, &u), PV_OK);
	p.user_id = u.id;
	strcpy(p.username, u.username);
	strcpy(p.role, u.role);
	strcpy(p.patient_id, u.patient_id);
	strcpy(p.scopes, u.scopes);
	return p;
}

static bool
allowed(struct pv_vault *v, const struct pv_policy *pol,
    const struct pv_principal *who, pv_action a, const char *type,
    const char *patient, pv_data_class cls, const char **reason)
{
	struct pv_authz_request rq = { who, a, type, patient, cls, pv_now() };
	struct pv_authz_decision d;

	pv_authz_decide(pol, v, &rq, &d);
	if (reason != NULL)
		*reason = d.reason;
	return d.is_allowed;
}

static void
test_decisions(void **state)
{
	struct pv_vault *v = tv_open("[auth]\nargon2_memlimit_kib = 8192\n"
				     "argon2_opslimit = 1\n");
	struct pv_policy pol;
	struct pv_principal doc, nurse, pat, admin, aud, ghost;
	struct pv_grant g;
	pv_pw_verdict vd;
	const char *why;

	(void)state;
	assert_non_null(v);
	pv_policy_defaults(&pol);
	assert_int_equal(pv_account_create(v, "doc", "clinician", NULL,
			     "Long-secret-one-1", &vd, NULL),
	    PV_OK);
	assert_int_equal(pv_account_create(v, "nina", "nurse", NULL,
			     "Long-secret-two-2", &vd, NULL),
	    PV_OK);
	assert_int_equal(pv_account_create(v, "pat", "patient", "p1",
			     "Long-secret-three-3", &vd, NULL),
	    PV_OK);
	assert_int_equal(pv_account_create(v, "root", "admin", NULL,
			     "Long-secret-four-4", &vd, NULL),
	    PV_OK);
	assert_int_equal(pv_account_create(v, "aud", "auditor", NULL,
			     "Long-secret-five-5", &vd, NULL),
	    PV_OK);
	doc = principal(v, "doc");
	nurse = principal(v, "nina");
	pat = principal(v, "pat");
	admin = principal(v, "root");
	aud = principal(v, "aud");
	{
		/* Care teams are for existing patients. */
		assert_int_equal(pv_careteam_add(v, "doc", "p1"), PV_ENOTFOUND);
		assert_int_equal(tv_create_patient(v, "p1"), PV_OK);
	}
	assert_int_equal(pv_careteam_add(v, "doc", "p1"), PV_OK);
	assert_int_equal(pv_careteam_add(v, "nina", "p1"), PV_OK);

	assert_true(allowed(v, &pol, &doc, PV_ACT_UPDATE, "Observation", "p1",
	    PV_CLASS_NORMAL, &why));
	assert_string_equal(why, "careteam");
	assert_false(allowed(v, &pol, &doc, PV_ACT_READ, "Observation", "p2",
	    PV_CLASS_NORMAL, &why));
	assert_string_equal(why, "not_on_careteam");
	assert_true(allowed(v, &pol, &doc, PV_ACT_CREATE, "Patient", NULL,
	    PV_CLASS_NORMAL, NULL));
	assert_true(allowed(v, &pol, &nurse, PV_ACT_CREATE, "Observation", "p1",
	    PV_CLASS_NORMAL, NULL));
	assert_false(allowed(v, &pol, &nurse, PV_ACT_CREATE, "Condition", "p1",
	    PV_CLASS_NORMAL, NULL));
	assert_false(allowed(v, &pol, &nurse, PV_ACT_READ, "Observation", "p1",
	    PV_CLASS_RESTRICTED, &why));
	assert_string_equal(why, "restricted_class");
	assert_true(allowed(v, &pol, &pat, PV_ACT_READ, "Observation", "p1",
	    PV_CLASS_RESTRICTED, NULL)); /* own data */
	assert_false(allowed(v, &pol, &pat, PV_ACT_READ, "Observation", "p2",
	    PV_CLASS_NORMAL, &why));
	assert_true(allowed(v, &pol, &pat, PV_ACT_CREATE, "Communication", "p1",
	    PV_CLASS_NORMAL, NULL));
	assert_false(allowed(v, &pol, &pat, PV_ACT_CREATE, "Observation", "p1",
	    PV_CLASS_NORMAL, NULL));
	assert_false(allowed(v, &pol, &admin, PV_ACT_READ, "Patient", "p1",
	    PV_CLASS_NORMAL, NULL)); /* admins: no clinical data */
	assert_true(allowed(v, &pol, &admin, PV_ACT_ADMIN, "CareTeam", NULL,
	    PV_CLASS_NORMAL, NULL));
	assert_true(allowed(v, &pol, &aud, PV_ACT_SEARCH, "AuditEvent", "p9",
	    PV_CLASS_NORMAL, NULL));
	assert_false(allowed(v, &pol, &aud, PV_ACT_READ, "Observation", "p1",
	    PV_CLASS_NORMAL, NULL));
	/* Restricted clearance by permission. */
	assert_int_equal(pv_account_permission(v, "nina", "restricted", true),
	    PV_OK);
	nurse = principal(v, "nina");
	assert_true(allowed(v, &pol, &nurse, PV_ACT_READ, "Observation", "p1",
	    PV_CLASS_RESTRICTED, NULL));
	/* Break-glass opens one patient for a while, and is marked. */
	assert_false(allowed(v, &pol, &doc, PV_ACT_READ, "Observation", "p3",
	    PV_CLASS_NORMAL, NULL));
	assert_int_equal(pv_dek_get(v, "p3", true, (unsigned char[32]){ 0 }),
	    PV_OK);
	assert_int_equal(pv_breakglass_open(v, &doc, "p3", "ER, unconscious", 0,
			     &g),
	    PV_OK);
	{
		struct pv_authz_request rq = { &doc, PV_ACT_READ, "Observation",
			"p3", PV_CLASS_NORMAL, pv_now() };
		struct pv_authz_decision d;

		pv_authz_decide(&pol, v, &rq, &d);
		assert_true(d.is_allowed);
		assert_string_equal(d.reason, "break_glass");
		assert_int_equal(d.grant_id, g.id);
		rq.now = g.expires_at + 1;
		pv_authz_decide(&pol, v, &rq, &d);
		assert_false(d.is_allowed);
	}
	assert_int_equal(pv_breakglass_open(v, &doc, "p3", "", 0, &g),
	    PV_EINVAL);
	/* Fail closed: unknown role, patient account without a link. */
	ghost = doc;
	strcpy(ghost.role, "wizard");
	assert_false(allowed(v, &pol, &ghost, PV_ACT_READ, "Observation", "p1",
	    PV_CLASS_NORMAL, &why));
	assert_string_equal(why, "unknown_role");
	ghost = pat;
	ghost.patient_id[0] = '\0';
	assert_false(allowed(v, &pol, &ghost, PV_ACT_READ, "Observation", "p1",
	    PV_CLASS_NORMAL, &why));
	assert_string_equal(why, "no_patient_link");
	{
		const char *f[4];
		assert_int_equal(pv_authz_filters(&pol, "nurse", "Patient", f,
				     4),
		    1);
		assert_string_equal(f[0], "identifier");
		assert_int_equal(pv_authz_filters(&pol, "clinician", "Patient",
				     f, 4),
		    0);
	}
	tv_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_restricted_scope_is_a_whole_word),
		cmocka_unit_test(test_policy_file),
		cmocka_unit_test(test_decisions),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
