/*
 * proxyproto.h — the PROXY protocol version 2 header (HAProxy's
 * specification, "The PROXY protocol", section 2.2), parsed as a pure
 * function so it can be unit-tested and fuzzed on its own.
 *
 * What a header is: a 12-byte signature, a version/command byte (version
 * 2; command LOCAL or PROXY), an address family/transport byte, a 16-bit
 * length (network order) of what follows, then the addresses and ports
 * and optional TLVs (type, 16-bit length, value).
 *
 * What is accepted (everything else is refused, closing the connection):
 *  - version 2 only; the text version 1 ("PROXY TCP4 …") is not;
 *  - command PROXY over TCP (transport STREAM) from IPv4 or IPv6: the
 *    header's source address and port are the client's;
 *  - command LOCAL (a proxy's own health check): whatever follows is
 *    skipped and the connection keeps the proxy's own address;
 *  - a length of at most PV_PROXY_LEN_MAX (a few TLVs; far below the
 *    protocol's 65535, so a peer cannot make us wait for or hold more);
 *  - TLVs are skipped, but each must fit inside the length (a malformed
 *    TLV list is refused, so a broken proxy is noticed).
 * Refused on purpose: PROXY with family UNSPEC or UNIX (we would have no
 * client address and would have to fall back to the proxy's, merging
 * every such client into one for rate limits and lockout) and DGRAM.
 *
 * The parser reads only buf[0..n) and never more than the header: the
 * caller reads exactly *need bytes so the TLS ClientHello behind the
 * header stays in the socket. It rejects as early as the bytes allow
 * (the first byte of a TLS record or of "GET" already fails the
 * signature), so a direct client gets no wait.
 */
#ifndef PV_HTTP_PROXYPROTO_H
#define PV_HTTP_PROXYPROTO_H

#include "common/pv.h"

#define PV_PROXY_SIG_BYTES 12
#define PV_PROXY_FIXED_BYTES 16 /* signature, ver/cmd, fam, length */
#define PV_PROXY_LEN_MAX 512 /* cap on the length field */
#define PV_PROXY_HDR_MAX (PV_PROXY_FIXED_BYTES + PV_PROXY_LEN_MAX)

enum pv_proxy_verdict {
	PV_PROXY_MORE = 0, /* valid so far; *need bytes in all */
	PV_PROXY_DONE, /* a whole valid header: h->len bytes */
	PV_PROXY_BAD /* not a valid v2 header: *why */
};

struct pv_proxy_hdr {
	bool is_local; /* LOCAL: keep the connection's address */
	bool is_v6; /* PROXY: IPv6 (else IPv4) */
	uint8_t src[16], dst[16]; /* network order; IPv4 in [0..4) */
	uint16_t src_port, dst_port; /* host order */
	size_t len; /* bytes of the header, TLVs included */
};

/*
 * Parses the first n bytes received on a connection. PV_PROXY_MORE: no
 * verdict yet, *need (> n, <= PV_PROXY_HDR_MAX) bytes are needed in all.
 * PV_PROXY_DONE: *h is filled and h->len <= n bytes are the header.
 * PV_PROXY_BAD: *why is a constant, PHI-free phrase. Borrows buf; h, need
 * and why are written by the call.
 */
enum pv_proxy_verdict pv_proxy_parse(const uint8_t *buf, size_t n,
    struct pv_proxy_hdr *h, size_t *need, const char **why);

#endif
