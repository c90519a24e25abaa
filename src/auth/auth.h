/*
 * auth.h — identity: accounts, passwords, TOTP, sessions, lockout.
 *
 * Everything here works on a struct pv_vault and is shared by the HTTP
 * endpoints under /auth and the CLI (`phivault user …`), so both enforce the
 * same password policy and the same state transitions.
 */
#ifndef PV_AUTH_AUTH_H
#define PV_AUTH_AUTH_H

#include "core/vault.h"

#define PV_PASSWORD_MIN 12		/* characters (code points) */
#define PV_PASSWORD_MAX 128
#define PV_PASSWORD_BUF (PV_PASSWORD_MAX * 4 + 1)	/* UTF-8 worst case */

/* ---- roles ---- */

/* True for the roles SPEC.md defines. */
bool pv_role_is_known(const char *role);
/* True when [auth] mfa_required_roles lists role. */
bool pv_role_needs_mfa(const struct pv_config *cfg, const char *role);

/* ---- passwords (password.c) ---- */

typedef enum {
	PV_PW_OK = 0,
	PV_PW_TOO_SHORT,
	PV_PW_TOO_LONG,
	PV_PW_NOT_UTF8,
	PV_PW_COMMON,
	PV_PW_HAS_USERNAME
} pv_pw_verdict;

/* Checks the policy; username may be NULL. Never logs the password. */
pv_pw_verdict pv_password_check(const char *password, const char *username);
/* Human sentence for a verdict (no password content). */
const char *pv_password_verdict_text(pv_pw_verdict v);
/* Number of entries in the built-in common-password list. */
size_t pv_password_common_count(void);

/* Argon2id hash with the configured cost into out (crypto_pwhash_STRBYTES). */
PV_MUST_CHECK pv_status pv_password_hash(const struct pv_config *cfg,
    const char *password, char *out, size_t outsz);
/* PV_OK when password matches hash, PV_EAUTH otherwise. */
PV_MUST_CHECK pv_status pv_password_verify(const char *hash,
    const char *password);
/* True when hash was made with a lower cost than the configuration. */
bool pv_password_needs_rehash(const struct pv_config *cfg, const char *hash);
/*
 * A valid hash of a random password at the configured cost, computed once;
 * verifying against it makes an unknown user cost what a known one does.
 */
const char *pv_password_dummy_hash(const struct pv_config *cfg);

/* ---- accounts (account.c) ---- */

/*
 * Creates an account. password may be NULL only for role "service".
 * patient_id is required for role "patient" and refused otherwise.
 * Returns PV_EINVAL with *verdict set when the password fails the policy,
 * PV_EEXISTS when the name is taken.
 */
PV_MUST_CHECK pv_status pv_account_create(struct pv_vault *v,
    const char *name, const char *role, const char *patient_id,
    const char *password, pv_pw_verdict *verdict, int64_t *id_out);

/* Disables the account and revokes every session it has. */
PV_MUST_CHECK pv_status pv_account_disable(struct pv_vault *v,
    const char *name);
/* Changes the role, bumps the authorization epoch, revokes sessions. */
PV_MUST_CHECK pv_status pv_account_set_role(struct pv_vault *v,
    const char *name, const char *role);

/* True when name is 1..64 chars of [A-Za-z0-9._@-]. */
bool pv_username_is_valid(const char *name);

#endif
