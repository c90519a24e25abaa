/*
 * admit.c — who is calling, settled from the headers and again after the
 * body: session (Bearer token or cookie) or RFC 9421 signature, MFA, the
 * per-account rate limit, and the early role check of routes that take a
 * body.
 *
 * Guarantees: fails closed — any error validating a session is a 401,
 * never a pass; a caller whose role could never do what a body is for is
 * refused before the body is read; a change to the caller (disable, role
 * or permission change, logout, MFA switch) made while a body arrived
 * wins over the request; an account whose [network] allow-lists do not
 * contain the client's address (after PROXY) is refused 403 "network"
 * right after it is identified, before MFA or the role are looked at,
 * and the refusal is always audited.
 */
#include "http/guard.h"

#include <string.h>

/*
 * [network] (issue 15): the caller is known; may it act from here? The
 * check reads the configuration only. A refusal is audited on every
 * route (action "request" where the route has none) with reason
 * "network"; the reply says no more than that the address is not
 * allowed for the account (a caller who got here already proved who it
 * is, so nothing is revealed to an outsider; logins are refused without
 * this reply, see auth/login.c).
 */
static bool
admit_network(struct pv_req *r)
{
	char uid[24];

	if (pv_netconf_allows(&r->srv->vault->cfg.net, r->who.role,
		r->who.username, r->ip))
		return true;
	pv_metric_inc(PV_M_NETWORK_DENIED);
	PV_IGNORE(
	    pv_snprintf(uid, sizeof(uid), "%lld", (long long)r->who.user_id));
	pv_log(PV_LOG_INFO, "network_denied", r->rid, "user_id", uid, "peer",
	    r->ip, (const char *)NULL);
	if (!r->has_event)
		pv_trail_begin(r, "request");
	pv_note_outcome(&r->out, "denied", "network");
	pv_reply_error_detail(&r->out, 403, "forbidden", "network",
	    "this account may not be used from this network address");
	return false;
}

/*
 * Establishes who is calling, for routes that need it. Fails closed: any
 * error validating a session is a 401, never a pass.
 */
static bool
authenticate(struct pv_req *r)
{
	char tok[128];
	const char *t = pv_hreq_token(&r->in, tok, sizeof(tok));
	pv_status st;

	if (t == NULL) {
		pv_note_outcome(&r->out, "denied", "unauthenticated");
		pv_reply_header(&r->out, "WWW-Authenticate", "Bearer");
		pv_reply_error_detail(&r->out, 401, "login", "unauthenticated",
		    "authentication required: send Authorization: Bearer "
		    "<token> (POST /auth/login)");
		return false;
	}
	st = pv_session_validate(r->srv->vault, t, &r->who);
	sodium_memzero(tok, sizeof(tok));
	/* The store could not answer (a database outage): the token may be
	 * good, so not a 401 that tells the client to discard it; still a
	 * refusal. */
	if (st != PV_OK && st != PV_EAUTH) {
		pv_note_outcome(&r->out, "denied", "store_unavailable");
		r->out.retry_after = 2;
		pv_reply_error_detail(&r->out, 503, "transient",
		    "store_unavailable",
		    "the session cannot be checked right now; retry");
		return false;
	}
	if (st != PV_OK) {
		pv_note_outcome(&r->out, "denied", "invalid_token");
		pv_reply_header(&r->out, "WWW-Authenticate",
		    "Bearer error=\"invalid_token\"");
		pv_reply_error_detail(&r->out, 401, "login", "invalid_token",
		    "the session is invalid or has expired; log in again");
		return false;
	}
	r->is_authenticated = true;
	if (!admit_network(r))
		return false;
	if (r->route->auth != PV_AUTH_PARTIAL && !r->who.is_mfa_satisfied) {
		pv_reply_error_detail(&r->out, 403, "security",
		    "mfa_enrollment_required",
		    "this role requires MFA: enrol with POST /auth/mfa/enroll "
		    "and /auth/mfa/confirm first");
		return false;
	}
	return true;
}

