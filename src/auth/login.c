/*
 * login.c — the login decision and password changes.
 *
 * Enumeration safety (seed: "Don't expose sensitive information"): the
 * same Argon2id verification runs whether or not the name exists (an
 * unknown name is checked against a dummy hash of the configured cost),
 * and unknown name, wrong password, disabled and locked accounts all end
 * in PV_LOGIN_FAILED, which the HTTP layer turns into one fixed body.
 * Only a correct password on an MFA account reveals itself, by asking
 * for the code (SPEC.md: 401 mfa_required).
 *
 * Concurrency (outside review, issue 13, finding 1): the account row is
 * never read, held across the Argon2id time and written back whole.
 * Each attempt is counted before its verdict (user_attempt_reserve: one
 * atomic statement that also sets the lock), so parallel guesses stop at
 * the threshold; a TOTP step or recovery code is consumed by one
 * conditional statement, so one code opens one session; and success is
 * one transaction that re-checks the account (active, same password
 * hash, same MFA state) and creates the session with the epoch the
 * account has then. A `user disable`, role change or password change
 * made during a login therefore always wins.
 *
 * Network allow-lists (issue 15, [network] in netconf.h): an account
 * whose role or name has a list without the client's address is refused
 * before its password is looked at, and the refusal is the same
 * PV_LOGIN_FAILED as a wrong password, at the same Argon2id cost (the
 * dummy hash). So an attacker outside the allowed networks learns
 * neither whether a password is right (no oracle to guess against) nor
 * whether the name exists or has a list; the attempt is not counted
 * against the account (an outsider cannot lock an administrator out),
 * but it is a failure of the address (the HTTP layer's lockout by
 * address counts it). The audit entry says why: reason "network".
 *
 * Runs on a hash worker, never on an HTTP thread.
 */
#include "auth/auth.h"

#include <string.h>

static void
fail(struct pv_login_outcome *out, const char *reason)
{
	out->result = PV_LOGIN_FAILED;
	out->reason = reason;
}

static void
lockout_rule(const struct pv_config *cfg, struct pv_lockout_rule *rule)
{
	rule->threshold = cfg->lockout_threshold;
	rule->base_delay = cfg->lockout_base_delay;
	rule->max_delay = cfg->lockout_max_delay;
}

/*
 * Counts this attempt before its verdict exists (see store.h): a
 * failure is then already on record, and past the threshold the account
 * is locked before any parallel attempt can be hashed.
 */
static pv_status
reserve_attempt(struct pv_vault *v, int64_t user_id, int64_t now,
    struct pv_attempt *a)
{
	struct pv_lockout_rule rule;

	lockout_rule(&v->cfg, &rule);
	return pv_store_user_attempt_reserve(v->store, user_id, now, &rule, a);
}

/* A reserved attempt that ended in a failure: did it start a lockout? */
static void
note_failure(struct pv_vault *v, const struct pv_attempt *a,
    struct pv_login_outcome *out)
{
	if (a->failed_count >= v->cfg.lockout_threshold) {
		out->did_lock = true;
		pv_metric_inc(PV_M_LOCKOUTS);
	}
}

/* Second factor: a TOTP code, or failing that a recovery code. Both are
 * consumed atomically in the store: one code, one success. */
static bool
second_factor_ok(struct pv_vault *v, struct pv_user *u, const char *otp,
    int64_t now)
{
	if (pv_totp_verify(v, u, otp, now) == PV_OK)
		return true;
	return pv_recovery_use(v, u->id, otp) == PV_OK;
}

/*
 * One transaction: the account must still be active, hold the hash that
 * was verified and have the MFA state the decision assumed (a password
 * change, `user disable` or MFA confirmation during the Argon2id time
 * wins; this login then fails), and the session takes the epoch the
 * account has now.
 */
static void
succeed(struct pv_vault *v, const struct pv_user *u, const char *password,
    int64_t now, struct pv_login_outcome *out)
{
	struct pv_store *s = v->store;
	struct pv_user cur;
	char newhash[PV_PWHASH_MAX];
	const char *upgrade = NULL;
	pv_status st;

	memset(&cur, 0, sizeof(cur));
	/* Cost upgrade: re-hash while we hold the plaintext. */
	if (pv_password_needs_rehash(&v->cfg, u->pw_hash) &&
	    pv_password_hash(&v->cfg, password, newhash, sizeof(newhash)) ==
		PV_OK)
		upgrade = newhash;
	if (pv_store_begin(s) != PV_OK)
		goto error;
	st = pv_store_user_login_ok(s, u->id, now, u->pw_hash, u->has_mfa,
	    upgrade, &cur.authz_epoch);
	if (st == PV_ECONFLICT) {
		pv_store_rollback(s);
		fail(out, "account_changed");
		goto done;
	}
	cur.id = u->id;
	if (st != PV_OK ||
	    pv_session_create(v, &cur, u->has_mfa, out->token, &out->session) !=
		PV_OK) {
		pv_store_rollback(s);
		goto error;
	}
	if (pv_store_commit(s) != PV_OK)
		goto error;
	out->result = PV_LOGIN_OK;
	out->reason = "ok";
	goto done;
error:
	sodium_memzero(out->token, sizeof(out->token));
	out->result = PV_LOGIN_ERROR;
	out->reason = "internal";
done:
	sodium_memzero(newhash, sizeof(newhash));
}

void
pv_login(struct pv_vault *v, const char *username, const char *password,
    const char *otp, const char *from, int64_t now,
    struct pv_login_outcome *out)
{
	struct pv_user u;
	struct pv_attempt att;
	const char *hash;
	bool is_found, is_net_ok, is_pw_account, is_pw_ok;
	pv_status st;

