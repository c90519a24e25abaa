/*
 * lockout.c — growing delays after failed logins.
 *
 * Per account: after [auth] lockout_threshold failures (default 5) the
 * account is locked for base * 2^(failures - threshold) seconds, capped at
 * lockout_max_delay; a successful login resets it. The state lives in the
 * account row so it survives restarts and is shared with the CLI.
 *
 * Per address: failures from one source address across any accounts are
 * counted in memory (a count ages out after lockout_max_delay without a
 * reset); past ip_lockout_threshold the address waits, with the same
 * growing delay. The table is bounded
 * ([ratelimit] max_tracked); when full, the stalest entry is evicted.
 *
 * Defends against: online guessing of one account (brute force) and of
 * many accounts from one source (credential stuffing).
 */
#include "auth/auth.h"
#include "common/slots.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define USERS_TRACKED 8 /* distinct accounts remembered per address */

struct ipent {
	struct pv_slot slot; /* key: the address; last: last failure */
	int64_t failures;
	int64_t window_start;
	int64_t blocked_until;
	uint64_t users[USERS_TRACKED]; /* short hashes of tried names */
	int64_t distinct;
};

struct pv_iplock {
	pthread_mutex_t lock;
	struct pv_slots slots;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

int64_t
pv_lockout_delay(const struct pv_config *cfg, int64_t failures)
{
	int64_t over = failures - cfg->lockout_threshold, d;

	if (over < 0)
		return 0;
	d = cfg->lockout_base_delay;
	while (over-- > 0 && d < cfg->lockout_max_delay)
		d *= 2;
	return d > cfg->lockout_max_delay ? cfg->lockout_max_delay : d;
}

pv_status
pv_iplock_new(size_t max_tracked, struct pv_iplock **out)
{
	struct pv_iplock *l = calloc(1, sizeof(*l));
	pv_status st;

	if (l == NULL)
		return PV_ENOMEM;
	if ((st = pv_slots_init(&l->slots, max_tracked,
		 sizeof(struct ipent))) != PV_OK) {
		free(l);
		return st;
	}
	randombytes_buf(l->hkey, sizeof(l->hkey));
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return PV_OK;
}

void
pv_iplock_free(struct pv_iplock *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	pv_slots_free(&l->slots);
	free(l);
}

static uint64_t
h64(const struct pv_iplock *l, const char *s)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)s, strlen(s), l->hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

static struct ipent *
find(struct pv_iplock *l, const char *ip, bool create, int64_t now)
{
	struct ipent *e =
	    (struct ipent *)(void *)pv_slots_find(&l->slots, ip, create);

	if (e != NULL && e->window_start == 0) { /* fresh slot */
		e->window_start = now;
		e->slot.last = now;
	}
	return e;
}

int64_t
pv_iplock_wait(struct pv_iplock *l, const char *ip, int64_t now)
{
	struct ipent *e;
	int64_t w = 0;

	pthread_mutex_lock(&l->lock);
	e = find(l, ip, false, now);
	if (e != NULL && e->blocked_until > now)
		w = e->blocked_until - now;
	pthread_mutex_unlock(&l->lock);
	return w;
}

bool
pv_iplock_fail(struct pv_iplock *l, const struct pv_config *cfg, const char *ip,
    const char *username, int64_t now, int64_t *distinct_accounts)
{
	struct ipent *e;
	bool locked = false;
	uint64_t uh = h64(l, username != NULL ? username : "");
	size_t i;

	pthread_mutex_lock(&l->lock);
	e = find(l, ip, true, now);
	if (e == NULL) {
		pthread_mutex_unlock(&l->lock);
		return false;
	}
	/* Failures age out: a window of lockout_max_delay. */
	if (now - e->window_start > cfg->lockout_max_delay) {
		e->failures = 0;
		e->distinct = 0;
		memset(e->users, 0, sizeof(e->users));
		e->window_start = now;
	}
	e->failures++;
	e->slot.last = now;
	for (i = 0; i < USERS_TRACKED && e->users[i] != uh; i++)
		if (e->users[i] == 0) {
			e->users[i] = uh;
			e->distinct++;
			break;
		}
	if (i == USERS_TRACKED)
		e->distinct++; /* beyond what we remember: count it */
	if (e->failures >= cfg->ip_lockout_threshold) {
		int64_t over = e->failures - cfg->ip_lockout_threshold;
		int64_t d =
		    pv_lockout_delay(cfg, cfg->lockout_threshold + over);

		locked = e->blocked_until <= now;
		e->blocked_until = now + d;
	}
	*distinct_accounts = e->distinct;
	pthread_mutex_unlock(&l->lock);
	return locked;
}

void
pv_iplock_success(struct pv_iplock *l, const char *ip)
{
	struct ipent *e;

	pthread_mutex_lock(&l->lock);
	/* Halve rather than clear: a shared address (NAT) recovers as its
	 * users log in, but one valid account interleaved with guesses
	 * cannot wipe the count of a stuffing run. */
	e = find(l, ip, false, 0);
	if (e != NULL)
		e->failures /= 2;
	pthread_mutex_unlock(&l->lock);
}
