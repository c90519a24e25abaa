/*
 * sigauth.c — authenticating service clients by RFC 9421 signature.
 *
 * Policy on top of the pure verifier (auth/signature.c):
 *  - keyid, created and nonce are required; alg, if present, is ed25519;
 *  - the signature must cover @method and the target (@target-uri, or
 *    @authority + @path + @query), and content-digest whenever there is a
 *    body — whose RFC 9530 sha-256 digest must match the bytes received;
 *  - created at most [signature] replay_window (default 300 s) in the
 *    past and at most max_future_skew (default 5 s) in the future, expires
 *    (if any) not passed;
 *  - the key is a registered, active service client;
 *  - the (keyid, nonce) pair is new inside the window (checked after the
 *    signature verifies, so forged requests cannot burn real nonces): in
 *    this process's cache and, when the store is shared by several nodes
 *    (PostgreSQL), claimed atomically in the store's nonces table too, so
 *    a replay sent to another node is refused; a claim that cannot be
 *    made is a 503, never an acceptance.
 * Each failure is a 401 OperationOutcome with a detail code; replays and
 * forgeries raise alerts. Defends against: replay of captured requests,
 * tampering in transit beyond TLS (e.g. at a terminating proxy), and
 * impersonation of service clients.
 */
#include "http/guard.h"

#include <string.h>

struct hdr_ctx {
	struct pv_req *r;
	char buf[2048];
};

/* Header lookup for the verifier: lowercase name, joined values. */
static const char *
header_cb(void *arg, const char *lcname)
{
	struct hdr_ctx *h = arg;

	return pv_hreq_header_joined(&h->r->in, lcname, h->buf, sizeof(h->buf));
}

/* The deployment-wide claim of a nonce: the store keys claims by a
 * SHA-256 of the (keyid, nonce) digest. PV_EEXISTS for a replay. */
static pv_status
claim_shared(struct pv_store *s, const char *digest, int64_t expires,
    int64_t now)
{
	unsigned char h[PV_HASH_BYTES];

	pv_sha256(h, digest, strlen(digest));
	return pv_store_nonce_claim(s, h, expires, now);
}

bool
pv_http_has_signature(struct pv_req *r)
{
	return pv_hreq_header(&r->in, "Signature-Input") != NULL ||
	    pv_hreq_header(&r->in, "Signature") != NULL;
}

/*
 * Alerts for refused signatures are rate-limited per (rule, source):
 * PV_ALERT_BURST at once, then one every PV_ALERT_EVERY seconds. Every
 * refusal is still counted in the audit trail and the metrics; what is
 * bounded is the alert sinks (file, syslog, the webhook's 1024-alert
 * ring), so a flood of bad signatures from one source cannot push a
 * break-glass or snooping alert out of the webhook queue (red-team pass
 * after issue 13). The keyid, which the client chose, is cut to
 * PV_ALERT_KEYID_MAX bytes in the alert.
 */
#define PV_ALERT_BURST 5
#define PV_ALERT_EVERY 10
#define PV_ALERT_KEYID_MAX 64

static bool
alert_allowed(struct pv_req *r, const char *rule)
{
	char key[PV_IP_MAX + 48];

	if (pv_snprintf(key, sizeof(key), "alert:%s:%s", rule, r->ip) != PV_OK)
		return true;
	return pv_ratelimit_take(r->srv->ratelimit, key, 1.0 / PV_ALERT_EVERY,
		   PV_ALERT_BURST) == 0;
}

static bool
refuse(struct pv_req *r, const char *detail, const char *diag,
    const char *alert_rule, const char *keyid)
{
	pv_metric_inc(PV_M_SIG_REJECTED);
	pv_note_outcome(&r->out, "denied", detail);
	pv_reply_header(&r->out, "WWW-Authenticate", "Signature");
	pv_reply_error_detail(&r->out, 401, "security", detail, diag);
	if (alert_rule != NULL && alert_allowed(r, alert_rule))
		pv_alert(r->srv->alerts, alert_rule,
		    strcmp(alert_rule, "replay") == 0 ? "high" : "medium",
		    r->rid,
		    json_pack("{s:s, s:s%, s:s}", "reason", detail, "keyid",
			keyid != NULL ? keyid : "",
			keyid != NULL ? strnlen(keyid, PV_ALERT_KEYID_MAX) : 0,
			"source", r->ip));
	return false;
}

static bool
covers_target(const struct pv_sig_params *p, const char *raw_uri)
{
	if (pv_sig_covers(p, "@target-uri"))
		return true;
	if (!pv_sig_covers(p, "@authority") || !pv_sig_covers(p, "@path"))
		return false;
	return strchr(raw_uri, '?') == NULL || pv_sig_covers(p, "@query");
}

