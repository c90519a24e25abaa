/*
 * dek.c — per-patient data keys: get-or-create, cache, shred. Rotation
 * (re-wrapping every DEK under a new master-key version) is in rotate.c.
 *
 * Envelope encryption, layer two (layer one is crypto/keyring.c): every
 * patient has a random 256-bit DEK; records are sealed under it; the DEK
 * is stored only wrapped, in keys/keys.db, never in phivault.db.
 *
 * Cache: unwrapped DEKs are kept in one sodium_malloc'd (guard-paged,
 * mlocked) table, direct-mapped by a keyed hash of the id. A shredded key
 * is never served from memory:
 *  - every lookup first compares keys.db's data_version with the one this
 *    thread's connection last saw; when another connection (thread or
 *    process) committed to keys.db, it reads the shred epoch (grows with
 *    every tombstone, and only then) and empties the cache if the epoch
 *    passed the one the cache last synced with. New keys and rotations
 *    (re-wraps of unchanged keys) commit to keys.db too but leave the
 *    cache alone: emptying it for every new patient made every thread
 *    unwrap again (bench/dek_churn.sh);
 *  - a shred in this process empties the cache itself after its commit
 *    and records the new epoch;
 *  - a lookup that missed and loaded a key caches it only if this
 *    thread's view of keys.db is not older than the newest shred the
 *    cache knows of, and no flush happened since the lookup began. A
 *    thread whose view is pinned (a lookup made while one of its
 *    statements is still stepping, e.g. a scan that decrypts row by row,
 *    keeps the snapshot the scan began with) may still open what that
 *    snapshot holds, as any read that began before the shred may, but
 *    cannot put a shredded key back into the shared cache.
 *
 * Guarantees: a DEK leaves this file only into a caller-provided secret
 * buffer; a key that fails to unwrap is an integrity failure (PV_ECRYPTO),
 * never a silent regeneration.
 */
#include "core/vault.h"
#include "common/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* 16384 slots x 113 bytes = 1.8 MiB, inside the default 8 MiB mlock
 * limit; at 4096 a 10,000-patient working set missed 3 reads in 4. */
#define CACHE_SLOTS 16384

struct slot {
	char key_id[PV_PATIENT_ID_MAX + 16];
	unsigned char dek[PV_DEK_BYTES];
	bool is_used;
};

struct pv_dek_cache {
	pthread_mutex_t lock;
	struct slot *slots; /* sodium_malloc'd, CACHE_SLOTS */
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	_Atomic uint64_t gen; /* flushes so far; bumped under lock */
	int64_t shred_epoch; /* under lock: keys.db's at the last
			      * sync; -1 before the first */
	uint64_t id; /* unique in this process */
};

/* What this thread's store connection last saw, and for which cache (an
 * id, not the address, which a later vault's cache may reuse). */
static _Atomic uint64_t last_cache_id;
static _Thread_local uint64_t seen_cache_id;
static _Thread_local int64_t seen_keys_version = -1;
static _Thread_local int64_t seen_shred_epoch = -1;

pv_status pv_dek_cache_init(struct pv_vault *v);

pv_status
pv_dek_cache_init(struct pv_vault *v)
{
	struct pv_dek_cache *c;

	if (v->deks != NULL)
		return PV_OK;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return PV_ENOMEM;
	c->slots = sodium_malloc(CACHE_SLOTS * sizeof(struct slot));
	if (c->slots == NULL) {
		free(c);
		return PV_ENOMEM;
	}
	sodium_memzero(c->slots, CACHE_SLOTS * sizeof(struct slot));
	randombytes_buf(c->hkey, sizeof(c->hkey));
	c->shred_epoch = -1;
	c->id = atomic_fetch_add(&last_cache_id, 1) + 1;
	pthread_mutex_init(&c->lock, NULL);
	v->deks = c;
	return PV_OK;
}

/* Called from pv_vault_close. */
void pv_dek_cache_free(struct pv_vault *v);

void
pv_dek_cache_free(struct pv_vault *v)
{
	struct pv_dek_cache *c = v->deks;

	if (c == NULL)
		return;
	sodium_memzero(c->slots, CACHE_SLOTS * sizeof(struct slot));
	sodium_free(c->slots);
	pthread_mutex_destroy(&c->lock);
	free(c);
	v->deks = NULL;
}

static struct slot *
slot_for(struct pv_dek_cache *c, const char *key_id)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t idx;

	crypto_shorthash(h, (const unsigned char *)key_id, strlen(key_id),
	    c->hkey);
	memcpy(&idx, h, sizeof(idx));
	return &c->slots[idx % CACHE_SLOTS];
}

