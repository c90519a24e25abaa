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
#include "common/domain.h"
#include "common/metrics.h"
#include "auth/signature.h" /* RFC 9421 parsing and verification */
#include "authz/principal.h" /* struct pv_principal */

#define PV_PASSWORD_MIN 12 /* characters (code points) */
#define PV_PASSWORD_MAX 128
#define PV_PASSWORD_BUF (PV_PASSWORD_MAX * 4 + 1) /* UTF-8 worst case */

/* ---- roles ---- */

/* pv_role_is_known: common/domain.h. */
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
PV_MUST_CHECK pv_status pv_account_create(struct pv_vault *v, const char *name,
    const char *role, const char *patient_id, const char *password,
    pv_pw_verdict *verdict, int64_t *id_out);

/* Disables the account and revokes every session it has. */
PV_MUST_CHECK pv_status pv_account_disable(struct pv_vault *v,
    const char *name);
/* Same, by account id. */
PV_MUST_CHECK pv_status pv_account_disable_by_id(struct pv_vault *v,
    int64_t id);
/* Grants or revokes an extra permission ("restricted") to a staff
 * account; bumps the epoch so sessions are re-issued. */
PV_MUST_CHECK pv_status pv_account_permission(struct pv_vault *v,
    const char *name, const char *permission, bool grant);
/* Changes the role, bumps the authorization epoch, revokes sessions. */
PV_MUST_CHECK pv_status pv_account_set_role(struct pv_vault *v,
    const char *name, const char *role);

/* pv_username_is_valid: common/domain.h. */

/* ---- principals and sessions (session.c) ---- */

#define PV_TOKEN_TEXT_LEN 43 /* base64url of 32 bytes, unpadded */

/* struct pv_principal: authz/principal.h. */

/*
 * Issues a new session for user: a fresh 256-bit token (returned in
 * token_out as base64url text; only its SHA-256 is stored) and a new
 * public session id. A token is never chosen by the client and never
 * reused, so nothing presented before login can become valid (fixation).
 */
PV_MUST_CHECK pv_status pv_session_create(struct pv_vault *v,
    const struct pv_user *u, bool is_mfa_verified,
    char token_out[PV_TOKEN_TEXT_LEN + 1], struct pv_session *out);

/*
 * Resolves a presented token to a principal. PV_EAUTH when unknown,
 * expired (idle or absolute), or when the account is disabled or its
 * role changed since the session began. Refreshes the idle clock.
 */
PV_MUST_CHECK pv_status pv_session_validate(struct pv_vault *v,
    const char *token, struct pv_principal *out);

/* Ends session id of user (logout, revoke). PV_ENOTFOUND if not theirs. */
PV_MUST_CHECK pv_status pv_session_revoke(struct pv_vault *v, int64_t user_id,
    const char *session_id);
/* Ends every session of user except keep_id (may be NULL). */
PV_MUST_CHECK pv_status pv_session_revoke_all(struct pv_vault *v,
    int64_t user_id, const char *keep_id);

/* ---- TOTP (totp.c, liboath) ---- */

#define PV_TOTP_SECRET_BYTES 20 /* 160 bits, RFC 4226 recommends */
#define PV_TOTP_DIGITS 6
#define PV_TOTP_STEP 30

/* RFC 6238 code for secret at time t (SHA-1); out gets digits + NUL. */
PV_MUST_CHECK pv_status pv_totp_code(const unsigned char *secret, size_t len,
    int64_t t, unsigned digits, char *out, size_t outsz);

/*
 * Starts enrolment: a new secret, sealed into u->mfa_sealed and stored as
 * the account's pending secret (PV_ECONFLICT when MFA is already on).
 * secret_b32 and uri receive the base32 secret and the otpauth:// URI
 * for authenticator apps.
 */
PV_MUST_CHECK pv_status pv_totp_enroll(struct pv_vault *v, struct pv_user *u,
    char *secret_b32, size_t b32sz, char *uri, size_t urisz);

/*
 * Checks otp against u's sealed secret at now, ±1 step, and consumes the
 * step in the store in one conditional statement: only a step later than
 * the last accepted one, for that same secret, succeeds, and only once
 * however many requests race with the same code. Sets u->mfa_last_step
 * on success. PV_EAUTH on any mismatch or replay.
 */
PV_MUST_CHECK pv_status pv_totp_verify(struct pv_vault *v, struct pv_user *u,
    const char *otp, int64_t now);

/* ---- recovery codes (recovery.c) ---- */

#define PV_RECOVERY_CODES 10
#define PV_RECOVERY_CODE_LEN 11 /* "xxxxx-xxxxx" */

/* Makes PV_RECOVERY_CODES new codes, stores their keyed hashes (replacing
 * older ones) and writes the codes to out (caller wipes). */
PV_MUST_CHECK pv_status pv_recovery_issue(struct pv_vault *v, int64_t user_id,
    char out[PV_RECOVERY_CODES][PV_RECOVERY_CODE_LEN + 1]);
/* Consumes one recovery code: PV_OK once, PV_EAUTH after or if unknown. */
PV_MUST_CHECK pv_status pv_recovery_use(struct pv_vault *v, int64_t user_id,
    const char *code);

/* ---- lockout (lockout.c) ---- */

/*
 * Per-address failure tracking kept in memory (bounded: oldest entries
 * are evicted), for credential stuffing across many accounts. Per-account
 * lockout lives in the account row (failed_count, locked_until).
 */
