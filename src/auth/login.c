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

/* Counts a failure on a known account; locks it past the threshold. */
static void
record_failure(struct pv_vault *v, struct pv_user *u, int64_t now,
    struct pv_login_outcome *out)
{
	u->failed_count++;
	if (u->failed_count >= v->cfg.lockout_threshold) {
		u->locked_until = now + pv_lockout_delay(&v->cfg,
		    u->failed_count);
		out->did_lock = true;
		pv_metric_inc(PV_M_LOCKOUTS);
	}
	if (v->store->ops->user_update(v->store, u) != PV_OK)
		out->result = PV_LOGIN_ERROR;
}

/* Second factor: a TOTP code, or failing that a recovery code. */
static bool
second_factor_ok(struct pv_vault *v, struct pv_user *u, const char *otp,
    int64_t now)
{
	if (pv_totp_verify(v, u, otp, now) == PV_OK)
		return true;
	return pv_recovery_use(v, u->id, otp) == PV_OK;
}

static void
succeed(struct pv_vault *v, struct pv_user *u, const char *password,
    int64_t now, bool mfa_done, struct pv_login_outcome *out)
{
	struct pv_store *s = v->store;
	char newhash[PV_PWHASH_MAX];

	u->failed_count = 0;
	u->locked_until = 0;
	u->last_login_at = now;
	/* Cost upgrade: re-hash while we hold the plaintext. */
	if (pv_password_needs_rehash(&v->cfg, u->pw_hash) &&
	    pv_password_hash(&v->cfg, password, newhash, sizeof(newhash)) ==
	    PV_OK)
		memcpy(u->pw_hash, newhash, sizeof(u->pw_hash));
	if (s->ops->begin(s) != PV_OK)
		goto error;
	if (s->ops->user_update(s, u) != PV_OK ||
	    pv_session_create(v, u, mfa_done, out->token, &out->session) !=
	    PV_OK) {
		s->ops->rollback(s);
		goto error;
	}
	if (s->ops->commit(s) != PV_OK)
		goto error;
	out->result = PV_LOGIN_OK;
	out->reason = "ok";
	return;
error:
	sodium_memzero(out->token, sizeof(out->token));
	out->result = PV_LOGIN_ERROR;
	out->reason = "internal";
}

void
pv_login(struct pv_vault *v, const char *username, const char *password,
    const char *otp, int64_t now, struct pv_login_outcome *out)
{
	struct pv_user u;
	const char *hash;
	bool is_found, is_pw_ok;
	pv_status st;

	memset(out, 0, sizeof(*out));
	st = v->store->ops->user_get_by_name(v->store, username, &u);
	if (st != PV_OK && st != PV_ENOTFOUND) {
		out->result = PV_LOGIN_ERROR;
		out->reason = "internal";
		return;
	}
	is_found = st == PV_OK;
	hash = is_found ? u.pw_hash : pv_password_dummy_hash(&v->cfg);
	if (is_found && u.pw_hash[0] != '$')	/* service client: no password */
		hash = pv_password_dummy_hash(&v->cfg);
	is_pw_ok = pv_password_verify(hash, password) == PV_OK &&
	    is_found && u.pw_hash[0] == '$';
	if (!is_found) {
		fail(out, "unknown_user");
		goto done;
	}
	out->user_id = u.id;
	memcpy(out->role, u.role, sizeof(out->role));
	out->has_mfa = u.has_mfa;
	if (!u.is_active) {
		fail(out, "disabled");
		goto done;
	}
	/* Fail closed: no session for a role the policy does not know. */
	if (!pv_role_is_known(u.role)) {
		fail(out, "unknown_role");
		goto done;
	}
	if (u.locked_until > now) {
		fail(out, "locked");
		goto done;
	}
	if (!is_pw_ok) {
		fail(out, "bad_password");
		record_failure(v, &u, now, out);
		goto done;
	}
	if (u.has_mfa) {
		if (otp == NULL || otp[0] == '\0') {
			out->result = PV_LOGIN_MFA_REQUIRED;
			out->reason = "mfa_missing";
			goto done;
		}
		if (!second_factor_ok(v, &u, otp, now)) {
			out->result = PV_LOGIN_MFA_REQUIRED;
			out->reason = "mfa_invalid";
			pv_metric_inc(PV_M_MFA_FAILED);
			record_failure(v, &u, now, out);
			if (out->result != PV_LOGIN_ERROR)
				out->result = PV_LOGIN_MFA_REQUIRED;
			goto done;
		}
	}
	succeed(v, &u, password, now, u.has_mfa, out);
done:
	if (out->result == PV_LOGIN_OK)
		pv_metric_inc(PV_M_LOGIN_OK);
	else
		pv_metric_inc(PV_M_LOGIN_FAILED);
	sodium_memzero(&u, sizeof(u));
}

pv_status
pv_password_prepare(struct pv_vault *v, int64_t user_id, const char *old_pw,
    const char *new_pw, char hash_out[PV_PWHASH_MAX], pv_pw_verdict *verdict)
{
	struct pv_user u;
	pv_status st;

	*verdict = PV_PW_OK;
	if ((st = v->store->ops->user_get_by_id(v->store, user_id, &u)) != PV_OK)
		return st;
	/* Same lockout as login: a stolen session cannot be used to guess
	 * the password through this endpoint. */
	if (u.locked_until > pv_now()) {
		st = PV_EAUTH;
		goto done;
	}
	if (pv_password_verify(u.pw_hash, old_pw) != PV_OK) {
		struct pv_login_outcome o;

		memset(&o, 0, sizeof(o));
		record_failure(v, &u, pv_now(), &o);
		st = PV_EAUTH;
		goto done;
	}
	*verdict = pv_password_check(new_pw, u.username);
	if (*verdict != PV_PW_OK) {
		st = PV_EINVAL;
		goto done;
	}
	st = pv_password_hash(&v->cfg, new_pw, hash_out, PV_PWHASH_MAX);
done:
	sodium_memzero(&u, sizeof(u));
	return st;
}

pv_status
pv_password_commit(struct pv_vault *v, int64_t user_id,
    const char hash[PV_PWHASH_MAX], const char *keep_session)
{
	struct pv_store *s = v->store;
	struct pv_user u;
	pv_status st;

	if ((st = s->ops->begin(s)) != PV_OK)
		return st;
	if ((st = s->ops->user_get_by_id(s, user_id, &u)) != PV_OK ||
	    (st = pv_strlcpy(u.pw_hash, hash, sizeof(u.pw_hash))) != PV_OK ||
	    (st = s->ops->user_update(s, &u)) != PV_OK ||
	    (st = pv_session_revoke_all(v, u.id, keep_session)) != PV_OK) {
		s->ops->rollback(s);
		sodium_memzero(&u, sizeof(u));
		return st;
	}
	sodium_memzero(&u, sizeof(u));
	return s->ops->commit(s);
}
