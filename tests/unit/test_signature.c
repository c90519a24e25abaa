/*
 * test_signature.c — RFC 9421 / RFC 9530 verification (auth/signature.c).
 *
 * Proves: the RFC 9421 appendix B.2.6 Ed25519 example verifies byte for
 * byte (signature base, public key from the RFC's private key, and the
 * deterministic signature itself); the RFC 9421 section 2.2 derived
 * component examples; the RFC 9530 digest of {"hello": "world"}; that
 * changing the method, target, a covered field, the body or any signature
 * parameter breaks verification; and that malformed, truncated and
 * over-limit input is refused with PV_EINVAL (every limit is tested at
 * limit and limit + 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/signature.h"
#include "crypto/crypto.h"

/* ---- RFC 9421 appendix B.2.6 and B.1.4 ---- */

static const char b26_input[] =
    "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" "
    "\"content-type\" \"content-length\");created=1618884473"
    ";keyid=\"test-key-ed25519\"";
static const char b26_sig[] =
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
static const char b26_base[] =
    "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
    "\"@method\": POST\n"
    "\"@path\": /foo\n"
    "\"@authority\": example.com\n"
    "\"content-type\": application/json\n"
    "\"content-length\": 18\n"
    "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" "
    "\"content-type\" \"content-length\");created=1618884473"
    ";keyid=\"test-key-ed25519\"";
/* test-key-ed25519: JWK "x" and "d" of appendix B.1.4, as hex. */
static const char b14_pk_hex[] =
    "26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb";
static const char b14_seed_hex[] =
    "9f8362f87a484a954e6e740c5b4c0e84229139a20aa8ab56ff66586f6a7d29c5";

/* 64 zero bytes, as an sf-binary, with and without "=" padding. */
#define A8 "AAAAAAAA"
#define ZERO_SIG_B64_NOPAD A8 A8 A8 A8 A8 A8 A8 A8 A8 A8 "AAAAAA"
#define ZERO_SIG_B64 ZERO_SIG_B64_NOPAD "=="

/* ---- a request: a few header fields looked up by lowercase name ---- */

struct hdrs {
	const char *name[8];
	const char *value[8];
	size_t n;
};

static const char *
hdr_get(void *arg, const char *lcname)
{
	struct hdrs *h = arg;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->name[i], lcname) == 0)
			return h->value[i];
	return NULL;
}

static void
hdr_set(struct hdrs *h, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0) {
			h->value[i] = value;
			return;
		}
	assert_true(h->n < PV_ARRAY_LEN(h->name));
	h->name[h->n] = name;
	h->value[h->n++] = value;
}

/* The RFC 9421 appendix B.2 "test-request". */
static void
b2_request(struct pv_sig_request *req, struct hdrs *h)
{
	memset(h, 0, sizeof(*h));
	hdr_set(h, "host", "example.com");
	hdr_set(h, "date", "Tue, 20 Apr 2021 02:07:55 GMT");
	hdr_set(h, "content-type", "application/json");
	hdr_set(h, "content-digest",
	    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFC"
	    "hF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:");
	hdr_set(h, "content-length", "18");
	req->method = "POST";
	req->target_uri = "https://example.com/foo?param=Value&Pet=dog";
	req->header = hdr_get;
	req->header_arg = h;
}

static void
hex2bin(unsigned char *out, size_t n, const char *hex)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &len,
			     NULL),
	    0);
	assert_int_equal(len, n);
}

/* "label=:<b64 of sig>:" */
static void
sig_field(char *out, size_t outsz, const char *label,
    const unsigned char sig[PV_SIG_ED25519_BYTES])
{
	char b64[128];

	assert_int_equal(pv_b64_encode(sig, PV_SIG_ED25519_BYTES, b64,
			     sizeof(b64)),
	    PV_OK);
	assert_int_equal(pv_snprintf(out, outsz, "%s=:%s:", label, b64), PV_OK);
}

/* Parses with a dummy signature under label "sig1". */
static pv_status
parse_input(const char *input, struct pv_sig_params *p)
{
	return pv_sig_parse(input, "sig1=:" ZERO_SIG_B64 ":", NULL, p);
}

/* Builds the base of p over req and returns the value of one line. */
static const char *
base_line(const struct pv_sig_params *p, const struct pv_sig_request *req,
    const char *component, char *buf, size_t bufsz)
{
	char base[PV_SIG_BASE_MAX + 1], key[80];
	const char *line, *end;
	size_t n;

	assert_int_equal(pv_sig_base(p, req, base, sizeof(base), &n), PV_OK);
	assert_int_equal(pv_snprintf(key, sizeof(key), "\"%s\": ", component),
	    PV_OK);
	line = strstr(base, key);
	assert_non_null(line);
	line += strlen(key);
	end = strchr(line, '\n');
	n = end == NULL ? strlen(line) : (size_t)(end - line);
	assert_true(n < bufsz);
	memcpy(buf, line, n);
	buf[n] = '\0';
	return buf;
}

static int
setup(void **state)
{
	(void)state;
	return pv_crypto_init() == PV_OK ? 0 : -1;
}

/* ---- known answers ---- */

