/*
 * writer.c — the write path of the audit trail: the queue, the one
 * writer thread, group commit (one write and one fdatasync per batch),
 * the hash chain and the batch signature that ends every batch.
 *
 * pv_audit_submit copies an event into the queue and returns; the writer
 * takes the whole queue at once, and under the flock on the log (writers
 * in several processes serialise on it) first reads in what others
 * appended (audit_catch_up, log.c), then formats the batch (entry.c),
 * signs its last line (batchsig.h), writes it in one write() and
 * fdatasyncs, folds it into the tree state (audit_absorb, index.c),
 * appends a signed checkpoint (checkpoint.c) and rewrites the resume
 * state (state.c). Only then is each entry's completion called.
 *
 * Guarantees: a completion reports PV_OK only after the entry's bytes,
 * and the signature that ends its batch, were fdatasync'ed; a failed
 * batch is cut back off the file (ftruncate) so the log never holds a
 * half batch; the queue holds at most QUEUE_MAX events (PV_EUNAVAIL past
 * it), so a stalled disk cannot exhaust memory; every completion is
 * called exactly once, also when the writer stops.
 */
#include "audit/batchsig.h"
#include "audit/log_int.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_MAX 65536

void
pv_audit_chain_next(unsigned char chain[PV_AUDIT_HASH_BYTES],
    const unsigned char leaf[PV_AUDIT_HASH_BYTES])
{
	crypto_hash_sha256_state st;
	const unsigned char tag = 0x02;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &tag, 1);
	crypto_hash_sha256_update(&st, chain, PV_AUDIT_HASH_BYTES);
	crypto_hash_sha256_update(&st, leaf, PV_MERKLE_HASH_BYTES);
	crypto_hash_sha256_final(&st, chain);
}

bool
audit_write_all(int fd, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, (const char *)buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

/* ---- one batch ------------------------------------------------------ */

pv_status
audit_write_batch(struct pv_audit *a, struct audit_pending *items, size_t n)
{
	unsigned char chain[PV_AUDIT_HASH_BYTES];
	struct audit_entry e;
	char *buf = NULL;
	size_t cap, off = 0, i, len;
	off_t start = a->end;
	pv_mhash leaf;
	pv_status st = PV_OK;

	if (n == 0) /* nothing to write (and no line to sign) */
		return PV_OK;
	if (n > SIZE_MAX / AUDIT_LINE_MAX)
		return PV_ENOMEM;
	cap = n * AUDIT_LINE_MAX;
	buf = malloc(cap);
	if (buf == NULL)
		return PV_ENOMEM;
	memcpy(chain, a->chain, sizeof(chain));
	for (i = 0; i < n; i++) {
		if ((st = audit_entry_from_event(&items[i].ev, items[i].ts_ms,
			 a->size + i, chain, &e)) != PV_OK ||
		    (st = audit_entry_format(&e, buf + off, AUDIT_LINE_MAX - 1,
			 &len)) != PV_OK ||
		    (i + 1 == n &&
			(st = pv_bsig_sign(buf + off, &len, AUDIT_LINE_MAX - 1,
			     a->sk)) != PV_OK))
			goto done;
		pv_merkle_leaf_hash(buf + off, len, leaf);
		pv_audit_chain_next(chain, leaf);
		buf[off + len] = '\n';
		off += len + 1;
	}
	/* The fault points stand for a failed write and a failed sync on
	 * every medium (tests). The medium cuts a failed append itself. */
	if (pv_fault("audit_write") ||
	    a->m->fn->append(a->m, buf, off, start) != PV_OK) {
		st = PV_EUNAVAIL;
		goto done;
	}
	if (pv_fault("audit_fsync")) {
		st = PV_EUNAVAIL;
		if (a->m->fn->cut(a->m, start) != PV_OK)
			pv_log(PV_LOG_ERROR, "audit_truncate_failed", NULL,
			    (const char *)NULL);
		goto done;
	}
	/* Durable: fold the batch into the in-memory state. Each entry is
	 * made again from its event: a->chain and a->size are where they
	 * were when it was formatted, so it is the entry of that line. */
	for (i = 0, off = 0; i < n; i++) {
		char *line = buf + off, *nl = memchr(line, '\n', cap - off);

		*nl = '\0';
		if ((st = audit_entry_from_event(&items[i].ev, items[i].ts_ms,
			 a->size, a->chain, &e)) != PV_OK ||
		    (st = audit_absorb(a, line, (size_t)(nl - line),
			 start + (off_t)off, &e)) != PV_OK)
			goto done;
		off += (size_t)(nl - line) + 1;
	}
done:
	free(buf);
	return st;
}

/* ---- the writer thread ---------------------------------------------- */

/* Writes one batch taken off the queue, under the flock; logs changes
 * of health. */
static pv_status
commit(struct pv_audit *a, struct audit_pending *batch, size_t n)
{
	pv_status st = PV_EIO;

	if (a->m->fn->lock(a->m) == PV_OK) {
		pthread_rwlock_wrlock(&a->tree_lock);
		st = audit_catch_up(a, false);
		if (st == PV_OK)
			st = audit_write_batch(a, batch, n);
		if (st == PV_OK) {
			audit_checkpoint_append(a, false);
			audit_state_write(a);
		}
		st = audit_unlock(a, st);
		if (st == PV_OK)
			audit_floor_set(a);
		pthread_rwlock_unlock(&a->tree_lock);
		if (st == PV_OK)
			audit_anchor_save(a);
		a->anchor_due[0] = '\0';
	}
	if (st == PV_OK) {
		pv_metric_add(PV_M_AUDIT_ENTRIES, n);
		pv_metric_inc(PV_M_AUDIT_FSYNCS);
		if (!a->is_healthy)
			pv_log(PV_LOG_WARN, "audit_recovered", NULL,
			    (const char *)NULL);
		a->is_healthy = true;
		return PV_OK;
	}
	if (a->is_healthy)
		pv_log(PV_LOG_ERROR, "audit_write_failed", NULL, "status",
		    pv_status_name(st), (const char *)NULL);
	a->is_healthy = false;
	pv_metric_add(PV_M_AUDIT_FAILURES, n);
	return PV_EUNAVAIL;
}

static void *
writer_main(void *arg)
{
	struct pv_audit *a = arg;
	struct audit_pending *batch = NULL;
	size_t n, i, cap = 0;
	pv_status st;

	for (;;) {
		pthread_mutex_lock(&a->lock);
		while (a->q_n == 0 && !a->is_stopping)
			pthread_cond_wait(&a->cv, &a->lock);
		if (a->q_n == 0 && a->is_stopping) {
			pthread_mutex_unlock(&a->lock);
			break;
		}
		/* Take the whole queue: one write, one fsync for all of it. */
		struct audit_pending *t = a->q;
		a->q = batch;
		batch = t;
		n = a->q_n;
		size_t tc = a->q_cap;
		a->q_cap = cap;
		cap = tc;
		a->q_n = 0;
		pthread_mutex_unlock(&a->lock);

		st = commit(a, batch, n);
		for (i = 0; i < n; i++)
			if (batch[i].done != NULL)
				batch[i].done(batch[i].arg, st);
	}
	free(batch);
	return NULL;
}

pv_status
audit_writer_start(struct pv_audit *a)
{
	if (pthread_create(&a->writer, NULL, writer_main, a) != 0)
		return PV_EINTERNAL;
	a->has_writer = true;
	return PV_OK;
}

void
audit_writer_stop(struct pv_audit *a)
{
	if (!a->has_writer)
		return;
	pthread_mutex_lock(&a->lock);
	a->is_stopping = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->writer, NULL);
	a->has_writer = false;
}

