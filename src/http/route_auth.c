/*
 * route_auth.c — the /auth endpoints: login, logout, sessions, MFA, password
 * change.
 *
 * Each handler parses and checks input on the HTTP thread, then hands
 * anything that hashes a password to the bounded hash queue (the
 * connection is suspended meanwhile, the HTTP thread keeps serving).
 *
 * Responses for a failed login are byte-identical whatever the cause
 * (unknown user, wrong password, disabled, locked) apart from the
 * X-Request-Id header; the reason is kept for the log and audit trail.
 */
#include "http/routes.h"

#include <stdlib.h>
#include <string.h>

#define OTP_MAX 32

struct login_job {
	char username[PV_USERNAME_MAX + 1];
	char *password; /* sodium_malloc, PV_PASSWORD_BUF */
	char *password2; /* new password (password change) */
	char otp[OTP_MAX + 1];
	bool has_otp;
	/* password change: the hashes password_work settled, for
	 * password_commit (wiped on free) */
	char hash[PV_PWHASH_MAX];
	char old_hash[PV_PWHASH_MAX];
};

static void
login_job_free(void *p)
{
	struct login_job *j = p;

	if (j == NULL)
		return;
	if (j->password != NULL) {
		sodium_memzero(j->password, PV_PASSWORD_BUF);
		sodium_free(j->password);
	}
	if (j->password2 != NULL) {
		sodium_memzero(j->password2, PV_PASSWORD_BUF);
		sodium_free(j->password2);
	}
	sodium_memzero(j, sizeof(*j));
	free(j);
}

static char *
secret_dup(const char *s)
{
	char *p = sodium_malloc(PV_PASSWORD_BUF);

	if (p != NULL && pv_strlcpy(p, s, PV_PASSWORD_BUF) != PV_OK) {
		sodium_free(p);
		p = NULL;
	}
	return p;
}

static void
set_session_cookie(struct pv_reply *p, const char *token, int64_t max_age)
{
	char c[200];

	if (pv_snprintf(c, sizeof(c),
		"phivault_session=%s; Path=/; "
		"Max-Age=%lld; Secure; HttpOnly; SameSite=Strict",
		token, (long long)max_age) == PV_OK)
		pv_reply_header(p, "Set-Cookie", c);
	sodium_memzero(c, sizeof(c));
}

static json_t *
session_reply(struct pv_reply *p, const char *token, int64_t expires_at)
{
	char ts[32];

	pv_iso8601(expires_at, ts);
	set_session_cookie(p, token, expires_at - pv_now());
	return json_pack("{s:s, s:s}", "token", token, "expires_at", ts);
}

static void
log_auth(const struct pv_hreq *q, const char *event, int64_t user_id,
    const char *reason)
{
	char uid[24];

	if (user_id > 0)
		PV_IGNORE(
		    pv_snprintf(uid, sizeof(uid), "%lld", (long long)user_id));
	else
		strcpy(uid, "unknown");
	pv_log(PV_LOG_INFO, event, q->rid, "user_id", uid, "reason", reason,
	    "peer", q->ip, (const char *)NULL);
}

/* ---- POST /auth/login ------------------------------------------------ */

static void
reply_login_failed(struct pv_reply *p)
{
	pv_reply_error_detail(p, 401, "login", "invalid_credentials",
	    "invalid username or password");
}

