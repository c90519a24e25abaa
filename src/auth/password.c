/*
 * password.c — password policy and Argon2id hashing.
 *
 * Policy (NIST SP 800-63B style): 12 to 128 characters of valid UTF-8;
 * not one of the 30,000 most common passwords (the "passwords" frequency
 * list of Dropbox's zxcvbn, built from leaked-password corpora, MIT
 * licence; the build takes it from Debian's python3-zxcvbn package and
 * compiles it in); must not contain the username. No composition rules.
 *
 * Hashing: libsodium crypto_pwhash_str (Argon2id) at the configured cost,
 * default 19 MiB and t=2 (OWASP's minimum for Argon2id). A hash made at a
 * lower cost than configured is upgraded at the next successful login.
 *
 * Defends against: offline cracking of a stolen database (memory-hard
 * hashing), credential stuffing with top-N lists (common-password check).
 */
#include "auth/auth.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common_passwords.inc" /* generated: pv_common_passwords[] */

#define COMMON_N PV_ARRAY_LEN(pv_common_passwords)

size_t
pv_password_common_count(void)
{
	return COMMON_N;
}

/* ASCII-lowercased copy into out (secret buffer of outsz). */
static void
lower_copy(const char *in, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outsz; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static bool
is_common(const char *lower)
{
	size_t i;

	for (i = 0; i < COMMON_N; i++)
		if (strcmp(lower, pv_common_passwords[i]) == 0)
			return true;
	return false;
}

pv_pw_verdict
pv_password_check(const char *password, const char *username)
{
	char *pw_l, *user_l = NULL;
	size_t len = strlen(password), chars;
	pv_pw_verdict v = PV_PW_OK;

	if (!pv_utf8_is_valid(password, len))
		return PV_PW_NOT_UTF8;
	chars = pv_utf8_len(password);
	if (chars < PV_PASSWORD_MIN)
		return PV_PW_TOO_SHORT;
	if (chars > PV_PASSWORD_MAX || len >= PV_PASSWORD_BUF)
		return PV_PW_TOO_LONG;
	pw_l = sodium_malloc(PV_PASSWORD_BUF);
	if (pw_l == NULL)
		return PV_PW_COMMON; /* fail closed */
	lower_copy(password, pw_l, PV_PASSWORD_BUF);
	if (is_common(pw_l)) {
		v = PV_PW_COMMON;
	} else if (username != NULL && strlen(username) >= 3) {
		user_l = malloc(strlen(username) + 1);
		if (user_l == NULL) {
			v = PV_PW_COMMON;
		} else {
			lower_copy(username, user_l, strlen(username) + 1);
			if (strstr(pw_l, user_l) != NULL)
				v = PV_PW_HAS_USERNAME;
			free(user_l);
		}
	}
	sodium_memzero(pw_l, PV_PASSWORD_BUF);
	sodium_free(pw_l);
	return v;
}

const char *
pv_password_verdict_text(pv_pw_verdict v)
{
	switch (v) {
	case PV_PW_OK:
		return "password accepted";
	case PV_PW_TOO_SHORT:
		return "password must be at least 12 characters";
	case PV_PW_TOO_LONG:
		return "password must be at most 128 characters";
	case PV_PW_NOT_UTF8:
		return "password must be valid UTF-8 without NUL bytes";
	case PV_PW_COMMON:
		return "password is on the list of commonly used passwords";
	case PV_PW_HAS_USERNAME:
		return "password must not contain the username";
	}
	return "password rejected";
}

pv_status
pv_password_hash(const struct pv_config *cfg, const char *password, char *out,
    size_t outsz)
{
	if (outsz < crypto_pwhash_STRBYTES)
		return PV_ETOOBIG;
	if (crypto_pwhash_str_alg(out, password, strlen(password),
		(unsigned long long)cfg->argon2_opslimit,
		(size_t)cfg->argon2_memlimit_kib * 1024u,
		crypto_pwhash_ALG_ARGON2ID13) != 0)
		return PV_ENOMEM;
	return PV_OK;
}

pv_status
pv_password_verify(const char *hash, const char *password)
{
	if (hash == NULL || hash[0] != '$')
		return PV_EAUTH;
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0
	    ? PV_OK
	    : PV_EAUTH;
}

bool
pv_password_needs_rehash(const struct pv_config *cfg, const char *hash)
{
	/* 1 = parameters differ; -1 = not an Argon2id string. Only upgrade
	 * (never downgrade) is intended, and the config only rises in
	 * practice; a different string is rehashed either way. */
	return crypto_pwhash_str_needs_rehash(hash,
		   (unsigned long long)cfg->argon2_opslimit,
		   (size_t)cfg->argon2_memlimit_kib * 1024u) != 0;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];
static const struct pv_config *dummy_cfg;

static void
make_dummy(void)
{
	unsigned char raw[24];
	char pw[sizeof(raw) * 2 + 1];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
	if (pv_password_hash(dummy_cfg, pw, dummy_hash, sizeof(dummy_hash)) !=
	    PV_OK)
		dummy_hash[0] = '\0';
	sodium_memzero(pw, sizeof(pw));
}

const char *
pv_password_dummy_hash(const struct pv_config *cfg)
{
	dummy_cfg = cfg;
	pthread_once(&dummy_once, make_dummy);
	return dummy_hash;
}
