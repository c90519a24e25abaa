/*
 * test_dek_cache.c — the data-key cache forgets a key shredded by another
 * connection (another process, such as `phivault erase`, or another
 * thread) before its next lookup, and forgets nothing when another
 * connection only adds a key or re-wraps keys in a rotation.
 *
 * A second pv_vault handle on the same directory stands in for the other
 * process: it has its own SQLite connections, so its commits move the
 * first handle's keys.db data_version exactly as another process's would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/metrics.h"
#include "testvault.h"

#define NKEYS 8

static void
key_name(char *buf, size_t n, int i)
{
	snprintf(buf, n, "pat-%d", i);
}

/* Creates NKEYS keys through v and reads each once more (cached). */
static void
warm(struct pv_vault *v, unsigned char saved[NKEYS][PV_DEK_BYTES])
{
	char id[32];
	int i;

	for (i = 0; i < NKEYS; i++) {
		key_name(id, sizeof(id), i);
		assert_int_equal(pv_dek_get(v, id, true, saved[i]), PV_OK);
	}
}

/* Reads every key through v; each must match what warm() saw. */
static void
read_all(struct pv_vault *v, unsigned char saved[NKEYS][PV_DEK_BYTES],
    int skip)
{
	unsigned char dek[PV_DEK_BYTES];
	char id[32];
	int i;

	for (i = 0; i < NKEYS; i++) {
		if (i == skip)
			continue;
		key_name(id, sizeof(id), i);
		assert_int_equal(pv_dek_get(v, id, false, dek), PV_OK);
		assert_memory_equal(dek, saved[i], PV_DEK_BYTES);
	}
	sodium_memzero(dek, sizeof(dek));
}

static struct pv_vault *
second_handle(void)
{
	struct pv_vault *w = NULL;
	char err[256];

	assert_int_equal(pv_vault_open(tv_dir, &w, err, sizeof(err)), PV_OK);
	return w;
}

/* Another connection adds a key: the cache keeps every key it had. */
static void
test_new_key_elsewhere_keeps_cache(void **state)
{
	struct pv_vault *v = tv_open(NULL), *w;
	unsigned char saved[NKEYS][PV_DEK_BYTES], dek[PV_DEK_BYTES];
	uint64_t unwraps, flushes;

	(void)state;
	assert_non_null(v);
	warm(v, saved);
	read_all(v, saved, -1);
	w = second_handle();
	unwraps = pv_metric_get(PV_M_DEK_UNWRAPS);
	flushes = pv_metric_get(PV_M_DEK_CACHE_FLUSHES);
	assert_int_equal(pv_dek_get(w, "newcomer", true, dek), PV_OK);
	read_all(v, saved, -1);
	/* w's own first lookup synced its own (empty) cache; v's did not
	 * flush and v unwrapped nothing. */
	assert_int_equal(pv_metric_get(PV_M_DEK_CACHE_FLUSHES), flushes + 1);
	assert_int_equal(pv_metric_get(PV_M_DEK_UNWRAPS), unwraps);
	/* And v sees the newcomer's key, the same one. */
	{
		unsigned char via_v[PV_DEK_BYTES];

		assert_int_equal(pv_dek_get(v, "newcomer", false, via_v),
		    PV_OK);
		assert_memory_equal(via_v, dek, PV_DEK_BYTES);
		sodium_memzero(via_v, sizeof(via_v));
	}
	sodium_memzero(dek, sizeof(dek));
	sodium_memzero(saved, sizeof(saved));
	pv_vault_close(w);
	tv_close(v);
}

/* Another connection shreds a cached key: the next lookup refuses it. */
static void
test_shred_elsewhere_forgets(void **state)
{
	struct pv_vault *v = tv_open(NULL), *w;
	unsigned char saved[NKEYS][PV_DEK_BYTES], dek[PV_DEK_BYTES];
	uint64_t unwraps;
	char id[32];

	(void)state;
	assert_non_null(v);
	warm(v, saved);
	read_all(v, saved, -1);		/* all cached now */
	w = second_handle();
	key_name(id, sizeof(id), 3);
	assert_int_equal(pv_dek_shred(w, id), PV_OK);
	assert_int_equal(pv_dek_get(v, id, false, dek), PV_EGONE);
	assert_int_equal(pv_dek_get(v, id, true, dek), PV_EGONE);
	/* The others still open, now loaded again from keys.db. */
	unwraps = pv_metric_get(PV_M_DEK_UNWRAPS);
	read_all(v, saved, 3);
	assert_int_equal(pv_metric_get(PV_M_DEK_UNWRAPS), unwraps + NKEYS - 1);
	/* A shred in this process (v itself) is forgotten at once as well. */
	key_name(id, sizeof(id), 5);
	assert_int_equal(pv_dek_shred(v, id), PV_OK);
	assert_int_equal(pv_dek_get(v, id, false, dek), PV_EGONE);
	assert_int_equal(pv_dek_get(w, id, false, dek), PV_EGONE);
	sodium_memzero(saved, sizeof(saved));
	pv_vault_close(w);
	tv_close(v);
}

/* A rotation elsewhere re-wraps keys without changing them: no flush. */
static void
test_rotation_elsewhere_keeps_cache(void **state)
{
	struct pv_vault *v = tv_open(NULL), *w;
	unsigned char saved[NKEYS][PV_DEK_BYTES];
	uint64_t unwraps, flushes;
	uint32_t newv = 0;
	size_t rewrapped = 0, retired = 0;

	(void)state;
	assert_non_null(v);
	warm(v, saved);
	read_all(v, saved, -1);
	w = second_handle();
	assert_int_equal(pv_dek_rotate(w, &newv, &rewrapped, &retired, NULL,
	    NULL), PV_OK);
	assert_int_equal(newv, 2);
	assert_int_equal(rewrapped, NKEYS);
	unwraps = pv_metric_get(PV_M_DEK_UNWRAPS);
	flushes = pv_metric_get(PV_M_DEK_CACHE_FLUSHES);
	read_all(v, saved, -1);
	assert_int_equal(pv_metric_get(PV_M_DEK_UNWRAPS), unwraps);
	assert_int_equal(pv_metric_get(PV_M_DEK_CACHE_FLUSHES), flushes);
	sodium_memzero(saved, sizeof(saved));
	pv_vault_close(w);
	tv_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_key_elsewhere_keeps_cache),
		cmocka_unit_test(test_shred_elsewhere_forgets),
		cmocka_unit_test(test_rotation_elsewhere_keeps_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
