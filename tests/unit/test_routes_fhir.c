/*
 * test_routes_fhir.c — the FHIR handlers called directly (issue 14: the
 * handler contract has no libmicrohttpd in it), on a real vault with the
 * real route table, policy, audit trail and write service: every FHIR
 * route file (route_fhir_read.c, _write.c, _search.c, _meta.c,
 * route_breakglass.c, route_fhir_common.c) is reached. Each test asserts
 * the status, the body, the headers, the audit note and, for writes,
 * what the store holds afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lifecycle/lifecycle.h"
#include "routeharness.h"

static struct rh *h;
static struct pv_principal doc, dr2, nurse, aud;

static int
setup(void **state)
{
	(void)state;
	if ((h = rh_open()) == NULL)
		return -1;
	doc = rh_user(h, "doc", "clinician", NULL);
	dr2 = rh_user(h, "dr2", "clinician", NULL);
	nurse = rh_user(h, "nina", "nurse", NULL);
	aud = rh_user(h, "aud", "auditor", NULL);
	return doc.user_id > 0 && nurse.user_id > 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	rh_close(h);
	return 0;
}

/* POST /fhir/Patient as doc; the new id (caller frees nothing). */
static void
create_patient(char id[PV_ID_HEX_LEN + 1], const char *body)
{
	struct rh_req r = { .body = body, .who = &doc };

	assert_int_equal(rh_call(h, &r, "POST", "/fhir/Patient"), 201);
	snprintf(id, PV_ID_HEX_LEN + 1, "%s", rh_str(&r, "id"));
	assert_int_equal(strlen(id), PV_ID_HEX_LEN);
	rh_req_clear(&r);
}

static void
create_observation(const char *pid, char id[PV_ID_HEX_LEN + 1])
{
	char body[256], path[160];
	struct rh_req r = { .who = &doc };

	snprintf(body, sizeof(body),
	    "{\"resourceType\":\"Observation\",\"status\":\"final\","
	    "\"code\":{\"text\":\"hr\"},\"subject\":{\"reference\":"
	    "\"Patient/%s\"}}",
	    pid);
	r.body = body;
	assert_int_equal(rh_call(h, &r, "POST", "/fhir/Observation"), 201);
	snprintf(id, PV_ID_HEX_LEN + 1, "%s", rh_str(&r, "id"));
	snprintf(path, sizeof(path), "/fhir/Observation/%s/_history/1", id);
	assert_string_equal(rh_header(&r, "Location"), path);
	assert_string_equal(rh_header(&r, "ETag"), "W/\"1\"");
	assert_string_equal(r.p.note.patient, pid);
	rh_req_clear(&r);
}

/* Create: 201, Location, the creator on the care team, stored sealed. */
static void
test_create_and_read(void **state)
{
	char pid[PV_ID_HEX_LEN + 1], path[128];
	struct rh_req r = { .who = &doc };
	struct pv_record rec;
	bool on_team = false;

	(void)state;
	create_patient(pid,
	    "{\"resourceType\":\"Patient\","
	    "\"name\":[{\"family\":\"Rivera\"}]}");
	assert_int_equal(pv_record_open(h->v, "Patient", pid, 0, &rec), PV_OK);
	assert_int_equal(rec.version, 1);
	pv_record_clear(&rec);
	assert_int_equal(pv_store_careteam_has(h->v->store, doc.user_id, pid,
			     &on_team),
	    PV_OK);
	assert_true(on_team);

	snprintf(path, sizeof(path), "/fhir/Patient/%s", pid);
	assert_int_equal(rh_call(h, &r, "GET", path), 200);
	assert_string_equal(rh_str(&r, "id"), pid);
	assert_string_equal(rh_header(&r, "ETag"), "W/\"1\"");
	assert_non_null(rh_header(&r, "Last-Modified"));
	assert_string_equal(r.p.note.patient, pid);
	assert_string_equal(r.p.note.outcome, "allowed");
	rh_req_clear(&r);

	/* An unknown type is 404, an unknown id 404. */
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/Spaceship/x1"), 404);
	rh_req_clear(&r);
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/Patient/nobody"), 404);
	rh_req_clear(&r);
}

/* Update with If-Match, a stale If-Match (412 at once), vread, history,
 * delete (204), read after delete (410). */
