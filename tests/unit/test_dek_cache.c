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
#include <stdatomic.h>

#include "common/metrics.h"
#include "fhir/fhir.h"
#include "store/backend.h" /* a store that fails on demand */
#include "testvault.h"
#include "store/backend.h" /* a store that fails on demand */

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
read_all(struct pv_vault *v, unsigned char saved[NKEYS][PV_DEK_BYTES], int skip)
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
	read_all(v, saved, -1); /* all cached now */
	w = second_handle();
	key_name(id, sizeof(id), 3);
	assert_int_equal(pv_dek_shred(w, id), PV_OK);
	assert_int_equal(pv_dek_get(v, id, false, dek), PV_EGONE);
	assert_int_equal(pv_dek_get(v, id, true, dek), PV_EGONE);
	/* The others still open, now loaded again from keys.db. */
	unwraps = pv_metric_get(PV_M_DEK_UNWRAPS);
	read_all(v, saved, 3);
	assert_int_equal(pv_metric_get(PV_M_DEK_UNWRAPS), unwraps + NKEYS - 1);
	/* A shred in this process (v itself) is forgotten at once as well,
	 * and by the other process, which had the key cached. */
	key_name(id, sizeof(id), 5);
	assert_int_equal(pv_dek_get(w, id, false, dek), PV_OK);
	assert_int_equal(pv_dek_get(w, id, false, dek), PV_OK);
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
			     NULL),
	    PV_OK);
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
	const char *id; /* NULL: stop */
	bool is_shred; /* pv_dek_shred instead of pv_dek_get */
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
		peer.st = peer.is_shred
		    ? pv_dek_shred(peer.v, peer.id)
		    : pv_dek_get(peer.v, peer.id, false, dek);
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

static pv_status
peer_do(const char *id, bool is_shred)
{
	peer.id = id;
	peer.is_shred = is_shred;
	sem_post(&peer.go);
	sem_wait(&peer.done);
	return peer.st;
}

/* pv_dek_get(id) on the peer thread. */
static pv_status
peer_get(const char *id)
{
	return peer_do(id, false);
}