static void
test_rfc9421_b26_ed25519(void **state)
{
	struct pv_sig_params p;
	struct pv_sig_request req;
	struct hdrs h;
	unsigned char pk[32], seed[32], pk2[32], sk[64], sig[64];
	char base[PV_SIG_BASE_MAX + 1];
	size_t n;

	(void)state;
	hex2bin(pk, sizeof(pk), b14_pk_hex);
	hex2bin(seed, sizeof(seed), b14_seed_hex);
	b2_request(&req, &h);

	assert_int_equal(pv_sig_parse(b26_input, b26_sig, NULL, &p), PV_OK);
	assert_string_equal(p.label, "sig-b26");
	assert_int_equal(p.components_n, 6);
	assert_string_equal(p.components[0], "date");
	assert_string_equal(p.components[5], "content-length");
	assert_true(p.has_created);
	assert_int_equal(p.created, 1618884473);
	assert_false(p.has_expires);
	assert_false(p.has_nonce);
	assert_false(p.has_alg);
	assert_true(p.has_keyid);
	assert_string_equal(p.keyid, "test-key-ed25519");

	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n), PV_OK);
	assert_string_equal(base, b26_base);
	assert_int_equal(n, strlen(b26_base));
	assert_int_equal(pv_sig_verify_ed25519(&p, &req, pk), PV_OK);

	/* The key pair of B.1.4 and Ed25519's determinism reproduce the
	 * RFC's signature exactly. */
	assert_int_equal(crypto_sign_seed_keypair(pk2, sk, seed), 0);
	assert_memory_equal(pk, pk2, sizeof(pk));
	pv_sign_detached(sig, base, n, sk);
	assert_memory_equal(sig, p.sig, sizeof(sig));
	sodium_memzero(sk, sizeof(sk));

	/* Selecting the label by name gives the same. */
	assert_int_equal(pv_sig_parse(b26_input, b26_sig, "sig-b26", &p),
	    PV_OK);
	assert_int_equal(pv_sig_verify_ed25519(&p, &req, pk), PV_OK);
	assert_int_equal(pv_sig_parse(b26_input, b26_sig, "sig1", &p),
	    PV_EINVAL);
}

/* RFC 9421 section 2.2: POST /path?param=value, Host: www.example.com. */
static void
test_rfc9421_derived_components(void **state)
{
	struct pv_sig_params p;
	struct pv_sig_request req = { "POST",
		"https://www.example.com/path?param=value", NULL, NULL };
	char v[256];

	(void)state;
	assert_int_equal(parse_input("sig1=(\"@method\" \"@target-uri\" "
				     "\"@authority\" \"@scheme\" "
				     "\"@request-target\" \"@path\" "
				     "\"@query\")",
			     &p),
	    PV_OK);
	assert_string_equal(base_line(&p, &req, "@method", v, sizeof(v)),
	    "POST");
	assert_string_equal(base_line(&p, &req, "@target-uri", v, sizeof(v)),
	    "https://www.example.com/path?param=value");
	assert_string_equal(base_line(&p, &req, "@authority", v, sizeof(v)),
	    "www.example.com");
	assert_string_equal(base_line(&p, &req, "@scheme", v, sizeof(v)),
	    "https");
	assert_string_equal(base_line(&p, &req, "@request-target", v,
				sizeof(v)),
	    "/path?param=value");
	assert_string_equal(base_line(&p, &req, "@path", v, sizeof(v)),
	    "/path");
	assert_string_equal(base_line(&p, &req, "@query", v, sizeof(v)),
	    "?param=value");

	/* 2.2.7: the example query and an absent query ("?" alone). */
	req.target_uri = "https://www.example.com/path?param=value&foo=bar"
			 "&baz=bat%2Dman";
	assert_string_equal(base_line(&p, &req, "@query", v, sizeof(v)),
	    "?param=value&foo=bar&baz=bat%2Dman");
	req.target_uri = "https://www.example.com/path";
	assert_string_equal(base_line(&p, &req, "@query", v, sizeof(v)), "?");
	assert_string_equal(base_line(&p, &req, "@request-target", v,
				sizeof(v)),
	    "/path");

	/* 2.2.3: authority lowercased, default port dropped; others kept. */
	req.target_uri = "HTTPS://WWW.Example.COM:443";
	assert_string_equal(base_line(&p, &req, "@authority", v, sizeof(v)),
	    "www.example.com");
	assert_string_equal(base_line(&p, &req, "@scheme", v, sizeof(v)),
	    "https");
	assert_string_equal(base_line(&p, &req, "@path", v, sizeof(v)), "/");
	assert_string_equal(base_line(&p, &req, "@target-uri", v, sizeof(v)),
	    "HTTPS://WWW.Example.COM:443");
	req.target_uri = "https://127.0.0.1:8443/fhir/Patient/1?x=y";
	assert_string_equal(base_line(&p, &req, "@authority", v, sizeof(v)),
	    "127.0.0.1:8443");
	req.target_uri = "http://[::1]:80/a";
	assert_string_equal(base_line(&p, &req, "@authority", v, sizeof(v)),
	    "[::1]");
	assert_string_equal(base_line(&p, &req, "@scheme", v, sizeof(v)),
	    "http");
	req.target_uri = "https://h:80/a%2fb";
	assert_string_equal(base_line(&p, &req, "@authority", v, sizeof(v)),
	    "h:80");
	assert_string_equal(base_line(&p, &req, "@path", v, sizeof(v)),
	    "/a%2fb");
}

