/*
 * crypto.h — every cryptographic operation phivault performs, on top of
 * libsodium. Nothing outside src/crypto (and TOTP's HMAC-SHA1 in liboath)
 * touches a primitive directly.
 *
 * This layer includes nothing else of phivault's but common/pv.h: it
 * knows keys and bytes, not patients, HTTP or databases.
 *
 * Memory rule: every key and every plaintext this layer hands out lives in
 * sodium_malloc memory (guard pages, mlock) and is released with
 * pv_secret_free, which wipes it.
 */
#ifndef PV_CRYPTO_CRYPTO_H
#define PV_CRYPTO_CRYPTO_H

#include "common/pv.h"

#include <sodium.h>

#define PV_KEY_BYTES 32 /* KEKs, DEKs, HMAC keys */
#define PV_DEK_BYTES PV_KEY_BYTES
#define PV_HASH_BYTES 32 /* SHA-256 */
#define PV_SIGN_PK_BYTES crypto_sign_PUBLICKEYBYTES
#define PV_SIGN_SK_BYTES crypto_sign_SECRETKEYBYTES
#define PV_SIG_BYTES crypto_sign_BYTES
#define PV_TOKEN_BYTES 32 /* session tokens: 256 bits */
#define PV_ID_HEX_LEN 32 /* 128-bit random ids as hex */

/* Sealed blob layout: alg(1) || nonce || ciphertext || tag. */
#define PV_AEAD_ALG_AES256GCM 1
#define PV_AEAD_ALG_XCHACHA 2
#define PV_AEAD_OVERHEAD                                                       \
	(1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +                    \
	    crypto_aead_xchacha20poly1305_ietf_ABYTES)
/* Wrapped DEK: a sealed 32-byte key, always XChaCha20-Poly1305. */
#define PV_WRAPPED_DEK_BYTES (PV_DEK_BYTES + PV_AEAD_OVERHEAD)

/* sodium_init plus a choice of record cipher; call once at start-up. */
PV_MUST_CHECK pv_status pv_crypto_init(void);
/* True when records are sealed with AES-256-GCM (CPU has AES-NI). */
bool pv_crypto_has_aes(void);

/* Guarded secret memory. Returns NULL on failure. */
void *pv_secret_alloc(size_t n);
/* Wipes and frees; NULL-safe. */
void pv_secret_free(void *p, size_t n);
/*
 * This thread's key scratch: PV_KEY_BYTES of guarded memory allocated
 * once per thread (sodium_malloc costs several system calls, too many
 * for every request). The caller wipes it (sodium_memzero) when done and
 * never frees it; it is freed when the thread exits. NULL on failure.
 */
unsigned char *pv_secret_key_scratch(void);

/* Random ids: 128 bits as 32 lowercase hex chars + NUL. */
void pv_random_id(char out[PV_ID_HEX_LEN + 1]);
void pv_random_bytes(void *out, size_t n);

/* Base64 (standard, padded) and base64url (no padding). out is NUL-ended. */
PV_MUST_CHECK pv_status pv_b64_encode(const unsigned char *in, size_t n,
    char *out, size_t outsz);
PV_MUST_CHECK pv_status pv_b64url_encode(const unsigned char *in, size_t n,
    char *out, size_t outsz);
/* Decodes padded standard base64 into out (outsz capacity); *outlen set. */
PV_MUST_CHECK pv_status pv_b64_decode(const char *in, unsigned char *out,
    size_t outsz, size_t *outlen);

void pv_sha256(unsigned char out[PV_HASH_BYTES], const void *in, size_t n);
/* HMAC-SHA-256 over in with key (PV_KEY_BYTES). */
void pv_hmac_sha256(unsigned char out[PV_HASH_BYTES], const unsigned char *key,
    const void *in, size_t n);
/* Constant-time equality of two n-byte strings. */
bool pv_ct_equal(const void *a, const void *b, size_t n);

/*
 * Record AEAD. pv_aead_seal writes ptlen + pv_aead_overhead() bytes to out.
 * Each blob starts with an algorithm byte. libsodium's AES-256-GCM needs
 * AES-NI: a vault written on such a CPU must stay on one (its AES rows
 * do not open elsewhere); a vault written without AES-NI uses
 * XChaCha20-Poly1305, which opens anywhere.
 */
