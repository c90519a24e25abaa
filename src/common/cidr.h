/*
 * cidr.h — IP addresses and CIDR blocks, IPv4 and IPv6, as one kind.
 *
 * Every address is held as 16 bytes: an IPv6 address as is, an IPv4
 * address as its IPv4-mapped form ::ffff:a.b.c.d, and an IPv4 block /n
 * as the mapped block /(96+n). So "10.0.0.0/8" and "::ffff:10.0.0.0/104"
 * are the same block, an IPv4 client seen by a dual-stack socket
 * (::ffff:10.1.2.3) matches IPv4 blocks, and "::/0" covers every address
 * while "0.0.0.0/0" covers every IPv4 address only.
 *
 * The parser is strict (a typo in an allow-list must stop start-up, not
 * widen or empty the list): numeric addresses only (inet_pton: no names,
 * no zone ids, no shortened IPv4 like "10.1"), a prefix of decimal
 * digits without sign or leading zero, at most 32 (IPv4) or 128 (IPv6),
 * and no host bits set below the prefix ("10.0.0.1/8" is refused: it was
 * meant as /32 or as 10.0.0.0/8, and either guess could be wrong). A
 * block without a prefix is one address (/32 or /128).
 *
 * Pure functions: no allocation, no global state.
 */
#ifndef PV_COMMON_CIDR_H
#define PV_COMMON_CIDR_H

#include "common/pv.h"

#define PV_IP_BYTES 16
/* Longest text form of a block: a full IPv6 address with an embedded
 * IPv4 tail, "/128" and the NUL. */
#define PV_CIDR_TEXT_MAX 52

struct pv_cidr {
	uint8_t addr[PV_IP_BYTES]; /* host bits zero */
	uint8_t prefix; /* 0..128, in the 16-byte form */
};

/* A numeric IPv4 or IPv6 address into its 16-byte form. */
PV_MUST_CHECK pv_status pv_ip_parse(const char *s, uint8_t out[PV_IP_BYTES]);

/* IPv4 (4 bytes, network order) into its 16-byte (mapped) form. */
void pv_ip_from_v4(const uint8_t v4[4], uint8_t out[PV_IP_BYTES]);

/* "addr" or "addr/prefix" (the rules above) into *out. */
PV_MUST_CHECK pv_status pv_cidr_parse(const char *s, struct pv_cidr *out);

/* True when addr lies inside c. */
bool pv_cidr_contains(const struct pv_cidr *c, const uint8_t addr[PV_IP_BYTES]);

/*
 * A comma-separated list of blocks (spaces around items allowed) into
 * out[0..max). *n is the count. PV_EINVAL for an empty list, an empty
 * item or a bad block, PV_ETOOBIG past max; on error *bad (size badsz)
 * holds the offending item, cut to fit, and nothing else is promised of
 * out.
 */
PV_MUST_CHECK pv_status pv_cidr_list_parse(const char *csv, struct pv_cidr *out,
    size_t max, size_t *n, char *bad, size_t badsz);

/* True when addr lies inside one of list[0..n). */
bool pv_cidr_list_contains(const struct pv_cidr *list, size_t n,
    const uint8_t addr[PV_IP_BYTES]);

#endif
