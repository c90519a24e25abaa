/*
 * totp.c — TOTP second factor (RFC 6238) with liboath. Recovery codes,
 * the fallback when the authenticator is lost, are in recovery.c.
 *
 * Secrets: 160 random bits from libsodium, sealed (AEAD) under the vault's
 * "system:mfa" data key with the account id as additional data, so the
 * database alone reveals no secret and a sealed secret moved to another
 * account does not open. Verification accepts the current step ±1 and
 * only a step later than the last one accepted: each code works once
 * (replay), enforced by one conditional update in the store so parallel
 * requests with one code get one success. Codes are compared in
 * constant time.
 *
 * Defends against: password-only account takeover (phishing, reuse),
 * replay of an observed code, theft of the MFA table.
 */
#include "auth/auth.h"

#include <liboath/oath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MFA_KEY_ID "system:mfa"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_init_rc;

static void
oath_setup(void)
{
	oath_init_rc = oath_init();
}

static pv_status
oath_ready(void)
{
	pthread_once(&oath_once, oath_setup);
	return oath_init_rc == OATH_OK ? PV_OK : PV_EINTERNAL;
}

pv_status
pv_totp_code(const unsigned char *secret, size_t len, int64_t t,
    unsigned digits, char *out, size_t outsz)
{
	if (oath_ready() != PV_OK || outsz < digits + 1 || digits < 6 ||
	    digits > 8)
		return PV_EINVAL;
	if (oath_totp_generate2((const char *)secret, len, (time_t)t,
		PV_TOTP_STEP, OATH_TOTP_DEFAULT_START_TIME, digits, 0,
		out) != OATH_OK)
		return PV_EINTERNAL;
	return PV_OK;
}

static void
mfa_ad(const struct pv_user *u, char *ad, size_t adsz)
{
	PV_IGNORE(
	    pv_snprintf(ad, adsz, "phivault-mfa-v1|%lld", (long long)u->id));
}

pv_status
pv_totp_enroll(struct pv_vault *v, struct pv_user *u, char *secret_b32,
    size_t b32sz, char *uri, size_t urisz)
{
	unsigned char *secret = NULL, *dek = NULL;
	char *b32 = NULL, ad[64];
	size_t b32len = 0, slen = 0;
	pv_status st = PV_ENOMEM;

	if ((st = oath_ready()) != PV_OK)
		return st;
	secret = pv_secret_alloc(PV_TOTP_SECRET_BYTES);
	dek = pv_secret_alloc(PV_DEK_BYTES);
	if (secret == NULL || dek == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	randombytes_buf(secret, PV_TOTP_SECRET_BYTES);
	if ((st = pv_dek_get(v, MFA_KEY_ID, true, dek)) != PV_OK)
		goto done;
	mfa_ad(u, ad, sizeof(ad));
	if (PV_TOTP_SECRET_BYTES + PV_AEAD_OVERHEAD > sizeof(u->mfa_sealed)) {
		st = PV_EINTERNAL;
		goto done;
	}
	if ((st = pv_aead_seal(u->mfa_sealed, &slen, secret,
		 PV_TOTP_SECRET_BYTES, (const unsigned char *)ad, strlen(ad),
		 dek)) != PV_OK)
		goto done;
	u->mfa_sealed_len = slen;
	u->has_mfa = false; /* until confirmed */
	u->mfa_last_step = 0;
	/* Only the pending secret is written, and only while MFA is off. */
	if ((st = pv_store_user_mfa_begin(v->store, u->id, u->mfa_sealed,
		 slen)) != PV_OK)
		goto done;
	if (oath_base32_encode((const char *)secret, PV_TOTP_SECRET_BYTES, &b32,
		&b32len) != OATH_OK) {
		st = PV_EINTERNAL;
		goto done;
	}
	/* Strip base32 padding: authenticator apps expect none. */
	while (b32len > 0 && b32[b32len - 1] == '=')
		b32[--b32len] = '\0';
	if ((st = pv_strlcpy(secret_b32, b32, b32sz)) != PV_OK ||
	    (st = pv_snprintf(uri, urisz,
		 "otpauth://totp/phivault:%s?secret=%s&issuer=phivault"
		 "&algorithm=SHA1&digits=%d&period=%d",
		 u->username, b32, PV_TOTP_DIGITS, PV_TOTP_STEP)) != PV_OK)
		goto done;
	st = PV_OK;
done:
	if (b32 != NULL) {
		sodium_memzero(b32, b32len);
		free(b32);
	}
	pv_secret_free(secret, PV_TOTP_SECRET_BYTES);
	pv_secret_free(dek, PV_DEK_BYTES);
	return st;
}

/* liboath compares candidates through this: constant time. */
static int
otp_cmp(void *handle, const char *test_otp)
{
	const char *otp = handle;

	if (strlen(test_otp) != PV_TOTP_DIGITS)
		return 1;
	return sodium_memcmp(otp, test_otp, PV_TOTP_DIGITS) == 0 ? 0 : 1;
}

static bool
is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[n] == '\0';
}

pv_status
pv_totp_verify(struct pv_vault *v, struct pv_user *u, const char *otp,
    int64_t now)
{
	unsigned char *secret = NULL, *dek = NULL;
	char ad[64];
	size_t slen = 0;
	uint64_t counter = 0;
	int pos = 0, rc;
	pv_status st;

	if (otp == NULL || !is_digits(otp, PV_TOTP_DIGITS) ||
	    u->mfa_sealed_len == 0)
		return PV_EAUTH;
	if ((st = oath_ready()) != PV_OK)
		return st;
	secret = pv_secret_alloc(sizeof(u->mfa_sealed));
	dek = pv_secret_alloc(PV_DEK_BYTES);
	if (secret == NULL || dek == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	if ((st = pv_dek_get(v, MFA_KEY_ID, false, dek)) != PV_OK)
		goto done;
	mfa_ad(u, ad, sizeof(ad));
	if ((st = pv_aead_open(secret, &slen, u->mfa_sealed, u->mfa_sealed_len,
		 (const unsigned char *)ad, strlen(ad), dek)) != PV_OK)
		goto done;
	rc = oath_totp_validate4_callback((const char *)secret, slen,
	    (time_t)now, PV_TOTP_STEP, OATH_TOTP_DEFAULT_START_TIME,
	    PV_TOTP_DIGITS, 1, &pos, &counter, 0, otp_cmp, (void *)otp);
	if (rc < 0 || counter > INT64_MAX) {
		st = PV_EAUTH;
		goto done;
	}
	/* Replay: a step at or before the last accepted one is refused,
	 * even inside the ±1 window. The check that counts is the store's
	 * conditional update: two requests racing with one code cannot both
	 * win it (and a secret replaced meanwhile does not match). */
	if ((int64_t)counter <= u->mfa_last_step) {
		st = PV_EAUTH;
		goto done;
	}
	st = pv_store_user_totp_consume(v->store, u->id, u->mfa_sealed,
	    u->mfa_sealed_len, (int64_t)counter);
	if (st != PV_OK)
		goto done;
	u->mfa_last_step = (int64_t)counter;
done:
	pv_secret_free(secret, sizeof(u->mfa_sealed));
	pv_secret_free(dek, PV_DEK_BYTES);
	return st;
}
