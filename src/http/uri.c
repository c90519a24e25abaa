/*
 * uri.c — the request-target rules of the input firewall, as a pure
 * function (no MHD state), so the fuzz harness can drive it directly.
 *
 * Refused: a target that is not an absolute path; control characters;
 * malformed %-escapes; an escaped NUL; bytes that decode to invalid
 * UTF-8 in the path or the query; an encoded slash or a backslash in the
 * path; a "." or ".." path segment in any spelling (traversal).
 */
#include "http/guard.h"

#include <string.h>

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
				return "control characters in the request "
				       "target";
		} else if (in_path && c == '\\') {
			return "backslash in the path";
		}
		if (n < sizeof(dec))
			dec[n++] = c;
		if (in_path) {
			if (c == '/') {
				if ((seglen == 1 && seg[0] == '.') ||
				    (seglen == 2 && seg[0] == '.' &&
					seg[1] == '.'))
					return "path traversal";
				seglen = 0;
			} else if (seglen < sizeof(seg)) {
				seg[seglen++] = (char)c;
			} else {
				seglen = sizeof(seg) + 1;
			}
		}
	}
	if (in_path &&
	    ((seglen == 1 && seg[0] == '.') ||
		(seglen == 2 && seg[0] == '.' && seg[1] == '.')))
		return "path traversal";
	if (!pv_utf8_is_valid((const char *)dec, n))
		return "the request target is not valid UTF-8";
	return NULL;
}

const char *
pv_uri_check(const char *raw_uri)
{
	const char *q, *w;
	size_t plen;

	if (raw_uri[0] != '/')
		return "the request target must be an absolute path";
	if (strlen(raw_uri) >= PV_PATH_BYTES - 1)
		return "the request target is too long";
	q = strchr(raw_uri, '?');
	plen = q != NULL ? (size_t)(q - raw_uri) : strlen(raw_uri);
	if ((w = check_component(raw_uri, plen, true)) != NULL)
		return w;
	if (q != NULL &&
	    (w = check_component(q + 1, strlen(q + 1), false)) != NULL)
		return w;
	return NULL;
}