bool
pv_http_signature_auth(struct pv_req *r)
{
	struct pv_vault *v = r->srv->vault;
	struct pv_sig_params p;
	struct pv_sig_request sr;
	struct hdr_ctx hc = { r, "" };
	char si[PV_SIG_INPUT_MAX + 1], sg[PV_SIG_SIGNATURE_MAX + 1];
	char target[PV_SIG_TARGET_URI_MAX + 1], digest[PV_NONCE_DIGEST_HEX + 1];
	char dbuf[PV_SIG_DIGEST_FIELD_MAX + 1];
	const char *host = pv_hreq_header(&r->in, MHD_HTTP_HEADER_HOST);
	struct pv_user u;
	int64_t now = pv_now(), window = v->cfg.replay_window, expires;
	pv_status st;

	if (pv_hreq_header(&r->in, MHD_HTTP_HEADER_AUTHORIZATION) != NULL)
		return refuse(r, "ambiguous_credentials",
		    "send either a "
		    "signature or a bearer token, not both",
		    NULL, NULL);
	if (pv_hreq_header_joined(&r->in, "Signature-Input", si, sizeof(si)) ==
		NULL ||
	    pv_hreq_header_joined(&r->in, "Signature", sg, sizeof(sg)) ==
		NULL ||
	    pv_sig_parse(si, sg, NULL, &p) != PV_OK)
		return refuse(r, "malformed_signature",
		    "Signature-Input and "
		    "Signature must hold one well-formed RFC 9421 signature",
		    NULL, NULL);
	if (!p.has_keyid || !p.has_created || !p.has_nonce)
		return refuse(r, "missing_parameters",
		    "the signature needs "
		    "keyid, created and nonce parameters",
		    NULL, NULL);
	if (!pv_sig_covers(&p, "@method") || !covers_target(&p, r->raw_uri))
		return refuse(r, "insufficient_coverage",
		    "cover at least "
		    "@method and @target-uri",
		    NULL, p.keyid);
	/* Called with the headers, before any body is read (nothing is
	 * buffered for an unauthenticated client): a body on its way must
	 * be covered by a signed Content-Digest, which pv_http_signature_body
	 * checks against the bytes once they are in. */
	if (r->content_length > 0 ||
	    pv_hreq_header(&r->in, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL) {
		if (!pv_sig_covers(&p, "content-digest") ||
		    pv_hreq_header_joined(&r->in, "Content-Digest", dbuf,
			sizeof(dbuf)) == NULL)
			return refuse(r, "digest_required",
			    "a request with a "
			    "body must send and sign Content-Digest (RFC 9530, "
			    "sha-256)",
			    NULL, p.keyid);
		r->has_signature_body = true;
	}
	if (p.created < now - window)
		return refuse(r, "signature_too_old",
		    "created is outside the "
		    "replay window; sign again",
		    "replay", p.keyid);
	/* Only a few seconds ahead: a nonce must be remembered until its
	 * created leaves the window, and after a restart the reload can
	 * only bound created by the entry's time plus this skew. */
	if (p.created > now + v->cfg.max_future_skew)
		return refuse(r, "signature_in_future",
		    "created is in the "
		    "future; check your clock",
		    "replay", p.keyid);
	if (p.has_expires && p.expires < now)
		return refuse(r, "signature_expired",
		    "the signature has "
		    "expired",
		    "replay", p.keyid);
	st = pv_store_user_get_by_key_id(v->store, p.keyid, &u);
	/* A store that cannot answer says nothing about the key: 503, no
	 * forgery alert (a database outage must not flood them). */
	if (st != PV_OK && st != PV_ENOTFOUND) {
		r->out.retry_after = 2;
		pv_reply_error_detail(&r->out, 503, "transient",
		    "store_unavailable",
		    "the key cannot be checked right now; retry with a new "
		    "nonce");
		return false;
	}
	if (st != PV_OK || !u.is_active || strcmp(u.role, "service") != 0 ||
	    !u.has_pubkey)
		return refuse(r, "unknown_key", "unknown or disabled keyid",
		    "forged_signature", p.keyid);
	if (host == NULL ||
	    pv_snprintf(target, sizeof(target), "https://%s%s", host,
		r->raw_uri) != PV_OK)
		return refuse(r, "malformed_signature",
		    "the request target "
		    "cannot be reconstructed",
		    NULL, p.keyid);
	sr.method = r->method;
	sr.target_uri = target;
	sr.header = header_cb;
	sr.header_arg = &hc;
	if (pv_sig_verify_ed25519(&p, &sr, u.pubkey) != PV_OK)
		return refuse(r, "bad_signature",
		    "the signature does not "
		    "verify for this request",
		    "forged_signature", p.keyid);
	/* A reload that could not hold every nonce of the window leaves
	 * replays open until they have all expired: fail closed till then. */
	if (now < atomic_load(&r->srv->nonces_unsafe_until)) {
		r->out.retry_after = 5;
		pv_reply_error(&r->out, 503, "transient",
		    "replay cache incomplete "
		    "after a restart; retry later");
		return false;
	}
	/* Only now, with a valid signature, spend the nonce. */
	pv_nonce_digest(p.keyid, p.nonce, digest);
	expires = (p.created > now ? p.created : now) + window;
	st = pv_nonces_add(r->srv->nonces, digest, expires, now);
	if (st == PV_OK && pv_store_is_shared(v->store))
		st = claim_shared(v->store, digest, expires, now);
	if (st == PV_EEXISTS)
		return refuse(r, "replayed_nonce",
		    "this nonce was already "
		    "used: every request needs a fresh nonce",
		    "replay", p.keyid);
	if (st != PV_OK) {
		r->out.retry_after = 1;
		pv_reply_error(&r->out, 503, "transient",
		    "replay cache full or unreachable; retry with a new nonce");
		return false;
	}
	memset(&r->who, 0, sizeof(r->who));
	r->who.user_id = u.id;
	memcpy(r->who.username, u.username, sizeof(r->who.username));
	memcpy(r->who.role, u.role, sizeof(r->who.role));
	memcpy(r->who.scopes, u.scopes, sizeof(r->who.scopes));
	r->who.authz_epoch = u.authz_epoch;
	r->who.is_mfa_satisfied = true;
	r->who.is_signed = true;
	r->is_authenticated = true;
	memcpy(r->ev.nonce, digest, sizeof(digest));
	return true;
}

bool
pv_http_signature_recheck(struct pv_req *r)
{
	struct pv_store *s = r->srv->vault->store;
	struct pv_user u;
	bool is_same;

	is_same = pv_store_user_get_by_id(s, r->who.user_id, &u) == PV_OK &&
	    u.is_active && strcmp(u.role, "service") == 0 &&
	    u.authz_epoch == r->who.authz_epoch;
	sodium_memzero(&u, sizeof(u));
	if (is_same)
		return true;
	r->is_authenticated = false;
	return refuse(r, "unknown_key", "unknown or disabled keyid", NULL,
	    NULL);
}

bool
pv_http_signature_body(struct pv_req *r)
{
	char dbuf[PV_SIG_DIGEST_FIELD_MAX + 1];
	const char *cd;

	if (!r->has_signature_body)
		return true;
	cd =
	    pv_hreq_header_joined(&r->in, "Content-Digest", dbuf, sizeof(dbuf));
	if (cd != NULL &&
	    pv_sig_check_content_digest(cd, r->body, r->body_len) == PV_OK)
		return true;
	r->is_authenticated = false;
	return refuse(r, "digest_mismatch",
	    "Content-Digest does not match "
	    "the body",
	    "forged_signature", NULL);
}

struct reload_ctx {
	struct pv_nonces *n;
	int64_t keep, now;
	size_t count, lost;
};

static void
reload_one(void *arg, int64_t ts, const char *nonce)
{
	struct reload_ctx *c = arg;
	pv_status st = pv_nonces_add(c->n, nonce, ts + c->keep, c->now);

	if (st == PV_OK)
		c->count++;
	else if (st != PV_EEXISTS)
		c->lost++;
}

/*
 * Start-up: every nonce still inside its window is remembered again
 * (outside review, finding 2). The trail holds the time each entry was
 * written, not the request's created; but created was at most
 * max_future_skew ahead of that time when the request was accepted, so
 * a nonce stays replayable until at most entry time + skew + window:
 * each digest is kept that long, and every entry that recent is read.
 */
void
pv_http_reload_nonces(struct pv_server *srv)
{
	const struct pv_config *cfg = &srv->vault->cfg;
	struct reload_ctx c = { srv->nonces,
		cfg->replay_window + cfg->max_future_skew + 1, pv_now(), 0, 0 };
	char n[24], lost[24];

	pv_audit_recent_nonces(srv->audit, c.now - c.keep, reload_one, &c);
	PV_IGNORE(pv_snprintf(n, sizeof(n), "%zu", c.count));
	PV_IGNORE(pv_snprintf(lost, sizeof(lost), "%zu", c.lost));
	pv_log(c.lost > 0 ? PV_LOG_ERROR : PV_LOG_INFO, "nonces_reloaded", NULL,
	    "count", n, "lost", lost, (const char *)NULL);
	if (c.lost > 0)
		atomic_store(&srv->nonces_unsafe_until, c.now + c.keep);
}