/* Called with c->lock held. */
static void
flush_locked(struct pv_dek_cache *c)
{
	pv_metric_inc(PV_M_DEK_CACHE_FLUSHES);
	sodium_memzero(c->slots, CACHE_SLOTS * sizeof(struct slot));
	atomic_fetch_add(&c->gen, 1);
}

/*
 * Brings the cache up to date with shreds committed by other connections,
 * then returns (in *gen) the flush generation a later cache_put must still
 * find. data_version is read before the epoch, so any shred committed
 * after the epoch read moves data_version past what this thread saw.
 */
static pv_status
cache_sync(struct pv_vault *v, uint64_t *gen)
{
	struct pv_dek_cache *c = v->deks;
	int64_t kv, epoch;
	pv_status st;

	if ((st = pv_store_keys_version(v->store, &kv)) != PV_OK)
		return st;
	if (seen_cache_id == c->id && kv == seen_keys_version) {
		*gen = atomic_load(&c->gen);
		return PV_OK;
	}
	if ((st = pv_store_keys_shred_epoch(v->store, &epoch)) != PV_OK)
		return st;
	pthread_mutex_lock(&c->lock);
	if (epoch > c->shred_epoch) {
		/* Before the first sync nothing can have been cached. */
		if (c->shred_epoch >= 0)
			flush_locked(c);
		c->shred_epoch = epoch;
	}
	*gen = atomic_load(&c->gen);
	pthread_mutex_unlock(&c->lock);
	seen_cache_id = c->id;
	seen_keys_version = kv;
	seen_shred_epoch = epoch;
	return PV_OK;
}