static void
login_work(const struct pv_hreq *q, struct pv_reply *p)
{
	struct login_job *j = p->job;
	const struct pv_services *srv = q->svc;
	struct pv_login_outcome o;
	int64_t now = pv_now(), distinct = 0;
	json_t *body;

	pv_login(srv->vault, j->username, j->password,
	    j->has_otp ? j->otp : NULL, q->ip, now, &o);
	/* The audit entry names the account tried (0 when the name is
	 * unknown) and the real reason, which the client never sees. */
	pv_note_actor(p, o.user_id, o.role);
	pv_note_outcome(p,
	    o.result == PV_LOGIN_OK          ? "allowed"
		: o.result == PV_LOGIN_ERROR ? "error"
					     : "denied",
	    o.reason);
	switch (o.result) {
	case PV_LOGIN_OK:
		pv_iplock_success(srv->iplock, q->ip);
		log_auth(q, "login_ok", o.user_id, o.reason);
		body = session_reply(p, o.token, o.session.expires_at);
		if (body != NULL)
			json_object_set_new(body, "mfa_enrolled",
			    json_boolean(o.has_mfa));
		pv_reply_json(p, 200, body);
		break;
	case PV_LOGIN_MFA_REQUIRED:
		if (strcmp(o.reason, "mfa_invalid") == 0 &&
		    pv_iplock_fail(srv->iplock, &srv->vault->cfg, q->ip,
			j->username, now, &distinct))
			log_auth(q, "ip_lockout", 0, "too_many_failures");
		if (o.did_lock)
			pv_detect_lockout(srv->detect, o.user_id, q->ip,
			    q->rid);
		log_auth(q, "login_mfa_required", o.user_id, o.reason);
		pv_reply_error_detail(p, 401, "login", "mfa_required",
		    "a valid one-time code (otp) is required for this account");
		break;
	case PV_LOGIN_FAILED:
		if (pv_iplock_fail(srv->iplock, &srv->vault->cfg, q->ip,
			j->username, now, &distinct)) {
			pv_metric_inc(PV_M_LOCKOUTS);
			log_auth(q, "ip_lockout", 0, "too_many_failures");
		}
		pv_detect_failed_logins(srv->detect, q->ip, distinct, now,
		    q->rid);
		if (o.did_lock) {
			log_auth(q, "account_lockout", o.user_id, o.reason);
			pv_detect_lockout(srv->detect, o.user_id, q->ip,
			    q->rid);
		}
		log_auth(q, "login_failed", o.user_id, o.reason);
		reply_login_failed(p);
		break;
	case PV_LOGIN_ERROR:
		pv_log(PV_LOG_ERROR, "login_error", q->rid, (const char *)NULL);
		pv_reply_error(p, 500, "exception", "login could not complete");
		break;
	}
	sodium_memzero(&o, sizeof(o));
}

void
route_auth_login(const struct pv_hreq *q, struct pv_reply *p)
{
	struct login_job *j;
	const char *user, *pw, *otp;
	json_t *in = pv_hreq_json_object(q, p);
	int64_t wait;

	if (in == NULL)
		return;
	user = pv_json_str(in, "username", PV_USERNAME_MAX);
	pw = pv_json_str(in, "password", PV_PASSWORD_BUF - 1);
	otp = pv_json_str(in, "otp", OTP_MAX);
	if (user == NULL || pw == NULL ||
	    (json_object_get(in, "otp") != NULL && otp == NULL &&
		!json_is_null(json_object_get(in, "otp")))) {
		json_decref(in);
		pv_reply_error(p, 400, "invalid",
		    "send {\"username\", \"password\"} as non-empty strings "
		    "(and \"otp\" as a string when MFA is enabled)");
		return;
	}
	if (pv_http_rate_limited(q, p, "login", q->ip,
		(double)q->svc->vault->cfg.rl_login_rate_per_min / 60.0,
		(double)q->svc->vault->cfg.rl_login_burst)) {
		json_decref(in);
		return;
	}
	wait = pv_iplock_wait(q->svc->iplock, q->ip, pv_now());
	if (wait > 0) {
		json_decref(in);
		p->retry_after = wait;
		pv_reply_error_detail(p, 429, "throttled", "too_many_attempts",
		    "too many failed logins from this address; retry later");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL ||
	    pv_strlcpy(j->username, user, sizeof(j->username)) != PV_OK ||
	    (j->password = secret_dup(pw)) == NULL) {
		login_job_free(j);
		json_decref(in);
		pv_reply_error(p, 503, "transient", "out of memory");
		return;
	}
	if (otp != NULL && pv_strlcpy(j->otp, otp, sizeof(j->otp)) == PV_OK)
		j->has_otp = true;
	json_decref(in); /* the password copy in jansson is freed here */
	p->job = j;
	p->job_free = login_job_free;
	pv_reply_continue(p, PV_NEXT_HASH, login_work);
}

/* ---- POST /auth/logout ----------------------------------------------- */

void
route_auth_logout(const struct pv_hreq *q, struct pv_reply *p)
{
	if (pv_session_revoke(q->svc->vault, q->who->user_id,
		q->who->session_id) != PV_OK) {
		pv_reply_error(p, 500, "exception", "logout failed");
		return;
	}
	pv_reply_header(p, "Set-Cookie",
	    "phivault_session=; Path=/; "
	    "Max-Age=0; Secure; HttpOnly; SameSite=Strict");
	log_auth(q, "logout", q->who->user_id, "ok");
	pv_reply_json(p, 200, json_pack("{s:s}", "status", "logged out"));
}

