/*
 * signature.c — verifying RFC 9421 HTTP Message Signatures made with
 * Ed25519, and RFC 9530 Content-Digest, from header strings alone.
 *
 * Control: request authentication for clients that hold an Ed25519 key
 * (service accounts, integrations), and integrity of what they sent.
 * Defends against:
 *  - forged requests: only a holder of the private key can produce a
 *    signature that verifies over the signature base (RFC 9421 section 3.2);
 *  - tampering in transit or by an intermediary with the method, target,
 *    covered header fields or, through a covered Content-Digest, the body;
 *  - parser attacks on pre-authentication input: every field is bounded
 *    (PV_SIG_*_MAX), parsed by one forward pass with no recursion and no
 *    allocation, never read past its length or its NUL;
 *  - signature-base injection: component names and values may hold only
 *    printable ASCII (and HTAB in values), so no CR/LF or quote can forge
 *    an extra line of the base, and "@signature-params" is rebuilt from
 *    the parsed values (canonical RFC 8941 serialization), not copied;
 *  - ambiguity: duplicate labels, parameters or components are refused
 *    rather than resolved "last one wins" (RFC 8941 would), so what we
 *    verify is the only reading of the header;
 *  - algorithm confusion: Ed25519 only; an alg parameter, when present,
 *    must say "ed25519".
 * Does not defend against replay, or decide freshness, key trust or which
 * components must be covered: that is the caller's policy (see
 * signature.h). Ed25519, SHA-256 and base64 come from libsodium through
 * crypto/crypto.h; nothing cryptographic is implemented here.
 *
 * Grammar accepted (a strict subset of RFC 8941 as RFC 9421 uses it):
 *	Signature-Input = member *( OWS "," OWS member )
 *	member          = key "=" "(" *SP [ string *( 1*SP string ) *SP ] ")"
 *	                  *( ";" *SP param )
 *	param           = ("created" / "expires") "=" integer
 *	                / ("nonce" / "alg" / "keyid" / "tag") "=" string
 *	Signature       = key "=" ":" base64 ":" *( OWS "," OWS same )
 *	Content-Digest  = key "=" ":" base64 ":" *( OWS "," OWS same )
 * with RFC 8941 key, sf-string, sf-integer (at most 15 digits) and
 * sf-binary; leading and trailing SP of a field are ignored.
 */
#include "auth/signature.h"
#include "auth/signature_int.h"

#include "crypto/crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SF_INTEGER_DIGITS 15 /* RFC 8941 section 3.3.1 */
#define SF_B64_MAX PV_SIG_SIGNATURE_MAX /* base64 chars of one sf-binary */
#define SF_BIN_MAX (SF_B64_MAX / 4 * 3) /* its decoded bytes, at most */
#define PARAM_NAME_MAX 15 /* longest parameter name we know */

/* ---- a cursor over one bounded field value ---- */

struct cur {
	const char *s;
	size_t len;
	size_t i;
};

static int
peek(const struct cur *c)
{
	return c->i < c->len ? (unsigned char)c->s[c->i] : -1;
}

static bool
accept(struct cur *c, int ch)
{
	if (peek(c) != ch)
		return false;
	c->i++;
	return true;
}

/* Skips SP (not HTAB); returns how many. */
static size_t
skip_sp(struct cur *c)
{
	size_t n = 0;

	while (accept(c, ' '))
		n++;
	return n;
}

/* Skips OWS (SP and HTAB), as allowed around dictionary commas. */
static void
skip_ows(struct cur *c)
{
	while (accept(c, ' ') || accept(c, '\t'))
		;
}

/*
 * Bounds field to max bytes (its NUL found within max + 1, so a missing
 * NUL is never chased further), trims leading and trailing SP (RFC 8941
 * section 4.2) and refuses an empty field.
 */
