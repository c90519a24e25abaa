/*
 * batch.c — group commit for record changes (create, update, delete).
 *
 * A durable SQLite commit costs one fsync, several milliseconds on most
 * disks, and commits from several connections run one after another: a
 * worker per change caps writes at about one per fsync. Here one thread
 * takes every queued change (up to BATCH_MAX) and:
 *   1. submits all their write-ahead audit entries at once and waits
 *      until they are durable (one group commit of the trail); a change
 *      whose entry cannot be written gets 503 and is not made;
 *   2. runs each change's prepare step, outside any transaction (a new
 *      patient's DEK is committed to keys.db on its own: SQLite does not
 *      commit two WAL databases atomically, and a record must never be
 *      durable without its key; an orphan key is harmless);
 *   3. opens one store transaction and runs each change inside its own
 *      savepoint: a change that fails is rolled back alone, the others
 *      stay; commits once (one fsync for the whole batch). If the
 *      transaction is lost midway (SQLite rolls it back by itself on a
 *      full disk, I/O error or out of memory), a savepoint cannot be
 *      closed, or the commit fails, the batch is rolled back and every
 *      change in it is answered 503 not_stored: nothing of it was
 *      stored;
 *   4. writes the follow-up audit entry of every change that failed, and
 *      resumes the connections.
 *
 * Guarantees (as pv_req_write's): no change reaches the store before its
 * audit entry is durable; no response reports a change that is not
 * durable; a failed change leaves a second entry saying so. Changes of
 * one batch see each other in queue order (same connection), so
 * If-Match between them behaves as if they ran one by one.
 *
 * What a change may do: only store operations through the thread's
 * connection (they join the batch's transaction) and in-memory work.
 * A DEK made for a new Patient whose change is then refused stays in
 * keys.db and the cache under a random id nothing refers to.
 */
#include "http/internal.h"
#include "common/log.h"
#include "common/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 64

struct pv_batcher {
	struct pv_server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct pv_req **ring;
	size_t depth, head, n;
	bool is_stopping;
	pthread_t thread;
	bool has_thread;
};

/* Counts outstanding audit completions of one batch. */
struct intents {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	size_t pending;
};

struct intent {
	struct intents *all;
	pv_status st;
};

static void
intent_done(void *arg, pv_status st)
{
	struct intent *it = arg;

	pthread_mutex_lock(&it->all->lock);
	it->st = st;
	it->all->pending--;
	if (it->all->pending == 0)
		pthread_cond_signal(&it->all->cv);
	pthread_mutex_unlock(&it->all->lock);
}

/* Step 1: every intent entry durable (one group commit); false marks a
 * request already answered 503. */
static void
write_intents(struct pv_server *srv, struct pv_req **rs, size_t n,
    bool *live)
{
	struct intents all;
	struct intent its[BATCH_MAX];
	size_t i;

	pthread_mutex_init(&all.lock, NULL);
	pthread_cond_init(&all.cv, NULL);
	all.pending = 0;
	for (i = 0; i < n; i++) {
		struct pv_req *r = rs[i];

		its[i].all = &all;
		its[i].st = PV_EUNAVAIL;
		if (r->ev.outcome == NULL)
			pv_req_audit_outcome(r, "allowed", "ok");
		pv_req_audit_settle(r);
		r->has_event = false;
		pthread_mutex_lock(&all.lock);
		all.pending++;
		pthread_mutex_unlock(&all.lock);
		if (pv_audit_submit(srv->audit, &r->ev, intent_done, &its[i]) !=
		    PV_OK) {
			pthread_mutex_lock(&all.lock);
			all.pending--;
			pthread_mutex_unlock(&all.lock);
		}
	}
	pthread_mutex_lock(&all.lock);
	while (all.pending > 0)
		pthread_cond_wait(&all.cv, &all.lock);
	pthread_mutex_unlock(&all.lock);
	for (i = 0; i < n; i++) {
		live[i] = its[i].st == PV_OK;
		if (!live[i])
			pv_reply_audit_unavailable(rs[i]);
	}
	pthread_cond_destroy(&all.cv);
	pthread_mutex_destroy(&all.lock);
}

static void
reply_not_stored(struct pv_req *r)
{
	pv_reply_error_detail(r, 503, "transient", "not_stored",
	    "the change could not be stored; nothing was changed, retry");
	r->retry_after = 2;
	r->headers_n = 0;	/* drop Location and ETag */
}

/* Step 2a: work that must commit outside the batch's transaction (a new
 * patient's DEK in keys.db). An error status drops the change. */
static void
run_prepares(struct pv_req **rs, size_t n, bool *live, bool *ready)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ready[i] = live[i];
		if (!live[i] || rs[i]->prepare_fn == NULL)
			continue;
		rs[i]->prepare_fn(rs[i]);
		if (rs[i]->status >= 400)
			ready[i] = false;
	}
}

