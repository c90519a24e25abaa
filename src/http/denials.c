/*
 * denials.c — bounded audit of unauthenticated refusals.
 *
 * Every request to an audited route leaves an entry, and before this
 * module that included each request refused for having no valid
 * credentials: an address sending garbage grew the trail by ~190 KB/s,
 * for ever (outside review, issue 13, finding 13). Now, per (source
 * address, action, reason) and per [audit] denial_interval (60 s):
 *   - the first refusal is audited on its own, as before (the trail says
 *     at once who was refused, where and why);
 *   - the following ones are only counted, and one entry with "count": N
 *     is written when the interval ends (or at shutdown);
 *   - IPv6 addresses count per /64, the block one subscriber gets, so an
 *     attacker cannot mint a key per address;
 *   - at most [audit] denial_keys keys are tracked; refusals that find no
 *     room are counted under one overflow key (source "*").
 * So unauthenticated traffic adds at most 2 × (denial_keys + 1) entries
 * per interval, however much of it arrives. Only refusals made by the
 * authentication step itself go through here (no or invalid bearer token,
 * any rejected signature); a failed login is a handler's answer, already
 * limited by the login rate limit, and stays one entry per attempt.
 * Counts still in memory at a crash are lost (the first refusal of each
 * key is already durable); alerts are raised per request as before.
 */
#include "http/internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16

struct dslot {
	bool is_used;
	char src[PV_IP_MAX];
	char action[PV_AUDIT_ACTION_MAX];
	const char *reason;		/* a constant reason code */
	int64_t start;			/* interval began */
	int64_t count;			/* refusals since, not yet written */
};

struct pv_denials {
	pthread_mutex_t lock;
	struct dslot *tab, overflow;
	size_t cap;
	int64_t interval;
	struct pv_audit *audit;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

pv_status
pv_denials_new(const struct pv_config *cfg, struct pv_audit *audit,
    struct pv_denials **out)
{
	struct pv_denials *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return PV_ENOMEM;
	d->cap = (size_t)cfg->denial_keys;
	if ((d->tab = calloc(d->cap, sizeof(*d->tab))) == NULL) {
		free(d);
		return PV_ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->interval = cfg->denial_interval;
	d->audit = audit;
	randombytes_buf(d->hkey, sizeof(d->hkey));
	PV_IGNORE(pv_strlcpy(d->overflow.src, "*", sizeof(d->overflow.src)));
	PV_IGNORE(pv_strlcpy(d->overflow.action, "unauthenticated",
	    sizeof(d->overflow.action)));
	d->overflow.reason = "overflow";
	*out = d;
	return PV_OK;
}

/* An IPv6 address stands for its /64; anything else as it is. */
static void
source_key(const char *ip, char out[PV_IP_MAX])
{
	unsigned char a[16];

	if (strchr(ip, ':') != NULL && inet_pton(AF_INET6, ip, a) == 1) {
		memset(a + 8, 0, 8);
		if (inet_ntop(AF_INET6, a, out, PV_IP_MAX) != NULL &&
		    strlen(out) + 3 < PV_IP_MAX) {
			strcat(out, "/64");
			return;
		}
	}
	if (pv_strlcpy(out, ip, PV_IP_MAX) != PV_OK)
		PV_IGNORE(pv_strlcpy(out, "unknown", PV_IP_MAX));
}

static void
written(void *arg, pv_status st)
{
	(void)arg;
	if (st != PV_OK)
		pv_log(PV_LOG_ERROR, "audit_denials_lost", NULL,
		    (const char *)NULL);
}

/* Queues the aggregate entry of s (count > 0). Caller holds the lock. */
static void
emit(struct pv_denials *d, const struct dslot *s)
{
	struct pv_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	memcpy(ev.action, s->action, sizeof(ev.action));
	memcpy(ev.src, s->src, sizeof(ev.src) < sizeof(s->src) ?
	    sizeof(ev.src) : sizeof(s->src));
	ev.src[sizeof(ev.src) - 1] = '\0';
	ev.outcome = "denied";
	ev.reason = s->reason;
	ev.count = s->count;
	pv_random_id(ev.rid);
	if (pv_audit_submit(d->audit, &ev, written, NULL) != PV_OK)
		written(NULL, PV_EUNAVAIL);
}

static bool
slot_is(const struct dslot *s, const char *src, const char *action,
    const char *reason)
{
	return s->is_used && strcmp(s->src, src) == 0 &&
	    strcmp(s->action, action) == 0 && strcmp(s->reason, reason) == 0;
}

bool
pv_denials_note(struct pv_denials *d, const char *ip, const char *action,
    const char *reason, int64_t now)
{
	char src[PV_IP_MAX], key[PV_IP_MAX + PV_AUDIT_ACTION_MAX + 64];
	unsigned char h[crypto_shorthash_BYTES];
	struct dslot *s, *free_slot = NULL;
	uint64_t start;
	size_t i;
	bool is_single = true;

	if (d == NULL || reason == NULL)
		return true;
	source_key(ip, src);
	PV_IGNORE(pv_snprintf(key, sizeof(key), "%s|%s|%s", src, action,
	    reason));
	crypto_shorthash(h, (const unsigned char *)key, strlen(key), d->hkey);
	memcpy(&start, h, sizeof(start));
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < PROBE && i < d->cap; i++) {
		s = &d->tab[(start + i) % d->cap];
		if (slot_is(s, src, action, reason)) {
			if (now - s->start < d->interval) {
				s->count++;
				is_single = false;
			} else {		/* a new interval */
				if (s->count > 0)
					emit(d, s);
				s->start = now;
				s->count = 0;
			}
			goto done;
		}
		if (!s->is_used && free_slot == NULL)
			free_slot = s;
	}
	if (free_slot == NULL) {
		/* No room: counted, never written singly. */
		if (d->overflow.count == 0)
			d->overflow.start = now;
		d->overflow.count++;
		is_single = false;
		goto done;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->is_used = true;
	memcpy(free_slot->src, src, sizeof(src));
	PV_IGNORE(pv_strlcpy(free_slot->action, action,
	    sizeof(free_slot->action)));
	free_slot->reason = reason;
	free_slot->start = now;
done:
	pthread_mutex_unlock(&d->lock);
	if (!is_single)
		pv_metric_inc(PV_M_DENIALS_AGGREGATED);
	return is_single;
}

void
pv_denials_flush(struct pv_denials *d, int64_t now, bool is_final)
{
	size_t i;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->cap; i++) {
		struct dslot *s = &d->tab[i];

		if (!s->is_used || (!is_final && now - s->start < d->interval))
			continue;
		if (s->count > 0)
			emit(d, s);
		s->is_used = false;
	}
	if (d->overflow.count > 0 &&
	    (is_final || now - d->overflow.start >= d->interval)) {
		emit(d, &d->overflow);
		d->overflow.count = 0;
	}
	pthread_mutex_unlock(&d->lock);
}

void
pv_denials_free(struct pv_denials *d)
{
	if (d == NULL)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d->tab);
	free(d);
}