/* pv_dek_shred(id) on the peer thread. */
static pv_status
peer_shred(const char *id)
{
	return peer_do(id, true);
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

struct scan_ctx {
	struct pv_vault *v;
	int rows;
	pv_status shred, peer_after_shred, in_scan;
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
	/* Results are recorded, asserted after the scan: an assert here
	 * would jump out of the scan with the peer thread still running. */
	w = second_handle();
	x->shred = pv_dek_shred(w, "X");
	pv_vault_close(w);
	x->peer_after_shred = peer_get("X");
	/* The old view still opens X (the scan began before the shred);
	 * what matters is that this does not put X back into the cache. */
	x->in_scan = pv_dek_get(x->v, "X", false, dek);
	sodium_memzero(dek, sizeof(dek));
	return true;
}

/* A thread with a pinned view cannot put a shredded key back. */
static void
test_pinned_view_cannot_recache(void **state)
{
	struct pv_vault *v = tv_open(NULL), *w;
	struct scan_ctx x = { NULL, 0, PV_OK, PV_OK, PV_OK };
	unsigned char dek[PV_DEK_BYTES];
	pv_status scan, got[6];

	(void)state;
	assert_non_null(v);
	x.v = v;
	assert_int_equal(tv_create_patient(v, "A"), PV_OK);
	assert_int_equal(tv_create_patient(v, "X"), PV_OK);
	peer_start(v);
	got[0] = peer_get("A");
	scan = pv_record_scan(v, true, shred_during_scan, &x);
	/* After the scan, from every thread, and after more commits. */
	got[1] = peer_get("X");
	got[2] = pv_dek_get(v, "X", false, dek);
	w = second_handle();
	got[3] = pv_dek_get(w, "Y", true, dek);
	pv_vault_close(w);
	got[4] = peer_get("X");
	got[5] = pv_dek_get(v, "X", false, dek);
	sodium_memzero(dek, sizeof(dek));
	peer_stop();
	tv_close(v);
	assert_int_equal(got[0], PV_OK);
	assert_int_equal(scan, PV_OK);
	assert_true(x.rows >= 2);
	assert_int_equal(x.shred, PV_OK);
	assert_int_equal(x.peer_after_shred, PV_EGONE);
	assert_int_equal(x.in_scan, PV_OK); /* the view was pinned */
	assert_int_equal(got[1], PV_EGONE);
	assert_int_equal(got[2], PV_EGONE);
	assert_int_equal(got[3], PV_OK);
	assert_int_equal(got[4], PV_EGONE);
	assert_int_equal(got[5], PV_EGONE);
}

/* A shred in this process: gone for every thread, one flush in all. */
static void
test_local_shred(void **state)
{
	struct pv_vault *v = tv_open(NULL);
	unsigned char saved[NKEYS][PV_DEK_BYTES], dek[PV_DEK_BYTES];
	uint64_t flushes, unwraps;
	char id[32];

	pv_status before, after;

	(void)state;
	assert_non_null(v);
	warm(v, saved);
	key_name(id, sizeof(id), 2);
	peer_start(v);
	before = peer_get(id); /* cached */
	flushes = pv_metric_get(PV_M_DEK_CACHE_FLUSHES);
	assert_int_equal(pv_dek_shred(v, id), PV_OK);
	after = peer_get(id);
	peer_stop();
	assert_int_equal(before, PV_OK);
	assert_int_equal(after, PV_EGONE);
	assert_int_equal(pv_dek_get(v, id, false, dek), PV_EGONE);
	assert_int_equal(pv_metric_get(PV_M_DEK_CACHE_FLUSHES), flushes + 1);
	/* The shredding thread caches again afterwards. */
	read_all(v, saved, 2);
	unwraps = pv_metric_get(PV_M_DEK_UNWRAPS);
	read_all(v, saved, 2);
	assert_int_equal(pv_metric_get(PV_M_DEK_UNWRAPS), unwraps);
	sodium_memzero(saved, sizeof(saved));
	sodium_memzero(dek, sizeof(dek));
	tv_close(v);
}

/* ---- the store failing to report the shred epoch ------------------- */

static struct pv_store_ops faulty_ops;
static const struct pv_store_ops *real_ops;
static atomic_int fail_epoch; /* fail the next N epoch reads */

static pv_status
faulty_shred_epoch(struct pv_store *st, int64_t *out)
{
	if (atomic_load(&fail_epoch) > 0) {
		atomic_fetch_sub(&fail_epoch, 1);
		return PV_EIO;
	}
	return real_ops->keys_shred_epoch(st, out);
}

static void
install_faulty(struct pv_vault *v)
{
	real_ops = v->store->ops;
	faulty_ops = *real_ops;
	faulty_ops.keys_shred_epoch = faulty_shred_epoch;
	v->store->ops = &faulty_ops;
}

struct local_ctx {
	struct pv_vault *v;
	int rows;
	int fail; /* epoch reads to fail during the shred */
	pv_status shred, in_scan;
};

/* Row 1 of a scan (this thread's view pinned): the peer thread shreds X
 * in this process, then this thread looks X up from its old view. */
static bool
local_shred_during_scan(void *arg, struct pv_record *rec, pv_status st)
{
	struct local_ctx *x = arg;
	unsigned char dek[PV_DEK_BYTES];

	(void)rec;
	(void)st;
	if (x->rows++ > 0)
		return true;
	atomic_store(&fail_epoch, x->fail);
	x->shred = peer_shred("X");
	atomic_store(&fail_epoch, 0);
	x->in_scan = pv_dek_get(x->v, "X", false, dek);
	sodium_memzero(dek, sizeof(dek));
	return true;
}

/*
 * A shred by another thread of this process while this thread's view is
 * pinned: lookups that start after it get PV_EGONE on every thread. If
 * the shred's epoch cannot be read, the shred is refused as a whole
 * (then X is simply still there) rather than half-announced.
 */
static void
run_local_shred_pinned(int fail)
{
	struct pv_vault *v = tv_open(NULL);
	struct local_ctx x = { NULL, 0, fail, PV_OK, PV_OK };
	unsigned char dek[PV_DEK_BYTES];
	pv_status scan, got[4];
	bool gone = true;

	assert_non_null(v);
	install_faulty(v);
	x.v = v;
	assert_int_equal(tv_create_patient(v, "A"), PV_OK);
	assert_int_equal(tv_create_patient(v, "X"), PV_OK);
	peer_start(v);
	got[0] = peer_get("A"); /* the peer has synced */
	scan = pv_record_scan(v, true, local_shred_during_scan, &x);
	got[1] = peer_get("X");
	got[2] = peer_get("X");
	got[3] = pv_dek_get(v, "X", false, dek);
	sodium_memzero(dek, sizeof(dek));
	peer_stop();
	PV_IGNORE(pv_dek_is_shredded(v, "X", &gone));
	v->store->ops = real_ops;
	tv_close(v);
	assert_int_equal(got[0], PV_OK);
	assert_int_equal(scan, PV_OK);
	assert_int_equal(x.in_scan, PV_OK); /* pinned: the old view */
	if (fail == 0) {
		assert_int_equal(x.shred, PV_OK);
		assert_true(gone);
		assert_int_equal(got[1], PV_EGONE);
		assert_int_equal(got[2], PV_EGONE);
		assert_int_equal(got[3], PV_EGONE);
	} else {
		assert_int_not_equal(x.shred, PV_OK);
		assert_false(gone);
		assert_int_equal(got[1], PV_OK);
		assert_int_equal(got[3], PV_OK);
	}
}

static void
test_local_shred_while_pinned(void **state)
{
	(void)state;
	run_local_shred_pinned(0);
}

static void
test_shred_refused_without_epoch(void **state)
{
	(void)state;
	run_local_shred_pinned(1);
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
		cmocka_unit_test(test_local_shred_while_pinned),
		cmocka_unit_test(test_shred_refused_without_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
