/*
 * keyring.c — versioned master keys (key-encryption keys) and DEK wrapping.
 *
 * Envelope encryption, layer one: each patient's data key (DEK) is sealed
 * with XChaCha20-Poly1305 under the current master key, with additional
 * data "phivault-dek-v1|<version>|<key id>" so that a wrapped key copied
 * to another patient, or relabelled with another version, fails to open.
 *
 * Rotation (seed: key management): `key rotate` adds master-(N+1).key,
 * re-wraps every DEK under it, then retires versions no DEK uses. The
 * server keeps serving throughout: unwrap of an unknown version reloads
 * the directory once. Keys live only in sodium_malloc memory and are
 * wiped when the keyring closes or a version is retired.
 *
 * Defends against: disclosure of records from a stolen database or backup
 * (DEKs are not in the database and are useless without the master key).
 */
#include "crypto/crypto.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS 64

struct kek {
	uint32_t version;
	unsigned char *key; /* sodium_malloc'd, PV_KEY_BYTES */
};

struct pv_keyring {
	pthread_rwlock_t lock;
	char dir[512];
	struct kek keks[MAX_VERSIONS];
	size_t n;
	uint32_t current;
};

static pv_status
kek_path(const char *dir, uint32_t v, char *out, size_t outsz)
{
	return pv_snprintf(out, outsz, "%s/master-%u.key", dir, v);
}

static bool
parse_version(const char *name, uint32_t *v)
{
	unsigned long n;
	char *end;

	if (strncmp(name, "master-", 7) != 0)
		return false;
	errno = 0;
	n = strtoul(name + 7, &end, 10);
	if (errno != 0 || end == name + 7 || strcmp(end, ".key") != 0 ||
	    n == 0 || n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

static struct kek *
find_locked(struct pv_keyring *kr, uint32_t v)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (kr->keks[i].version == v)
			return &kr->keks[i];
	return NULL;
}

/* Loads every master-N.key not yet loaded; drops versions whose file is gone.
 */
static pv_status
scan_locked(struct pv_keyring *kr)
{
	DIR *d;
	struct dirent *de;
	char path[600];
	bool seen[MAX_VERSIONS] = { false };
	size_t i, j;
	pv_status st = PV_OK;

	d = opendir(kr->dir);
	if (d == NULL)
		return PV_EIO;
	while ((de = readdir(d)) != NULL) {
		uint32_t v;
		struct kek *k;

		if (!parse_version(de->d_name, &v))
			continue;
		k = find_locked(kr, v);
		if (k != NULL) {
			seen[k - kr->keks] = true;
			continue;
		}
		if (kr->n >= MAX_VERSIONS) {
			st = PV_ETOOBIG;
			break;
		}
		k = &kr->keks[kr->n];
		k->key = pv_secret_alloc(PV_KEY_BYTES);
		if (k->key == NULL) {
			st = PV_ENOMEM;
			break;
		}
		if ((st = kek_path(kr->dir, v, path, sizeof(path))) != PV_OK ||
		    (st = pv_keyfile_read(path, k->key, PV_KEY_BYTES)) !=
			PV_OK) {
			pv_secret_free(k->key, PV_KEY_BYTES);
			k->key = NULL;
			break;
		}
		k->version = v;
		seen[kr->n] = true;
		kr->n++;
	}
	closedir(d);
	if (st != PV_OK)
		return st;
	/* A retired version disappears from memory as well as from disk. */
	for (i = 0, j = 0; i < kr->n; i++) {
		if (!seen[i]) {
			pv_secret_free(kr->keks[i].key, PV_KEY_BYTES);
			continue;
		}
		kr->keks[j++] = kr->keks[i];
	}
	kr->n = j;
	kr->current = 0;
	for (i = 0; i < kr->n; i++)
		if (kr->keks[i].version > kr->current)
			kr->current = kr->keks[i].version;
	return kr->n == 0 ? PV_ENOTFOUND : PV_OK;
}

pv_status
pv_keyring_open(const char *keydir, struct pv_keyring **out)
{
	struct pv_keyring *kr;
	pv_status st;

	*out = NULL;
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		return PV_ENOMEM;
	if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
		free(kr);
		return PV_EINTERNAL;
	}
	if ((st = pv_strlcpy(kr->dir, keydir, sizeof(kr->dir))) != PV_OK ||
	    (st = scan_locked(kr)) != PV_OK) {
		pv_keyring_close(kr);
		return st;
	}
	*out = kr;
	return PV_OK;
}

void
pv_keyring_close(struct pv_keyring *kr)
{
	size_t i;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->n; i++)
		pv_secret_free(kr->keks[i].key, PV_KEY_BYTES);
	pthread_rwlock_destroy(&kr->lock);
	free(kr);
}

pv_status
pv_keyring_refresh(struct pv_keyring *kr)
{
	pv_status st;

	pthread_rwlock_wrlock(&kr->lock);
	st = scan_locked(kr);
	pthread_rwlock_unlock(&kr->lock);
	return st;
}

uint32_t
pv_keyring_current(struct pv_keyring *kr)
{
	uint32_t v;

	pthread_rwlock_rdlock(&kr->lock);
	v = kr->current;
	pthread_rwlock_unlock(&kr->lock);
	return v;
}

