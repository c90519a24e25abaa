/*
 * firewall.c — the input firewall in front of routing.
 *
 * Seed: "Web Application Firewall (WAF)". Before any handler or router
 * sees a request, it is refused (400, or 431 for too many headers) when:
 *  - the request target has control characters, a malformed %-escape,
 *    an escaped NUL, bytes that decode to invalid UTF-8 (path or query),
 *    an encoded slash or backslash in the path, or a "." / ".." segment
 *    (path traversal, in any spelling);
 *  - Content-Length is repeated, malformed, or sent together with
 *    Transfer-Encoding, or Transfer-Encoding is anything but chunked
 *    (request smuggling);
 *  - there are more than [server] max_headers header lines, more than
 *    one Host, or a header value holds a control character;
 *  - the method is not one phivault serves.
 * The rule that fired is counted in /metrics and logged; the reply names
 * the problem class, never echoes the input.
 */
#include "http/guard.h"

#include <string.h>
#include <strings.h>

struct hdr_scan {
	size_t count, content_length, transfer_encoding, host;
	bool is_bad_value, is_bad_te;
};

static enum MHD_Result
scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hdr_scan *h = cls;
	const char *p;

	(void)kind;
	h->count++;
	if (key == NULL)
		return MHD_YES;
	if (strcasecmp(key, "Content-Length") == 0)
		h->content_length++;
	else if (strcasecmp(key, "Host") == 0)
		h->host++;
	else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		h->transfer_encoding++;
		if (value == NULL || strcasecmp(value, "chunked") != 0)
			h->is_bad_te = true;
	}
	for (p = value; p != NULL && *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			h->is_bad_value = true;
	return MHD_YES;
}

static bool
method_known(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0 ||
	    strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
	    strcmp(m, "HEAD") == 0;
}

unsigned
pv_firewall_check(struct pv_req *r, const char **why)
{
	struct hdr_scan h = { 0, 0, 0, 0, false, false };
	const char *w;

	*why = NULL;
	if (!method_known(r->method)) {
		*why = "method not supported";
		return 405;
	}
	if ((w = pv_uri_check(r->raw_uri)) != NULL) {
		*why = w;
		return 400;
	}
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &h);
	if (h.count > (size_t)r->srv->vault->cfg.max_headers) {
		*why = "too many header fields";
		return 431;
	}
	if (h.content_length > 1 ||
	    (h.content_length > 0 && h.transfer_encoding > 0) ||
	    h.transfer_encoding > 1 || h.is_bad_te) {
		*why = "conflicting or repeated message length headers";
		return 400;
	}
	if (h.host > 1) {
		*why = "more than one Host header";
		return 400;
	}
	if (h.is_bad_value) {
		*why = "control characters in a header value";
		return 400;
	}
	return 0;
}