static pv_status
cur_init(struct cur *c, const char *field, size_t max)
{
	size_t n;

	if (field == NULL)
		return PV_EINVAL;
	n = strnlen(field, max + 1);
	if (n > max)
		return PV_EINVAL;
	while (n > 0 && field[n - 1] == ' ')
		n--;
	c->s = field;
	c->len = n;
	c->i = 0;
	skip_sp(c);
	return c->i < c->len ? PV_OK : PV_EINVAL;
}

/* ---- an append-only, always NUL-terminated output buffer ---- */

void
sig_wb_init(struct wbuf *w, char *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->is_full = false;
	p[0] = '\0';
}

void
sig_wb_put(struct wbuf *w, const char *s, size_t n)
{
	if (w->is_full || n >= w->cap - w->len) {
		w->is_full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

void
sig_wb_puts(struct wbuf *w, const char *s)
{
	sig_wb_put(w, s, strlen(s));
}

void
sig_wb_putc(struct wbuf *w, int ch)
{
	char b = (char)ch;

	sig_wb_put(w, &b, 1);
}

/* ---- character classes (ASCII only, locale independent) ---- */

static bool
is_lcalpha(int ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* RFC 9110 tchar, lowercase letters only (field names are lowercased). */
bool
sig_is_lc_tchar(int ch)
{
	return is_lcalpha(ch) || is_digit(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool
is_b64_char(int ch)
{
	return is_lcalpha(ch) || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
	    ch == '+' || ch == '/' || ch == '=';
}

/* ---- RFC 8941 bare items ---- */

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static pv_status
parse_key(struct cur *c, char *out, size_t outsz)
{
	size_t n = 0;
	int ch = peek(c);

	if (!is_lcalpha(ch) && ch != '*')
		return PV_EINVAL;
	while ((ch = peek(c)) != -1 &&
	    (is_lcalpha(ch) || is_digit(ch) || ch == '_' || ch == '-' ||
		ch == '.' || ch == '*')) {
		if (n + 1 >= outsz)
			return PV_EINVAL;
		out[n++] = (char)ch;
		c->i++;
	}
	out[n] = '\0';
	return PV_OK;
}

/*
 * sf-string into out (outsz bytes with the NUL), escapes removed; its
 * canonical serialization is appended to ser. Printable ASCII only, and
 * the only escapes are \" and \\ (RFC 8941 section 4.2.5).
 */
static pv_status
parse_string(struct cur *c, char *out, size_t outsz, struct wbuf *ser)
{
	size_t n = 0;
	int ch;

	if (!accept(c, '"'))
		return PV_EINVAL;
	sig_wb_putc(ser, '"');
	for (;;) {
		if ((ch = peek(c)) == -1)
			return PV_EINVAL; /* unterminated */
		c->i++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			ch = peek(c);
			if (ch != '"' && ch != '\\')
				return PV_EINVAL;
			c->i++;
			sig_wb_putc(ser, '\\');
		} else if (ch < 0x20 || ch > 0x7e)
			return PV_EINVAL;
		if (n + 1 >= outsz)
			return PV_EINVAL;
		out[n++] = (char)ch;
		sig_wb_putc(ser, ch);
	}
	out[n] = '\0';
	sig_wb_putc(ser, '"');
	return PV_OK;
}

/* sf-integer: ["-"] 1*15DIGIT; a decimal is refused, not truncated. */
static pv_status
parse_integer(struct cur *c, int64_t *v, struct wbuf *ser)
{
	char buf[24];
	int64_t x = 0;
	size_t digits = 0;
	bool is_neg = accept(c, '-');
	int ch, k;

	while (is_digit(ch = peek(c))) {
		if (++digits > SF_INTEGER_DIGITS)
			return PV_EINVAL;
		x = x * 10 + (ch - '0'); /* < 10^15: no overflow */
		c->i++;
	}
	if (digits == 0 || peek(c) == '.')
		return PV_EINVAL;
	*v = is_neg ? -x : x;
	k = snprintf(buf, sizeof(buf), "%" PRId64, *v);
	if (k < 0 || (size_t)k >= sizeof(buf))
		return PV_EINVAL;
	sig_wb_put(ser, buf, (size_t)k);
	return PV_OK;
}

/*
 * sf-binary (":" base64 ":") decoded into out. RFC 8941 section 4.2.7
 * asks parsers not to fail on absent "=" padding, so it is restored
 * before libsodium's strict decoder sees the text.
 */
static pv_status
parse_binary(struct cur *c, unsigned char *out, size_t outsz, size_t *outlen)
{
	char b64[SF_B64_MAX + 4];
	size_t n = 0;
	int ch;

	if (!accept(c, ':'))
		return PV_EINVAL;
	while ((ch = peek(c)) != ':') {
		if (ch == -1 || !is_b64_char(ch) || n >= SF_B64_MAX)
			return PV_EINVAL;
		b64[n++] = (char)ch;
		c->i++;
	}
	c->i++;
	if (memchr(b64, '=', n) == NULL)
		while (n % 4 != 0)
			b64[n++] = '=';
	b64[n] = '\0';
	if (pv_b64_decode(b64, out, outsz, outlen) != PV_OK)
		return PV_EINVAL;
	return PV_OK;
}

/* ---- RFC 8941 dictionaries ---- */

/*
 * Called with the cursor just after "key="; parses the member's value and
 * parameters and leaves the cursor after them.
 */
typedef pv_status (*member_fn)(struct cur *c, const char *key, void *arg);

/*
 * Parses a whole dictionary, calling fn for each member, refusing
 * duplicate keys, members without a value, more than PV_SIG_MAX_MEMBERS
 * members, and a trailing comma. *members_n is the number of members.
 */
static pv_status
parse_dict(struct cur *c, member_fn fn, void *arg, size_t *members_n)
{
	char keys[PV_SIG_MAX_MEMBERS][PV_SIG_LABEL_MAX + 1];
	size_t n = 0, k;
	pv_status st;

	for (;;) {
		if (n == PV_SIG_MAX_MEMBERS)
			return PV_EINVAL;
		if ((st = parse_key(c, keys[n], sizeof(keys[n]))) != PV_OK)
			return st;
		for (k = 0; k < n; k++)
			if (strcmp(keys[k], keys[n]) == 0)
				return PV_EINVAL;
		if (!accept(c, '='))
			return PV_EINVAL;
		if ((st = fn(c, keys[n], arg)) != PV_OK)
			return st;
		n++;
		skip_ows(c);
		if (peek(c) == -1)
			break;
		if (!accept(c, ','))
			return PV_EINVAL;
		skip_ows(c);
		if (peek(c) == -1)
			return PV_EINVAL;
	}
	*members_n = n;
	return PV_OK;
}

/* ---- Signature-Input ---- */

/*
 * A component name: a lowercase field name (RFC 9421 section 2.1) or "@"
 * and a lowercase derived-component name. Nothing else can reach the
 * signature base, which keeps quotes and line breaks out of it.
 */
bool
sig_component_name_is_valid(const char *s)
{
	size_t i, n = strnlen(s, PV_SIG_COMPONENT_MAX + 1);

	if (n == 0 || n > PV_SIG_COMPONENT_MAX)
		return false;
	if (s[0] == '@') {
		for (i = 1; i < n; i++)
			if (!is_lcalpha(s[i]) && s[i] != '-')
				return false;
		return n > 1;
	}
	for (i = 0; i < n; i++)
		if (!sig_is_lc_tchar((unsigned char)s[i]))
			return false;
	return true;
}

/* The inner list of covered components, "(" ... ")". */
static pv_status
parse_components(struct cur *c, struct pv_sig_params *m, struct wbuf *ser)
{
	char name[PV_SIG_COMPONENT_MAX + 1];
	bool is_separated = true;

	if (!accept(c, '('))
		return PV_EINVAL;
	sig_wb_putc(ser, '(');
	skip_sp(c);
	while (!accept(c, ')')) {
		/* Items are separated by 1*SP (RFC 8941 section 3.1.1). */
		if (!is_separated || m->components_n == PV_SIG_MAX_COMPONENTS)
			return PV_EINVAL;
		if (m->components_n > 0)
			sig_wb_putc(ser, ' ');
		if (parse_string(c, name, sizeof(name), ser) != PV_OK)
			return PV_EINVAL;
		/* Component parameters (;sf ;key ;bs ;req ;name ;tr) would
		 * change the value signed; none is supported. */
		if (peek(c) == ';')
			return PV_EINVAL;
		if (!sig_component_name_is_valid(name) ||
		    pv_sig_covers(m, name))
			return PV_EINVAL;
		memcpy(m->components[m->components_n++], name,
		    strlen(name) + 1);
		is_separated = skip_sp(c) > 0;
	}
	sig_wb_putc(ser, ')');
	return PV_OK;
}

static pv_status
param_integer(struct cur *c, int64_t *v, bool *has, struct wbuf *ser)
{
	if (*has)
		return PV_EINVAL;
	*has = true;
	if (parse_integer(c, v, ser) != PV_OK || *v < 0)
		return PV_EINVAL;
	return PV_OK;
}

static pv_status
param_string(struct cur *c, char *v, size_t vsz, bool *has, struct wbuf *ser)
{
	if (*has)
		return PV_EINVAL;
	*has = true;
	return parse_string(c, v, vsz, ser);
}

/* The signature parameters of RFC 9421 section 2.3, in received order. */
static pv_status
parse_sig_params(struct cur *c, struct pv_sig_params *m, struct wbuf *ser)
{
	char name[PARAM_NAME_MAX + 1];
	pv_status st;

	while (accept(c, ';')) {
		skip_sp(c);
		if (parse_key(c, name, sizeof(name)) != PV_OK)
			return PV_EINVAL;
		/* A bare key is boolean true: no signature parameter is. */
		if (!accept(c, '='))
			return PV_EINVAL;
		sig_wb_putc(ser, ';');
		sig_wb_puts(ser, name);
		sig_wb_putc(ser, '=');
		if (strcmp(name, "created") == 0)
			st =
			    param_integer(c, &m->created, &m->has_created, ser);
		else if (strcmp(name, "expires") == 0)
			st =
			    param_integer(c, &m->expires, &m->has_expires, ser);
		else if (strcmp(name, "nonce") == 0)
			st = param_string(c, m->nonce, sizeof(m->nonce),
			    &m->has_nonce, ser);
		else if (strcmp(name, "keyid") == 0)
			st = param_string(c, m->keyid, sizeof(m->keyid),
			    &m->has_keyid, ser);
		else if (strcmp(name, "alg") == 0)
			st = param_string(c, m->alg, sizeof(m->alg),
			    &m->has_alg, ser);
		else if (strcmp(name, "tag") == 0)
			st = param_string(c, m->tag, sizeof(m->tag),
			    &m->has_tag, ser);
		else
			st = PV_EINVAL;
		if (st != PV_OK)
			return st;
	}
	return PV_OK;
}

struct input_ctx {
	const char *label; /* wanted; NULL: the only one */
	struct pv_sig_params *out;
	struct pv_sig_params scratch; /* every member is parsed in full */
	bool is_found;
};

static pv_status
on_input_member(struct cur *c, const char *key, void *arg)
{
	struct input_ctx *x = arg;
	struct pv_sig_params *m = &x->scratch;
	struct wbuf ser;
	pv_status st;

	memset(m, 0, sizeof(*m));
	memcpy(m->label, key, strlen(key) + 1); /* both LABEL_MAX + 1 */
	sig_wb_init(&ser, m->params_raw, sizeof(m->params_raw));
	if ((st = parse_components(c, m, &ser)) != PV_OK ||
	    (st = parse_sig_params(c, m, &ser)) != PV_OK)
		return st;
	if (ser.is_full)
		return PV_EINVAL;
	if (x->label == NULL || strcmp(key, x->label) == 0) {
		*x->out = *m;
		x->is_found = true;
	}
	return PV_OK;
}

/* ---- Signature ---- */

struct sigval_ctx {
	const char *label;
	unsigned char sig[PV_SIG_ED25519_BYTES];
	bool is_found;
};

static pv_status
on_sig_member(struct cur *c, const char *key, void *arg)
{
	struct sigval_ctx *x = arg;
	unsigned char bin[SF_BIN_MAX];
	size_t n;

	if (parse_binary(c, bin, sizeof(bin), &n) != PV_OK)
		return PV_EINVAL;
	if (peek(c) == ';') /* RFC 9421 defines no parameters */
		return PV_EINVAL;
	if (strcmp(key, x->label) == 0) {
		if (n != PV_SIG_ED25519_BYTES)
			return PV_EINVAL;
		memcpy(x->sig, bin, n);
		x->is_found = true;
	}
	return PV_OK;
}

pv_status
pv_sig_parse(const char *sig_input, const char *signature, const char *label,
    struct pv_sig_params *out)
{
	struct input_ctx ix;
	struct sigval_ctx sx;
	struct cur c;
	size_t n;
	pv_status st = PV_EINVAL;

	if (out == NULL)
		return PV_EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&ix, 0, sizeof(ix));
	memset(&sx, 0, sizeof(sx));
	ix.label = label;
	ix.out = out;
	if (cur_init(&c, sig_input, PV_SIG_INPUT_MAX) != PV_OK ||
	    parse_dict(&c, on_input_member, &ix, &n) != PV_OK)
		goto done;
	if (!ix.is_found || (label == NULL && n != 1))
		goto done;

	sx.label = out->label;
	if (cur_init(&c, signature, PV_SIG_SIGNATURE_MAX) != PV_OK ||
	    parse_dict(&c, on_sig_member, &sx, &n) != PV_OK)
		goto done;
	if (!sx.is_found || (label == NULL && n != 1))
		goto done;
	memcpy(out->sig, sx.sig, sizeof(out->sig));
	st = PV_OK;
done:
	if (st != PV_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

bool
pv_sig_covers(const struct pv_sig_params *p, const char *component)
{
	size_t i;

	if (p == NULL || component == NULL)
		return false;
	for (i = 0; i < p->components_n && i < PV_SIG_MAX_COMPONENTS; i++)
		if (strncmp(p->components[i], component,
			sizeof(p->components[i])) == 0)
			return true;
	return false;
}

/* ---- Content-Digest (RFC 9530 section 2) ---- */

struct digest_ctx {
	unsigned char want[PV_HASH_BYTES];
	bool is_found;
};

static pv_status
on_digest_member(struct cur *c, const char *key, void *arg)
{
	struct digest_ctx *x = arg;
	unsigned char bin[SF_BIN_MAX];
	size_t n;

	if (parse_binary(c, bin, sizeof(bin), &n) != PV_OK)
		return PV_EINVAL;
	if (peek(c) == ';') /* RFC 9530 defines no parameters */
		return PV_EINVAL;
	if (strcmp(key, "sha-256") == 0) {
		if (n != PV_HASH_BYTES)
			return PV_EINVAL;
		memcpy(x->want, bin, n);
		x->is_found = true;
	}
	return PV_OK;
}

pv_status
pv_sig_check_content_digest(const char *field, const unsigned char *body,
    size_t len)
{
	struct digest_ctx x;
	unsigned char got[PV_HASH_BYTES];
	struct cur c;
	size_t n;

	if (body == NULL && len != 0)
		return PV_EINVAL;
	memset(&x, 0, sizeof(x));
	if (cur_init(&c, field, PV_SIG_DIGEST_FIELD_MAX) != PV_OK ||
	    parse_dict(&c, on_digest_member, &x, &n) != PV_OK || !x.is_found)
		return PV_EINVAL;
	pv_sha256(got, body == NULL ? (const void *)"" : body, len);
	return pv_ct_equal(got, x.want, sizeof(got)) ? PV_OK : PV_ECRYPTO;
}
