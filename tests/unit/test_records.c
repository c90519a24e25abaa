/*
 * test_records.c — the write service, pv_record_apply, on a real vault:
 * one batch, a savepoint per change (a refused change is undone alone,
 * later changes see earlier ones), new patients' keys committed before
 * their records, never inside a caller's transaction, and the
 * write-ahead audit pair (intents before, follow-ups for the changes
 * that did not happen).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "audit/audit.h"
#include "fhir/fhir.h"
#include "lifecycle/lifecycle.h"
#include "store/store.h"
#include "testvault.h"

static json_t *
observation(const char *pid)
{
	char ref[80];

	snprintf(ref, sizeof(ref), "Patient/%s", pid);
	return json_pack("{s:s, s:s, s:{s:s}}", "resourceType", "Observation",
	    "status", "final", "subject", "reference", ref);
}

static void
clear_all(struct pv_change *cs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		pv_record_clear(&cs[i].rec);
		json_decref(cs[i].res);
	}
}

/* A refused change in the middle of a batch is undone alone. */
static void
test_apply_batch(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	unsigned char dek[PV_DEK_BYTES];
	struct pv_change cs[4];
	struct pv_record rec;

	(void)state;
	assert_non_null(v);
	cs[0] = tv_create_change("Patient", "a1", NULL,
	    json_pack("{s:s}", "resourceType", "Patient"));
	cs[1] = tv_create_change("Observation", "o1", "a1", observation("a1"));
	cs[2] = tv_create_change("Observation", "o2", "zz", observation("zz"));
	cs[3] = tv_create_change("Patient", "a2", NULL,
	    json_pack("{s:s}", "resourceType", "Patient"));
	assert_int_equal(pv_record_apply(v, NULL, cs, 4), PV_OK);
	assert_int_equal(cs[0].status, PV_OK);
	assert_int_equal(cs[1].status, PV_OK); /* sees a1 from change 0 */
	assert_int_equal(cs[2].status, PV_ENOTFOUND);
	assert_int_equal(cs[3].status, PV_OK);
	assert_int_equal(cs[1].rec.version, 1);
	assert_string_equal(cs[1].rec.patient, "a1");
	clear_all(cs, 4);
	assert_int_equal(pv_record_open(v, "Observation", "o1", 0, &rec),
	    PV_OK);
	pv_record_clear(&rec);
	assert_int_equal(pv_record_open(v, "Observation", "o2", 0, &rec),
	    PV_ENOTFOUND);
	assert_int_equal(pv_dek_get(v, "a1", false, dek), PV_OK);
	assert_int_equal(pv_dek_get(v, "a2", false, dek), PV_OK);
	sodium_memzero(dek, sizeof(dek));
	tv_close(v);
}

/* Changes of one batch run in order: the second If-Match on the same
 * version loses, as it would one by one. */
static void
test_apply_if_match(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	struct pv_change cs[3];
	size_t i;

	(void)state;
	assert_non_null(v);
	assert_int_equal(tv_create_patient(v, "p1"), PV_OK);
	for (i = 0; i < 2; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].kind = PV_CHANGE_UPDATE;
		strcpy(cs[i].type, "Patient");
		strcpy(cs[i].id, "p1");
		cs[i].if_match = 1;
		cs[i].res = json_pack("{s:s, s:s}", "resourceType", "Patient",
		    "id", "p1");
	}
	memset(&cs[2], 0, sizeof(cs[2]));
	cs[2].kind = PV_CHANGE_DELETE;
	strcpy(cs[2].type, "Patient");
	strcpy(cs[2].id, "p1");
	cs[2].if_match = 2;
	assert_int_equal(pv_record_apply(v, NULL, cs, 3), PV_OK);
	assert_int_equal(cs[0].status, PV_OK);
	assert_int_equal(cs[0].rec.version, 2);
	assert_int_equal(cs[1].status, PV_ECONFLICT);
	assert_int_equal(cs[2].status, PV_OK);
	assert_true(cs[2].rec.is_deleted);
	assert_int_equal(cs[2].rec.version, 3);
	clear_all(cs, 3);
	tv_close(v);
}

/* Inside a caller's transaction nothing is made: not the key (it would
 * be committed with records across two databases), not the record. */
static void
test_apply_refused_inside_transaction(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	unsigned char dek[PV_DEK_BYTES];
	struct pv_change c;
	struct pv_record rec;

	(void)state;
	assert_non_null(v);
	c = tv_create_change("Patient", "a4", NULL,
	    json_pack("{s:s}", "resourceType", "Patient"));
	assert_int_equal(pv_store_begin(v->store), PV_OK);
	PV_IGNORE(pv_record_apply(v, NULL, &c, 1));
	assert_int_not_equal(c.status, PV_OK);
	pv_store_rollback(v->store);
	clear_all(&c, 1);
	assert_int_equal(pv_record_open(v, "Patient", "a4", 0, &rec),
	    PV_ENOTFOUND);
	assert_int_equal(pv_dek_get(v, "a4", false, dek), PV_ENOTFOUND);
	tv_close(v);
}

/* A key made inside a transaction that rolls back is not cached. */
static void
test_rolled_back_key_not_cached(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	struct pv_store *s;
	unsigned char dek[PV_DEK_BYTES];

	(void)state;
	assert_non_null(v);
	s = v->store;
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_dek_get(v, "k1", true, dek), PV_OK);
	pv_store_rollback(s);
	assert_int_equal(pv_dek_get(v, "k1", false, dek), PV_ENOTFOUND);

	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_dek_get(v, "k2", true, dek), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_int_equal(pv_dek_get(v, "k2", false, dek), PV_OK);
	sodium_memzero(dek, sizeof(dek));
	tv_close(v);
}

