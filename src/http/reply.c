/*
 * reply.c — every byte phivault sends back goes through here.
 *
 * Guarantees:
 *  - every response carries the security headers (HSTS, no-store, nosniff,
 *    CSP default-src 'none', no framing, no referrer) and X-Request-Id;
 *  - errors are FHIR OperationOutcome resources whose text is a constant
 *    chosen by the handler: no exception text, path, SQL or value from the
 *    request is ever echoed (seed: "Don't expose sensitive information in
 *    error messages");
 *  - response buffers are wiped before they are freed, since they may
 *    hold decrypted PHI.
 */
#include "http/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const security_headers[][2] = {
	{ "Strict-Transport-Security", "max-age=63072000; includeSubDomains" },
	{ "Cache-Control", "no-store" },
	{ "Pragma", "no-cache" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
};

void
pv_reply_raw(struct pv_req *r, unsigned status, const char *ctype, char *buf,
    size_t len)
{
	if (r->resp_fd > 0) {		/* an error replaces a file body */
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
pv_reply_json(struct pv_req *r, unsigned status, json_t *body)
{
	char *text = NULL;

	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (text == NULL) {
		/* Out of memory while rendering: a fixed body, no allocation. */
		static const char oom[] = "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"error\",\"code\":\"exception\"}]}";
		text = strdup(oom);
		status = 500;
	}
	pv_reply_raw(r, status, "application/fhir+json", text,
	    text != NULL ? strlen(text) : 0);
}

void
pv_reply_error(struct pv_req *r, unsigned status, const char *code,
    const char *diag)
{
	pv_reply_error_detail(r, status, code, NULL, diag);
}

void
pv_reply_error_detail(struct pv_req *r, unsigned status, const char *code,
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
		json_object_set_new(issue, "details", json_pack(
		    "{s:[{s:s, s:s}], s:s}", "coding", "system",
		    "https://phivault.dev/fhir/issue-detail", "code", detail,
		    "text", detail));
	if (issue != NULL)
		json_object_set_new(issue, "diagnostics", json_string(diag));
	oo = json_pack("{s:s, s:[o]}", "resourceType", "OperationOutcome",
	    "issue", issue);
	pv_reply_json(r, status, oo);
}

void
pv_reply_header(struct pv_req *r, const char *name, const char *value)
{
	if (r->headers_n >= PV_EXTRA_HEADERS)
		return;
	if (pv_strlcpy(r->headers[r->headers_n][0], name, 256) != PV_OK ||
	    pv_strlcpy(r->headers[r->headers_n][1], value, 256) != PV_OK)
		return;
	r->headers_n++;
}

static void
wipe_free(void *p)
{
	/* MHD gives no length back; the request recorded it in the buffer
	 * header we prepend (see pv_reply_queue). */
	size_t *hdr = (size_t *)p - 1;

	sodium_memzero(hdr, *hdr + sizeof(size_t));
	free(hdr);
}

void
pv_reply_fd(struct pv_req *r, unsigned status, const char *ctype, int fd,
    uint64_t size)
{
	pv_reply_raw(r, status, ctype, NULL, 0);
	r->resp_fd = fd;
	r->resp_fd_size = size;
}

static void
add_headers(struct pv_req *r, struct MHD_Response *resp)
{
	size_t i;
	char ra[32];

	for (i = 0; i < PV_ARRAY_LEN(security_headers); i++)
		MHD_add_response_header(resp, security_headers[i][0],
		    security_headers[i][1]);
	MHD_add_response_header(resp, "X-Request-Id", r->rid);
	if (r->content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->content_type);
	for (i = 0; i < r->headers_n; i++)
		MHD_add_response_header(resp, r->headers[i][0],
		    r->headers[i][1]);
	if (atomic_load(&r->srv->is_stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	if (r->retry_after > 0 &&
	    pv_snprintf(ra, sizeof(ra), "%lld", (long long)r->retry_after) ==
	    PV_OK)
		MHD_add_response_header(resp, "Retry-After", ra);
}

enum MHD_Result
pv_reply_queue(struct pv_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t *hdr;

	/* The client must read the reply at min_body_rate (conns.c). */
	pv_conns_await_reply(r->srv->conns, r->cslot, r->resp_fd > 0 ?
	    r->resp_fd_size : r->resp_len);
	if (r->resp_fd > 0) {
		resp = MHD_create_response_from_fd64(r->resp_fd_size,
		    r->resp_fd);
		if (resp == NULL)
			return MHD_NO;
		r->resp_fd = 0;	/* MHD owns it now */
		add_headers(r, resp);
		ret = MHD_queue_response(r->conn, r->status, resp);
		MHD_destroy_response(resp);
		r->phase = PV_PHASE_QUEUED;
		return ret;
	}
	if (r->resp == NULL)
		pv_reply_error(r, 500, "exception", "no response was produced");
	/* Copy into a length-prefixed buffer so the free callback can wipe. */
	hdr = malloc(sizeof(size_t) + r->resp_len + 1);
	if (hdr == NULL)
		return MHD_NO;
	hdr[0] = r->resp_len;
	memcpy(hdr + 1, r->resp, r->resp_len);
	sodium_memzero(r->resp, r->resp_len);
	free(r->resp);
	r->resp = NULL;
	resp = MHD_create_response_from_buffer_with_free_callback(r->resp_len,
	    hdr + 1, wipe_free);
	if (resp == NULL) {
		sodium_memzero(hdr, sizeof(size_t) + r->resp_len);
		free(hdr);
		return MHD_NO;
	}
	add_headers(r, resp);
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	r->phase = PV_PHASE_QUEUED;
	return ret;
}