/*
 * The transaction is gone (SQLite rolls the whole of it back by itself
 * on SQLITE_FULL, IOERR or NOMEM) or a savepoint could not be closed:
 * roll back what is left and answer every change not yet refused
 * not_stored, the earlier ones included (their work went with the
 * transaction). Never run a change outside the transaction: it would
 * autocommit.
 */
static void
abandon_batch(struct pv_store *s, struct pv_req **rs, size_t n,
    const bool *ready)
{
	size_t i;

	if (pv_store_in_tx(s))
		pv_store_rollback(s);
	pv_log(PV_LOG_ERROR, "store_batch_failed", NULL, (const char *)NULL);
	for (i = 0; i < n; i++)
		if (ready[i] && rs[i]->status < 400)
			reply_not_stored(rs[i]);
}

/* One change (in its savepoint): kept unless it answered an error. */
static bool
run_one(void *arg)
{
	struct pv_req *r = arg;

	r->write_fn(r);
	return r->status < 400;
}

/* Steps 2b and 3: the changes in one transaction, a savepoint each. */
static void
run_changes(struct pv_server *srv, struct pv_req **rs, size_t n,
    const bool *ready)
{
	struct pv_store *s = srv->vault->store;
	size_t i;

	for (i = 0; i < n && !ready[i]; i++)
		;
	if (i == n)
		return;		/* nothing to run: no transaction */
	if (pv_store_begin(s) != PV_OK) {
		abandon_batch(s, rs, n, ready);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!ready[i])
			continue;
		if (pv_store_in_savepoint(s, run_one, rs[i]) != PV_OK) {
			/* the failing change itself: not_stored too, even if
			 * write_fn had answered an error */
			rs[i]->status = 0;
			abandon_batch(s, rs, n, ready);
			return;
		}
	}
	if (pv_store_commit(s) == PV_OK)
		return;
	abandon_batch(s, rs, n, ready);
}

static void
run_batch(struct pv_server *srv, struct pv_req **rs, size_t n)
{
	bool live[BATCH_MAX], ready[BATCH_MAX];
	size_t i;

	write_intents(srv, rs, n, live);
	run_prepares(rs, n, live, ready);
	run_changes(srv, rs, n, ready);
	for (i = 0; i < n; i++) {
		if (live[i])
			pv_req_audit_followup(rs[i]);
		rs[i]->phase = PV_PHASE_READY;
		pv_req_resume(rs[i]);
	}
}

static void *
batcher_main(void *arg)
{
	struct pv_batcher *b = arg;
	struct pv_req *rs[BATCH_MAX];
	size_t n;

	for (;;) {
		pthread_mutex_lock(&b->lock);
		while (b->n == 0 && !b->is_stopping)
			pthread_cond_wait(&b->cv, &b->lock);
		if (b->n == 0) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		for (n = 0; n < BATCH_MAX && b->n > 0; n++) {
			rs[n] = b->ring[b->head];
			b->head = (b->head + 1) % b->depth;
			b->n--;
		}
		pthread_mutex_unlock(&b->lock);
		pv_metric_add(PV_M_WRITE_BATCHES, 1);
		run_batch(b->srv, rs, n);
	}
	return NULL;
}

pv_status
pv_batcher_start(struct pv_server *srv, size_t depth, struct pv_batcher **out)
{
	struct pv_batcher *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (b == NULL || (b->ring = calloc(depth, sizeof(*b->ring))) == NULL) {
		free(b);
		return PV_ENOMEM;
	}
	b->srv = srv;
	b->depth = depth;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (pthread_create(&b->thread, NULL, batcher_main, b) != 0) {
		pv_batcher_stop(b);
		return PV_ENOMEM;
	}
	b->has_thread = true;
	*out = b;
	return PV_OK;
}

void
pv_batcher_drain(struct pv_batcher *b)
{
	if (b == NULL || !b->has_thread)
		return;
	pthread_mutex_lock(&b->lock);
	b->is_stopping = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	b->has_thread = false;
}

void
pv_batcher_stop(struct pv_batcher *b)
{
	if (b == NULL)
		return;
	pv_batcher_drain(b);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->lock);
	free(b->ring);
	free(b);
}

void
pv_req_write_batched(struct pv_req *r, void (*fn)(struct pv_req *r))
{
	struct pv_batcher *b = r->srv->batcher;
	bool queued = false;

	r->write_fn = fn;
	r->deferred = fn;	/* marks the request as handed off */
	r->phase = PV_PHASE_WAITING;
	pv_req_suspend(r);
	pthread_mutex_lock(&b->lock);
	if (b->n < b->depth && !b->is_stopping) {
		b->ring[(b->head + b->n) % b->depth] = r;
		b->n++;
		queued = true;
		pthread_cond_signal(&b->cv);
	}
	pthread_mutex_unlock(&b->lock);
	if (queued)
		return;
	/* Queue full: refuse now rather than pile up memory. */
	pv_req_refuse_busy(r);
}
