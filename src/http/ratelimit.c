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
#include "http/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 80
#define PROBE 16

struct bucket {
	char key[KEY_MAX];
	double tokens;
	uint64_t last_ns;
	bool is_used;
};

struct pv_ratelimit {
	pthread_mutex_t lock;
	struct bucket *tab;
	size_t cap;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

pv_status
pv_ratelimit_new(size_t max, struct pv_ratelimit **out)
{
	struct pv_ratelimit *rl = calloc(1, sizeof(*rl));

	*out = NULL;
	if (rl == NULL)
		return PV_ENOMEM;
	rl->tab = calloc(max, sizeof(*rl->tab));
	if (rl->tab == NULL) {
		free(rl);
		return PV_ENOMEM;
	}
	rl->cap = max;
	randombytes_buf(rl->hkey, sizeof(rl->hkey));
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
	free(rl->tab);
	free(rl);
}

static struct bucket *
find(struct pv_ratelimit *rl, const char *key, double burst, uint64_t now)
{
	unsigned char h[crypto_shorthash_BYTES];
	struct bucket *victim = NULL;
	uint64_t start;
	size_t i;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), rl->hkey);
	memcpy(&start, h, sizeof(start));
	for (i = 0; i < PROBE && i < rl->cap; i++) {
		struct bucket *b = &rl->tab[(start + i) % rl->cap];

		if (b->is_used && strcmp(b->key, key) == 0)
			return b;
		if (victim == NULL || !b->is_used ||
		    (victim->is_used && b->last_ns < victim->last_ns))
			victim = b;
	}
	memset(victim, 0, sizeof(*victim));
	PV_IGNORE(pv_strlcpy(victim->key, key, sizeof(victim->key)));
	victim->tokens = burst;
	victim->last_ns = now;
	victim->is_used = true;
	return victim;
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
	b = find(rl, key, burst, now);
	b->tokens += (double)(now - b->last_ns) / 1e9 * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ns = now;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else
		wait = (int64_t)ceil((1.0 - b->tokens) / rate);
	pthread_mutex_unlock(&rl->lock);
	return wait < 0 ? 0 : (wait == 0 && b->tokens < 0 ? 1 : wait);
}

bool
pv_http_rate_limited(struct pv_req *r, const char *kind, const char *id,
    double rate, double burst)
{
	char key[KEY_MAX];
	int64_t wait;

	if (!r->srv->vault->cfg.ratelimit_enabled ||
	    pv_snprintf(key, sizeof(key), "%s:%s", kind, id) != PV_OK)
		return false;
	wait = pv_ratelimit_take(r->srv->ratelimit, key, rate, burst);
	if (wait == 0)
		return false;
	pv_metric_inc(PV_M_RATE_LIMITED);
	r->retry_after = wait < 1 ? 1 : wait;
	pv_req_audit_outcome(r, "denied", "rate_limited");
	pv_reply_error_detail(r, 429, "throttled", "rate_limited",
	    "too many requests; retry after the Retry-After delay");
	return true;
}
