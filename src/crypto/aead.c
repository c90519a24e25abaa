/*
 * aead.c — sealing records and keys.
 *
 * Records are sealed with AES-256-GCM when the CPU has AES-NI and with
 * XChaCha20-Poly1305 otherwise; each blob starts with an algorithm byte
 * and a fresh random nonce. AES-GCM's 96-bit random nonce is safe here
 * because every key is a per-patient DEK that seals far fewer than 2^32
 * messages. The caller's additional data binds the blob to its context
 * (type, id, version, patient): a blob moved to another row fails to open.
 *
 * Guarantees: pv_aead_open never returns unauthenticated plaintext; on
 * failure the output buffer is wiped.
 */
#include "crypto/crypto.h"

#include <string.h>

size_t
pv_aead_overhead(void)
{
	if (pv_crypto_has_aes())
		return 1 + crypto_aead_aes256gcm_NPUBBYTES +
		    crypto_aead_aes256gcm_ABYTES;
	return 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES;
}

static pv_status
seal_xchacha(unsigned char *out, size_t *outlen, const unsigned char *pt,
    size_t ptlen, const unsigned char *ad, size_t adlen,
    const unsigned char *key)
{
	unsigned long long clen = 0;
	unsigned char *nonce = out + 1;

	out[0] = PV_AEAD_ALG_XCHACHA;
	randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(nonce +
		    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		&clen, pt, ptlen, ad, adlen, NULL, nonce, key) != 0)
		return PV_EINTERNAL;
	*outlen =
	    1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t)clen;
	return PV_OK;
}

static pv_status
seal_aesgcm(unsigned char *out, size_t *outlen, const unsigned char *pt,
    size_t ptlen, const unsigned char *ad, size_t adlen,
    const unsigned char *key)
{
	unsigned long long clen = 0;
	unsigned char *nonce = out + 1;

	out[0] = PV_AEAD_ALG_AES256GCM;
	randombytes_buf(nonce, crypto_aead_aes256gcm_NPUBBYTES);
	if (crypto_aead_aes256gcm_encrypt(nonce +
		    crypto_aead_aes256gcm_NPUBBYTES,
		&clen, pt, ptlen, ad, adlen, NULL, nonce, key) != 0)
		return PV_EINTERNAL;
	*outlen = 1 + crypto_aead_aes256gcm_NPUBBYTES + (size_t)clen;
	return PV_OK;
}

pv_status
pv_aead_seal(unsigned char *out, size_t *outlen, const unsigned char *pt,
    size_t ptlen, const unsigned char *ad, size_t adlen,
    const unsigned char key[PV_KEY_BYTES])
{
	if (pv_crypto_has_aes())
		return seal_aesgcm(out, outlen, pt, ptlen, ad, adlen, key);
	return seal_xchacha(out, outlen, pt, ptlen, ad, adlen, key);
}

pv_status
pv_aead_open(unsigned char *out, size_t *outlen, const unsigned char *ct,
    size_t ctlen, const unsigned char *ad, size_t adlen,
    const unsigned char key[PV_KEY_BYTES])
{
	unsigned long long plen = 0;
	size_t npub, abytes;
	int rc;

	if (ctlen < 1)
		return PV_ECRYPTO;
	if (ct[0] == PV_AEAD_ALG_AES256GCM) {
		npub = crypto_aead_aes256gcm_NPUBBYTES;
		abytes = crypto_aead_aes256gcm_ABYTES;
		if (!pv_crypto_has_aes() || ctlen < 1 + npub + abytes)
			return PV_ECRYPTO;
		rc = crypto_aead_aes256gcm_decrypt(out, &plen, NULL,
		    ct + 1 + npub, ctlen - 1 - npub, ad, adlen, ct + 1, key);
	} else if (ct[0] == PV_AEAD_ALG_XCHACHA) {
		npub = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
		abytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
		if (ctlen < 1 + npub + abytes)
			return PV_ECRYPTO;
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen,
		    NULL, ct + 1 + npub, ctlen - 1 - npub, ad, adlen, ct + 1,
		    key);
	} else {
		return PV_ECRYPTO;
	}
	if (rc != 0) {
		sodium_memzero(out, ctlen);
		return PV_ECRYPTO;
	}
	*outlen = (size_t)plen;
	return PV_OK;
}
