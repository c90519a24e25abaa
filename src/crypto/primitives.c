/*
 * primitives.c — thin, misuse-resistant wrappers over libsodium: guarded
 * secret memory, randomness, encodings, SHA-256, HMAC-SHA-256, Ed25519
 * and constant-time comparison.
 *
 * Guarantees: all randomness comes from randombytes_buf; comparisons of
 * secrets are constant time (sodium_memcmp); encoders never write past
 * the buffer they are given.
 */
#include "crypto/crypto.h"

#include <pthread.h>
#include <string.h>

static bool has_aes;

pv_status
pv_crypto_init(void)
{
	if (sodium_init() < 0)
		return PV_EINTERNAL;
	has_aes = crypto_aead_aes256gcm_is_available() != 0;
	return PV_OK;
}

bool
pv_crypto_has_aes(void)
{
	return has_aes;
}

void *
pv_secret_alloc(size_t n)
{
	return sodium_malloc(n);
}

void
pv_secret_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	sodium_memzero(p, n);
	sodium_free(p);
}

static pthread_key_t scratch_key;
static bool scratch_key_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void
scratch_free(void *p)
{
	pv_secret_free(p, PV_KEY_BYTES);
}

static void
scratch_init(void)
{
	scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

unsigned char *
pv_secret_key_scratch(void)
{
	unsigned char *p;

	/* Without a key of our own, getspecific could return another
	 * module's memory: refuse instead (callers fail closed). */
	if (pthread_once(&scratch_once, scratch_init) != 0 || !scratch_key_ok)
		return NULL;
	p = pthread_getspecific(scratch_key);
	if (p == NULL) {
		p = pv_secret_alloc(PV_KEY_BYTES);
		if (p != NULL && pthread_setspecific(scratch_key, p) != 0) {
			pv_secret_free(p, PV_KEY_BYTES);
			p = NULL;
		}
	}
	return p;
}

void
pv_random_bytes(void *out, size_t n)
{
	randombytes_buf(out, n);
}

void
pv_random_id(char out[PV_ID_HEX_LEN + 1])
{
	unsigned char raw[PV_ID_HEX_LEN / 2];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, PV_ID_HEX_LEN + 1, raw, sizeof(raw));
}

static pv_status
b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz,
    int variant)
{
	if (outsz < sodium_base64_encoded_len(n, variant))
		return PV_ETOOBIG;
	sodium_bin2base64(out, outsz, in, n, variant);
	return PV_OK;
}

pv_status
pv_b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	return b64_encode(in, n, out, outsz, sodium_base64_VARIANT_ORIGINAL);
}

pv_status
pv_b64url_encode(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	return b64_encode(in, n, out, outsz,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static pv_status
b64_decode(const char *in, unsigned char *out, size_t outsz, size_t *outlen,
    int variant)
{
	const char *end = NULL;

	if (sodium_base642bin(out, outsz, in, strlen(in), NULL, outlen, &end,
		variant) != 0 ||
	    end == NULL || *end != '\0')
		return PV_EINVAL;
	return PV_OK;
}

pv_status
pv_b64_decode(const char *in, unsigned char *out, size_t outsz, size_t *outlen)
{
	return b64_decode(in, out, outsz, outlen,
	    sodium_base64_VARIANT_ORIGINAL);
}

void
pv_sha256(unsigned char out[PV_HASH_BYTES], const void *in, size_t n)
{
	crypto_hash_sha256(out, in, n);
}

void
pv_hmac_sha256(unsigned char out[PV_HASH_BYTES], const unsigned char *key,
    const void *in, size_t n)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, PV_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, in, n);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

bool
pv_ct_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

void
pv_sign_detached(unsigned char sig[PV_SIG_BYTES], const void *msg, size_t n,
    const unsigned char sk[PV_SIGN_SK_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, n, sk);
}

pv_status
pv_sign_verify(const unsigned char sig[PV_SIG_BYTES], const void *msg, size_t n,
    const unsigned char pk[PV_SIGN_PK_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, n, pk) == 0 ? PV_OK
								 : PV_ECRYPTO;
}