/* ---- GET /auth/sessions, DELETE /auth/sessions/{id} ------------------ */

struct list_ctx {
	json_t *arr;
	const char *current;
};

static void
add_session(void *arg, const struct pv_session *s)
{
	struct list_ctx *c = arg;
	char created[32], seen[32], expires[32];

	pv_iso8601(s->created_at, created);
	pv_iso8601(s->last_seen, seen);
	pv_iso8601(s->expires_at, expires);
	json_array_append_new(c->arr,
	    json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", s->id, "created_at",
		created, "last_seen", seen, "expires_at", expires, "current",
		strcmp(s->id, c->current) == 0));
}

void
route_auth_sessions(const struct pv_hreq *q, struct pv_reply *p)
{
	struct pv_store *s = q->svc->vault->store;
	struct list_ctx c = { json_array(), q->who->session_id };

	if (c.arr == NULL ||
	    pv_store_session_list(s, q->who->user_id, add_session, &c) !=
		PV_OK) {
		json_decref(c.arr);
		pv_reply_error(p, 500, "exception", "cannot list sessions");
		return;
	}
	pv_reply_json(p, 200, json_pack("{s:o}", "sessions", c.arr));
}

void
route_auth_session_delete(const struct pv_hreq *q, struct pv_reply *p)
{
	pv_status st =
	    pv_session_revoke(q->svc->vault, q->who->user_id, q->params[0]);

	if (st == PV_ENOTFOUND) {
		pv_reply_error(p, 404, "not-found", "no such session of yours");
		return;
	}
	if (st != PV_OK) {
		pv_reply_error(p, 500, "exception",
		    "cannot revoke the session");
		return;
	}
	log_auth(q, "session_revoked", q->who->user_id, "ok");
	pv_reply_json(p, 200, json_pack("{s:s}", "status", "revoked"));
}

/* ---- POST /auth/mfa/enroll, /auth/mfa/confirm ----------------------- */

void
route_auth_mfa_enroll(const struct pv_hreq *q, struct pv_reply *p)
{
	struct pv_vault *v = q->svc->vault;
	struct pv_user u;
	char secret[64], uri[256];
	pv_status st;

	if (pv_store_user_get_by_id(v->store, q->who->user_id, &u) != PV_OK) {
		pv_reply_error(p, 500, "exception", "cannot load the account");
		return;
	}
	if (u.has_mfa) {
		pv_reply_error_detail(p, 409, "conflict", "mfa_already_enabled",
		    "MFA is already enabled for this account");
		return;
	}
	st = pv_totp_enroll(v, &u, secret, sizeof(secret), uri, sizeof(uri));
	if (st == PV_ECONFLICT) { /* confirmed by a parallel request */
		sodium_memzero(&u, sizeof(u));
		pv_reply_error_detail(p, 409, "conflict", "mfa_already_enabled",
		    "MFA is already enabled for this account");
		return;
	}
	if (st != PV_OK) {
		sodium_memzero(&u, sizeof(u));
		pv_reply_error(p, 500, "exception", "cannot start enrolment");
		return;
	}
	log_auth(q, "mfa_enroll", u.id, "pending");
	pv_reply_json(p, 200,
	    json_pack("{s:s, s:s}", "secret", secret, "otpauth_uri", uri));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(uri, sizeof(uri));
	sodium_memzero(&u, sizeof(u));
}

/*
 * Turns MFA on for the secret the code was checked against, revokes every
 * session of the account (one opened with the password alone, by anyone,
 * must not outlive the switch to MFA) and opens a new, MFA-verified one,
 * in one transaction.
 */
static pv_status
confirm_tx(struct pv_vault *v, const struct pv_user *u,
    char codes[PV_RECOVERY_CODES][PV_RECOVERY_CODE_LEN + 1],
    char token[PV_TOKEN_TEXT_LEN + 1], struct pv_session *sess)
{
	struct pv_store *s = v->store;
	struct pv_user cur;
	pv_status st;

	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	if ((st = pv_store_user_mfa_enable(s, u->id, u->mfa_sealed,
		 u->mfa_sealed_len)) != PV_OK ||
	    (st = pv_recovery_issue(v, u->id, codes)) != PV_OK ||
	    (st = pv_session_revoke_all(v, u->id, NULL)) != PV_OK ||
	    (st = pv_store_user_get_by_id(s, u->id, &cur)) != PV_OK ||
	    (st = pv_session_create(v, &cur, true, token, sess)) != PV_OK) {
		pv_store_rollback(s);
		sodium_memzero(&cur, sizeof(cur));
		return st;
	}
	sodium_memzero(&cur, sizeof(cur));
	return pv_store_commit(s);
}

