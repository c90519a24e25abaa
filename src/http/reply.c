/*
 * reply.c — what a handler fills: the reply and its audit note (the
 * server turns it into bytes in request.c and into entries in trail.c).
 *
 * Guarantees:
 *  - errors are FHIR OperationOutcome resources whose text is a constant
 *    chosen by the handler: no exception text, path, SQL or value from the
 *    request is ever echoed (seed: "Don't expose sensitive information in
 *    error messages");
 *  - response buffers are wiped before they are freed, since they may
 *    hold decrypted PHI.
 */
#include "http/handler.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
pv_reply_raw(struct pv_reply *r, unsigned status, const char *ctype, char *buf,
    size_t len)
{
	if (r->resp_fd > 0) { /* an error replaces a file body */
		close(r->resp_fd);
		r->resp_fd = 0;
	}
	if (r->resp != NULL) {
		sodium_memzero(r->resp, r->resp_len);
		free(r->resp);
	}
	r->status = status;
	r->content_type = ctype;
	r->resp = buf;
	r->resp_len = len;
}

void
pv_reply_json(struct pv_reply *r, unsigned status, json_t *body)
{
	char *text = NULL;

	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (text == NULL) {
		/* Out of memory while rendering: a fixed body, no allocation.
		 */
		static const char oom[] =
		    "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"error\",\"code\":\"exception\"}"
		    "]}";
		text = strdup(oom);
		status = 500;
	}
	pv_reply_raw(r, status, "application/fhir+json", text,
	    text != NULL ? strlen(text) : 0);
}

void
pv_reply_error(struct pv_reply *r, unsigned status, const char *code,
    const char *diag)
{
	pv_reply_error_detail(r, status, code, NULL, diag);
}

void
pv_reply_error_detail(struct pv_reply *r, unsigned status, const char *code,
    const char *detail, const char *diag)
{
	json_t *oo, *issue;
	char msg[256];

	if (status >= 500) {
		/* The only detail a 5xx carries is the id of our log line. */
		if (pv_snprintf(msg, sizeof(msg), "%s (request id %s)", diag,
			r->rid) == PV_OK)
			diag = msg;
	}
	issue = json_pack("{s:s, s:s}", "severity",
	    status >= 500 ? "fatal" : "error", "code", code);
	if (issue != NULL && detail != NULL)
		json_object_set_new(issue, "details",
		    json_pack("{s:[{s:s, s:s}], s:s}", "coding", "system",
			"https://phivault.dev/fhir/issue-detail", "code",
			detail, "text", detail));
	if (issue != NULL)
		json_object_set_new(issue, "diagnostics", json_string(diag));
	oo = json_pack("{s:s, s:[o]}", "resourceType", "OperationOutcome",
	    "issue", issue);
	pv_reply_json(r, status, oo);
}

void
pv_reply_header(struct pv_reply *r, const char *name, const char *value)
{
	if (r->headers_n >= PV_EXTRA_HEADERS)
		return;
	if (pv_strlcpy(r->headers[r->headers_n][0], name, 256) != PV_OK ||
	    pv_strlcpy(r->headers[r->headers_n][1], value, 256) != PV_OK)
		return;
	r->headers_n++;
}

void
pv_reply_fd(struct pv_reply *r, unsigned status, const char *ctype, int fd,
    uint64_t size)
{
	pv_reply_raw(r, status, ctype, NULL, 0);
	r->resp_fd = fd;
	r->resp_fd_size = size;
}

void
pv_reply_audit_unavailable(struct pv_reply *r)
{
	pv_reply_error_detail(r, 503, "transient", "audit_unavailable",
	    "the audit trail cannot be written; nothing was served");
	r->retry_after = 5;
	r->headers_n = 0; /* drop Location, ETag, Set-Cookie */
}

void
pv_reply_not_stored(struct pv_reply *r)
{
	pv_reply_error_detail(r, 503, "transient", "not_stored",
	    "the change could not be stored; nothing was changed, retry");
	r->retry_after = 2;
	r->headers_n = 0; /* drop Location and ETag */
}

void
pv_reply_clear(struct pv_reply *r)
{
	pv_reply_raw(r, 0, NULL, NULL, 0);
	pv_record_clear(&r->change.rec);
	if (r->job_free != NULL)
		r->job_free(r->job);
	r->job = NULL;
	r->job_free = NULL;
	free(r->note.also);
	r->note.also = NULL;
	r->note.also_n = 0;
}

void
pv_reply_continue(struct pv_reply *r, enum pv_next next, pv_handler fn)
{
	r->next = next;
	r->next_fn = fn;
}

void
pv_reply_apply(struct pv_reply *r, pv_handler finish)
{
	r->next = PV_NEXT_RECORD;
	r->next_fn = finish;
}

/* ---- the audit note ---- */

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
pv_note_subject(struct pv_reply *r, const char *type, const char *id,
    const char *patient)
{
	copy_id(r->note.type, sizeof(r->note.type), type);
	copy_id(r->note.id, sizeof(r->note.id), id);
	copy_id(r->note.patient, sizeof(r->note.patient), patient);
}

void
pv_note_outcome(struct pv_reply *r, const char *outcome, const char *reason)
{
	r->note.outcome = outcome;
	r->note.reason = reason;
}

void
pv_note_grant(struct pv_reply *r, int64_t grant)
{
	r->note.grant = grant;
}

void
pv_note_actor(struct pv_reply *r, int64_t actor, const char *role)
{
	r->note.actor = actor;
	copy_field(r->note.role, sizeof(r->note.role), role);
}

bool
pv_note_also(struct pv_reply *r, const char *type, const char *id,
    const char *patient, int64_t grant)
{
	struct pv_audit_also *a;

	if (r->note.also_n >= PV_AUDIT_ALSO_MAX)
		return false;
	if (r->note.also == NULL &&
	    (r->note.also = calloc(PV_AUDIT_ALSO_MAX, sizeof(*a))) == NULL)
		return false;
	a = &r->note.also[r->note.also_n++];
	copy_id(a->type, sizeof(a->type), type);
	copy_id(a->id, sizeof(a->id), id);
	copy_id(a->patient, sizeof(a->patient), patient);
	a->grant = grant;
	return true;
}
