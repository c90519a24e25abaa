/*
 * test_dek_cache.c — the data-key cache forgets a key shredded by another
 * connection (another process, such as `phivault erase`, or another
 * thread) before its next lookup, and forgets nothing when another
 * connection only adds a key or re-wraps keys in a rotation.
 *
 * A second pv_vault handle on the same directory stands in for the other
 * process: it has its own SQLite connections, so its commits move the
 * first handle's keys.db data_version exactly as another process's would.
 * A helper thread stands in for the server's other threads (each thread
 * has its own connection and its own view of keys.db).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>

#include "common/metrics.h"
#include "fhir/fhir.h"
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
	/* No cache was emptied and v unwrapped nothing. */
	assert_int_equal(pv_metric_get(PV_M_DEK_CACHE_FLUSHES), flushes);
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

/* ---- a second server thread ---------------------------------------- */

static struct {
	pthread_t tid;
	sem_t go, done;
	struct pv_vault *v;
	const char *id;		/* NULL: stop */
	pv_status st;
} peer;

static void *
peer_main(void *arg)
{
	unsigned char dek[PV_DEK_BYTES];

	(void)arg;
	for (;;) {
		sem_wait(&peer.go);
		if (peer.id == NULL)
			break;
		peer.st = pv_dek_get(peer.v, peer.id, false, dek);
		sem_post(&peer.done);
	}
	sodium_memzero(dek, sizeof(dek));
	return NULL;
}

static void
peer_start(struct pv_vault *v)
{
	peer.v = v;
	assert_int_equal(sem_init(&peer.go, 0, 0), 0);
	assert_int_equal(sem_init(&peer.done, 0, 0), 0);
	assert_int_equal(pthread_create(&peer.tid, NULL, peer_main, NULL), 0);
}

/* pv_dek_get(id) on the peer thread. */
static pv_status
peer_get(const char *id)
{
	peer.id = id;
	sem_post(&peer.go);
	sem_wait(&peer.done);
	return peer.st;
}

static void
peer_stop(void)
{
	peer.id = NULL;
	sem_post(&peer.go);
	pthread_join(peer.tid, NULL);
	sem_destroy(&peer.go);
	sem_destroy(&peer.done);
}

static pv_status
create_patient(struct pv_vault *v, const char *id)
{
	json_t *res = json_pack("{s:s}", "resourceType", "Patient");
	struct pv_record rec;
	pv_status st;

	st = pv_record_create(v, "Patient", NULL, id, res, 0, &rec);
	if (st == PV_OK)
		pv_record_clear(&rec);
	json_decref(res);
	return st;
}

struct scan_ctx {
	struct pv_vault *v;
	int rows;
	pv_status peer_after_shred;
};

/*
 * At the first row of a scan (its statement still stepping, so this
 * thread's view of keys.db is pinned): another process shreds X, another
 * server thread notices (and empties the cache), then this thread looks X
 * up from its old view.
 */
static bool
shred_during_scan(void *arg, struct pv_record *rec, pv_status st)
{
	struct scan_ctx *x = arg;
	unsigned char dek[PV_DEK_BYTES];
	struct pv_vault *w;

	(void)rec;
	(void)st;
	if (x->rows++ > 0)
		return true;
	w = second_handle();
	assert_int_equal(pv_dek_shred(w, "X"), PV_OK);
	pv_vault_close(w);
	x->peer_after_shred = peer_get("X");
	/* The old view may still open X (the scan began before the shred);
	 * what matters is that this does not put X back into the cache. */
	PV_IGNORE(pv_dek_get(x->v, "X", false, dek));
	sodium_memzero(dek, sizeof(dek));
	return true;
}

/* A thread with a pinned view cannot put a shredded key back. */
static void
test_pinned_view_cannot_recache(void **state)
{
	struct pv_vault *v = tv_open(NULL), *w;
	struct scan_ctx x = { NULL, 0, PV_OK };
	unsigned char dek[PV_DEK_BYTES];

	(void)state;
	assert_non_null(v);
	x.v = v;
	peer_start(v);
	assert_int_equal(create_patient(v, "A"), PV_OK);
	assert_int_equal(create_patient(v, "X"), PV_OK);
	assert_int_equal(peer_get("A"), PV_OK);
	assert_int_equal(pv_record_scan(v, true, shred_during_scan, &x), PV_OK);
	assert_true(x.rows >= 2);
	assert_int_equal(x.peer_after_shred, PV_EGONE);
	/* After the scan, from every thread, and after more commits. */
	assert_int_equal(peer_get("X"), PV_EGONE);
	assert_int_equal(pv_dek_get(v, "X", false, dek), PV_EGONE);
	w = second_handle();
	assert_int_equal(pv_dek_get(w, "Y", true, dek), PV_OK);
	pv_vault_close(w);
	assert_int_equal(peer_get("X"), PV_EGONE);
	assert_int_equal(pv_dek_get(v, "X", false, dek), PV_EGONE);
	assert_int_equal(peer_get("A"), PV_OK);
	sodium_memzero(dek, sizeof(dek));
	peer_stop();
	tv_close(v);
}

/* A shred in this process: gone for every thread, one flush in all. */
static void
test_local_shred(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	unsigned char saved[NKEYS][PV_DEK_BYTES], dek[PV_DEK_BYTES];
	uint64_t flushes, unwraps;
	char id[32];

	(void)state;
	assert_non_null(v);
	peer_start(v);
	warm(v, saved);
	key_name(id, sizeof(id), 2);
	assert_int_equal(peer_get(id), PV_OK);		/* cached */
	flushes = pv_metric_get(PV_M_DEK_CACHE_FLUSHES);
	assert_int_equal(pv_dek_shred(v, id), PV_OK);
	assert_int_equal(peer_get(id), PV_EGONE);
	assert_int_equal(pv_dek_get(v, id, false, dek), PV_EGONE);
	assert_int_equal(pv_metric_get(PV_M_DEK_CACHE_FLUSHES), flushes + 1);
	/* The shredding thread caches again afterwards. */
	read_all(v, saved, 2);
	unwraps = pv_metric_get(PV_M_DEK_UNWRAPS);
	read_all(v, saved, 2);
	assert_int_equal(pv_metric_get(PV_M_DEK_UNWRAPS), unwraps);
	sodium_memzero(saved, sizeof(saved));
	peer_stop();
	tv_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_key_elsewhere_keeps_cache),
		cmocka_unit_test(test_shred_elsewhere_forgets),
		cmocka_unit_test(test_rotation_elsewhere_keeps_cache),
		cmocka_unit_test(test_pinned_view_cannot_recache),
		cmocka_unit_test(test_local_shred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