/* RFC 9530 section 2 / appendix B.1: {"hello": "world"}. */
static void
test_rfc9530_content_digest(void **state)
{
	static const char body[] = "{\"hello\": \"world\"}";
	static const char good[] =
	    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
	static const char sha512[] =
	    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFC"
	    "hF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
	const unsigned char *b = (const unsigned char *)body;
	size_t n = strlen(body);
	char field[PV_SIG_DIGEST_FIELD_MAX + 2];

	(void)state;
	assert_int_equal(pv_sig_check_content_digest(good, b, n), PV_OK);
	assert_int_equal(pv_sig_check_content_digest("sha-256=:"
						     "X48E9qOokqqrvdts8nOJRJN3O"
						     "WDUoyWxBf7kbu9DBPE:",
			     b, n),
	    PV_OK); /* padding omitted (RFC 8941 4.2.7) */
	assert_int_equal(pv_snprintf(field, sizeof(field), "%s, %s", sha512,
			     good),
	    PV_OK);
	assert_int_equal(pv_sig_check_content_digest(field, b, n), PV_OK);

	/* The body changed by one byte, truncated, or empty. */
	assert_int_equal(pv_sig_check_content_digest(good,
			     (const unsigned char *)"{\"hello\": \"World\"}",
			     n),
	    PV_ECRYPTO);
	assert_int_equal(pv_sig_check_content_digest(good, b, n - 1),
	    PV_ECRYPTO);
	assert_int_equal(pv_sig_check_content_digest(good, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_sig_check_content_digest("sha-256=:47DEQpj8HBSa+/"
						     "TImW+"
						     "5JCeuQeRkm5NMpJWZG3hSuFU="
						     ":",
			     NULL, 0),
	    PV_OK); /* SHA-256 of nothing */

	/* Malformed, or no sha-256 to check. */
	assert_int_equal(pv_sig_check_content_digest(sha512, b, n), PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest(NULL, b, n), PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest("", b, n), PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest("sha-256="
						     "X48E9qOokqqrvdts8nOJRJN3O"
						     "WDUoyWxBf7kbu9DBPE=",
			     b, n),
	    PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest("sha-256=:"
						     "X48E9qOokqqrvdts8nOJRJN3O"
						     "WDUoyWxBf7kbu9DBPE=",
			     b, n),
	    PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest("sha-256=:"
						     "X48E9qOokqqrvdts8nOJRJN3O"
						     "WDUoyWxBf7kbu9DB*E=:",
			     b, n),
	    PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest("sha-256=:"
						     "X48E9qOokqqrvdts8nOJRJN3O"
						     "WDUoyWxBf7kbu9D:",
			     b, n),
	    PV_EINVAL); /* 30 bytes */
	assert_int_equal(pv_snprintf(field, sizeof(field), "%s, %s", good,
			     good),
	    PV_OK);
	assert_int_equal(pv_sig_check_content_digest(field, b, n), PV_EINVAL);
	assert_int_equal(pv_snprintf(field, sizeof(field), "%s;x=1", good),
	    PV_OK);
	assert_int_equal(pv_sig_check_content_digest(field, b, n), PV_EINVAL);
	assert_int_equal(pv_snprintf(field, sizeof(field), "%s,", good), PV_OK);
	assert_int_equal(pv_sig_check_content_digest(field, b, n), PV_EINVAL);
	assert_int_equal(pv_sig_check_content_digest("SHA-256=:"
						     "X48E9qOokqqrvdts8nOJRJN3O"
						     "WDUoyWxBf7kbu9DBPE=:",
			     b, n),
	    PV_EINVAL);

	/* PV_SIG_DIGEST_FIELD_MAX: OWS before a last, unknown member pads
	 * the field to the limit, then one byte over. */
	memset(field, ' ', sizeof(field));
	memcpy(field, good, strlen(good));
	memcpy(field + PV_SIG_DIGEST_FIELD_MAX - 5, ",x=::", 5);
	field[PV_SIG_DIGEST_FIELD_MAX] = '\0';
	assert_int_equal(pv_sig_check_content_digest(field, b, n), PV_OK);
	memcpy(field + PV_SIG_DIGEST_FIELD_MAX - 4, ",x=::", 6);
	field[PV_SIG_DIGEST_FIELD_MAX - 5] = ' ';
	assert_int_equal(strlen(field), PV_SIG_DIGEST_FIELD_MAX + 1);
	assert_int_equal(pv_sig_check_content_digest(field, b, n), PV_EINVAL);
}

/* ---- a signer of our own, for tampering ---- */

struct signed_req {
	unsigned char pk[32], sk[64];
	char input[PV_SIG_INPUT_MAX + 1];
	char sig[256];
	struct hdrs h;
	struct pv_sig_request req;
};

static const char own_body[] = "{\"resourceType\":\"Patient\"}";
static char own_digest[128];

/* Signs req/h as they are now with input under label "sig1". */
static void
sign_now(struct signed_req *s, const char *input)
{
	struct pv_sig_params p;
	char base[PV_SIG_BASE_MAX + 1];
	unsigned char sig[64];
	size_t n;

	assert_int_equal(pv_strlcpy(s->input, input, sizeof(s->input)), PV_OK);
	assert_int_equal(parse_input(input, &p), PV_OK);
	assert_int_equal(pv_sig_base(&p, &s->req, base, sizeof(base), &n),
	    PV_OK);
	pv_sign_detached(sig, base, n, s->sk);
	sig_field(s->sig, sizeof(s->sig), "sig1", sig);
}

static const char own_input[] =
    "sig1=(\"@method\" \"@target-uri\" \"@authority\" \"content-digest\" "
    "\"content-type\");created=1700000000;expires=1700000300"
    ";nonce=\"n-0001\";keyid=\"svc-lab\";alg=\"ed25519\";tag=\"phivault\"";

static void
own_request(struct signed_req *s)
{
	unsigned char d[PV_HASH_BYTES];
	char b64[64];

	memset(s, 0, sizeof(*s));
	crypto_sign_keypair(s->pk, s->sk);
	pv_sha256(d, own_body, strlen(own_body));
	assert_int_equal(pv_b64_encode(d, sizeof(d), b64, sizeof(b64)), PV_OK);
	assert_int_equal(pv_snprintf(own_digest, sizeof(own_digest),
			     "sha-256=:%s:", b64),
	    PV_OK);
	hdr_set(&s->h, "content-digest", own_digest);
	hdr_set(&s->h, "content-type", "application/fhir+json");
	s->req.method = "POST";
	s->req.target_uri = "https://127.0.0.1:8443/fhir/Patient?x=y";
	s->req.header = hdr_get;
	s->req.header_arg = &s->h;
	sign_now(s, own_input);
}

static pv_status
own_verify(struct signed_req *s, const char *input, const char *sig)
{
	struct pv_sig_params p;
	pv_status st;

	if ((st = pv_sig_parse(input, sig, NULL, &p)) != PV_OK)
		return st;
	return pv_sig_verify_ed25519(&p, &s->req, s->pk);
}

static void
test_own_signature_roundtrip(void **state)
{
	struct signed_req s;
	struct pv_sig_params p;

	(void)state;
	own_request(&s);
	assert_int_equal(pv_sig_parse(s.input, s.sig, "sig1", &p), PV_OK);
	assert_true(p.has_expires && p.expires == 1700000300);
	assert_true(p.has_nonce);
	assert_string_equal(p.nonce, "n-0001");
	assert_string_equal(p.alg, "ed25519");
	assert_string_equal(p.tag, "phivault");
	assert_string_equal(p.params_raw, strchr(own_input, '('));
	assert_true(pv_sig_covers(&p, "content-digest"));
	assert_true(pv_sig_covers(&p, "@target-uri"));
	assert_false(pv_sig_covers(&p, "@path"));
	assert_false(pv_sig_covers(&p, "content-digest "));
	assert_false(pv_sig_covers(&p, ""));
	assert_false(pv_sig_covers(NULL, "@method"));
	assert_false(pv_sig_covers(&p, NULL));
	assert_int_equal(pv_sig_verify_ed25519(&p, &s.req, s.pk), PV_OK);
	assert_int_equal(pv_sig_check_content_digest(hdr_get(&s.h,
							 "content-digest"),
			     (const unsigned char *)own_body, strlen(own_body)),
	    PV_OK);
}

static void
test_tampering_fails(void **state)
{
	struct signed_req s;
	unsigned char other_pk[32], other_sk[64];
	char input[PV_SIG_INPUT_MAX + 1], sig[256];
	const char *t;

	(void)state;
	own_request(&s);
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_OK);

	/* Method. */
	s.req.method = "PUT";
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	s.req.method = "post";
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	s.req.method = "POST";

	/* Path, query, authority, scheme. */
	t = s.req.target_uri;
	s.req.target_uri = "https://127.0.0.1:8443/fhir/Patient/2?x=y";
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	s.req.target_uri = "https://127.0.0.1:8443/fhir/Patient?x=z";
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	s.req.target_uri = "https://127.0.0.1:8444/fhir/Patient?x=y";
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	s.req.target_uri = "http://127.0.0.1:8443/fhir/Patient?x=y";
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	s.req.target_uri = t;

	/* Body: the digest no longer matches it; a new digest to match a
	 * new body no longer matches the signature. */
	assert_int_equal(pv_sig_check_content_digest(own_digest,
			     (const unsigned char
				     *)"{\"resourceType\":\"Patient!\"}",
			     27),
	    PV_ECRYPTO);
	hdr_set(&s.h, "content-digest",
	    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	hdr_set(&s.h, "content-digest", own_digest);

	/* A covered header field; whitespace around it is not signed. */
	hdr_set(&s.h, "content-type", "application/json");
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	hdr_set(&s.h, "content-type", " \tapplication/fhir+json\t ");
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_OK);
	hdr_set(&s.h, "content-type", "application/fhir+json");
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_OK);

	/* Each signature parameter, and the covered list. */
	static const char *const bad_inputs[] = {
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000001"
		";expires=1700000300;nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000000"
		";expires=1800000300;nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000000"
		";expires=1700000300;nonce=\"n-0002\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000000"
		";expires=1700000300;nonce=\"n-0001\";keyid=\"svc-admin\""
		";alg=\"ed25519\";tag=\"phivault\"",
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000000"
		";expires=1700000300;nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"other\"",
		/* parameter order is signed too */
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");expires=1700000300"
		";created=1700000000;nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
		/* a parameter dropped */
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000000"
		";nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
		/* components reordered, dropped */
		"sig1=(\"@target-uri\" \"@method\" \"@authority\" "
		"\"content-digest\" \"content-type\");created=1700000000"
		";expires=1700000300;nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
		"sig1=(\"@method\" \"@target-uri\" \"@authority\" "
		"\"content-type\");created=1700000000"
		";expires=1700000300;nonce=\"n-0001\";keyid=\"svc-lab\""
		";alg=\"ed25519\";tag=\"phivault\"",
	};
	for (size_t i = 0; i < PV_ARRAY_LEN(bad_inputs); i++)
		assert_int_equal(own_verify(&s, bad_inputs[i], s.sig),
		    PV_ECRYPTO);

	/* The signature bytes, and another key. */
	assert_int_equal(pv_strlcpy(sig, s.sig, sizeof(sig)), PV_OK);
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	assert_int_equal(own_verify(&s, s.input, sig), PV_ECRYPTO);
	crypto_sign_keypair(other_pk, other_sk);
	memcpy(s.pk, other_pk, sizeof(other_pk));
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_ECRYPTO);
	sodium_memzero(other_sk, sizeof(other_sk));

	/* An alg other than ed25519 cannot be checked at all. */
	own_request(&s);
	assert_int_equal(pv_strlcpy(input, s.input, sizeof(input)), PV_OK);
	memcpy(strstr(input, "ed25519"), "ed25518", 7);
	assert_int_equal(own_verify(&s, input, s.sig), PV_EINVAL);

	/* A covered field missing from the request. */
	hdr_set(&s.h, "content-type", NULL);
	assert_int_equal(own_verify(&s, s.input, s.sig), PV_EINVAL);
}

