/*
 * sig_bench.c — issue 7: the cost of RFC 9421 signature verification per
 * request, in nanoseconds, without TLS, HTTP or the store.
 *
 * The request is a realistic signed read, exactly as the npm package
 * http-message-signatures (tests/e2e/node/sign.mjs) signs it:
 *   GET https://127.0.0.1:8443/fhir/Observation/<32 hex>
 *   Signature-Input: sig=("@method" "@target-uri");created=<now>;
 *     keyid="<32 hex>";nonce="<22 base64url>";alg="ed25519"
 *   Signature: sig=:<base64 of 64 bytes>:
 * Cases: pv_sig_parse (both fields), pv_sig_base, the bare Ed25519
 * verification, pv_sig_verify_ed25519 (base + verify), the nonce digest,
 * inserting into the replay cache (pre-filled to a steady state), the
 * RFC 9530 Content-Digest check of a 1 KiB body (signed writes), and
 * "all of it" = what http/sigauth.c does per signed GET minus the key
 * lookup in SQLite (parse, coverage checks, base, verify, nonce digest,
 * replay-cache insert).
 *
 * usage: sig_bench [--rounds N] [--round-ms MS] [--out FILE]
 */
#include "microbench.h"

#include "auth/auth.h"
#include "auth/signature.h"

#define PREFILL 200000

struct ctx {
	char si[PV_SIG_INPUT_MAX + 1], sg[PV_SIG_SIGNATURE_MAX + 1];
	char target[256], keyid[PV_ID_HEX_LEN + 1];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	struct pv_sig_params p;
	struct pv_sig_request rq;
	char base[PV_SIG_BASE_MAX + 1];
	size_t base_len;
	struct pv_nonces *nonces;
	uint64_t counter;
	unsigned char body[1024];
	char digest_field[128];
};

static const char *
no_headers(void *arg, const char *lcname)
{
	(void)arg;
	(void)lcname;
	return NULL;
}

static void
c_parse(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	struct pv_sig_params p;

	for (uint64_t i = 0; i < n; i++) {
		if (pv_sig_parse(c->si, c->sg, NULL, &p) != PV_OK)
			mb_die("parse failed");
		MB_KEEP(p.created);
	}
}

static void
c_base(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	char base[PV_SIG_BASE_MAX + 1];
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if (pv_sig_base(&c->p, &c->rq, base, sizeof(base), &len) !=
		    PV_OK)
			mb_die("base failed");
		MB_KEEP(len);
	}
}

static void
c_ed25519(void *arg, uint64_t n)
{
	struct ctx *c = arg;

	for (uint64_t i = 0; i < n; i++)
		if (pv_sign_verify(c->p.sig, c->base, c->base_len, c->pk) !=
		    PV_OK)
			mb_die("ed25519 verify failed");
}

static void
c_verify(void *arg, uint64_t n)
{
	struct ctx *c = arg;

	for (uint64_t i = 0; i < n; i++)
		if (pv_sig_verify_ed25519(&c->p, &c->rq, c->pk) != PV_OK)
			mb_die("verify failed");
}

static void
c_nonce_digest(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	char d[PV_NONCE_DIGEST_HEX + 1];

	for (uint64_t i = 0; i < n; i++) {
		pv_nonce_digest(c->keyid, c->p.nonce, d);
		MB_KEEP(d[0]);
	}
}

/* A unique digest per call (the cache must never see a repeat). */
static void
next_digest(struct ctx *c, char d[PV_NONCE_DIGEST_HEX + 1])
{
	snprintf(d, PV_NONCE_DIGEST_HEX + 1, "%016llx%016llx",
	    (unsigned long long)c->counter * 0x9e3779b97f4a7c15ull,
	    (unsigned long long)c->counter);
	c->counter++;
}

static void
c_nonce_add(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	char d[PV_NONCE_DIGEST_HEX + 1];
	int64_t now = pv_now();

	for (uint64_t i = 0; i < n; i++) {
		next_digest(c, d);
		if (pv_nonces_add(c->nonces, d, now + 300, now) != PV_OK)
			mb_die("nonce cache insert failed");
	}
}

static void
c_digest_check(void *arg, uint64_t n)
{
	struct ctx *c = arg;

	for (uint64_t i = 0; i < n; i++)
		if (pv_sig_check_content_digest(c->digest_field, c->body,
			sizeof(c->body)) != PV_OK)
			mb_die("content-digest check failed");
}

static void
c_all(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	struct pv_sig_params p;
	char d[PV_NONCE_DIGEST_HEX + 1];
	int64_t now = pv_now();

	for (uint64_t i = 0; i < n; i++) {
		if (pv_sig_parse(c->si, c->sg, NULL, &p) != PV_OK ||
		    !p.has_keyid || !p.has_created || !p.has_nonce ||
		    !pv_sig_covers(&p, "@method") ||
		    !pv_sig_covers(&p, "@target-uri") ||
		    p.created < now - 300 || p.created > now + 300 ||
		    pv_sig_verify_ed25519(&p, &c->rq, c->pk) != PV_OK)
			mb_die("signed request refused");
		pv_nonce_digest(p.keyid, p.nonce, d);
		next_digest(c, d); /* unique, as a fresh nonce would be */
		if (pv_nonces_add(c->nonces, d, now + 300, now) != PV_OK)
			mb_die("nonce cache insert failed");
	}
}

