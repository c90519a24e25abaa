/*
 * rotate.c — master-key (KEK) rotation: `phivault key rotate`.
 *
 * A new master-key version becomes current first, on disk and in
 * keys.db, so from then on no DEK is wrapped under an older one; every
 * DEK still wrapped under an older version is then unwrapped and
 * re-wrapped under the new one, ROTATE_BATCH rows per transaction, while
 * readers keep working (dek.c's load() retries once when a row changed
 * version under it); last, every older version no DEK uses any more is
 * retired. The DEKs themselves do not change, so no record is re-sealed
 * and the DEK cache stays valid.
 *
 * Guarantees: a plaintext DEK exists only in one sodium_malloc'd buffer,
 * wiped after each batch and freed on every path out; a batch that fails
 * is rolled back whole; a key shredded during the rotation is skipped,
 * never brought back.
 */
#include "core/vault.h"

#include <stdlib.h>
#include <string.h>

#define ROTATE_BATCH 256

struct old_dek {
	char key_id[PV_PATIENT_ID_MAX + 16];
	uint32_t version;
	unsigned char wrapped[PV_WRAPPED_DEK_BYTES];
};

struct batch {
	struct old_dek *items;
	size_t n;
};

static void
collect(void *arg, const char *key_id, uint32_t version,
    const unsigned char *wrapped)
{
	struct batch *b = arg;
	struct old_dek *o;

	if (b->n >= ROTATE_BATCH || strlen(key_id) >= sizeof(o->key_id))
		return;
	o = &b->items[b->n++];
	strcpy(o->key_id, key_id);
	o->version = version;
	memcpy(o->wrapped, wrapped, PV_WRAPPED_DEK_BYTES);
}

/* Re-wraps one batch inside one transaction. */
static pv_status
rewrap_batch(struct pv_vault *v, struct batch *b, unsigned char *dek,
    size_t *done)
{
	struct pv_store *s = v->store;
	unsigned char wrapped[PV_WRAPPED_DEK_BYTES];
	uint32_t nv;
	pv_status st;
	size_t i;

	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	for (i = 0; i < b->n; i++) {
		struct old_dek *o = &b->items[i];

		if ((st = pv_keyring_unwrap(v->keyring, o->key_id, o->version,
			 o->wrapped, dek)) != PV_OK ||
		    (st = pv_keyring_wrap(v->keyring, o->key_id, dek, wrapped,
			 &nv)) != PV_OK)
			break;
		st = pv_store_dek_rewrap(s, o->key_id, o->version, nv, wrapped);
		if (st == PV_ECONFLICT) /* shredded meanwhile: nothing to do */
			st = PV_OK;
		if (st != PV_OK)
			break;
		(*done)++;
	}
	sodium_memzero(dek, PV_DEK_BYTES);
	if (st != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	return pv_store_commit(s);
}

pv_status
pv_dek_rotate(struct pv_vault *v, uint32_t *new_version, size_t *rewrapped,
    size_t *retired, void (*progress)(void *, size_t), void *arg)
{
	struct pv_store *s = v->store;
	struct batch b = { NULL, 0 };
	unsigned char *dek = NULL;
	uint32_t versions[64];
	size_t i, nver;
	pv_status st;

	*rewrapped = 0;
	*retired = 0;
	b.items = calloc(ROTATE_BATCH, sizeof(*b.items));
	dek = pv_secret_alloc(PV_DEK_BYTES);
	if (b.items == NULL || dek == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	/* 1. The new version becomes current on disk and in keys.db, so no
	 *    writer can add a DEK under an older version from now on. */
	if ((st = pv_keyring_add_version(v->keyring, new_version)) != PV_OK ||
	    (st = pv_store_kek_current_set(s, *new_version)) != PV_OK)
		goto done;
	/* 2. Re-wrap everything older, batch by batch. */
	for (;;) {
		b.n = 0;
		if ((st = pv_store_dek_list_old(s, *new_version, ROTATE_BATCH,
			 collect, &b)) != PV_OK)
			goto done;
		if (b.n == 0)
			break;
		if ((st = rewrap_batch(v, &b, dek, rewrapped)) != PV_OK)
			goto done;
		if (progress != NULL)
			progress(arg, *rewrapped);
	}
	/* 3. Retire every older version that no DEK uses any more. */
	nver =
	    pv_keyring_versions(v->keyring, versions, PV_ARRAY_LEN(versions));
	for (i = 0; i < nver; i++) {
		int64_t users = 0;

		if (versions[i] >= *new_version)
			continue;
		if ((st = pv_store_dek_count_version(s, versions[i], &users)) !=
		    PV_OK)
			goto done;
		if (users != 0)
			continue;
		if ((st = pv_keyring_retire(v->keyring, versions[i])) != PV_OK)
			goto done;
		(*retired)++;
	}
	st = PV_OK;
done:
	free(b.items);
	pv_secret_free(dek, PV_DEK_BYTES);
	return st;
}
