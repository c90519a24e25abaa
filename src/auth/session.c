/*
 * session.c — bearer sessions.
 *
 * Tokens are 256 random bits from libsodium, handed to the client once as
 * base64url text; the store keeps only SHA-256(token), so a database
 * leak yields no usable token, and lookups are by hash, never by the
 * token itself (the equality test happens inside the index on a digest
 * the attacker cannot steer). A session dies on: idle timeout, absolute
 * lifetime, logout/revoke, password change (others), account disable or
 * role change (authz_epoch mismatch) — checked on every request, so an
 * admin's change takes effect from the next request.
 *
 * Defends against: session hijacking from stored tokens, fixation (no
 * client-chosen token is ever accepted), and stale privileges.
 */
#include "auth/auth.h"

#include <string.h>

static void
token_hash(const char *token, unsigned char out[PV_HASH_BYTES])
{
	pv_sha256(out, token, strlen(token));
}

pv_status
pv_session_create(struct pv_vault *v, const struct pv_user *u,
    bool is_mfa_verified, char token_out[PV_TOKEN_TEXT_LEN + 1],
    struct pv_session *out)
{
	unsigned char raw[PV_TOKEN_BYTES];
	int64_t now = pv_now();
	pv_status st;

	randombytes_buf(raw, sizeof(raw));
	st = pv_b64url_encode(raw, sizeof(raw), token_out,
	    PV_TOKEN_TEXT_LEN + 1);
	sodium_memzero(raw, sizeof(raw));
	if (st != PV_OK)
		return st;
	memset(out, 0, sizeof(*out));
	pv_random_id(out->id);
	token_hash(token_out, out->token_hash);
	out->user_id = u->id;
	out->created_at = now;
	out->last_seen = now;
	out->expires_at = now + v->cfg.session_lifetime;
	out->is_mfa_verified = is_mfa_verified;
	out->authz_epoch = u->authz_epoch;
	st = pv_store_session_insert(v->store, out);
	if (st != PV_OK)
		sodium_memzero(token_out, PV_TOKEN_TEXT_LEN + 1);
	else
		pv_metric_inc(PV_M_SESSIONS_CREATED);
	return st;
}

/* How stale last_seen may get before we write it back (bounds writes). */
static int64_t
touch_granularity(const struct pv_config *cfg)
{
	int64_t g = cfg->session_idle_timeout / 8;

	return g < 1 ? 1 : (g > 60 ? 60 : g);
}

pv_status
pv_session_validate(struct pv_vault *v, const char *token,
    struct pv_principal *out)
{
	unsigned char h[PV_HASH_BYTES];
	struct pv_session s;
	struct pv_user u;
	int64_t now = pv_now();
	pv_status st;

	memset(out, 0, sizeof(*out));
	if (token == NULL || strlen(token) != PV_TOKEN_TEXT_LEN)
		return PV_EAUTH;
	token_hash(token, h);
	st = pv_store_session_get(v->store, h, &s);
	if (st == PV_ENOTFOUND)
		return PV_EAUTH;
	if (st != PV_OK)
		return st;
	if (now >= s.expires_at ||
	    now - s.last_seen >= v->cfg.session_idle_timeout) {
		PV_IGNORE(pv_store_session_delete(v->store, s.user_id, s.id));
		return PV_EAUTH;
	}
	st = pv_store_user_get_by_id(v->store, s.user_id, &u);
	if (st != PV_OK)
		return st == PV_ENOTFOUND ? PV_EAUTH : st;
	if (!u.is_active || u.authz_epoch != s.authz_epoch ||
	    !pv_role_is_known(u.role))
		return PV_EAUTH;
	if (now - s.last_seen >= touch_granularity(&v->cfg))
		PV_IGNORE(pv_store_session_touch(v->store, s.id, now));
	out->user_id = u.id;
	memcpy(out->username, u.username, sizeof(out->username));
	memcpy(out->role, u.role, sizeof(out->role));
	memcpy(out->patient_id, u.patient_id, sizeof(out->patient_id));
	memcpy(out->session_id, s.id, sizeof(out->session_id));
	memcpy(out->scopes, u.scopes, sizeof(out->scopes));
	out->has_mfa = u.has_mfa;
	out->is_mfa_satisfied = s.is_mfa_verified ||
	    (!u.has_mfa && !pv_role_needs_mfa(&v->cfg, u.role));
	out->session_expires_at = s.expires_at;
	out->authz_epoch = u.authz_epoch;
	sodium_memzero(&u, sizeof(u));
	return PV_OK;
}

pv_status
pv_session_revoke(struct pv_vault *v, int64_t user_id, const char *session_id)
{
	return pv_store_session_delete(v->store, user_id, session_id);
}

pv_status
pv_session_revoke_all(struct pv_vault *v, int64_t user_id, const char *keep_id)
{
	return pv_store_session_delete_all(v->store, user_id, keep_id);
}