size_t pv_aead_overhead(void);
PV_MUST_CHECK pv_status pv_aead_seal(unsigned char *out, size_t *outlen,
    const unsigned char *pt, size_t ptlen, const unsigned char *ad,
    size_t adlen, const unsigned char key[PV_KEY_BYTES]);
/* out must hold ctlen bytes; *outlen is the plaintext length. */
PV_MUST_CHECK pv_status pv_aead_open(unsigned char *out, size_t *outlen,
    const unsigned char *ct, size_t ctlen, const unsigned char *ad,
    size_t adlen, const unsigned char key[PV_KEY_BYTES]);

/* Ed25519. */
void pv_sign_detached(unsigned char sig[PV_SIG_BYTES], const void *msg,
    size_t n, const unsigned char sk[PV_SIGN_SK_BYTES]);
PV_MUST_CHECK pv_status pv_sign_verify(const unsigned char sig[PV_SIG_BYTES],
    const void *msg, size_t n, const unsigned char pk[PV_SIGN_PK_BYTES]);

/*
 * Key files. pv_keyfile_create writes n bytes to path with
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, and fsyncs it. pv_keyfile_read
 * refuses a file that is not a regular file of exactly n bytes owned by
 * us with mode 0600 (or stricter); out must be secret memory.
 */
PV_MUST_CHECK pv_status pv_keyfile_create(const char *path,
    const unsigned char *key, size_t n);
PV_MUST_CHECK pv_status pv_keyfile_read(const char *path, unsigned char *out,
    size_t n);
/* Overwrites the file's bytes, fsyncs, and unlinks it. */
PV_MUST_CHECK pv_status pv_keyfile_destroy(const char *path, size_t n);

/*
 * The keyring: versioned master keys (KEKs) read from DIR/keys/master-N.key.
 * DEKs are wrapped with the newest version; older versions stay loadable
 * until `key rotate` has re-wrapped every DEK and retires them.
 * Thread-safe. New versions written by another process (the CLI) are
 * picked up by pv_keyring_refresh, which unwrap calls on an unknown version.
 */
struct pv_keyring;

/* Opens the keyring in keydir (borrowed string). */
PV_MUST_CHECK pv_status pv_keyring_open(const char *keydir,
    struct pv_keyring **out);
void pv_keyring_close(struct pv_keyring *kr);
PV_MUST_CHECK pv_status pv_keyring_refresh(struct pv_keyring *kr);
uint32_t pv_keyring_current(struct pv_keyring *kr);
/* Creates master-1.key in an empty keydir. */
PV_MUST_CHECK pv_status pv_keyring_create(const char *keydir);
/* Writes master-(current+1).key and makes it current. */
PV_MUST_CHECK pv_status pv_keyring_add_version(struct pv_keyring *kr,
    uint32_t *new_version);
/* Destroys master-v.key; refuses the current version. */
PV_MUST_CHECK pv_status pv_keyring_retire(struct pv_keyring *kr, uint32_t v);
/* Lists loaded versions (ascending) into out; returns count. */
size_t pv_keyring_versions(struct pv_keyring *kr, uint32_t *out, size_t max);

/*
 * Wraps dek under the current KEK, binding it to key_id (e.g. a patient
 * id) so a wrapped key copied to another id fails to unwrap.
 */
PV_MUST_CHECK pv_status pv_keyring_wrap(struct pv_keyring *kr,
    const char *key_id, const unsigned char dek[PV_DEK_BYTES],
    unsigned char wrapped[PV_WRAPPED_DEK_BYTES], uint32_t *version);
/* dek_out must be secret memory of PV_DEK_BYTES. */
PV_MUST_CHECK pv_status pv_keyring_unwrap(struct pv_keyring *kr,
    const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES],
    unsigned char dek_out[PV_DEK_BYTES]);

/*
 * Development TLS certificate (GnuTLS): writes a new ECDSA P-256 key
 * (PKCS#8 PEM, 0600) to key_path and a self-signed certificate for
 * localhost/127.0.0.1 to cert_path. Neither file may exist.
 */
PV_MUST_CHECK pv_status pv_tlscert_generate(const char *cert_path,
    const char *key_path);
/* The notAfter time of the first certificate in a PEM file. */
PV_MUST_CHECK pv_status pv_tlscert_expiry(const char *cert_path,
    int64_t *not_after);

#endif