/* A failed ROLLBACK TO is reported, and a savepoint rolled back undoes
 * only its own change. */
static void
test_savepoints(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	struct pv_store *s;
	bool held = false;

	(void)state;
	assert_non_null(v);
	s = v->store;
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_savepoint(s), PV_OK);
	assert_int_equal(pv_store_hold_set(s, "b1", true), PV_OK);
	assert_int_equal(pv_store_release(s), PV_OK);
	assert_int_equal(pv_store_savepoint(s), PV_OK);
	assert_int_equal(pv_store_hold_set(s, "b2", true), PV_OK);
	assert_int_equal(pv_store_rollback_to(s), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_int_equal(pv_store_hold_has(s, "b1", &held), PV_OK);
	assert_true(held);
	assert_int_equal(pv_store_hold_has(s, "b2", &held), PV_OK);
	assert_false(held);
	/* No savepoint open: ROLLBACK TO fails and says so. */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_not_equal(pv_store_rollback_to(s), PV_OK);
	pv_store_rollback(s);
	/* Rolling back with no transaction open is harmless. */
	pv_store_rollback(s);
	tv_close(v);
}

struct seen {
	char outcome[4][16];
	char reason[4][32];
	size_t n;
};

static bool
collect(void *arg, json_t *e)
{
	struct seen *s = arg;
	const char *o = json_string_value(json_object_get(e, "outcome"));
	const char *r = json_string_value(json_object_get(e, "reason"));

	if (s->n < 4) {
		snprintf(s->outcome[s->n], sizeof(s->outcome[0]), "%s",
		    o != NULL ? o : "");
		snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s",
		    r != NULL ? r : "");
	}
	s->n++;
	return true;
}

/* With intents: each is durable before the change; a change that did
 * not happen leaves a follow-up (outcome failed, reason its status). */
static void
test_apply_audits_write_ahead(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	struct pv_audit *a = NULL;
	struct pv_audit_event ev[2];
	struct pv_change cs[2];
	struct seen s;
	uint64_t total = 0;
	size_t i;

	(void)state;
	assert_non_null(v);
	{
		struct pv_audit_opts o =
		    PV_VAULT_AUDIT_OPTS(v, true, 0); /* with the index */

		assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	}
	cs[0] = tv_create_change("Patient", "w1", NULL,
	    json_pack("{s:s}", "resourceType", "Patient"));
	cs[1] = tv_create_change("Observation", "w2", "ww", observation("ww"));
	for (i = 0; i < 2; i++) {
		memset(&ev[i], 0, sizeof(ev[i]));
		strcpy(ev[i].action, "create");
		strcpy(ev[i].type, cs[i].type);
		strcpy(ev[i].id, cs[i].id);
		strcpy(ev[i].patient, i == 0 ? "w1" : "ww");
		strcpy(ev[i].src, "local");
		ev[i].outcome = "allowed";
		ev[i].reason = "ok";
		cs[i].intent = &ev[i];
	}
	assert_int_equal(pv_record_apply(v, a, cs, 2), PV_OK);
	assert_int_equal(cs[0].status, PV_OK);
	assert_int_equal(cs[1].status, PV_ENOTFOUND);
	clear_all(cs, 2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(pv_audit_patient_page(a, "w1", 0, 10, collect, &s,
			     &total),
	    PV_OK);
	assert_int_equal(s.n, 1); /* the intent only */
	assert_string_equal(s.outcome[0], "allowed");
	memset(&s, 0, sizeof(s));
	assert_int_equal(pv_audit_patient_page(a, "ww", 0, 10, collect, &s,
			     &total),
	    PV_OK);
	assert_int_equal(s.n, 2); /* intent, then follow-up */
	assert_string_equal(s.outcome[0], "allowed");
	assert_string_equal(s.outcome[1], "failed");
	assert_string_equal(s.reason[1], pv_status_name(PV_ENOTFOUND));
	pv_audit_close(a);
	tv_close(v);
}

/*
 * A compartment resource for an erased patient (erasure leaves the
 * Patient's row as a keyless deleted tombstone) is refused as for a
 * deleted one: PV_ENOTFOUND, which the API answers 422 "the referenced
 * patient does not exist", as before issue 14 (not PV_EGONE / 410).
 */
static void
test_apply_erased_patient(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	struct pv_change c;

	(void)state;
	assert_non_null(v);
	assert_int_equal(tv_create_patient(v, "er1"), PV_OK);
	assert_int_equal(pv_erase_patient(v, "er1"), PV_OK);
	c = tv_create_change("Observation", "oer1", "er1", observation("er1"));
	assert_int_equal(pv_record_apply(v, NULL, &c, 1), PV_OK);
	assert_int_equal(c.status, PV_ENOTFOUND);
	clear_all(&c, 1);
	tv_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_batch),
		cmocka_unit_test(test_apply_erased_patient),
		cmocka_unit_test(test_apply_if_match),
		cmocka_unit_test(test_apply_refused_inside_transaction),
		cmocka_unit_test(test_rolled_back_key_not_cached),
		cmocka_unit_test(test_savepoints),
		cmocka_unit_test(test_apply_audits_write_ahead),
	};

	pv_fhir_json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