size_t
pv_keyring_versions(struct pv_keyring *kr, uint32_t *out, size_t max)
{
	size_t i, j, n = 0;

	pthread_rwlock_rdlock(&kr->lock);
	for (i = 0; i < kr->n && n < max; i++)
		out[n++] = kr->keks[i].version;
	pthread_rwlock_unlock(&kr->lock);
	for (i = 1; i < n; i++) /* insertion sort: n is tiny */
		for (j = i; j > 0 && out[j - 1] > out[j]; j--) {
			uint32_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static pv_status
new_version_file(const char *dir, uint32_t v)
{
	unsigned char *key;
	char path[600];
	pv_status st;

	if ((st = kek_path(dir, v, path, sizeof(path))) != PV_OK)
		return st;
	key = pv_secret_alloc(PV_KEY_BYTES);
	if (key == NULL)
		return PV_ENOMEM;
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	st = pv_keyfile_create(path, key, PV_KEY_BYTES);
	pv_secret_free(key, PV_KEY_BYTES);
	return st;
}

pv_status
pv_keyring_create(const char *keydir)
{
	return new_version_file(keydir, 1);
}

pv_status
pv_keyring_add_version(struct pv_keyring *kr, uint32_t *new_version)
{
	pv_status st;
	uint32_t v;

	pthread_rwlock_wrlock(&kr->lock);
	if ((st = scan_locked(kr)) != PV_OK)
		goto done;
	v = kr->current + 1;
	if ((st = new_version_file(kr->dir, v)) != PV_OK ||
	    (st = scan_locked(kr)) != PV_OK)
		goto done;
	*new_version = v;
done:
	pthread_rwlock_unlock(&kr->lock);
	return st;
}

pv_status
pv_keyring_retire(struct pv_keyring *kr, uint32_t v)
{
	char path[600];
	pv_status st;

	pthread_rwlock_wrlock(&kr->lock);
	if (v == kr->current || find_locked(kr, v) == NULL) {
		st = PV_EINVAL;
		goto done;
	}
	if ((st = kek_path(kr->dir, v, path, sizeof(path))) != PV_OK ||
	    (st = pv_keyfile_destroy(path, PV_KEY_BYTES)) != PV_OK)
		goto done;
	st = scan_locked(kr);
done:
	pthread_rwlock_unlock(&kr->lock);
	return st;
}

static pv_status
wrap_ad(char *ad, size_t adsz, uint32_t v, const char *key_id)
{
	return pv_snprintf(ad, adsz, "phivault-dek-v1|%u|%s", v, key_id);
}

pv_status
pv_keyring_wrap(struct pv_keyring *kr, const char *key_id,
    const unsigned char dek[PV_DEK_BYTES],
    unsigned char wrapped[PV_WRAPPED_DEK_BYTES], uint32_t *version)
{
	unsigned long long clen;
	char ad[256];
	struct kek *k;
	pv_status st = PV_OK;

	pthread_rwlock_rdlock(&kr->lock);
	k = find_locked(kr, kr->current);
	if (k == NULL) {
		st = PV_EINTERNAL;
		goto done;
	}
	if ((st = wrap_ad(ad, sizeof(ad), k->version, key_id)) != PV_OK)
		goto done;
	wrapped[0] = PV_AEAD_ALG_XCHACHA;
	randombytes_buf(wrapped + 1,
	    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + 1 +
		    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		&clen, dek, PV_DEK_BYTES, (const unsigned char *)ad, strlen(ad),
		NULL, wrapped + 1, k->key) != 0) {
		st = PV_EINTERNAL;
		goto done;
	}
	*version = k->version;
done:
	pthread_rwlock_unlock(&kr->lock);
	return st;
}

static pv_status
unwrap_locked(struct pv_keyring *kr, const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES],
    unsigned char dek_out[PV_DEK_BYTES])
{
	unsigned long long plen;
	char ad[256];
	struct kek *k = find_locked(kr, version);
	pv_status st;

	if (k == NULL)
		return PV_ENOTFOUND;
	if (wrapped[0] != PV_AEAD_ALG_XCHACHA)
		return PV_ECRYPTO;
	if ((st = wrap_ad(ad, sizeof(ad), version, key_id)) != PV_OK)
		return st;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dek_out, &plen, NULL,
		wrapped + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		PV_WRAPPED_DEK_BYTES - 1 -
		    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		(const unsigned char *)ad, strlen(ad), wrapped + 1,
		k->key) != 0 ||
	    plen != PV_DEK_BYTES) {
		sodium_memzero(dek_out, PV_DEK_BYTES);
		return PV_ECRYPTO;
	}
	return PV_OK;
}

pv_status
pv_keyring_unwrap(struct pv_keyring *kr, const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES],
    unsigned char dek_out[PV_DEK_BYTES])
{
	pv_status st;

	pthread_rwlock_rdlock(&kr->lock);
	st = unwrap_locked(kr, key_id, version, wrapped, dek_out);
	pthread_rwlock_unlock(&kr->lock);
	if (st != PV_ENOTFOUND)
		return st;
	/* A version written by `key rotate` in another process. */
	pthread_rwlock_wrlock(&kr->lock);
	st = scan_locked(kr);
	if (st == PV_OK)
		st = unwrap_locked(kr, key_id, version, wrapped, dek_out);
	pthread_rwlock_unlock(&kr->lock);
	return st;
}