struct pv_iplock;
PV_MUST_CHECK pv_status pv_iplock_new(size_t max_tracked,
    struct pv_iplock **out);
void pv_iplock_free(struct pv_iplock *l);
/* Seconds this address must still wait (0 = may try). */
int64_t pv_iplock_wait(struct pv_iplock *l, const char *ip, int64_t now);
/* Records a failure; returns true when it put the address in lockout. */
bool pv_iplock_fail(struct pv_iplock *l, const struct pv_config *cfg,
    const char *ip, const char *username, int64_t now,
    int64_t *distinct_accounts);
/* A success from ip halves its failure count (never lifts a lockout). */
void pv_iplock_success(struct pv_iplock *l, const char *ip);

/* Growing delay after threshold failures: base * 2^(n - threshold), capped. */
int64_t pv_lockout_delay(const struct pv_config *cfg, int64_t failures);

/* ---- replay defence for signed requests (replay.c) ---- */

#define PV_NONCE_DIGEST_HEX 32 /* 128-bit digest of (keyid, nonce), hex */

/*
 * A bounded set of (keyid, nonce) digests seen inside the replay window.
 * Memory is fixed at creation (max entries); expired entries are reused.
 * When every slot holds an unexpired nonce, new signed requests are
 * refused (PV_EBUSY) rather than forgetting a nonce that could then be
 * replayed: fail closed.
 */
struct pv_nonces;
PV_MUST_CHECK pv_status pv_nonces_new(size_t max, struct pv_nonces **out);
void pv_nonces_free(struct pv_nonces *n);
/* Digest of (keyid, nonce) as hex, the form the audit trail stores. */
void pv_nonce_digest(const char *keyid, const char *nonce,
    char out[PV_NONCE_DIGEST_HEX + 1]);
/*
 * Records digest (hex) until expires. PV_OK when new; PV_EEXISTS when it
 * was already seen and has not expired (a replay); PV_EBUSY when full.
 */
PV_MUST_CHECK pv_status pv_nonces_add(struct pv_nonces *n, const char *digest,
    int64_t expires, int64_t now);

/* ---- service clients (client.c) ---- */

/*
 * Registers a service client: role "service", an Ed25519 public key
 * (32 raw bytes), SMART scopes (validated). key_id_out gets the new key
 * id (random, hex), the value clients send as the keyid parameter.
 */
PV_MUST_CHECK pv_status pv_client_add(struct pv_vault *v, const char *name,
    const char *scopes, const unsigned char pk[PV_SIGN_PK_BYTES],
    char key_id_out[PV_ID_HEX_LEN + 1]);

/* ---- login (login.c) ---- */

typedef enum {
	PV_LOGIN_OK = 0,
	PV_LOGIN_FAILED, /* unknown user, wrong password, disabled, locked,
			  * or not allowed from this address ([network]) */
	PV_LOGIN_MFA_REQUIRED, /* password right; otp missing or wrong */
	PV_LOGIN_ERROR /* internal fault: refuse (fail closed) */
} pv_login_result;

struct pv_login_outcome {
	pv_login_result result;
	char token[PV_TOKEN_TEXT_LEN + 1];
	struct pv_session session;
	bool has_mfa;
	bool did_lock; /* this failure started a lockout */
	int64_t user_id; /* 0 when the name is unknown */
	char role[PV_ROLE_MAX + 1];
	const char *reason; /* constant, PHI-free, for audit/logs */
};

/*
 * The whole login decision; runs on a hash worker (Argon2id inside).
 * Enumeration-safe: an unknown name is verified against a dummy hash at
 * the same cost, and unknown, wrong-password, disabled and locked
 * accounts all yield PV_LOGIN_FAILED. On success the password hash is
 * upgraded when the configured cost rose. from is the client's address
 * (text, after PROXY; NULL when unknown): an account whose [network]
 * allow-lists do not contain it fails with reason "network" before its
 * password is looked at (see login.c).
 */
void pv_login(struct pv_vault *v, const char *username, const char *password,
    const char *otp, const char *from, int64_t now,
    struct pv_login_outcome *out);

/*
 * Password change, in two steps so the caller can audit between them:
 * pv_password_prepare checks new against the policy first (PV_EINVAL
 * with *verdict, before any hashing), counts the attempt towards the
 * lockout before verifying old (PV_EAUTH when old is wrong or the
 * account locked; a right old password gives the count back), and
 * hashes new into hash_out; old_hash_out gets the hash old matched.
 * pv_password_commit stores the hash only if the account still has
 * old_hash, MFA still in the state has_mfa (as the request saw it) and,
 * when keep_session is not NULL, that session still exists (PV_ECONFLICT
 * otherwise: another change won, or MFA confirmation revoked the session
 * that asked), and revokes every other session of the user
 * (keep_session stays), in one transaction.
 */
PV_MUST_CHECK pv_status pv_password_prepare(struct pv_vault *v, int64_t user_id,
    const char *old_pw, const char *new_pw, char hash_out[PV_PWHASH_MAX],
    char old_hash_out[PV_PWHASH_MAX], pv_pw_verdict *verdict);
PV_MUST_CHECK pv_status pv_password_commit(struct pv_vault *v, int64_t user_id,
    const char old_hash[PV_PWHASH_MAX], const char hash[PV_PWHASH_MAX],
    bool has_mfa, const char *keep_session);

#endif
