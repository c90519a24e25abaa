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
#include "http/internal.h"

#include <string.h>
#include <strings.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes one component (path or query) and checks it. in_path: slashes
 * delimit segments; %2F / %5C are refused and segments "." ".." too.
 */
static const char *
check_component(const char *s, size_t len, bool in_path)
{
	char seg[8];
	size_t seglen = 0, i;
	unsigned char dec[PV_PATH_BYTES];
	size_t n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c == 0x7f)
			return "control characters in the request target";
		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return "malformed %-escape";
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return "malformed %-escape";
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (c == 0)
				return "NUL byte in the request target";
			if (in_path && (c == '/' || c == '\\'))
				return "encoded slash in the path";
			if (c < 0x20 || c == 0x7f)
				return "control characters in the request target";
		} else if (in_path && c == '\\') {
			return "backslash in the path";
		}
		if (n < sizeof(dec))
			dec[n++] = c;
		if (in_path) {
			if (c == '/') {
				if ((seglen == 1 && seg[0] == '.') ||
				    (seglen == 2 && seg[0] == '.' && seg[1] == '.'))
					return "path traversal";
				seglen = 0;
			} else if (seglen < sizeof(seg)) {
				seg[seglen++] = (char)c;
			} else {
				seglen = sizeof(seg) + 1;
			}
		}
	}
	if (in_path && ((seglen == 1 && seg[0] == '.') ||
	    (seglen == 2 && seg[0] == '.' && seg[1] == '.')))
		return "path traversal";
	if (!pv_utf8_is_valid((const char *)dec, n))
		return "the request target is not valid UTF-8";
	return NULL;
}

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
	const char *q, *w;
	size_t plen;

	*why = NULL;
	if (!method_known(r->method)) {
		*why = "method not supported";
		return 405;
	}
	if (r->raw_uri[0] != '/') {
		*why = "the request target must be an absolute path";
		return 400;
	}
	q = strchr(r->raw_uri, '?');
	plen = q != NULL ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri);
	if ((w = check_component(r->raw_uri, plen, true)) != NULL ||
	    (q != NULL && (w = check_component(q + 1, strlen(q + 1),
	    false)) != NULL)) {
		*why = w;
		return 400;
	}
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &h);
	if (h.count > (size_t)r->srv->vault->cfg.max_headers) {
		*why = "too many header fields";
		return 431;
	}
	if (h.content_length > 1 || (h.content_length > 0 &&
	    h.transfer_encoding > 0) || h.transfer_encoding > 1 ||
	    h.is_bad_te) {
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