static bool
cache_get(struct pv_dek_cache *c, const char *key_id,
    unsigned char dek[PV_DEK_BYTES])
{
	struct slot *s;
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	s = slot_for(c, key_id);
	if (s->is_used && strcmp(s->key_id, key_id) == 0) {
		memcpy(dek, s->dek, PV_DEK_BYTES);
		hit = true;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/*
 * Caches a key this thread loaded, unless the cache was flushed since
 * generation gen or this thread's view of keys.db predates a shred the
 * cache knows of (its snapshot may still hold the shredded key).
 */
static void
cache_put(struct pv_dek_cache *c, uint64_t gen, const char *key_id,
    const unsigned char dek[PV_DEK_BYTES])
{
	struct slot *s;

	if (strlen(key_id) >= sizeof(s->key_id))
		return;
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->gen) == gen && seen_shred_epoch >= c->shred_epoch) {
		s = slot_for(c, key_id);
		strcpy(s->key_id, key_id);
		memcpy(s->dek, dek, PV_DEK_BYTES);
		s->is_used = true;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Reads and unwraps the stored DEK; retries once across a rotation. */
static pv_status
load(struct pv_vault *v, const char *key_id, unsigned char dek[PV_DEK_BYTES])
{
	unsigned char wrapped[PV_WRAPPED_DEK_BYTES];
	uint32_t ver;
	pv_status st;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		st = pv_store_dek_get(v->store, key_id, &ver, wrapped);
		if (st != PV_OK)
			return st;
		pv_metric_inc(PV_M_DEK_UNWRAPS);
		st = pv_keyring_unwrap(v->keyring, key_id, ver, wrapped, dek);
		/* PV_ENOTFOUND: `key rotate` re-wrapped the row and retired
		 * the version between our read and our unwrap: read again. */
		if (st != PV_ENOTFOUND)
			return st;
	}
	return PV_ECRYPTO;
}

static pv_status
create(struct pv_vault *v, const char *key_id, unsigned char dek[PV_DEK_BYTES])
{
	unsigned char wrapped[PV_WRAPPED_DEK_BYTES];
	uint32_t ver;
	pv_status st;
	int attempt;

	randombytes_buf(dek, PV_DEK_BYTES);
	for (attempt = 0; attempt < 3; attempt++) {
		if ((st = pv_keyring_wrap(v->keyring, key_id, dek, wrapped,
			 &ver)) != PV_OK)
			break;
		st = pv_store_dek_insert(v->store, key_id, ver, wrapped);
		if (st == PV_EEXISTS) /* another creator won: use theirs */
			return load(v, key_id, dek);
		if (st != PV_ECONFLICT)
			break;
		/* A newer master key exists (rotation), or a tombstone. */
		bool gone = false;
		if (pv_store_dek_is_shredded(v->store, key_id, &gone) ==
			PV_OK &&
		    gone) {
			st = PV_EGONE;
			break;
		}
		if ((st = pv_keyring_refresh(v->keyring)) != PV_OK)
			break;
	}
	if (st != PV_OK)
		sodium_memzero(dek, PV_DEK_BYTES);
	return st;
}

pv_status
pv_dek_get(struct pv_vault *v, const char *key_id, bool create_missing,
    unsigned char dek[PV_DEK_BYTES])
{
	pv_status st;
	bool gone = false;
	uint64_t gen;

	if ((st = cache_sync(v, &gen)) != PV_OK)
		return st;
	if (cache_get(v->deks, key_id, dek))
		return PV_OK;
	st = load(v, key_id, dek);
	if (st == PV_ENOTFOUND) {
		if ((st = pv_store_dek_is_shredded(v->store, key_id, &gone)) !=
		    PV_OK)
			return st;
		if (gone)
			return PV_EGONE;
		if (!create_missing)
			return PV_ENOTFOUND;
		/* A new key is never cached here: made inside a caller's
		 * transaction it is not durable until the commit, and a
		 * rollback would leave the cache holding a key the store
		 * does not have (records sealed with it could never be
		 * opened). The next lookup loads and caches it. */
		return create(v, key_id, dek);
	}
	if (st == PV_OK)
		cache_put(v->deks, gen, key_id, dek);
	return st;
}

pv_status
pv_dek_create(struct pv_vault *v, const char *const *ids, size_t n)
{
	struct pv_store *s = v->store;
	unsigned char *deks;
	bool *made;
	uint64_t gen;
	size_t i;
	pv_status st;

	if (n == 0)
		return PV_OK;
	deks = sodium_malloc(n * PV_DEK_BYTES);
	made = calloc(n, sizeof(*made));
	if (deks == NULL || made == NULL) {
		sodium_free(deks);
		free(made);
		return PV_ENOMEM;
	}
	if ((st = cache_sync(v, &gen)) == PV_OK)
		st = pv_store_begin(s);
	for (i = 0; i < n && st == PV_OK; i++) {
		st = load(v, ids[i], deks + i * PV_DEK_BYTES);
		if (st == PV_ENOTFOUND &&
		    (st = create(v, ids[i], deks + i * PV_DEK_BYTES)) == PV_OK)
			made[i] = true;
	}
	if (st == PV_OK)
		st = pv_store_commit(s);
	if (st != PV_OK)
		pv_store_rollback(s);
	/* Durable now: cache them (a new patient's first record is sealed
	 * next, without unwrapping its key again). */
	for (i = 0; i < n && st == PV_OK; i++)
		if (made[i])
			cache_put(v->deks, gen, ids[i],
			    deks + i * PV_DEK_BYTES);
	sodium_memzero(deks, n * PV_DEK_BYTES);
	sodium_free(deks);
	free(made);
	return st;
}

pv_status
pv_dek_is_shredded(struct pv_vault *v, const char *key_id, bool *out)
{
	return pv_store_dek_is_shredded(v->store, key_id, out);
}

/*
 * After this process shredded a key: empty the cache and record the
 * shred's epoch, so other threads neither flush again nor, while their
 * view is older, put the key back. This thread's own connection does not
 * see its commit as a data_version move, so its view is advanced here.
 */
static void
forget_shredded(struct pv_vault *v, int64_t epoch)
{
	struct pv_dek_cache *c = v->deks;

	pthread_mutex_lock(&c->lock);
	flush_locked(c);
	if (epoch > c->shred_epoch)
		c->shred_epoch = epoch;
	pthread_mutex_unlock(&c->lock);
	if (seen_cache_id == c->id && epoch > seen_shred_epoch)
		seen_shred_epoch = epoch;
}

pv_status
pv_dek_shred(struct pv_vault *v, const char *key_id)
{
	struct pv_store *s = v->store;
	int64_t epoch;
	pv_status st;

	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	/* The epoch read inside the write transaction is exactly the one
	 * the commit publishes; if it cannot be read, nothing is shredded
	 * (a shred whose epoch the cache did not learn could be put back by
	 * a thread with an older view). */
	if ((st = pv_store_dek_shred(s, key_id)) != PV_OK ||
	    (st = pv_store_keys_shred_epoch(s, &epoch)) != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	if ((st = pv_store_commit(s)) != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	forget_shredded(v, epoch);
	/* Fold the WAL so the overwritten page has no older copy on disk;
	 * a reader holding the WAL open can make this partial (best effort),
	 * the tombstone and the overwrite are already durable. */
	PV_IGNORE(pv_store_compact(s));
	return PV_OK;
}
