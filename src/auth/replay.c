/*
 * replay.c — the nonce cache behind RFC 9421 replay defence.
 *
 * Defends against: replay of a captured signed request (seed: "request
 * timestamp for replay attack detection"). A request is accepted once
 * per (keyid, nonce) inside the time window; its `created` must be inside
 * the window too, so nothing older than the window needs remembering.
 * The HTTP layer records each accepted nonce digest in the request's
 * audit entry, and at start-up reloads the digests of the last window
 * from the trail, so a restart does not reopen replays.
 *
 * Memory is fixed: an open-addressing table of max slots allocated once.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	unsigned char d[16];
	int64_t expires; /* 0 = empty */
};

struct pv_nonces {
	pthread_mutex_t lock;
	struct slot *tab;
	size_t cap;
};

pv_status
pv_nonces_new(size_t max, struct pv_nonces **out)
{
	struct pv_nonces *n;

	*out = NULL;
	if (max < 16 || max > SIZE_MAX / sizeof(struct slot))
		return PV_EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return PV_ENOMEM;
	n->tab = calloc(max, sizeof(struct slot));
	if (n->tab == NULL) {
		free(n);
		return PV_ENOMEM;
	}
	n->cap = max;
	pthread_mutex_init(&n->lock, NULL);
	*out = n;
	return PV_OK;
}

void
pv_nonces_free(struct pv_nonces *n)
{
	if (n == NULL)
		return;
	pthread_mutex_destroy(&n->lock);
	free(n->tab);
	free(n);
}

void
pv_nonce_digest(const char *keyid, const char *nonce,
    char out[PV_NONCE_DIGEST_HEX + 1])
{
	crypto_generichash_state st;
	unsigned char d[16];
	const unsigned char sep = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(d));
	crypto_generichash_update(&st, (const unsigned char *)keyid,
	    strlen(keyid));
	crypto_generichash_update(&st, &sep, 1);
	crypto_generichash_update(&st, (const unsigned char *)nonce,
	    strlen(nonce));
	crypto_generichash_final(&st, d, sizeof(d));
	sodium_bin2hex(out, PV_NONCE_DIGEST_HEX + 1, d, sizeof(d));
}

pv_status
pv_nonces_add(struct pv_nonces *n, const char *digest, int64_t expires,
    int64_t now)
{
	unsigned char d[16];
	size_t bin = 0, i, start, probes;
	struct slot *reuse = NULL;
	uint64_t h;
	pv_status st = PV_EBUSY;

	if (sodium_hex2bin(d, sizeof(d), digest, strlen(digest), NULL, &bin,
		NULL) != 0 ||
	    bin != sizeof(d))
		return PV_EINVAL;
	memcpy(&h, d, sizeof(h)); /* the digest is already uniform */
	start = (size_t)(h % n->cap);
	/* Probe far enough that a full table is rare before it is real. */
	probes = n->cap < 256 ? n->cap : 256;
	pthread_mutex_lock(&n->lock);
	for (i = 0; i < probes; i++) {
		struct slot *s = &n->tab[(start + i) % n->cap];

		if (s->expires > now &&
		    sodium_memcmp(s->d, d, sizeof(d)) == 0) {
			st = PV_EEXISTS; /* replay */
			goto done;
		}
		if (s->expires <= now && reuse == NULL)
			reuse = s;
		if (s->expires == 0)
			break; /* never used: the run ends here */
	}
	if (reuse != NULL) {
		memcpy(reuse->d, d, sizeof(d));
		reuse->expires = expires;
		st = PV_OK;
	}
done:
	pthread_mutex_unlock(&n->lock);
	return st;
}
