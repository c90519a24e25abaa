/*
 * batchsig.c — signing and checking the "bsig" field that ends each
 * group commit of the audit log. The format, the message and why one
 * signature covers everything before it are in batchsig.h.
 *
 * The field is recognised only at the very end of a line, at a fixed
 * offset from it, so finding it costs O(1) and a value elsewhere in the
 * line cannot pose as it (our values never hold a quote anyway).
 */
#include "audit/batchsig.h"

#include <string.h>

#define DOMAIN_LEN (sizeof(PV_BSIG_DOMAIN) - 1)
#define FIELD_LEN (sizeof(PV_BSIG_FIELD) - 1)

/*
 * Writes the signed message for base (base_len bytes without the closing
 * brace) into msg: the domain, base, "}". Returns its length.
 */
static size_t
message(char msg[DOMAIN_LEN + PV_BSIG_LINE_MAX + 1], const char *base,
    size_t base_len)
{
	memcpy(msg, PV_BSIG_DOMAIN, DOMAIN_LEN);
	memcpy(msg + DOMAIN_LEN, base, base_len);
	msg[DOMAIN_LEN + base_len] = '}';
	return DOMAIN_LEN + base_len + 1;
}

pv_status
pv_bsig_sign(char *line, size_t *len, size_t cap,
    const unsigned char sk[PV_SIGN_SK_BYTES])
{
	char msg[DOMAIN_LEN + PV_BSIG_LINE_MAX + 1];
	char b64[PV_BSIG_B64_LEN + 1];
	unsigned char sig[PV_SIG_BYTES];
	size_t n = *len, mlen;
	pv_status st;

	if (n == 0 || n > PV_BSIG_LINE_MAX || line[n - 1] != '}')
		return PV_EINVAL;
	if (n + PV_BSIG_EXTRA >= cap)
		return PV_ETOOBIG;
	mlen = message(msg, line, n - 1);
	pv_sign_detached(sig, msg, mlen, sk);
	if ((st = pv_b64_encode(sig, sizeof(sig), b64, sizeof(b64))) != PV_OK)
		return st;
	/* ...,"prev":"..."}  ->  ...,"prev":"...","bsig":"<sig>"} */
	memcpy(line + n - 1, PV_BSIG_FIELD, FIELD_LEN);
	memcpy(line + n - 1 + FIELD_LEN, b64, PV_BSIG_B64_LEN);
	memcpy(line + n - 1 + FIELD_LEN + PV_BSIG_B64_LEN, "\"}", 2);
	*len = n + PV_BSIG_EXTRA;
	line[*len] = '\0';
	return PV_OK;
}

bool
pv_bsig_present(const char *line, size_t len)
{
	const char *f;

	if (len < PV_BSIG_EXTRA + 2)
		return false;
	f = line + len - PV_BSIG_EXTRA - 1;
	return memcmp(f, PV_BSIG_FIELD, FIELD_LEN) == 0 &&
	    line[len - 2] == '"' && line[len - 1] == '}';
}

pv_status
pv_bsig_verify(const char *line, size_t len,
    const unsigned char pk[PV_SIGN_PK_BYTES])
{
	char msg[DOMAIN_LEN + PV_BSIG_LINE_MAX + 1];
	char b64[PV_BSIG_B64_LEN + 1];
	unsigned char sig[PV_SIG_BYTES];
	size_t base_len, mlen, n;

	if (!pv_bsig_present(line, len))
		return PV_ENOTFOUND;
	if (len > PV_BSIG_LINE_MAX)
		return PV_ECRYPTO;
	base_len = len - PV_BSIG_EXTRA - 1;
	memcpy(b64, line + base_len + FIELD_LEN, PV_BSIG_B64_LEN);
	b64[PV_BSIG_B64_LEN] = '\0';
	if (pv_b64_decode(b64, sig, sizeof(sig), &n) != PV_OK ||
	    n != sizeof(sig))
		return PV_ECRYPTO;
	mlen = message(msg, line, base_len);
	return pv_sign_verify(sig, msg, mlen, pk) == PV_OK ? PV_OK : PV_ECRYPTO;
}