/* ---- parsing ---- */

static void
test_parse_canonical_params(void **state)
{
	struct pv_sig_params p;

	(void)state;
	/* Optional whitespace is not part of what is signed. */
	assert_int_equal(parse_input("  sig1=(  \"@method\"   \"@path\"  )"
				     ";created=0001; keyid=\"a\\\"b\\\\c\";  "
				     "nonce=\"\"  ",
			     &p),
	    PV_OK);
	assert_string_equal(p.params_raw,
	    "(\"@method\" \"@path\");created=1"
	    ";keyid=\"a\\\"b\\\\c\";nonce=\"\"");
	assert_string_equal(p.keyid, "a\"b\\c");
	assert_true(p.has_nonce);
	assert_string_equal(p.nonce, "");
	assert_int_equal(p.created, 1);

	/* Signing no component at all is allowed; the caller's policy
	 * decides what must be covered. */
	assert_int_equal(parse_input("sig1=()", &p), PV_OK);
	assert_int_equal(p.components_n, 0);
	assert_string_equal(p.params_raw, "()");
	assert_int_equal(parse_input("sig1=( );created=0", &p), PV_OK);
	assert_string_equal(p.params_raw, "();created=0");

	/* Choosing one of several, with OWS around the commas. */
	assert_int_equal(pv_sig_parse("a=(\"@path\");keyid=\"ka\" ,\tb=("
				      "\"@method\");keyid=\"kb\"",
			     "b=:" ZERO_SIG_B64 ":,a=:" ZERO_SIG_B64 ":", "b",
			     &p),
	    PV_OK);
	assert_string_equal(p.label, "b");
	assert_string_equal(p.keyid, "kb");
	assert_string_equal(p.params_raw, "(\"@method\");keyid=\"kb\"");
	assert_int_equal(pv_sig_parse("a=(\"@path\"), b=(\"@method\")",
			     "b=:" ZERO_SIG_B64 ":", "b", &p),
	    PV_OK);
	assert_int_equal(pv_sig_parse("*a.b_c-d=()",
			     "*a.b_c-d=:" ZERO_SIG_B64 ":", NULL, &p),
	    PV_OK);
	/* Unpadded base64 is accepted (RFC 8941 4.2.7). */
	assert_int_equal(pv_sig_parse("sig1=()",
			     "sig1=:" ZERO_SIG_B64_NOPAD ":", NULL, &p),
	    PV_OK);
}