/*
 * With the headers: route, audit event, authentication, account rate
 * limit and this route's body limit. False with a reply set when the
 * request is refused; its body (if any) is then drained, not kept.
 */
bool
pv_admit(struct pv_req *r)
{
	unsigned miss = pv_router_match(r->method, r->path, &r->route,
	    &r->route_idx, r->params);

	if (miss == 404) {
		pv_reply_error(&r->out, 404, "not-found", "no such endpoint");
		return false;
	}
	if (miss == 405) {
		pv_reply_error(&r->out, 405, "not-supported",
		    "method not allowed on this endpoint");
		return false;
	}
	r->in.route = r->route->pattern;
	if (r->route->audit != NULL)
		pv_trail_begin(r, r->route->audit);
	if (r->route->auth != PV_AUTH_NONE) {
		if (r->route->auth == PV_AUTH_ANY && pv_http_has_signature(r)) {
			/* A signed request is always audited: its entry is
			 * what carries the nonce across a restart. */
			if (!r->has_event)
				pv_trail_begin(r, "signed-request");
			if (!pv_http_signature_auth(r) || !admit_network(r))
				return false;
		} else if (!authenticate(r)) {
			return false;
		}
	}
	if (r->is_authenticated &&
	    pv_http_rate_limited(&r->in, &r->out, "acct", r->who.username,
		(double)r->srv->vault->cfg.rl_account_rate,
		(double)r->srv->vault->cfg.rl_account_burst))
		return false;
	/* A caller whose role could never do what this body is for is
	 * refused before the body is read: no buffering for it. */
	if (r->route->body_act != 0 && r->is_authenticated &&
	    !pv_authz_may_ever(&r->srv->policy, &r->who,
		r->route->body_act == 'c'       ? PV_ACT_CREATE
		    : r->route->body_act == 'u' ? PV_ACT_UPDATE
						: PV_ACT_BREAK_GLASS,
		r->route->body_act == 'g' ? "Patient" : r->params[0])) {
		pv_metric_inc(PV_M_AUTHZ_DENIED);
		pv_note_outcome(&r->out, "denied", "role");
		pv_reply_error_detail(&r->out, 403, "forbidden", "role",
		    "your role may not do this");
		return false;
	}
	r->body_max = r->route->auth == PV_AUTH_NONE
	    ? PV_UNAUTH_BODY_MAX
	    : (size_t)r->srv->vault->cfg.max_body;
	return true;
}

/*
 * The caller was settled from the headers, before the body, and a body
 * may take minutes to arrive (min_body_rate). So once it is in, the
 * caller is settled again: a disable, role or permission change, logout
 * or MFA switch made meanwhile wins (red-team pass after finding 3: a
 * request begun before `user disable` wrote PHI 107 s after it).
 */
bool
pv_admit_again(struct pv_req *r)
{
	struct pv_principal again;
	char tok[128];
	const char *t;
	pv_status st = PV_EAUTH;

	if (!r->is_authenticated || !r->has_body)
		return true;
	if (r->who.is_signed)
		return pv_http_signature_recheck(r);
	if ((t = pv_hreq_token(&r->in, tok, sizeof(tok))) != NULL)
		st = pv_session_validate(r->srv->vault, t, &again);
	sodium_memzero(tok, sizeof(tok));
	if (st == PV_OK && again.user_id == r->who.user_id &&
	    strcmp(again.session_id, r->who.session_id) == 0 &&
	    (again.is_mfa_satisfied || r->route->auth == PV_AUTH_PARTIAL)) {
		r->who = again;
		sodium_memzero(&again, sizeof(again));
		return admit_network(r); /* the role may have changed */
	}
	sodium_memzero(&again, sizeof(again));
	pv_note_outcome(&r->out, "denied", "account_changed");
	pv_reply_header(&r->out, "WWW-Authenticate",
	    "Bearer error=\"invalid_token\"");
	pv_reply_error_detail(&r->out, 401, "login", "invalid_token",
	    "the session ended or the account changed while the request was "
	    "sent; log in again");
	return false;
}
