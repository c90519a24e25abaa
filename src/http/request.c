/*
 * request.c — reading what the client sent, and deferring work.
 *
 * Guarantees: a JSON body is accepted only as one object of valid UTF-8
 * with no duplicate keys and no NUL characters (jansson's strict mode),
 * after the size limit was enforced while reading; anything else gets a
 * 4xx OperationOutcome naming what to fix and changes nothing.
 */
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>

const char *
pv_req_header(struct pv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct join_ctx {
	const char *name;
	char *buf;
	size_t bufsz, len;
	bool is_found, is_overflow;
};

static enum MHD_Result
join_value(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct join_ctx *c = cls;
	size_t vlen;

	(void)kind;
	if (key == NULL || value == NULL || strcasecmp(key, c->name) != 0)
		return MHD_YES;
	vlen = strlen(value);
	if (c->len + vlen + 3 > c->bufsz) {
		c->is_overflow = true;
		return MHD_NO;
	}
	if (c->is_found) {
		memcpy(c->buf + c->len, ", ", 2);
		c->len += 2;
	}
	memcpy(c->buf + c->len, value, vlen);
	c->len += vlen;
	c->buf[c->len] = '\0';
	c->is_found = true;
	return MHD_YES;
}

const char *
pv_req_header_joined(struct pv_req *r, const char *name, char *buf,
    size_t bufsz)
{
	struct join_ctx c = { name, buf, bufsz, 0, false, false };

	if (bufsz == 0)
		return NULL;
	buf[0] = '\0';
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, join_value, &c);
	return c.is_found && !c.is_overflow ? buf : NULL;
}

const char *
pv_req_query(struct pv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

static bool
is_json_type(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return true;	/* lenient: many clients omit it */
	n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 21 && strncasecmp(ct, "application/fhir+json", 21) == 0);
}