struct mfa_job {
	struct pv_user u; /* the pending secret; wiped on free */
	char otp[OTP_MAX + 1];
};

static void
mfa_job_free(void *p)
{
	sodium_memzero(p, sizeof(struct mfa_job));
	free(p);
}

/*
 * After a right code, with the write-ahead pair around the switch
 * (PV_NEXT_WRITE): the intent entry durable first, a follow-up if it
 * fails.
 */
static void
mfa_confirm_commit(const struct pv_hreq *q, struct pv_reply *p)
{
	struct mfa_job *j = p->job;
	char codes[PV_RECOVERY_CODES][PV_RECOVERY_CODE_LEN + 1];
	char token[PV_TOKEN_TEXT_LEN + 1];
	struct pv_session sess;
	json_t *arr, *body;
	pv_status st;
	size_t i;

	st = confirm_tx(q->svc->vault, &j->u, codes, token, &sess);
	if (st == PV_ECONFLICT) {
		pv_note_outcome(p, "failed", "mfa_not_pending");
		pv_reply_error_detail(p, 409, "conflict", "mfa_not_pending",
		    "MFA was enabled or re-enrolled meanwhile");
	} else if (st != PV_OK) {
		pv_reply_error(p, 500, "exception", "cannot enable MFA");
	}
	if (st != PV_OK)
		return;
	arr = json_array();
	for (i = 0; i < PV_RECOVERY_CODES; i++)
		json_array_append_new(arr, json_string(codes[i]));
	body = session_reply(p, token, sess.expires_at);
	json_object_set_new(body, "recovery_codes", arr);
	log_auth(q, "mfa_enabled", j->u.id, "ok");
	pv_reply_json(p, 200, body);
	sodium_memzero(codes, sizeof(codes));
	sodium_memzero(token, sizeof(token));
}

/*
 * On a write worker (consuming the code's step is a write, which stays
 * off the HTTP threads). A wrong code is answered and audited once, as a
 * denial; a right one goes on to mfa_confirm_commit.
 */
static void
mfa_confirm_work(const struct pv_hreq *q, struct pv_reply *p)
{
	struct mfa_job *j = p->job;

	if (pv_totp_verify(q->svc->vault, &j->u, j->otp, pv_now()) != PV_OK) {
		pv_metric_inc(PV_M_MFA_FAILED);
		log_auth(q, "mfa_confirm_failed", j->u.id, "invalid_otp");
		pv_note_outcome(p, "denied", "invalid_otp");
		pv_reply_error_detail(p, 401, "login", "invalid_otp",
		    "the one-time code is wrong or already used");
		return;
	}
	pv_reply_continue(p, PV_NEXT_WRITE, mfa_confirm_commit);
}

void
route_auth_mfa_confirm(const struct pv_hreq *q, struct pv_reply *p)
{
	struct pv_vault *v = q->svc->vault;
	struct mfa_job *j;
	json_t *in;
	const char *otp;

	if ((in = pv_hreq_json_object(q, p)) == NULL)
		return;
	otp = pv_json_str(in, "otp", OTP_MAX);
	if (otp == NULL) {
		json_decref(in);
		pv_reply_error(p, 400, "invalid", "send {\"otp\": \"123456\"}");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    pv_store_user_get_by_id(v->store, q->who->user_id, &j->u) !=
		PV_OK) {
		free(j);
		json_decref(in);
		pv_reply_error(p, 500, "exception", "cannot load the account");
		return;
	}
	p->job = j;
	p->job_free = mfa_job_free;
	if (j->u.has_mfa || j->u.mfa_sealed_len == 0) {
		json_decref(in);
		pv_reply_error_detail(p, 409, "conflict", "mfa_not_pending",
		    j->u.has_mfa ? "MFA is already enabled"
				 : "start with POST /auth/mfa/enroll");
		return;
	}
	if (pv_strlcpy(j->otp, otp, sizeof(j->otp)) != PV_OK) {
		json_decref(in);
		pv_reply_error(p, 400, "invalid", "send {\"otp\": \"123456\"}");
		return;
	}
	json_decref(in);
	pv_reply_continue(p, PV_NEXT_WORK, mfa_confirm_work);
}

/* ---- POST /auth/password --------------------------------------------- */

