/*
 * slots.h — a fixed-size table of keyed slots with least-recently-used
 * eviction, for in-memory defences that must stay bounded however many
 * addresses or accounts an attacker brings (login lockout per address,
 * rate-limit buckets).
 *
 * An entry type embeds struct pv_slot as its first member. Lookups probe
 * a short run (PV_SLOTS_PROBE) from a keyed hash of the key, so an
 * attacker cannot aim collisions at a victim's slot; when the key is not
 * there and create is set, the unused or least recently used slot of the
 * run is reset and handed out.
 */
#ifndef PV_COMMON_SLOTS_H
#define PV_COMMON_SLOTS_H

#include "common/pv.h"

#define PV_SLOT_KEY_MAX 80
#define PV_SLOTS_PROBE 16

struct pv_slot {
	char key[PV_SLOT_KEY_MAX];
	int64_t last; /* caller's notion of "recently used" */
	bool is_used;
};

struct pv_slots {
	unsigned char *tab; /* cap entries of esz bytes, zeroed */
	size_t cap, esz;
	unsigned char hkey[16]; /* crypto_shorthash key */
};

/* Allocates cap entries of esz bytes (esz >= sizeof(struct pv_slot)). */
PV_MUST_CHECK pv_status pv_slots_init(struct pv_slots *s, size_t cap,
    size_t esz);
void pv_slots_free(struct pv_slots *s);

/*
 * The slot holding key, or (create) a fresh zeroed one whose key is set
 * and is_used true; NULL when absent and !create or the key is too long.
 * Not thread-safe: callers hold their own lock.
 */
struct pv_slot *pv_slots_find(struct pv_slots *s, const char *key, bool create);

#endif