json_t *
pv_req_json_object(struct pv_req *r)
{
	json_error_t jerr;
	json_t *j;

	if (!is_json_type(pv_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		pv_reply_error(r, 415, "not-supported",
		    "send the body as application/json or "
		    "application/fhir+json");
		return NULL;
	}
	if (r->body_len == 0) {
		pv_reply_error(r, 400, "invalid", "a JSON body is required");
		return NULL;
	}
	if (!pv_utf8_is_valid((const char *)r->body, r->body_len)) {
		pv_reply_error(r, 400, "invalid",
		    "the body is not valid UTF-8");
		return NULL;
	}
	j = json_loadb((const char *)r->body, r->body_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		pv_reply_error(r, 400, "invalid",
		    "the body is not well-formed JSON (or repeats a key)");
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		pv_reply_error(r, 400, "invalid", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

const char *
pv_json_str(json_t *obj, const char *key, size_t maxlen)
{
	json_t *v = json_object_get(obj, key);
	size_t n;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n == 0 || n > maxlen)
		return NULL;
	return json_string_value(v);
}

struct deferred_job {
	struct pv_req *r;
};

static void
run_deferred(void *arg)
{
	struct pv_req *r = arg;

	r->deferred(r);
	pv_req_audit_finish_sync(r);
	r->phase = PV_PHASE_READY;
	pv_req_resume(r);
}

void
pv_req_defer(struct pv_req *r, struct pv_workq *q,
    void (*fn)(struct pv_req *r))
{
	r->deferred = fn;
	r->phase = PV_PHASE_WAITING;
	pv_req_suspend(r);
	if (pv_workq_submit(q, run_deferred, r) == PV_OK)
		return;
	/* Queue full: refuse now rather than pile up memory. */
	pv_req_refuse_busy(r);
}

void
pv_req_refuse_busy(struct pv_req *r)
{
	pv_metric_inc(PV_M_QUEUE_REJECTED);
	r->retry_after = 2;
	pv_req_audit_outcome(r, "error", "busy");
	pv_reply_error_detail(r, 503, "transient", "busy",
	    "the server is busy; retry after the Retry-After delay");
	pv_req_resume_refused(r);
}

static void
copy_field(char *dst, size_t dstsz, const char *src)
{
	if (src == NULL || pv_strlcpy(dst, src, dstsz) != PV_OK)
		dst[0] = '\0';
}

/*
 * Subject fields may come straight from the URL, before any validation:
 * keep only FHIR id characters. A quote or control character would make
 * the entry unwritable, fail the whole group commit it lands in (every
 * request in it refused, the trail marked unhealthy) and leave the
 * request itself unaudited.
 */
static void
copy_id(char *dst, size_t dstsz, const char *src)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-.";

	if (src != NULL && src[strspn(src, ok)] != '\0')
		src = NULL;
	copy_field(dst, dstsz, src);
}

void
pv_req_audit_subject(struct pv_req *r, const char *type, const char *id,
    const char *patient)
{
	copy_id(r->ev.type, sizeof(r->ev.type), type);
	copy_id(r->ev.id, sizeof(r->ev.id), id);
	copy_id(r->ev.patient, sizeof(r->ev.patient), patient);
}

bool
pv_req_audit_also(struct pv_req *r, const char *type, const char *id,
    const char *patient, int64_t grant)
{
	struct pv_audit_also *a;

	if (!r->has_event || r->ev_also_n >= PV_AUDIT_ALSO_MAX)
		return false;
	if (r->ev_also == NULL &&
	    (r->ev_also = calloc(PV_AUDIT_ALSO_MAX, sizeof(*a))) == NULL)
		return false;
	a = &r->ev_also[r->ev_also_n++];
	copy_id(a->type, sizeof(a->type), type);
	copy_id(a->id, sizeof(a->id), id);
	copy_id(a->patient, sizeof(a->patient), patient);
	a->grant = grant;
	return true;
}

size_t
pv_req_audit_count(const struct pv_req *r)
{
	return r->has_event ? r->ev_also_n + 1 : 0;
}

void
pv_req_audit_event(const struct pv_req *r, size_t i,
    struct pv_audit_event *out)
{
	const struct pv_audit_also *a;

	*out = r->ev;
	if (i >= r->ev_also_n)
		return;
	a = &r->ev_also[i];
	memcpy(out->type, a->type, sizeof(out->type));
	memcpy(out->id, a->id, sizeof(out->id));
	memcpy(out->patient, a->patient, sizeof(out->patient));
	out->grant = a->grant;
}

void
pv_req_audit_outcome(struct pv_req *r, const char *outcome,
    const char *reason)
{
	r->ev.outcome = outcome;
	r->ev.reason = reason;
}

void
pv_req_audit_settle(struct pv_req *r)
{
	/* The actor is whoever authenticated, even if the handler failed. */
	if (r->is_authenticated) {
		r->ev.actor = r->who.user_id;
		copy_field(r->ev.role, sizeof(r->ev.role), r->who.role);
	}
	if (r->ev.outcome == NULL) {
		if (r->status >= 200 && r->status < 300)
			r->ev.outcome = "allowed";
		else if (r->status == 401 || r->status == 403)
			r->ev.outcome = "denied";
		else if (r->status >= 500)
			r->ev.outcome = "error";
		else
			r->ev.outcome = "failed";
	}
	if (r->ev.reason == NULL) {
		if (r->status == 401)
			r->ev.reason = "unauthenticated";
		else if (r->status == 403)
			r->ev.reason = "forbidden";
		else
			r->ev.reason = r->status < 300 ? "ok" : "status";
	}
}

void
pv_reply_audit_unavailable(struct pv_req *r)
{
	pv_reply_error_detail(r, 503, "transient", "audit_unavailable",
	    "the audit trail cannot be written; nothing was served");
	r->retry_after = 5;
	r->headers_n = 0;	/* drop Location, ETag, Set-Cookie */
}

bool
pv_req_audit_is_counted(struct pv_req *r)
{
	if (!r->has_event || r->is_authenticated || r->status < 400)
		return false;
	pv_req_audit_settle(r);
	if (r->ev.actor != 0 || r->ev.nonce[0] != '\0' || r->ev_also_n > 0)
		return false;
	if (pv_denials_note(r->srv->denials, r->ip, r->ev.action,
	    r->ev.reason, pv_now()))
		return false;
	r->has_event = false;
	return true;
}

void
pv_req_audit_finish_sync(struct pv_req *r)
{
	struct pv_audit_event ev;
	bool is_ok = true;
	size_t i, n;

	if (!r->has_event || pv_req_audit_is_counted(r))
		return;
	pv_req_audit_settle(r);
	n = pv_req_audit_count(r);
	for (i = 0; i < n; i++) {
		pv_req_audit_event(r, i, &ev);
		if (pv_audit_append(r->srv->audit, &ev) != PV_OK)
			is_ok = false;
	}
	if (!is_ok)
		pv_reply_audit_unavailable(r);
	r->has_event = false;
}

bool
pv_req_audit_intent(struct pv_req *r)
{
	if (r->ev.outcome == NULL)
		pv_req_audit_outcome(r, "allowed", "ok");
	pv_req_audit_settle(r);
	r->has_event = false;
	if (pv_audit_append(r->srv->audit, &r->ev) != PV_OK) {
		pv_reply_audit_unavailable(r);
		return false;
	}
	return true;
}

void
pv_req_audit_followup(struct pv_req *r)
{
	if (r->status < 400)
		return;
	/* The change did not happen: a second entry says why. */
	if (r->ev.outcome == NULL || strcmp(r->ev.outcome, "allowed") == 0)
		pv_req_audit_outcome(r, r->status >= 500 ? "error" : "failed",
		    "write_failed");
	if (pv_audit_append(r->srv->audit, &r->ev) != PV_OK)
		pv_log(PV_LOG_ERROR, "audit_followup_failed", r->rid,
		    (const char *)NULL);
}

static void
run_write(struct pv_req *r)
{
	/* Write-ahead audit: the entry first (outcome as authorized). */
	if (!pv_req_audit_intent(r))
		return;
	r->write_fn(r);
	pv_req_audit_followup(r);
}

void
pv_req_write(struct pv_req *r, void (*fn)(struct pv_req *r))
{
	r->write_fn = fn;
	pv_req_defer(r, r->srv->writeq, run_write);
}

const char *
pv_req_token(struct pv_req *r, char *buf, size_t bufsz)
{
	const char *auth = pv_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *cookie;

	if (auth != NULL) {
		if (strncasecmp(auth, "Bearer ", 7) != 0)
			return NULL;
		auth += 7;
		while (*auth == ' ')
			auth++;
		return pv_strlcpy(buf, auth, bufsz) == PV_OK ? buf : NULL;
	}
	cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND,
	    "phivault_session");
	if (cookie == NULL)
		return NULL;
	return pv_strlcpy(buf, cookie, bufsz) == PV_OK ? buf : NULL;
}
