/*
 * signature_base.c — the RFC 9421 signature base (section 2.5) of a
 * request, from its parsed Signature-Input parameters, and the Ed25519
 * check of a signature over it.
 *
 * Guarantees: derived components (@method, @authority, @path, @query,
 * @target-uri, ...) are computed from the request as received, header
 * values are taken whole with repeated lines joined as RFC 9110 says, and
 * "@signature-params" is the canonical serialization of what was parsed,
 * never the client's bytes; a base that does not fit its buffer is an
 * error, never a truncated base that might verify.
 */
#include "auth/signature_int.h"

#include "crypto/crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define METHOD_MAX 32 /* bytes of an HTTP method token */

/* ---- signature base (RFC 9421 section 2.5) ---- */

/* The target URI, split; views into the caller's string. */
struct uri {
	bool is_https;
	const char *authority;
	size_t authority_n;
	const char *path; /* "" when the URI has no path */
	size_t path_n;
	const char *query; /* "?..." or "" when absent */
	size_t query_n;
};

/*
 * Splits an absolute http(s) URI. Refuses anything that is not printable
 * ASCII without spaces, a fragment, userinfo and an empty authority:
 * none belongs in a request's target URI.
 */
static pv_status
uri_split(const char *s, struct uri *u)
{
	size_t n, i, a;

	if (s == NULL)
		return PV_EINVAL;
	n = strnlen(s, PV_SIG_TARGET_URI_MAX + 1);
	if (n > PV_SIG_TARGET_URI_MAX)
		return PV_EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f || s[i] == '#')
			return PV_EINVAL;
	if (strncasecmp(s, "https://", 8) == 0) {
		u->is_https = true;
		i = 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		u->is_https = false;
		i = 7;
	} else
		return PV_EINVAL;
	for (a = i; i < n && s[i] != '/' && s[i] != '?'; i++)
		;
	u->authority = s + a;
	u->authority_n = i - a;
	if (u->authority_n == 0 || memchr(u->authority, '@', u->authority_n))
		return PV_EINVAL;
	for (a = i; i < n && s[i] != '?'; i++)
		;
	u->path = s + a;
	u->path_n = i - a;
	u->query = s + i;
	u->query_n = n - i;
	return PV_OK;
}

/*
 * @authority (RFC 9421 section 2.2.3): normalized per RFC 9110 section
 * 4.2.3, that is lowercased and without the scheme's default port.
 */
static void
put_authority(struct wbuf *w, const struct uri *u)
{
	const char *dflt = u->is_https ? ":443" : ":80";
	size_t n = u->authority_n, dn = strlen(dflt), i;

	if (n > dn && memcmp(u->authority + n - dn, dflt, dn) == 0)
		n -= dn;
	else if (n > 1 && u->authority[n - 1] == ':')
		n--; /* empty port */
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)u->authority[i];

		sig_wb_putc(w, ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
}

static void
put_path(struct wbuf *w, const struct uri *u)
{
	if (u->path_n == 0)
		sig_wb_putc(w, '/'); /* an empty path is "/" (2.2.6) */
	else
		sig_wb_put(w, u->path, u->path_n);
}

/* A derived component's value; PV_EINVAL for one not supported. */
static pv_status
put_derived(struct wbuf *w, const char *name, const struct pv_sig_request *req)
{
	struct uri u;
	size_t i, n;

	if (strcmp(name, "@method") == 0) {
		/* A method is a token (RFC 9110 section 9.1); case kept. */
		n = req->method == NULL ? 0
					: strnlen(req->method, METHOD_MAX + 1);
		if (n == 0 || n > METHOD_MAX)
			return PV_EINVAL;
		for (i = 0; i < n; i++)
			if (!sig_is_lc_tchar((unsigned char)req->method[i]) &&
			    !(req->method[i] >= 'A' && req->method[i] <= 'Z'))
				return PV_EINVAL;
		sig_wb_put(w, req->method, n);
		return PV_OK;
	}
	if (uri_split(req->target_uri, &u) != PV_OK)
		return PV_EINVAL;
	if (strcmp(name, "@target-uri") == 0)
		sig_wb_puts(w, req->target_uri);
	else if (strcmp(name, "@authority") == 0)
		put_authority(w, &u);
	else if (strcmp(name, "@scheme") == 0)
		sig_wb_puts(w, u.is_https ? "https" : "http");
	else if (strcmp(name, "@path") == 0)
		put_path(w, &u);
	else if (strcmp(name, "@query") == 0) {
		/* An absent query is "?" alone (2.2.7). */
		if (u.query_n == 0)
			sig_wb_putc(w, '?');
		else
			sig_wb_put(w, u.query, u.query_n);
	} else if (strcmp(name, "@request-target") == 0) {
		put_path(w, &u); /* origin-form (2.2.5) */
		sig_wb_put(w, u.query, u.query_n);
	} else
		return PV_EINVAL; /* @status, @query-param, ... */
	return PV_OK;
}

