/*
 * test_records.c — a record and its patient's key are never committed
 * together: keys.db and phivault.db are two SQLite WAL databases, which
 * SQLite does not commit atomically together. A Patient created inside a
 * caller's transaction (the write batcher, bulk import) must find its key
 * already committed by pv_record_prepare_patients, and a key made inside a
 * transaction that is rolled back must not survive in the key cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fhir/fhir.h"
#include "store/store.h"
#include "testvault.h"

/* Inside a transaction, creating a Patient never creates its key. */
static void
test_no_key_inside_transaction(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	struct pv_store *s;
	unsigned char dek[PV_DEK_BYTES];

	(void)state;
	assert_non_null(v);
	s = v->store;
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_not_equal(tv_create_patient(v, "a1"), PV_OK);
	pv_store_rollback(s);
	assert_int_equal(pv_dek_get(v, "a1", false, dek), PV_ENOTFOUND);

	/* Prepared first (its own commit), then created inside one. */
	{
		const char *ids[2] = { "a2", "a3" };

		assert_int_equal(pv_record_prepare_patients(v, ids, 2), PV_OK);
	}
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(tv_create_patient(v, "a2"), PV_OK);
	assert_int_equal(tv_create_patient(v, "a3"), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_int_equal(pv_dek_get(v, "a2", false, dek), PV_OK);

	/* Refused inside a transaction. */
	{
		const char *ids[1] = { "a4" };

		assert_int_equal(pv_store_begin(s), PV_OK);
		assert_int_equal(pv_record_prepare_patients(v, ids, 1),
		    PV_EINTERNAL);
		pv_store_rollback(s);
	}
	/* Outside any transaction a Patient makes its own key, as before. */
	assert_int_equal(tv_create_patient(v, "a5"), PV_OK);
	assert_int_equal(pv_dek_get(v, "a5", false, dek), PV_OK);
	sodium_memzero(dek, sizeof(dek));
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
	unsigned char dek[PV_DEK_BYTES];
	const char *ids[2] = { "b1", "b2" };

	(void)state;
	assert_non_null(v);
	s = v->store;
	assert_int_equal(pv_record_prepare_patients(v, ids, 2), PV_OK);
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_savepoint(s), PV_OK);
	assert_int_equal(tv_create_patient(v, "b1"), PV_OK);
	assert_int_equal(pv_store_release(s), PV_OK);
	assert_int_equal(pv_store_savepoint(s), PV_OK);
	assert_int_equal(tv_create_patient(v, "b2"), PV_OK);
	assert_int_equal(pv_store_rollback_to(s), PV_OK);
	assert_true(pv_store_in_tx(s));
	assert_int_equal(pv_store_commit(s), PV_OK);
	{
		struct pv_record rec;

		assert_int_equal(pv_record_open(v, "Patient", "b1", 0, &rec),
		    PV_OK);
		pv_record_clear(&rec);
		assert_int_equal(pv_record_open(v, "Patient", "b2", 0, &rec),
		    PV_ENOTFOUND);
	}
	/* No savepoint open: ROLLBACK TO fails and says so. */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_not_equal(pv_store_rollback_to(s), PV_OK);
	pv_store_rollback(s);
	/* No transaction open: rolling back does nothing, and the
	 * connection is as usable as before. */
	pv_store_rollback(s);
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	(void)dek;
	tv_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_key_inside_transaction),
		cmocka_unit_test(test_rolled_back_key_not_cached),
		cmocka_unit_test(test_savepoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