static void
test_parse_malformed(void **state)
{
	static const struct {
		const char *input, *sig, *label;
	} bad[] = {
		/* empty, absent */
		{ "", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "   ", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ NULL, "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()", NULL, NULL },
		{ "sig1=()", "", NULL },
		/* duplicate labels, in either field */
		{ "sig1=(\"@path\"), sig1=(\"@method\")",
		    "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@path\"), sig1=(\"@method\")",
		    "sig1=:" ZERO_SIG_B64 ":", "sig1" },
		{ "sig1=()", "sig1=:" ZERO_SIG_B64 ":, sig1=:" ZERO_SIG_B64 ":",
		    "sig1" },
		/* several signatures and no label chosen */
		{ "a=(), b=()", "a=:" ZERO_SIG_B64 ":, b=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "a=()", "a=:" ZERO_SIG_B64 ":, b=:" ZERO_SIG_B64 ":", NULL },
		/* the label missing from one field or the other */
		{ "a=()", "b=:" ZERO_SIG_B64 ":", NULL },
		{ "a=()", "a=:" ZERO_SIG_B64 ":", "b" },
		{ "a=(), b=()", "a=:" ZERO_SIG_B64 ":", "b" },
		/* missing quotes, unterminated strings, bad escapes */
		{ "sig1=(@method)", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@method)", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@method\");keyid=abc", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=();keyid=\"abc", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();keyid=\"a\\b\"", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();keyid=\"a\\\"", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();keyid=\"a\tb\"", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();keyid=\"a\xc3\xa9\"", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		/* not an inner list, unclosed, items not separated */
		{ "sig1=\"@method\"", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@method\"", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@method\"\"@path\")", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=((\"@method\"))", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\t\"@method\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		/* dictionary syntax */
		{ "sig1=(),", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ ",sig1=()", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=() x", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()x", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "Sig1=()", "Sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "1sig=()", "1sig=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1 =()", "sig1=:" ZERO_SIG_B64 ":", NULL },
		/* component names */
		{ "sig1=(\"Content-Type\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@Method\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"a b\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"a:\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"a\\\"\")", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=(\"@path\" \"@path\")", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=(\"content-type\";sf)", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=(\"@query-param\";name=\"a\")",
		    "sig1=:" ZERO_SIG_B64 ":", NULL },
		/* signature parameters: unknown, duplicated, wrong type */
		{ "sig1=();foo=1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=1;created=1", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=();keyid=\"a\";keyid=\"a\"", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=();created", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=\"1\"", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=1.5", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=-1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=-", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();created=1234567890123456", "sig1=:" ZERO_SIG_B64 ":",
		    NULL },
		{ "sig1=();expires=?1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();keyid=1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();keyid=:AAAA:", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();alg=ed25519", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();Created=1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=();", "sig1=:" ZERO_SIG_B64 ":", NULL },
		{ "sig1=() ;created=1", "sig1=:" ZERO_SIG_B64 ":", NULL },
		/* the signature: base64, length, framing, parameters */
		{ "sig1=()", "sig1=:!!!!:", NULL },
		{ "sig1=()", "sig1=:" ZERO_SIG_B64, NULL },
		{ "sig1=()", "sig1=" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()", "sig1=\"" ZERO_SIG_B64 "\"", NULL },
		{ "sig1=()", "sig1=::", NULL },
		{ "sig1=()", "sig1=:AAAA:", NULL },
		{ "sig1=()", "sig1=:A" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()", "sig1=:AAAA" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()", "sig1=:" ZERO_SIG_B64 ":;x=1", NULL },
		{ "sig1=()", "sig1=:AAAA*AAA" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()", "sig1=:A=AA" ZERO_SIG_B64 ":", NULL },
		{ "sig1=()", "sig1=(:" ZERO_SIG_B64 ":)", NULL },
		{ "sig1=()", "sig1=:" ZERO_SIG_B64 ":,", NULL },
		/* a well-formed but unchosen member must be well-formed */
		{ "sig1=(), x=(\"Bad\")", "sig1=:" ZERO_SIG_B64 ":", "sig1" },
		{ "sig1=()", "sig1=:" ZERO_SIG_B64 ":, x=:!:", "sig1" },
	};
	struct pv_sig_params p;
	size_t i;

	(void)state;
	for (i = 0; i < PV_ARRAY_LEN(bad); i++) {
		memset(&p, 0xa5, sizeof(p));
		if (pv_sig_parse(bad[i].input, bad[i].sig, bad[i].label, &p) !=
		    PV_EINVAL)
			fail_msg("accepted bad[%zu]: %s / %s", i,
			    bad[i].input ? bad[i].input : "(null)",
			    bad[i].sig ? bad[i].sig : "(null)");
		/* Nothing half-parsed is left for a careless caller. */
		assert_int_equal(p.components_n, 0);
		assert_false(p.has_keyid);
		assert_string_equal(p.params_raw, "");
	}
	assert_int_equal(pv_sig_parse("sig1=()", "sig1=:" ZERO_SIG_B64 ":",
			     NULL, NULL),
	    PV_EINVAL);
}

/* Every prefix of valid fields, in an exact-size heap copy (ASan). */
static void
test_parse_truncated(void **state)
{
	struct pv_sig_params p;
	size_t i, close = (size_t)(strchr(b26_input, ')') - b26_input);
	char *s;
	pv_status st;

	(void)state;
	for (i = 0; i < strlen(b26_input); i++) {
		s = malloc(i + 1);
		assert_non_null(s);
		memcpy(s, b26_input, i);
		s[i] = '\0';
		st = pv_sig_parse(s, b26_sig, NULL, &p);
		/* A cut after ';created=1' or so is a shorter valid field. */
		assert_true(st == PV_OK || st == PV_EINVAL);
		if (i <= close)
			assert_int_equal(st, PV_EINVAL);
		free(s);
	}
	for (i = 0; i < strlen(b26_sig); i++) {
		s = malloc(i + 1);
		assert_non_null(s);
		memcpy(s, b26_sig, i);
		s[i] = '\0';
		assert_int_equal(pv_sig_parse(b26_input, s, NULL, &p),
		    PV_EINVAL);
		free(s);
	}
}

/* Builds "sig1=(" items ")" params into out. */
static void
build_input(char *out, size_t outsz, size_t comps, size_t name_len,
    const char *params)
{
	size_t i, j, n;

	assert_int_equal(pv_strlcpy(out, "sig1=(", outsz), PV_OK);
	for (i = 0; i < comps; i++) {
		n = strlen(out);
		assert_true(n + name_len + 8 < outsz);
		if (i > 0)
			out[n++] = ' ';
		out[n++] = '"';
		out[n++] = (char)('a' + i % 26);
		for (j = 1; j < name_len; j++)
			out[n++] = (char)('a' + (i / 26) % 26);
		out[n++] = '"';
		out[n] = '\0';
	}
	assert_true(strlen(out) + strlen(params) + 2 < outsz);
	strcat(out, ")");
	strcat(out, params);
}

static void
test_limits(void **state)
{
	struct pv_sig_params p;
	struct pv_sig_request req = { "GET", "https://h/", NULL, NULL };
	struct hdrs h;
	char *in, *big, nonce[PV_SIG_NONCE_MAX + 2], params[512];
	char sig[PV_SIG_SIGNATURE_MAX + 2];
	char base[PV_SIG_BASE_MAX + 1];
	size_t i, n;

	(void)state;
	in = malloc(PV_SIG_INPUT_MAX + 2);
	big = malloc(PV_SIG_BASE_MAX + 2);
	assert_non_null(in);
	assert_non_null(big);

	/* Components: count and name length. */
	build_input(in, PV_SIG_INPUT_MAX + 2, PV_SIG_MAX_COMPONENTS, 4, "");
	assert_int_equal(parse_input(in, &p), PV_OK);
	assert_int_equal(p.components_n, PV_SIG_MAX_COMPONENTS);
	build_input(in, PV_SIG_INPUT_MAX + 2, PV_SIG_MAX_COMPONENTS + 1, 4, "");
	assert_int_equal(parse_input(in, &p), PV_EINVAL);
	build_input(in, PV_SIG_INPUT_MAX + 2, 1, PV_SIG_COMPONENT_MAX, "");
	assert_int_equal(parse_input(in, &p), PV_OK);
	build_input(in, PV_SIG_INPUT_MAX + 2, 1, PV_SIG_COMPONENT_MAX + 1, "");
	assert_int_equal(parse_input(in, &p), PV_EINVAL);

	/* String parameters. */
	static const struct {
		const char *name;
		size_t max;
	} strs[] = {
		{ "nonce", PV_SIG_NONCE_MAX },
		{ "keyid", PV_SIG_KEYID_MAX },
		{ "tag", PV_SIG_TAG_MAX },
		{ "alg", PV_SIG_ALG_MAX },
	};
	for (i = 0; i < PV_ARRAY_LEN(strs); i++) {
		memset(nonce, 'n', strs[i].max + 1);
		nonce[strs[i].max] = '\0';
		assert_int_equal(pv_snprintf(params, sizeof(params),
				     ";%s=\"%s\"", strs[i].name, nonce),
		    PV_OK);
		build_input(in, PV_SIG_INPUT_MAX + 2, 1, 4, params);
		assert_int_equal(parse_input(in, &p), PV_OK);
		nonce[strs[i].max] = 'n';
		nonce[strs[i].max + 1] = '\0';
		assert_int_equal(pv_snprintf(params, sizeof(params),
				     ";%s=\"%s\"", strs[i].name, nonce),
		    PV_OK);
		build_input(in, PV_SIG_INPUT_MAX + 2, 1, 4, params);
		assert_int_equal(parse_input(in, &p), PV_EINVAL);
	}
	/* Integers: 15 digits, not 16. */
	assert_int_equal(parse_input("sig1=();created=999999999999999", &p),
	    PV_OK);
	assert_int_equal(p.created, 999999999999999);
	assert_int_equal(parse_input("sig1=();created=0999999999999999", &p),
	    PV_EINVAL);

	/* Label length. */
	memset(params, 'l', PV_SIG_LABEL_MAX + 1);
	params[PV_SIG_LABEL_MAX] = '\0';
	assert_int_equal(pv_snprintf(in, PV_SIG_INPUT_MAX + 2, "%s=()", params),
	    PV_OK);
	assert_int_equal(pv_snprintf(sig, sizeof(sig), "%s=:%s:", params,
			     ZERO_SIG_B64),
	    PV_OK);
	assert_int_equal(pv_sig_parse(in, sig, NULL, &p), PV_OK);
	params[PV_SIG_LABEL_MAX] = 'l';
	params[PV_SIG_LABEL_MAX + 1] = '\0';
	assert_int_equal(pv_snprintf(in, PV_SIG_INPUT_MAX + 2, "%s=()", params),
	    PV_OK);
	assert_int_equal(pv_snprintf(sig, sizeof(sig), "%s=:%s:", params,
			     ZERO_SIG_B64),
	    PV_OK);
	assert_int_equal(pv_sig_parse(in, sig, NULL, &p), PV_EINVAL);

	/* Dictionary members. */
	in[0] = '\0';
	for (i = 0; i < PV_SIG_MAX_MEMBERS; i++) {
		n = strlen(in);
		assert_int_equal(pv_snprintf(in + n, PV_SIG_INPUT_MAX + 2 - n,
				     "%ss%zu=()", i ? ", " : "", i),
		    PV_OK);
	}
	assert_int_equal(pv_sig_parse(in, "s3=:" ZERO_SIG_B64 ":", "s3", &p),
	    PV_OK);
	strcat(in, ", s99=()");
	assert_int_equal(pv_sig_parse(in, "s3=:" ZERO_SIG_B64 ":", "s3", &p),
	    PV_EINVAL);

	/* Signature-Input bytes: SP inside the inner list pads it. */
	memset(in, ' ', PV_SIG_INPUT_MAX + 1);
	memcpy(in, "sig1=(\"@method\"", 15);
	in[PV_SIG_INPUT_MAX - 1] = ')';
	in[PV_SIG_INPUT_MAX] = '\0';
	assert_int_equal(parse_input(in, &p), PV_OK);
	assert_string_equal(p.params_raw, "(\"@method\")");
	in[PV_SIG_INPUT_MAX - 1] = ' ';
	in[PV_SIG_INPUT_MAX] = ')';
	in[PV_SIG_INPUT_MAX + 1] = '\0';
	assert_int_equal(parse_input(in, &p), PV_EINVAL);

	/* Signature bytes: OWS before the comma pads it. */
	memset(sig, ' ', sizeof(sig));
	memcpy(sig, "sig1=:" ZERO_SIG_B64 ":", 95);
	memcpy(sig + PV_SIG_SIGNATURE_MAX - 5, ",x=::", 5);
	sig[PV_SIG_SIGNATURE_MAX] = '\0';
	assert_int_equal(pv_sig_parse("sig1=()", sig, "sig1", &p), PV_OK);
	memcpy(sig + PV_SIG_SIGNATURE_MAX - 4, ",x=::", 6);
	sig[PV_SIG_SIGNATURE_MAX - 5] = ' ';
	assert_int_equal(strlen(sig), PV_SIG_SIGNATURE_MAX + 1);
	assert_int_equal(pv_sig_parse("sig1=()", sig, "sig1", &p), PV_EINVAL);

	/* Signature base: a field value that makes it just fit, then not. */
	assert_int_equal(parse_input("sig1=(\"x\")", &p), PV_OK);
	memset(&h, 0, sizeof(h));
	req.header = hdr_get;
	req.header_arg = &h;
	hdr_set(&h, "x", big);
	n = PV_SIG_BASE_MAX - strlen("\"x\": \n\"@signature-params\": (\"x\")");
	memset(big, 'v', n + 1);
	big[n] = '\0';
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &i), PV_OK);
	assert_int_equal(i, PV_SIG_BASE_MAX);
	big[n] = 'v';
	big[n + 1] = '\0';
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &i),
	    PV_EINVAL);
	assert_string_equal(base, "");
	/* ... and a caller's buffer too small for it. */
	big[3] = '\0';
	assert_int_equal(pv_sig_base(&p, &req, base, 10, &i), PV_EINVAL);
	assert_int_equal(pv_sig_base(&p, &req, base, 0, &i), PV_EINVAL);

	/* Target URI bytes. */
	assert_int_equal(parse_input("sig1=(\"@path\")", &p), PV_OK);
	memset(big, 'p', PV_SIG_TARGET_URI_MAX + 1);
	memcpy(big, "https://h/", 10);
	big[PV_SIG_TARGET_URI_MAX] = '\0';
	req.target_uri = big;
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &i), PV_OK);
	big[PV_SIG_TARGET_URI_MAX] = 'p';
	big[PV_SIG_TARGET_URI_MAX + 1] = '\0';
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &i),
	    PV_EINVAL);
	free(in);
	free(big);
}

/* Values that could forge a line of the base, and bad requests. */
static void
test_base_refuses_bad_values(void **state)
{
	struct pv_sig_params p;
	struct pv_sig_request req = { "GET", "https://h/a?b", NULL, NULL };
	struct hdrs h;
	char base[PV_SIG_BASE_MAX + 1];
	size_t n, i;
	static const char *const bad_values[] = {
		"a\r\n\"@method\": POST",
		"a\nb",
		"a\rb",
		"a\x01",
		"\x7f",
		"caf\xc3\xa9",
	};
	static const char *const bad_uris[] = {
		"/a?b",
		"h/a",
		"ftp://h/a",
		"https://",
		"https:///a",
		"https://u@h/a",
		"https://h/a#f",
		"https://h/a b",
		"https://h/\xc3\xa9",
		"https:/h/a",
		"",
		"https://h/\t",
	};
	static const char *const bad_methods[] = {
		"", "GE T", "GET\n", "G\"T",
		"AVERYLONGMETHODNAMEOVERTHIRTYTWOX", /* METHOD_MAX + 1 */
	};
	static const char *const unsupported[] = {
		"sig1=(\"@status\")",
		"sig1=(\"@signature-params\")",
		"sig1=(\"@query-param\")",
		"sig1=(\"@foo\")",
	};

	(void)state;
	memset(&h, 0, sizeof(h));
	req.header = hdr_get;
	req.header_arg = &h;
	assert_int_equal(parse_input("sig1=(\"x\" \"@method\" \"@path\")", &p),
	    PV_OK);
	hdr_set(&h, "x", "v\tw");
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n), PV_OK);
	assert_string_equal(base,
	    "\"x\": v\tw\n\"@method\": GET\n"
	    "\"@path\": /a\n"
	    "\"@signature-params\": (\"x\" \"@method\" \"@path\")");
	hdr_set(&h, "x", "");
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n), PV_OK);
	assert_non_null(strstr(base, "\"x\": \n"));

	for (i = 0; i < PV_ARRAY_LEN(bad_values); i++) {
		hdr_set(&h, "x", bad_values[i]);
		assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
		    PV_EINVAL);
	}
	hdr_set(&h, "x", "v");
	for (i = 0; i < PV_ARRAY_LEN(bad_uris); i++) {
		req.target_uri = bad_uris[i];
		if (pv_sig_base(&p, &req, base, sizeof(base), &n) != PV_EINVAL)
			fail_msg("accepted URI %s", bad_uris[i]);
	}
	req.target_uri = NULL;
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
	    PV_EINVAL);
	req.target_uri = "https://h/a";
	for (i = 0; i < PV_ARRAY_LEN(bad_methods); i++) {
		req.method = bad_methods[i];
		assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
		    PV_EINVAL);
	}
	req.method = NULL;
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
	    PV_EINVAL);
	req.method = "PROPFIND";
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n), PV_OK);

	for (i = 0; i < PV_ARRAY_LEN(unsupported); i++) {
		assert_int_equal(parse_input(unsupported[i], &p), PV_OK);
		assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
		    PV_EINVAL);
	}

	/* Without a header callback no field can be covered. */
	assert_int_equal(parse_input("sig1=(\"x\")", &p), PV_OK);
	req.header = NULL;
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
	    PV_EINVAL);

	/* A hand-made params struct is checked, not trusted. */
	assert_int_equal(parse_input("sig1=(\"@path\")", &p), PV_OK);
	memcpy(p.components[0], "@pa\nth", 7);
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
	    PV_EINVAL);
	assert_int_equal(parse_input("sig1=(\"@path\")", &p), PV_OK);
	p.components_n = PV_SIG_MAX_COMPONENTS + 1;
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
	    PV_EINVAL);
	assert_int_equal(parse_input("sig1=(\"@path\")", &p), PV_OK);
	memset(p.params_raw, '(', sizeof(p.params_raw));
	assert_int_equal(pv_sig_base(&p, &req, base, sizeof(base), &n),
	    PV_EINVAL);
	assert_int_equal(pv_sig_base(NULL, &req, base, sizeof(base), &n),
	    PV_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9421_b26_ed25519),
		cmocka_unit_test(test_rfc9421_derived_components),
		cmocka_unit_test(test_rfc9530_content_digest),
		cmocka_unit_test(test_own_signature_roundtrip),
		cmocka_unit_test(test_tampering_fails),
		cmocka_unit_test(test_parse_canonical_params),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_base_refuses_bad_values),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