	memset(out, 0, sizeof(*out));
	memset(&att, 0, sizeof(att));
	st = pv_store_user_get_by_name(v->store, username, &u);
	if (st != PV_OK && st != PV_ENOTFOUND) {
		out->result = PV_LOGIN_ERROR;
		out->reason = "internal";
		return;
	}
	is_found = st == PV_OK;
	is_net_ok = !is_found ||
	    pv_netconf_allows(&v->cfg.net, u.role, u.username, from);
	is_pw_account = is_found && is_net_ok && u.pw_hash[0] == '$';
	/* Only an attempt that will get a verdict is counted: not one for
	 * an unknown, disabled or service account. */
	if (is_pw_account && u.is_active && pv_role_is_known(u.role) &&
	    reserve_attempt(v, u.id, now, &att) != PV_OK) {
		out->result = PV_LOGIN_ERROR;
		out->reason = "internal";
		sodium_memzero(&u, sizeof(u));
		return;
	}
	/* The same Argon2id work on every path (enumeration safety): a
	 * dummy hash of the configured cost where there is nothing to
	 * verify, or where the verdict would not be used (locked). */
	hash = is_pw_account && att.is_reserved
	    ? u.pw_hash
	    : pv_password_dummy_hash(&v->cfg);
	is_pw_ok = pv_password_verify(hash, password) == PV_OK &&
	    is_pw_account && att.is_reserved;
	if (!is_found) {
		fail(out, "unknown_user");
		goto done;
	}
	out->user_id = u.id;
	memcpy(out->role, u.role, sizeof(out->role));
	out->has_mfa = u.has_mfa;
	if (!is_net_ok) {
		fail(out, "network");
		pv_metric_inc(PV_M_NETWORK_DENIED);
		goto done;
	}
	if (!u.is_active) {
		fail(out, "disabled");
		goto done;
	}
	/* Fail closed: no session for a role the policy does not know. */
	if (!pv_role_is_known(u.role)) {
		fail(out, "unknown_role");
		goto done;
	}
	if (!is_pw_account) {
		fail(out, "bad_password"); /* service client */
		goto done;
	}
	if (!att.is_reserved) {
		fail(out, "locked");
		goto done;
	}
	if (!is_pw_ok) {
		fail(out, "bad_password");
		note_failure(v, &att, out);
		goto done;
	}
	if (u.has_mfa) {
		if (otp == NULL || otp[0] == '\0') {
			/* Step one of a two-step login: not a failure. */
			if (pv_store_user_attempt_refund(v->store, u.id,
				&att) != PV_OK) {
				out->result = PV_LOGIN_ERROR;
				out->reason = "internal";
				goto done;
			}
			out->result = PV_LOGIN_MFA_REQUIRED;
			out->reason = "mfa_missing";
			goto done;
		}
		if (!second_factor_ok(v, &u, otp, now)) {
			out->result = PV_LOGIN_MFA_REQUIRED;
			out->reason = "mfa_invalid";
			pv_metric_inc(PV_M_MFA_FAILED);
			note_failure(v, &att, out);
			goto done;
		}
	}
	succeed(v, &u, password, now, out);
done:
	if (out->result == PV_LOGIN_OK)
		pv_metric_inc(PV_M_LOGIN_OK);
	else
		pv_metric_inc(PV_M_LOGIN_FAILED);
	sodium_memzero(&u, sizeof(u));
}

pv_status
pv_password_prepare(struct pv_vault *v, int64_t user_id, const char *old_pw,
    const char *new_pw, char hash_out[PV_PWHASH_MAX],
    char old_hash_out[PV_PWHASH_MAX], pv_pw_verdict *verdict)
{
	struct pv_user u;
	struct pv_attempt att;
	pv_status st;

	*verdict = PV_PW_OK;
	old_hash_out[0] = '\0';
	if ((st = pv_store_user_get_by_id(v->store, user_id, &u)) != PV_OK)
		return st;
	/* The policy first: a refused new password costs no hashing. */
	*verdict = pv_password_check(new_pw, u.username);
	if (*verdict != PV_PW_OK) {
		st = PV_EINVAL;
		goto done;
	}
	/* Same lockout as login, counted before the verdict: a stolen
	 * session cannot be used to guess the password through this
	 * endpoint, even with many requests in parallel. */
	if ((st = reserve_attempt(v, u.id, pv_now(), &att)) != PV_OK)
		goto done;
	if (!att.is_reserved || u.pw_hash[0] != '$' ||
	    pv_password_verify(u.pw_hash, old_pw) != PV_OK) {
		st = PV_EAUTH;
		goto done;
	}
	if ((st = pv_store_user_attempt_refund(v->store, u.id, &att)) !=
		PV_OK ||
	    (st = pv_strlcpy(old_hash_out, u.pw_hash, PV_PWHASH_MAX)) != PV_OK)
		goto done;
	st = pv_password_hash(&v->cfg, new_pw, hash_out, PV_PWHASH_MAX);
done:
	sodium_memzero(&u, sizeof(u));
	return st;
}

pv_status
pv_password_commit(struct pv_vault *v, int64_t user_id,
    const char old_hash[PV_PWHASH_MAX], const char hash[PV_PWHASH_MAX],
    bool has_mfa, const char *keep_session)
{
	struct pv_store *s = v->store;
	pv_status st;

	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	if ((st = pv_store_user_set_password(s, user_id, old_hash, hash,
		 has_mfa, keep_session)) != PV_OK ||
	    (st = pv_session_revoke_all(v, user_id, keep_session)) != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	return pv_store_commit(s);
}
