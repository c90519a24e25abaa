/*
 * denials.c — bounded audit of refused anonymous requests.
 *
 * Every request to an audited route leaves an entry, and before this
 * module that included each request refused before anyone was
 * identified: an address sending garbage grew the trail by ~190 KB/s,
 * for ever (outside review, issue 13, finding 13). Now a refusal (status
 * 400 or more) of a request with no authenticated caller and no account
 * named (actor 0: no or invalid credentials, a rejected signature, a
 * malformed, rate-limited or unknown-user login) goes through here:
 *   - per source (address; IPv6 per /64, the block one subscriber gets)
 *     and per [audit] denial_interval (60 s), the first refusal of each
 *     (action, reason) is audited on its own, as before, and the rest
 *     are counted and written as one entry with "count": N when the
 *     interval ends (or at shutdown);
 *   - a source keeps at most KINDS (action, reason) pairs; past them its
 *     refusals are counted under action "*", reason "other" (so one
 *     address cannot take many slots: the red-team pass after the first
 *     version filled the table from 2 addresses with 128 pairs);
 *   - at most [audit] denial_keys sources are tracked; refusals that find
 *     no room are counted under one overflow entry (source "*").
 * So anonymous traffic adds at most (2 × KINDS + 1) × denial_keys + 1
 * entries per interval, however much of it arrives. Attempts on an
 * existing account (a login naming it, actor > 0) and requests whose
 * entry carries a replay nonce are always audited one by one. Counts
 * still in memory at a crash are lost (the first refusal of each kind is
 * already durable); alerts are raised per request as before.
 */
#include "http/guard.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16
#define KINDS 4 /* (action, reason) pairs kept per source */

struct kind {
	char action[PV_AUDIT_ACTION_MAX];
	const char *reason; /* a constant reason code */
	int64_t count; /* refusals not yet written */
};

/* One source (address, IPv6 /64) and what it was refused for. */
struct dslot {
	bool is_used;
	char src[PV_IP_MAX];
	int64_t start; /* interval began */
	struct kind kinds[KINDS];
	size_t kinds_n;
	struct kind other; /* past KINDS pairs: counted here */
};

struct pv_denials {
	pthread_mutex_t lock;
	struct dslot *tab;
	struct kind overflow; /* no slot free: counted here */
	int64_t overflow_start;
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

/* Queues the aggregate entry of k for src, when it counted anything.
 * Caller holds the lock. */
static void
emit(struct pv_denials *d, const char *src, struct kind *k)
{
	struct pv_audit_event ev;

	if (k->count == 0)
		return;
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.action, k->action, sizeof(ev.action));
	PV_IGNORE(pv_strlcpy(ev.src, src, sizeof(ev.src)));
	ev.outcome = "denied";
	ev.reason = k->reason;
	ev.count = k->count;
	pv_random_id(ev.rid);
	if (pv_audit_submit(d->audit, &ev, written, NULL) != PV_OK)
		written(NULL, PV_EUNAVAIL);
	k->count = 0;
}

/* Writes what slot s counted and frees it. Caller holds the lock. */
static void
slot_close(struct pv_denials *d, struct dslot *s)
{
	size_t i;

	for (i = 0; i < s->kinds_n; i++)
		emit(d, s->src, &s->kinds[i]);
	emit(d, s->src, &s->other);
	s->is_used = false;
}

/* The slot of src: found, or a free one of its probe run (NULL: none).
 * A slot whose interval ended is written out and begins anew. */
static struct dslot *
slot_for(struct pv_denials *d, const char *src, int64_t now)
{
	unsigned char h[crypto_shorthash_BYTES];
	struct dslot *s, *free_slot = NULL;
	uint64_t start;
	size_t i;

	crypto_shorthash(h, (const unsigned char *)src, strlen(src), d->hkey);
	memcpy(&start, h, sizeof(start));
	for (i = 0; i < PROBE && i < d->cap; i++) {
		s = &d->tab[(start + i) % d->cap];
		if (s->is_used && strcmp(s->src, src) == 0) {
			if (now - s->start < d->interval)
				return s;
			slot_close(d, s);
			free_slot = s;
			break;
		}
		if (!s->is_used && free_slot == NULL)
			free_slot = s;
	}
	if (free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->is_used = true;
	memcpy(free_slot->src, src, sizeof(free_slot->src));
	free_slot->start = now;
	PV_IGNORE(pv_strlcpy(free_slot->other.action, "*",
	    sizeof(free_slot->other.action)));
	free_slot->other.reason = "other";
	return free_slot;
}

bool
pv_denials_note(struct pv_denials *d, const char *ip, const char *action,
    const char *reason, int64_t now)
{
	char src[PV_IP_MAX];
	struct dslot *s;
	struct kind *k;
	size_t i;
	bool is_single = false;

	if (d == NULL || reason == NULL)
		return true;
	source_key(ip, src);
	pthread_mutex_lock(&d->lock);
	if ((s = slot_for(d, src, now)) == NULL) {
		/* No room: counted, never written singly. */
		if (d->overflow.count == 0)
			d->overflow_start = now;
		d->overflow.count++;
		goto done;
	}
	for (i = 0; i < s->kinds_n; i++) {
		k = &s->kinds[i];
		if (strcmp(k->action, action) == 0 &&
		    strcmp(k->reason, reason) == 0) {
			k->count++;
			goto done;
		}
	}
	if (s->kinds_n == KINDS) {
		s->other.count++;
		goto done;
	}
	/* The first of its kind from this source in the interval. */
	k = &s->kinds[s->kinds_n++];
	PV_IGNORE(pv_strlcpy(k->action, action, sizeof(k->action)));
	k->reason = reason;
	is_single = true;
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

		if (s->is_used && (is_final || now - s->start >= d->interval))
			slot_close(d, s);
	}
	if (d->overflow.count > 0 &&
	    (is_final || now - d->overflow_start >= d->interval))
		emit(d, "*", &d->overflow);
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
