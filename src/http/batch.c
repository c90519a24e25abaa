/*
 * batch.c — the record write queue: HTTP record changes (create, update,
 * delete) wait here, and one thread hands every queued change (up to
 * BATCH_MAX) to pv_record_apply (fhir/apply.c), the write service
 * `phivault import` uses too. One audit fsync and one store commit serve
 * the whole batch (group commit); the guarantees are pv_record_apply's:
 * no change reaches the store before its audit entry is durable, no
 * response reports a change that is not durable, a failed change leaves
 * a follow-up entry. Changes of one batch run in queue order, so If-Match
 * between them behaves as if they ran one by one.
 *
 * Then each request's finish step (the handler's continuation) builds its
 * reply from its change's status, and the server resumes the connection.
 */
#include "http/guard.h"
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

/* A change whose intent or batch failed gets its 503; any other status
 * is the handler's to answer (its finish step). */
static void
finish(struct pv_req *r)
{
	struct pv_reply *p = &r->out;

	if (p->change.is_unaudited)
		pv_reply_audit_unavailable(p);
	else if (p->change.is_lost)
		pv_reply_not_stored(p);
	else
		p->next_fn(&r->in, p);
	pv_req_done(r);
}

static void
run_batch(struct pv_server *srv, struct pv_req **rs, size_t n)
{
	struct pv_audit_event evs[BATCH_MAX];
	struct pv_change cs[BATCH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		cs[i] = rs[i]->out.change;
		cs[i].intent = NULL;
		if (rs[i]->has_event) {
			pv_trail_intent_event(rs[i], &evs[i]);
			cs[i].intent = &evs[i];
		}
	}
	/* Each change's own status says what happened to it; a lost batch
	 * marks every change it held is_lost. */
	PV_IGNORE(pv_record_apply(srv->vault, srv->audit, cs, n));
	for (i = 0; i < n; i++) {
		cs[i].intent = NULL;
		rs[i]->out.change = cs[i];
		finish(rs[i]);
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

bool
pv_batcher_submit(struct pv_batcher *b, struct pv_req *r)
{
	bool queued = false;

	pthread_mutex_lock(&b->lock);
	if (b->n < b->depth && !b->is_stopping) {
		b->ring[(b->head + b->n) % b->depth] = r;
		b->n++;
		queued = true;
		pthread_cond_signal(&b->cv);
	}
	pthread_mutex_unlock(&b->lock);
	return queued;
}