static void
test_update_delete_history(void **state)
{
	char pid[PV_ID_HEX_LEN + 1], oid[PV_ID_HEX_LEN + 1];
	char path[160], body[320];
	struct rh_req r = { .who = &doc };
	struct pv_record rec;

	(void)state;
	create_patient(pid, "{\"resourceType\":\"Patient\"}");
	create_observation(pid, oid);
	snprintf(path, sizeof(path), "/fhir/Observation/%s", oid);
	snprintf(body, sizeof(body),
	    "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":"
	    "\"amended\",\"code\":{\"text\":\"hr\"},\"subject\":{"
	    "\"reference\":\"Patient/%s\"}}",
	    oid, pid);
	r.body = body;
	r.headers[0][0] = "If-Match";
	r.headers[0][1] = "W/\"1\"";
	assert_int_equal(rh_call(h, &r, "PUT", path), 200);
	assert_string_equal(rh_str(&r, "status"), "amended");
	assert_string_equal(rh_header(&r, "ETag"), "W/\"2\"");
	rh_req_clear(&r);
	/* The same If-Match again is stale: refused before any change. */
	assert_int_equal(rh_call(h, &r, "PUT", path), 412);
	rh_req_clear(&r);
	assert_int_equal(pv_record_open(h->v, "Observation", oid, 0, &rec),
	    PV_OK);
	assert_int_equal(rec.version, 2);
	pv_record_clear(&rec);

	memset(r.headers, 0, sizeof(r.headers));
	r.body = NULL;
	snprintf(path, sizeof(path), "/fhir/Observation/%s/_history/1", oid);
	assert_int_equal(rh_call(h, &r, "GET", path), 200);
	assert_string_equal(rh_str(&r, "status"), "final");
	rh_req_clear(&r);
	snprintf(path, sizeof(path), "/fhir/Observation/%s/_history", oid);
	assert_int_equal(rh_call(h, &r, "GET", path), 200);
	assert_string_equal(rh_str(&r, "type"), "history");
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")),
	    2);
	rh_req_clear(&r);

	snprintf(path, sizeof(path), "/fhir/Observation/%s", oid);
	assert_int_equal(rh_call(h, &r, "DELETE", path), 204);
	assert_string_equal(rh_header(&r, "ETag"), "W/\"3\"");
	rh_req_clear(&r);
	assert_int_equal(rh_call(h, &r, "GET", path), 410);
	rh_req_clear(&r);
}

/* A compartment resource for a patient that does not exist: 422, and the
 * trail holds the intent and its follow-up. */
static void
test_create_for_missing_patient(void **state)
{
	struct rh_req r = { .who = &doc };

	(void)state;
	r.body = "{\"resourceType\":\"Observation\",\"status\":\"final\","
		 "\"code\":{\"text\":\"hr\"},\"subject\":{\"reference\":"
		 "\"Patient/ghost1\"}}";
	/* Not on the care team of a patient that does not exist: the
	 * authorization refuses first. */
	assert_int_equal(rh_call(h, &r, "POST", "/fhir/Observation"), 403);
	assert_string_equal(r.p.note.outcome, "denied");
	rh_req_clear(&r);
	/* A body that is not JSON is 400 and changes nothing. */
	r.body = "{not json";
	assert_int_equal(rh_call(h, &r, "POST", "/fhir/Observation"), 400);
	rh_req_clear(&r);
}

/* Searches: by patient, the compartment route, by identifier. */
static void
test_search(void **state)
{
	char pid[PV_ID_HEX_LEN + 1], o1[PV_ID_HEX_LEN + 1];
	char o2[PV_ID_HEX_LEN + 1], path[160];
	struct rh_req r = { .who = &doc };

	(void)state;
	create_patient(pid,
	    "{\"resourceType\":\"Patient\",\"identifier\":"
	    "[{\"system\":\"urn:mrn\",\"value\":\"M-77\"}]}");
	create_observation(pid, o1);
	create_observation(pid, o2);

	r.query[0][0] = "patient";
	r.query[0][1] = pid;
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/Observation"), 200);
	assert_string_equal(rh_str(&r, "type"), "searchset");
	assert_int_equal(json_array_size(json_object_get(r.json, "entry")), 2);
	rh_req_clear(&r);

	memset(r.query, 0, sizeof(r.query));
	snprintf(path, sizeof(path), "/fhir/Patient/%s/Observation", pid);
	assert_int_equal(rh_call(h, &r, "GET", path), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "entry")), 2);
	rh_req_clear(&r);

	r.query[0][0] = "identifier";
	r.query[0][1] = "urn:mrn|M-77";
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/Patient"), 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "entry")), 1);
	assert_string_equal(r.p.note.patient, pid);
	assert_string_equal(r.p.note.reason, "identifier_match");
	rh_req_clear(&r);

	/* No patient named: 400. */
	memset(r.query, 0, sizeof(r.query));
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/Observation"), 400);
	rh_req_clear(&r);
}

