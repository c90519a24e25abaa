/*
 * ratelimit.c — token buckets per source address, per account, per route.
 *
 * Buckets ([ratelimit], defaults let one address or account make well
 * over 100 requests/s, while logins are limited far more tightly):
 *   every request        per address   ip_rate/s, burst ip_burst
 *   authenticated        per account   account_rate/s, account_burst
 *   POST /auth/login     per address   login_per_minute, login_burst
 *   audit proofs         per address   proof_rate/s (each costs O(n))
 * A refused request gets 429 with Retry-After: the whole seconds until a
 * token is back. Memory is bounded: a fixed table of max_tracked buckets,
 * the least recently used in a probe run evicted when full (an evicted
 * bucket comes back full: bounded memory wins over perfect memory).
 */
#include "http/guard.h"
#include "common/slots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	struct pv_slot slot; /* key: "kind:id"; last: refill time, ns */
	double tokens;
};

struct pv_ratelimit {
	pthread_mutex_t lock;
	struct pv_slots slots;
};

pv_status
pv_ratelimit_new(size_t max, struct pv_ratelimit **out)
{
	struct pv_ratelimit *rl = calloc(1, sizeof(*rl));
	pv_status st;

	*out = NULL;
	if (rl == NULL)
		return PV_ENOMEM;
	if ((st = pv_slots_init(&rl->slots, max, sizeof(struct bucket))) !=
	    PV_OK) {
		free(rl);
		return st;
	}
	pthread_mutex_init(&rl->lock, NULL);
	*out = rl;
	return PV_OK;
}

void
pv_ratelimit_free(struct pv_ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	pv_slots_free(&rl->slots);
	free(rl);
}

int64_t
pv_ratelimit_take(struct pv_ratelimit *rl, const char *key, double rate,
    double burst)
{
	uint64_t now = pv_mono_ns();
	struct bucket *b;
	int64_t wait = 0;

	if (rl == NULL || rate <= 0)
		return 0;
	pthread_mutex_lock(&rl->lock);
	b = (struct bucket *)(void *)pv_slots_find(&rl->slots, key, true);
	if (b == NULL) { /* key too long: no bucket, no limit */
		pthread_mutex_unlock(&rl->lock);
		return 0;
	}
	if (b->slot.last == 0) /* a new (or evicted) bucket starts full */
		b->tokens = burst;
	else
		b->tokens +=
		    (double)(now - (uint64_t)b->slot.last) / 1e9 * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->slot.last = (int64_t)now;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else
		wait = (int64_t)ceil((1.0 - b->tokens) / rate);
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

bool
pv_http_rate_limited(const struct pv_hreq *q, struct pv_reply *r,
    const char *kind, const char *id, double rate, double burst)
{
	char key[PV_SLOT_KEY_MAX];
	int64_t wait;

	if (!q->svc->vault->cfg.ratelimit_enabled ||
	    pv_snprintf(key, sizeof(key), "%s:%s", kind, id) != PV_OK)
		return false;
	wait = pv_ratelimit_take(q->svc->ratelimit, key, rate, burst);
	if (wait == 0)
		return false;
	pv_metric_inc(PV_M_RATE_LIMITED);
	r->retry_after = wait < 1 ? 1 : wait;
	pv_note_outcome(r, "denied", "rate_limited");
	pv_reply_error_detail(r, 429, "throttled", "rate_limited",
	    "too many requests; retry after the Retry-After delay");
	return true;
}