/* The change itself, write-ahead (PV_NEXT_WRITE): the intent is durable
 * before the hash is replaced, a follow-up entry if it is not. */
static void
password_commit(const struct pv_hreq *q, struct pv_reply *p)
{
	struct login_job *j = p->job;
	pv_status st;

	st = pv_password_commit(q->svc->vault, q->who->user_id, j->old_hash,
	    j->hash, q->who->has_mfa, q->who->session_id);
	if (st == PV_OK) {
		log_auth(q, "password_changed", q->who->user_id, "ok");
		pv_reply_json(p, 200,
		    json_pack("{s:s}", "status",
			"password changed; other sessions revoked"));
	} else if (st == PV_ECONFLICT) {
		pv_note_outcome(p, "failed", "password_changed_meanwhile");
		pv_reply_error_detail(p, 409, "conflict",
		    "password_changed_meanwhile",
		    "the password, the MFA state "
		    "or this session changed while the request ran; nothing "
		    "was changed");
	} else {
		pv_reply_error(p, 500, "exception",
		    "cannot change the password");
	}
}

/* On a hashing worker: the old password checked and the new one hashed;
 * then password_commit. */
static void
password_work(const struct pv_hreq *q, struct pv_reply *p)
{
	struct login_job *j = p->job;
	pv_pw_verdict verdict = PV_PW_OK;
	pv_status st;

	st = pv_password_prepare(q->svc->vault, q->who->user_id, j->password,
	    j->password2, j->hash, j->old_hash, &verdict);
	if (st == PV_EAUTH) {
		log_auth(q, "password_change_failed", q->who->user_id,
		    "bad_password");
		pv_note_outcome(p, "denied", "bad_password");
		pv_reply_error_detail(p, 403, "security", "wrong_password",
		    "the current password is wrong (or the account is locked)");
	} else if (st == PV_EINVAL) {
		pv_reply_error_detail(p, 422, "invalid", "weak_password",
		    pv_password_verdict_text(verdict));
	} else if (st != PV_OK) {
		pv_reply_error(p, 500, "exception",
		    "cannot change the password");
	} else {
		pv_reply_continue(p, PV_NEXT_WRITE, password_commit);
	}
}

/*
 * Checks that cost nothing come first, on the HTTP thread, so that a
 * session cannot turn this endpoint into a hashing flood (outside review,
 * finding 7): the new password's policy (422), an MFA-verified session
 * when the account has MFA (403), and a per-account rate limit on the
 * attempts that do reach the hash workers (429).
 */
void
route_auth_password(const struct pv_hreq *q, struct pv_reply *p)
{
	const struct pv_config *cfg = &q->svc->vault->cfg;
	struct login_job *j;
	const char *old_pw, *new_pw;
	pv_pw_verdict verdict;
	json_t *in;

	if (q->who->has_mfa && !q->who->is_mfa_satisfied) {
		pv_note_outcome(p, "denied", "mfa_required");
		pv_reply_error_detail(p, 403, "security", "mfa_required",
		    "this account has MFA: log in with the one-time code "
		    "before changing the password");
		return;
	}
	if ((in = pv_hreq_json_object(q, p)) == NULL)
		return;
	old_pw = pv_json_str(in, "old", PV_PASSWORD_BUF - 1);
	new_pw = pv_json_str(in, "new", PV_PASSWORD_BUF - 1);
	if (old_pw == NULL || new_pw == NULL) {
		json_decref(in);
		pv_reply_error(p, 400, "invalid",
		    "send {\"old\", \"new\"} as non-empty strings");
		return;
	}
	verdict = pv_password_check(new_pw, q->who->username);
	if (verdict != PV_PW_OK) {
		json_decref(in);
		pv_reply_error_detail(p, 422, "invalid", "weak_password",
		    pv_password_verdict_text(verdict));
		return;
	}
	if (pv_http_rate_limited(q, p, "pwchange", q->who->username,
		(double)cfg->rl_password_per_hour / 3600.0,
		(double)cfg->rl_password_burst)) {
		json_decref(in);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->password = secret_dup(old_pw)) == NULL ||
	    (j->password2 = secret_dup(new_pw)) == NULL) {
		login_job_free(j);
		json_decref(in);
		pv_reply_error(p, 503, "transient", "out of memory");
		return;
	}
	json_decref(in);
	p->job = j;
	p->job_free = login_job_free;
	pv_reply_continue(p, PV_NEXT_HASH, password_work);
}
