/*
 * writeahead.c — intents before changes, follow-ups after failed ones
 * (see writeahead.h).
 *
 * Guarantees: pv_audit_intents returns only when every submitted entry
 * has completed (durable or failed), so no caller can start a change
 * whose intent is still in flight; an entry that could not even be
 * queued counts as failed.
 */
#include "audit/writeahead.h"
#include "common/log.h"

#include <stdlib.h>

#include <pthread.h>

pv_status
pv_audit_intent(struct pv_audit *a, const struct pv_audit_event *ev)
{
	return pv_audit_append(a, ev) == PV_OK ? PV_OK : PV_EUNAVAIL;
}

/* Counts outstanding completions of one group of intents. */
struct group {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	size_t pending;
};

struct slot {
	struct group *g;
	pv_status *st;
};

static void
slot_done(void *arg, pv_status st)
{
	struct slot *s = arg;

	pthread_mutex_lock(&s->g->lock);
	*s->st = st == PV_OK ? PV_OK : PV_EUNAVAIL;
	if (--s->g->pending == 0)
		pthread_cond_signal(&s->g->cv);
	pthread_mutex_unlock(&s->g->lock);
}

pv_status
pv_audit_intents(struct pv_audit *a, const struct pv_audit_event *const *evs,
    size_t n, pv_status *st)
{
	struct group g;
	struct slot *slots;
	pv_status all = PV_OK;
	size_t i;

	if (n == 0)
		return PV_OK;
	if ((slots = calloc(n, sizeof(*slots))) == NULL) {
		for (i = 0; i < n; i++)
			st[i] = PV_EUNAVAIL;
		return PV_EUNAVAIL;
	}
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cv, NULL);
	g.pending = n;
	for (i = 0; i < n; i++) {
		slots[i].g = &g;
		slots[i].st = &st[i];
		st[i] = PV_EUNAVAIL;
		if (pv_audit_submit(a, evs[i], slot_done, &slots[i]) != PV_OK)
			slot_done(&slots[i], PV_EUNAVAIL);
	}
	pthread_mutex_lock(&g.lock);
	while (g.pending > 0)
		pthread_cond_wait(&g.cv, &g.lock);
	pthread_mutex_unlock(&g.lock);
	pthread_cond_destroy(&g.cv);
	pthread_mutex_destroy(&g.lock);
	free(slots);
	for (i = 0; i < n; i++)
		if (st[i] != PV_OK)
			all = PV_EUNAVAIL;
	return all;
}

pv_status
pv_audit_followup(struct pv_audit *a, const struct pv_audit_event *intent,
    const char *outcome, const char *reason)
{
	struct pv_audit_event ev = *intent;

	ev.outcome = outcome;
	ev.reason = reason;
	if (pv_audit_append(a, &ev) == PV_OK)
		return PV_OK;
	pv_log(PV_LOG_ERROR, "audit_followup_failed", ev.rid,
	    (const char *)NULL);
	return PV_EUNAVAIL;
}
