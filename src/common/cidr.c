/*
 * cidr.c — IP addresses and CIDR blocks (see cidr.h for the rules).
 *
 * Guarantees: nothing is accepted that inet_pton would not accept as a
 * numeric address; a prefix is decimal, in range and leaves no host bit
 * set; an IPv4 block and the IPv4-mapped IPv6 block it equals parse to
 * the same value; matching compares whole bytes then the bits of the
 * last partial byte, so /0 matches everything and /128 one address.
 */
#include "common/cidr.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

void
pv_ip_from_v4(const uint8_t v4[4], uint8_t out[PV_IP_BYTES])
{
	memcpy(out, v4_mapped_prefix, sizeof(v4_mapped_prefix));
	memcpy(out + 12, v4, 4);
}

/* s parsed; *is_v4 says which family the text was written in. */
static pv_status
ip_parse(const char *s, uint8_t out[PV_IP_BYTES], bool *is_v4)
{
	uint8_t v4[4];

	if (strchr(s, ':') == NULL) {
		if (inet_pton(AF_INET, s, v4) != 1)
			return PV_EINVAL;
		pv_ip_from_v4(v4, out);
		*is_v4 = true;
		return PV_OK;
	}
	if (inet_pton(AF_INET6, s, out) != 1)
		return PV_EINVAL;
	*is_v4 = false;
	return PV_OK;
}

pv_status
pv_ip_parse(const char *s, uint8_t out[PV_IP_BYTES])
{
	bool is_v4;

	if (s == NULL)
		return PV_EINVAL;
	return ip_parse(s, out, &is_v4);
}

/* "0".."max" in decimal, no sign, no leading zero, no trailing bytes. */
static pv_status
prefix_parse(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return PV_EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 3)
			return PV_EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return PV_EINVAL;
	*out = v;
	return PV_OK;
}

/* True when every bit of addr from bit 'prefix' on is zero. */
static bool
host_bits_zero(const uint8_t addr[PV_IP_BYTES], unsigned prefix)
{
	unsigned i = prefix / 8;

	if (prefix % 8 != 0) {
		uint8_t mask = (uint8_t)(0xffu >> (prefix % 8));

		if ((addr[i] & mask) != 0)
			return false;
		i++;
	}
	for (; i < PV_IP_BYTES; i++)
		if (addr[i] != 0)
			return false;
	return true;
}

pv_status
pv_cidr_parse(const char *s, struct pv_cidr *out)
{
	char host[PV_CIDR_TEXT_MAX];
	const char *slash;
	size_t hlen;
	unsigned prefix;
	bool is_v4;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return PV_EINVAL;
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return PV_EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (ip_parse(host, out->addr, &is_v4) != PV_OK)
		return PV_EINVAL;
	if (slash == NULL)
		prefix = is_v4 ? 32 : 128;
	else if (prefix_parse(slash + 1, is_v4 ? 32 : 128, &prefix) != PV_OK)
		return PV_EINVAL;
	if (is_v4)
		prefix += 96;
	if (!host_bits_zero(out->addr, prefix))
		return PV_EINVAL;
	out->prefix = (uint8_t)prefix;
	return PV_OK;
}

bool
pv_cidr_contains(const struct pv_cidr *c, const uint8_t addr[PV_IP_BYTES])
{
	unsigned whole = c->prefix / 8, rest = c->prefix % 8;

	if (whole > PV_IP_BYTES || (whole == PV_IP_BYTES && rest != 0))
		return false; /* not a parsed block */
	if (memcmp(c->addr, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->addr[whole] ^ addr[whole]) &
		   (uint8_t)(0xffu << (8 - rest))) == 0;
}

pv_status
pv_cidr_list_parse(const char *csv, struct pv_cidr *out, size_t max, size_t *n,
    char *bad, size_t badsz)
{
	const char *p = csv;

	*n = 0;
	if (badsz > 0)
		bad[0] = '\0';
	for (;;) {
		char item[PV_CIDR_TEXT_MAX];
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len >= sizeof(item)) {
			len = sizeof(item) - 1;
			memcpy(item, p, len);
			item[len] = '\0';
			PV_IGNORE(pv_strlcpy(bad, item, badsz));
			return PV_EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (*n >= max) {
			PV_IGNORE(pv_strlcpy(bad, item, badsz));
			return PV_ETOOBIG;
		}
		if (len == 0 || pv_cidr_parse(item, &out[*n]) != PV_OK) {
			PV_IGNORE(pv_strlcpy(bad, item, badsz));
			return PV_EINVAL;
		}
		(*n)++;
		p += strcspn(p, ",");
		if (*p == '\0')
			return PV_OK;
		p++; /* the comma: an item must follow */
	}
}

bool
pv_cidr_list_contains(const struct pv_cidr *list, size_t n,
    const uint8_t addr[PV_IP_BYTES])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pv_cidr_contains(&list[i], addr))
			return true;
	return false;
}
