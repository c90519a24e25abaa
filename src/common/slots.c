/*
 * slots.c — bounded keyed tables with LRU eviction (see slots.h).
 *
 * Guarantees: memory is fixed at pv_slots_init; a lookup touches at most
 * PV_SLOTS_PROBE entries; the probe start is a SipHash (libsodium
 * crypto_shorthash) of the key under a random per-table key.
 */
#include "common/slots.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

pv_status
pv_slots_init(struct pv_slots *s, size_t cap, size_t esz)
{
	memset(s, 0, sizeof(*s));
	if (cap == 0 || esz < sizeof(struct pv_slot) || cap > SIZE_MAX / esz)
		return PV_EINVAL;
	s->tab = calloc(cap, esz);
	if (s->tab == NULL)
		return PV_ENOMEM;
	s->cap = cap;
	s->esz = esz;
	randombytes_buf(s->hkey, sizeof(s->hkey));
	return PV_OK;
}

void
pv_slots_free(struct pv_slots *s)
{
	free(s->tab);
	s->tab = NULL;
}

struct pv_slot *
pv_slots_find(struct pv_slots *s, const char *key, bool create)
{
	unsigned char h[crypto_shorthash_BYTES];
	struct pv_slot *victim = NULL;
	uint64_t start;
	size_t i, n = s->cap < PV_SLOTS_PROBE ? s->cap : PV_SLOTS_PROBE;

	if (strlen(key) >= PV_SLOT_KEY_MAX)
		return NULL;
	crypto_shorthash(h, (const unsigned char *)key, strlen(key), s->hkey);
	memcpy(&start, h, sizeof(start));
	for (i = 0; i < n; i++) {
		struct pv_slot *e = (struct pv_slot *)(void *)(s->tab +
		    ((start + i) % s->cap) * s->esz);

		if (e->is_used && strcmp(e->key, key) == 0)
			return e;
		if (victim == NULL || !e->is_used ||
		    (victim->is_used && e->last < victim->last))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, s->esz);
	strcpy(victim->key, key);
	victim->is_used = true;
	return victim;
}