int
main(int argc, char **argv)
{
	struct ctx *c = calloc(1, sizeof(struct ctx));
	unsigned char nonce_raw[16], sig[crypto_sign_BYTES];
	unsigned char h[32];
	char nonce[32], sigb64[128], resid[PV_ID_HEX_LEN + 1], hb64[64];
	char zero_sig[160];
	uint64_t max_add, i;
	size_t cap = 1000000; /* [signature] nonce_cache_max default */

	mb_init("sig_bench", argc, argv, NULL);
	if (mb_g.argc > 0)
		mb_die("unknown argument %s (see --help)", mb_g.argv[0]);
	if (c == NULL)
		mb_die("out of memory");
	crypto_sign_keypair(c->pk, c->sk);
	pv_random_id(c->keyid);
	pv_random_id(resid);
	pv_random_bytes(nonce_raw, sizeof(nonce_raw));
	if (pv_b64url_encode(nonce_raw, sizeof(nonce_raw), nonce,
		sizeof(nonce)) != PV_OK)
		mb_die("b64url");
	snprintf(c->target, sizeof(c->target),
	    "https://127.0.0.1:8443/fhir/Observation/%s", resid);
	snprintf(c->si, sizeof(c->si),
	    "sig=(\"@method\" \"@target-uri\");"
	    "created=%lld;keyid=\"%s\";nonce=\"%s\";alg=\"ed25519\"",
	    (long long)pv_now(), c->keyid, nonce);
	c->rq.method = "GET";
	c->rq.target_uri = c->target;
	c->rq.header = no_headers;
	c->rq.header_arg = NULL;
	/* Sign as a client does: parse our own input (with a placeholder
	 * signature) to get the canonical base, then sign the base. */
	memset(sig, 0, sizeof(sig));
	if (pv_b64_encode(sig, sizeof(sig), sigb64, sizeof(sigb64)) != PV_OK)
		mb_die("b64");
	snprintf(zero_sig, sizeof(zero_sig), "sig=:%s:", sigb64);
	if (pv_sig_parse(c->si, zero_sig, NULL, &c->p) != PV_OK ||
	    pv_sig_base(&c->p, &c->rq, c->base, sizeof(c->base),
		&c->base_len) != PV_OK)
		mb_die("cannot build the signature base");
	crypto_sign_detached(sig, NULL, (unsigned char *)c->base, c->base_len,
	    c->sk);
	if (pv_b64_encode(sig, sizeof(sig), sigb64, sizeof(sigb64)) != PV_OK)
		mb_die("b64");
	snprintf(c->sg, sizeof(c->sg), "sig=:%s:", sigb64);
	if (pv_sig_parse(c->si, c->sg, NULL, &c->p) != PV_OK ||
	    pv_sig_verify_ed25519(&c->p, &c->rq, c->pk) != PV_OK)
		mb_die("the benchmark's own signature does not verify");
	/* A 1 KiB body and its Content-Digest. */
	for (i = 0; i < sizeof(c->body); i++)
		c->body[i] = (unsigned char)('a' + i % 26);
	pv_sha256(h, c->body, sizeof(c->body));
	if (pv_b64_encode(h, sizeof(h), hb64, sizeof(hb64)) != PV_OK)
		mb_die("b64");
	snprintf(c->digest_field, sizeof(c->digest_field),
	    "sha-256=:%s:", hb64);
	/* The replay cache at a steady state: PREFILL live nonces. */
	if (pv_nonces_new(cap, &c->nonces) != PV_OK)
		mb_die("nonce cache");
	{
		char d[PV_NONCE_DIGEST_HEX + 1];
		int64_t now = pv_now();

		for (i = 0; i < PREFILL; i++) {
			next_digest(c, d);
			if (pv_nonces_add(c->nonces, d, now + 300, now) !=
			    PV_OK)
				mb_die("prefill");
		}
	}
	/* Inserts stay below 60 % occupancy whatever --rounds is. */
	max_add = (uint64_t)((double)cap * 0.3 / (2.0 * (mb_g.rounds + 3)));

	mb_figure("signature_input", json_string(c->si));
	mb_figure("signature_base_bytes",
	    json_integer((json_int_t)c->base_len));
	mb_figure("nonce_cache_prefill", json_integer(PREFILL));
	mb_figure("nonce_cache_capacity", json_integer((json_int_t)cap));

	mb_run("pv_sig_parse (Signature-Input + Signature)", c_parse, c, 0,
	    NULL);
	mb_run("pv_sig_base (signature base)", c_base, c, 0, NULL);
	mb_run("Ed25519 verify of the base (libsodium)", c_ed25519, c, 0, NULL);
	mb_run("pv_sig_verify_ed25519 (base + verify)", c_verify, c, 0, NULL);
	mb_run("pv_nonce_digest", c_nonce_digest, c, 0, NULL);
	mb_run("pv_nonces_add (replay cache insert)", c_nonce_add, c, max_add,
	    "cache pre-filled with 200k live nonces");
	mb_run("pv_sig_check_content_digest, 1 KiB body", c_digest_check, c, 0,
	    "signed writes only");
	mb_run("signed GET: everything but the key lookup", c_all, c, max_add,
	    "parse + coverage + window + base + verify + nonce digest + "
	    "replay-cache insert");

	pv_nonces_free(c->nonces);
	sodium_memzero(c->sk, sizeof(c->sk));
	free(c);
	return mb_finish();
}
