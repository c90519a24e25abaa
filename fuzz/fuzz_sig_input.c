/*
 * fuzz_sig_input.c — libFuzzer harness for the RFC 9421 Signature-Input /
 * Signature parser and the RFC 9530 Content-Digest parser
 * (src/auth/signature.c, linked as is: same code the server runs).
 *
 * Input layout: byte 0 picks the label mode (bit 0: NULL or "sig1"); the
 * rest is split at '\n' into Signature-Input, Signature and target URI.
 * A missing Signature becomes a valid one for "sig1", so the fuzzer does
 * not have to invent base64 to get past it. Each part is copied into a
 * heap buffer of its exact size, so AddressSanitizer catches any read
 * past the NUL.
 *
 * Beyond "no crash", it checks what the parser promises: a parsed struct
 * is in bounds and NUL-terminated, its components are valid names, and
 * params_raw is canonical (parsing "label=" params_raw again gives the
 * same params_raw). A broken promise aborts.
 *
 * Build and run: see fuzz/CMakeLists.txt.
 */
#include "auth/signature.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 64 zero bytes in base64, and a Signature field for "sig1" with it. */
#define ZERO_B64                                                               \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"            \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
#define ZERO_SIG "sig1=:" ZERO_B64 ":"

static const char *field_value; /* every covered field gets this */

static const char *
fuzz_header(void *arg, const char *lcname)
{
	(void)arg;
	return strcmp(lcname, "absent") == 0 ? NULL : field_value;
}

static char *
dup_part(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Splits off the bytes up to the next '\n' (or the end). */
static char *
next_part(const uint8_t **p, size_t *n, bool *has)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t k = nl == NULL ? *n : (size_t)(nl - *p);
	char *s;

	*has = *n > 0 || nl != NULL;
	s = dup_part(*p, k);
	*p += k;
	*n -= k;
	if (nl != NULL) {
		(*p)++;
		(*n)--;
	}
	return s;
}

static bool
same_params(const struct pv_sig_params *a, const struct pv_sig_params *b)
{
	size_t i;

	if (a->components_n != b->components_n ||
	    strcmp(a->label, b->label) != 0 ||
	    strcmp(a->params_raw, b->params_raw) != 0 ||
	    a->has_created != b->has_created || a->created != b->created ||
	    a->has_expires != b->has_expires || a->expires != b->expires ||
	    a->has_nonce != b->has_nonce || strcmp(a->nonce, b->nonce) != 0 ||
	    a->has_keyid != b->has_keyid || strcmp(a->keyid, b->keyid) != 0 ||
	    a->has_alg != b->has_alg || strcmp(a->alg, b->alg) != 0 ||
	    a->has_tag != b->has_tag || strcmp(a->tag, b->tag) != 0)
		return false;
	for (i = 0; i < a->components_n; i++)
		if (strcmp(a->components[i], b->components[i]) != 0)
			return false;
	return true;
}

static void
check_invariants(const struct pv_sig_params *p)
{
	struct pv_sig_params again;
	char *in, *sg;
	size_t i, n, m;

	if (p->components_n > PV_SIG_MAX_COMPONENTS ||
	    strnlen(p->label, sizeof(p->label)) == 0 ||
	    strnlen(p->label, sizeof(p->label)) == sizeof(p->label) ||
	    strnlen(p->params_raw, sizeof(p->params_raw)) ==
		sizeof(p->params_raw) ||
	    p->params_raw[0] != '(' ||
	    strnlen(p->keyid, sizeof(p->keyid)) == sizeof(p->keyid) ||
	    strnlen(p->nonce, sizeof(p->nonce)) == sizeof(p->nonce) ||
	    strnlen(p->alg, sizeof(p->alg)) == sizeof(p->alg) ||
	    strnlen(p->tag, sizeof(p->tag)) == sizeof(p->tag))
		abort();
	for (i = 0; i < p->components_n; i++)
		if (strnlen(p->components[i], sizeof(p->components[i])) ==
			sizeof(p->components[i]) ||
		    p->components[i][0] == '\0' ||
		    strpbrk(p->components[i], "\"\\\r\n ") != NULL ||
		    !pv_sig_covers(p, p->components[i]))
			abort();

	/* The canonical form is a fixed point and means the same. */
	n = strlen(p->label) + strlen(p->params_raw) + 2;
	m = strlen(p->label) + strlen(ZERO_B64) + 4;
	if ((in = malloc(n)) == NULL || (sg = malloc(m)) == NULL)
		abort();
	snprintf(in, n, "%s=%s", p->label, p->params_raw);
	snprintf(sg, m, "%s=:%s:", p->label, ZERO_B64);
	if (pv_sig_parse(in, sg, NULL, &again) != PV_OK ||
	    !same_params(p, &again))
		abort();
	free(in);
	free(sg);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (pv_crypto_init() != PV_OK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char pk[PV_SIG_ED25519_PK_BYTES] = { 1 };
	struct pv_sig_params p;
	struct pv_sig_request req;
	char base[PV_SIG_BASE_MAX + 1];
	char *input, *sig, *uri;
	const char *label;
	bool has_input, has_sig, has_uri;
	size_t n;

	if (size == 0)
		return 0;
	label = (data[0] & 1) ? "sig1" : NULL;
	data++;
	size--;
	input = next_part(&data, &size, &has_input);
	sig = next_part(&data, &size, &has_sig);
	uri = next_part(&data, &size, &has_uri);

	if (pv_sig_parse(input, has_sig ? sig : ZERO_SIG, label, &p) == PV_OK) {
		check_invariants(&p);
		req.method = "POST";
		req.target_uri = has_uri ? uri : "https://h:443/p?q";
		req.header = fuzz_header;
		req.header_arg = NULL;
		field_value = sig;
		if (pv_sig_base(&p, &req, base, sizeof(base), &n) == PV_OK &&
		    (n != strlen(base) || n > PV_SIG_BASE_MAX))
			abort();
		PV_IGNORE(pv_sig_verify_ed25519(&p, &req, pk));
	}
	PV_IGNORE(pv_sig_check_content_digest(input, (const unsigned char *)sig,
	    strlen(sig)));
	PV_IGNORE(pv_sig_check_content_digest(sig, NULL, 0));

	free(input);
	free(sig);
	free(uri);
	return 0;
}