/*
 * A header field's value: the caller's combined value with leading and
 * trailing whitespace stripped (RFC 9421 section 2.1). A value with a
 * control character or non-ASCII byte is refused: the base is ASCII and
 * a CR or LF would let a value forge the next line.
 */
static pv_status
put_field(struct wbuf *w, const char *name, const struct pv_sig_request *req)
{
	const char *v;
	size_t n, i;

	if (req->header == NULL ||
	    (v = req->header(req->header_arg, name)) == NULL)
		return PV_EINVAL;
	n = strnlen(v, PV_SIG_BASE_MAX + 1);
	if (n > PV_SIG_BASE_MAX)
		return PV_EINVAL;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	for (i = 0; i < n; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    (unsigned char)v[i] > 0x7e)
			return PV_EINVAL;
	sig_wb_put(w, v, n);
	return PV_OK;
}

pv_status
pv_sig_base(const struct pv_sig_params *p, const struct pv_sig_request *req,
    char *out, size_t outsz, size_t *outlen)
{
	struct wbuf w;
	const char *name;
	size_t i;
	pv_status st;

	if (p == NULL || req == NULL || out == NULL || outsz == 0 ||
	    outlen == NULL)
		return PV_EINVAL;
	*outlen = 0;
	sig_wb_init(&w, out,
	    outsz < PV_SIG_BASE_MAX + 1 ? outsz : PV_SIG_BASE_MAX + 1);
	/* p may have been filled by hand: trust none of it. */
	if (p->components_n > PV_SIG_MAX_COMPONENTS ||
	    strnlen(p->params_raw, sizeof(p->params_raw)) ==
		sizeof(p->params_raw) ||
	    p->params_raw[0] != '(')
		return PV_EINVAL;
	for (i = 0; i < p->components_n; i++) {
		name = p->components[i];
		if (!sig_component_name_is_valid(name))
			return PV_EINVAL;
		sig_wb_putc(&w, '"');
		sig_wb_puts(&w, name);
		sig_wb_puts(&w, "\": ");
		st = name[0] == '@' ? put_derived(&w, name, req)
				    : put_field(&w, name, req);
		if (st != PV_OK)
			goto fail;
		sig_wb_putc(&w, '\n');
	}
	sig_wb_puts(&w, "\"@signature-params\": ");
	sig_wb_puts(&w, p->params_raw);
	if (w.is_full)
		goto fail;
	*outlen = w.len;
	return PV_OK;
fail:
	out[0] = '\0';
	return PV_EINVAL;
}

pv_status
pv_sig_verify_ed25519(const struct pv_sig_params *p,
    const struct pv_sig_request *req,
    const unsigned char pk[PV_SIG_ED25519_PK_BYTES])
{
	char base[PV_SIG_BASE_MAX + 1];
	size_t n;

	if (p == NULL || pk == NULL)
		return PV_EINVAL;
	if (p->has_alg && strcmp(p->alg, "ed25519") != 0)
		return PV_EINVAL;
	if (pv_sig_base(p, req, base, sizeof(base), &n) != PV_OK)
		return PV_EINVAL;
	return pv_sign_verify(p->sig, base, n, pk) == PV_OK ? PV_OK
							    : PV_ECRYPTO;
}
