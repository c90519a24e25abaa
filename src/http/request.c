/*
 * request.c — the libmicrohttpd side of a request: what a handler reads
 * (struct pv_hreq, bound to MHD's lookups here and nowhere else), and the
 * bytes sent back.
 *
 * Guarantees: every response carries the security headers (HSTS, no-store,
 * nosniff, CSP default-src 'none', no framing, no referrer) and X-Request-Id,
 * and its buffer is wiped before it is freed (it may hold decrypted PHI).
 */
#include "http/guard.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- what the handler reads ---- */

static const char *
mhd_lookup(const void *src, enum pv_lookup_kind kind, const char *name)
{
	const struct pv_req *r = src;
	enum MHD_ValueKind k = kind == PV_LOOKUP_QUERY ? MHD_GET_ARGUMENT_KIND
	    : kind == PV_LOOKUP_COOKIE                 ? MHD_COOKIE_KIND
						       : MHD_HEADER_KIND;

	return MHD_lookup_connection_value(r->conn, k, name);
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

static const char *
mhd_joined(const void *src, const char *name, char *buf, size_t bufsz)
{
	const struct pv_req *r = src;
	struct join_ctx c = { name, buf, bufsz, 0, false, false };

	if (bufsz == 0)
		return NULL;
	buf[0] = '\0';
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, join_value, &c);
	return c.is_found && !c.is_overflow ? buf : NULL;
}

void
pv_req_bind(struct pv_req *r)
{
	struct pv_hreq *q = &r->in;
	size_t i;

	q->svc = &r->srv->svc;
	q->method = r->method;
	q->route = r->route != NULL ? r->route->pattern : "";
	q->rid = r->rid;
	q->ip = r->ip;
	for (i = 0; i < PV_ROUTE_PARAMS; i++)
		q->params[i] = r->params[i];
	q->body = r->body;
	q->body_len = r->body_len;
	q->is_authenticated = r->is_authenticated;
	q->who = &r->who;
	q->lookup = mhd_lookup;
	q->joined = mhd_joined;
	q->src = r;
	r->out.rid = r->rid;
}

/* ---- what is sent back ---- */

static const char *const security_headers[][2] = {
	{ "Strict-Transport-Security", "max-age=63072000; includeSubDomains" },
	{ "Cache-Control", "no-store" },
	{ "Pragma", "no-cache" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Content-Security-Policy",
	    "default-src 'none'; frame-ancestors 'none'" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
};

static void
wipe_free(void *p)
{
	/* MHD gives no length back; the request recorded it in the buffer
	 * header we prepend (see pv_req_queue_reply). */
	size_t *hdr = (size_t *)p - 1;

	sodium_memzero(hdr, *hdr + sizeof(size_t));
	free(hdr);
}

static void
add_headers(struct pv_req *r, const struct pv_reply *p,
    struct MHD_Response *resp)
{
	size_t i;
	char ra[32];

	for (i = 0; i < PV_ARRAY_LEN(security_headers); i++)
		MHD_add_response_header(resp, security_headers[i][0],
		    security_headers[i][1]);
	MHD_add_response_header(resp, "X-Request-Id", r->rid);
	if (p->content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    p->content_type);
	for (i = 0; i < p->headers_n; i++)
		MHD_add_response_header(resp, p->headers[i][0],
		    p->headers[i][1]);
	if (atomic_load(&r->srv->is_stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	if (p->retry_after > 0 &&
	    pv_snprintf(ra, sizeof(ra), "%lld", (long long)p->retry_after) ==
		PV_OK)
		MHD_add_response_header(resp, "Retry-After", ra);
}

enum MHD_Result
pv_req_queue_reply(struct pv_req *r)
{
	struct pv_reply *p = &r->out;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t *hdr;

	/* The client must read the reply at min_body_rate (conns.c). */
	pv_conns_await_reply(r->srv->conns, r->cslot,
	    p->resp_fd > 0 ? p->resp_fd_size : p->resp_len);
	if (p->resp_fd > 0) {
		resp =
		    MHD_create_response_from_fd64(p->resp_fd_size, p->resp_fd);
		if (resp == NULL)
			return MHD_NO;
		p->resp_fd = 0; /* MHD owns it now */
		add_headers(r, p, resp);
		ret = MHD_queue_response(r->conn, p->status, resp);
		MHD_destroy_response(resp);
		r->phase = PV_PHASE_QUEUED;
		return ret;
	}
	if (p->resp == NULL)
		pv_reply_error(p, 500, "exception", "no response was produced");
	/* Copy into a length-prefixed buffer so the free callback can wipe. */
	hdr = malloc(sizeof(size_t) + p->resp_len + 1);
	if (hdr == NULL)
		return MHD_NO;
	hdr[0] = p->resp_len;
	memcpy(hdr + 1, p->resp, p->resp_len);
	sodium_memzero(p->resp, p->resp_len);
	free(p->resp);
	p->resp = NULL;
	resp = MHD_create_response_from_buffer_with_free_callback(p->resp_len,
	    hdr + 1, wipe_free);
	if (resp == NULL) {
		sodium_memzero(hdr, sizeof(size_t) + p->resp_len);
		free(hdr);
		return MHD_NO;
	}
	add_headers(r, p, resp);
	ret = MHD_queue_response(r->conn, p->status, resp);
	MHD_destroy_response(resp);
	r->phase = PV_PHASE_QUEUED;
	return ret;
}

void
pv_req_suspend(struct pv_req *r)
{
	atomic_fetch_add(&r->srv->suspended, 1);
	MHD_suspend_connection(r->conn);
}

void
pv_req_resume(struct pv_req *r)
{
	struct pv_server *srv = r->srv; /* r may be freed once resumed */

	MHD_resume_connection(r->conn);
	atomic_fetch_sub(&srv->suspended, 1);
}
