/*
 * proxyproto.c — the PROXY protocol v2 header parser (see proxyproto.h
 * for what is accepted and why).
 *
 * Guarantees: never reads past buf[n) nor past the header's own length;
 * checks each byte as soon as it is there (signature, then version and
 * command, then family and transport, then the length against the cap),
 * so a peer learns nothing by trickling and a non-PROXY stream is
 * refused on its first wrong byte; the result is all-or-nothing (h is
 * meaningful only on PV_PROXY_DONE). Fuzzed: fuzz/fuzz_proxy.c.
 */
#include "http/proxyproto.h"

#include <string.h>

static const uint8_t signature[PV_PROXY_SIG_BYTES] = { 0x0d, 0x0a, 0x0d, 0x0a,
	0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

enum {
	CMD_LOCAL = 0x0,
	CMD_PROXY = 0x1,
	FAM_UNSPEC = 0x0,
	FAM_INET = 0x1,
	FAM_INET6 = 0x2,
	FAM_UNIX = 0x3,
	TRANSPORT_STREAM = 0x1,
	TRANSPORT_DGRAM = 0x2,
	INET_BYTES = 12, /* two IPv4 addresses, two ports */
	INET6_BYTES = 36 /* two IPv6 addresses, two ports */
};

static enum pv_proxy_verdict
bad(const char **why, const char *w)
{
	*why = w;
	return PV_PROXY_BAD;
}

/* The fixed part, as far as n bytes go. */
static enum pv_proxy_verdict
check_fixed(const uint8_t *buf, size_t n, const char **why)
{
	size_t sig_n = n < PV_PROXY_SIG_BYTES ? n : PV_PROXY_SIG_BYTES;
	unsigned cmd, fam, transport;

	if (memcmp(buf, signature, sig_n) != 0)
		return bad(why, "not a PROXY protocol v2 signature");
	if (n > 12 && (buf[12] >> 4) != 0x2)
		return bad(why, "not PROXY protocol version 2");
	cmd = n > 12 ? (unsigned)(buf[12] & 0x0f) : CMD_LOCAL;
	if (cmd != CMD_LOCAL && cmd != CMD_PROXY)
		return bad(why, "unknown PROXY command");
	if (n <= 13)
		return PV_PROXY_MORE;
	fam = buf[13] >> 4;
	transport = buf[13] & 0x0fu;
	if (fam > FAM_UNIX || transport > TRANSPORT_DGRAM)
		return bad(why, "unknown address family or transport");
	if (cmd == CMD_PROXY && fam != FAM_INET && fam != FAM_INET6)
		return bad(why, "PROXY without an IPv4 or IPv6 address");
	if (cmd == CMD_PROXY && transport != TRANSPORT_STREAM)
		return bad(why, "PROXY for a transport other than TCP");
	return PV_PROXY_MORE;
}

/* TLVs in buf[0..n): each (type, length, value) must fit. */
static bool
tlvs_fit(const uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		size_t len;

		if (n - off < 3)
			return false;
		len = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (len > n - off - 3)
			return false;
		off += 3 + len;
	}
	return true;
}

static void
read_addresses(const uint8_t *p, bool is_v6, struct pv_proxy_hdr *h)
{
	size_t alen = is_v6 ? 16 : 4;

	h->is_v6 = is_v6;
	memcpy(h->src, p, alen);
	memcpy(h->dst, p + alen, alen);
	h->src_port = (uint16_t)(p[2 * alen] << 8 | p[2 * alen + 1]);
	h->dst_port = (uint16_t)(p[2 * alen + 2] << 8 | p[2 * alen + 3]);
}

enum pv_proxy_verdict
pv_proxy_parse(const uint8_t *buf, size_t n, struct pv_proxy_hdr *h,
    size_t *need, const char **why)
{
	size_t len, addr_len;
	bool is_local;

	memset(h, 0, sizeof(*h));
	*why = NULL;
	*need = PV_PROXY_FIXED_BYTES;
	if (n == 0)
		return PV_PROXY_MORE;
	if (check_fixed(buf, n, why) == PV_PROXY_BAD)
		return PV_PROXY_BAD;
	if (n < PV_PROXY_FIXED_BYTES)
		return PV_PROXY_MORE;
	len = (size_t)buf[14] << 8 | buf[15];
	if (len > PV_PROXY_LEN_MAX)
		return bad(why, "PROXY header longer than the limit");
	is_local = (buf[12] & 0x0f) == CMD_LOCAL;
	addr_len = is_local               ? 0
	    : (buf[13] >> 4) == FAM_INET6 ? (size_t)INET6_BYTES
					  : (size_t)INET_BYTES;
	if (len < addr_len)
		return bad(why, "PROXY header shorter than its addresses");
	*need = PV_PROXY_FIXED_BYTES + len;
	if (n < *need)
		return PV_PROXY_MORE;
	h->len = *need;
	h->is_local = is_local;
	if (is_local)
		return PV_PROXY_DONE; /* the rest is to be ignored */
	if (!tlvs_fit(buf + PV_PROXY_FIXED_BYTES + addr_len, len - addr_len)) {
		memset(h, 0, sizeof(*h));
		return bad(why, "malformed TLV in the PROXY header");
	}
	read_addresses(buf + PV_PROXY_FIXED_BYTES, addr_len == INET6_BYTES, h);
	return PV_PROXY_DONE;
}