/* ---- submitting ----------------------------------------------------- */

pv_status
pv_audit_submit(struct pv_audit *a, const struct pv_audit_event *ev,
    pv_audit_done done, void *arg)
{
	pv_status st = PV_OK;

	if (ev->count < 0)
		return PV_EINVAL;
	pthread_mutex_lock(&a->lock);
	if (a->is_stopping || a->q_n >= QUEUE_MAX) {
		st = PV_EUNAVAIL;
	} else if (!audit_grow((void **)&a->q, &a->q_cap, a->q_n + 1,
		       sizeof(struct audit_pending), 1024)) {
		st = PV_ENOMEM;
	} else {
		struct audit_pending *p = &a->q[a->q_n++];

		p->ev = *ev;
		if (p->ev.outcome == NULL)
			p->ev.outcome = "error";
		if (p->ev.reason == NULL)
			p->ev.reason = "";
		p->done = done;
		p->arg = arg;
		p->ts_ms = audit_now_ms();
		pthread_cond_signal(&a->cv);
	}
	pthread_mutex_unlock(&a->lock);
	return st;
}

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool is_done;
	pv_status st;
};

static void
wake(void *arg, pv_status st)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->m);
	w->st = st;
	w->is_done = true;
	pthread_cond_signal(&w->c);
	pthread_mutex_unlock(&w->m);
}

pv_status
pv_audit_append(struct pv_audit *a, const struct pv_audit_event *ev)
{
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		false, PV_EUNAVAIL };
	pv_status st;

	if ((st = pv_audit_submit(a, ev, wake, &w)) != PV_OK)
		return st;
	pthread_mutex_lock(&w.m);
	while (!w.is_done)
		pthread_cond_wait(&w.c, &w.m);
	pthread_mutex_unlock(&w.m);
	pthread_cond_destroy(&w.c);
	pthread_mutex_destroy(&w.m);
	return w.st;
}

bool
pv_audit_is_healthy(struct pv_audit *a)
{
	return a->is_healthy;
}