/* Off the care team: 403 with the policy's reason in the note. */
static void
test_denied_off_team(void **state)
{
	char pid[PV_ID_HEX_LEN + 1], path[128];
	struct rh_req r = { .who = &nurse };

	(void)state;
	create_patient(pid, "{\"resourceType\":\"Patient\"}");
	snprintf(path, sizeof(path), "/fhir/Patient/%s", pid);
	assert_int_equal(rh_call(h, &r, "GET", path), 403);
	assert_string_equal(r.p.note.outcome, "denied");
	assert_string_equal(r.p.note.patient, pid);
	assert_string_equal(rh_str(&r, "resourceType"), "OperationOutcome");
	rh_req_clear(&r);
}

/* Break-glass: clinicians only; a reason is required; with one, a grant
 * (write-ahead) that lets a clinician off the care team read. */
static void
test_break_glass(void **state)
{
	char pid[PV_ID_HEX_LEN + 1], path[160];
	struct rh_req r = { .who = &nurse };
	int64_t grant = 0;

	(void)state;
	create_patient(pid, "{\"resourceType\":\"Patient\"}");
	snprintf(path, sizeof(path), "/fhir/Patient/%s/$break-glass", pid);
	r.body = "{\"reason\":\"unconscious patient in the ER\"}";
	assert_int_equal(rh_call(h, &r, "POST", path), 403);
	rh_req_clear(&r);
	r.who = &dr2;
	r.body = "{\"reason\":\"\"}";
	assert_int_equal(rh_call(h, &r, "POST", path), 400);
	rh_req_clear(&r);
	r.body = "{\"reason\":\"unconscious patient in the ER\"}";
	assert_int_equal(rh_call(h, &r, "POST", path), 201);
	assert_string_equal(rh_str(&r, "patient"), pid);
	assert_true(json_integer_value(json_object_get(r.json, "grant")) > 0);
	rh_req_clear(&r);
	assert_int_equal(pv_store_grant_active(h->v->store, dr2.user_id, pid,
			     pv_now(), &grant),
	    PV_OK);
	assert_true(grant > 0);
	/* Now dr2 may read. */
	snprintf(path, sizeof(path), "/fhir/Patient/%s", pid);
	r.body = NULL;
	assert_int_equal(rh_call(h, &r, "GET", path), 200);
	assert_int_equal(r.p.note.grant, grant);
	rh_req_clear(&r);
	/* On a patient that does not exist: 404, no grant. */
	r.body = "{\"reason\":\"unconscious patient in the ER\"}";
	assert_int_equal(rh_call(h, &r, "POST",
			     "/fhir/Patient/nobody1/$break-glass"),
	    404);
	rh_req_clear(&r);
	/* On an erased patient (its tombstone left): 410 patient_deleted,
	 * as on a deleted one. */
	create_patient(pid, "{\"resourceType\":\"Patient\"}");
	assert_int_equal(pv_erase_patient(h->v, pid), PV_OK);
	snprintf(path, sizeof(path), "/fhir/Patient/%s/$break-glass", pid);
	assert_int_equal(rh_call(h, &r, "POST", path), 410);
	assert_string_equal(r.p.note.reason, "patient_deleted");
	rh_req_clear(&r);
}

/* The CapabilityStatement, and AuditEvent for an auditor. */
static void
test_metadata_and_audit_events(void **state)
{
	char pid[PV_ID_HEX_LEN + 1];
	struct rh_req r = { .who = NULL };
	json_t *e;

	(void)state;
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/metadata"), 200);
	assert_string_equal(rh_str(&r, "resourceType"), "CapabilityStatement");
	assert_string_equal(rh_str(&r, "fhirVersion"), "4.0.1");
	rh_req_clear(&r);

	create_patient(pid, "{\"resourceType\":\"Patient\"}");
	r.who = &aud;
	r.query[0][0] = "patient";
	r.query[0][1] = pid;
	assert_int_equal(rh_call(h, &r, "GET", "/fhir/AuditEvent"), 200);
	assert_string_equal(rh_str(&r, "type"), "searchset");
	/* The create's intent entry names the patient. */
	e = json_object_get(r.json, "entry");
	assert_true(json_array_size(e) >= 1);
	rh_req_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_read),
		cmocka_unit_test(test_update_delete_history),
		cmocka_unit_test(test_create_for_missing_patient),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_denied_off_team),
		cmocka_unit_test(test_break_glass),
		cmocka_unit_test(test_metadata_and_audit_events),
	};

	pv_fhir_json_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
