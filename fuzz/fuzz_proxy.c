/*
 * fuzz_proxy.c — libFuzzer harness for the PROXY protocol v2 header
 * parser (src/http/proxyproto.c), linked as is, and for the CIDR parser
 * (src/common/cidr.c) that reads [proxy] trusted and [network]. Checks,
 * besides memory safety, the parser's promises: a verdict never claims
 * more bytes than it was given nor than the cap; feeding the input one
 * byte at a time reaches the same verdict as feeding it whole, and "more"
 * always asks for more than it has; an accepted CIDR block contains its
 * own address.
 */
#include "common/cidr.h"
#include "http/proxyproto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check_proxy(const unsigned char *data, size_t size)
{
	struct pv_proxy_hdr h, h2;
	enum pv_proxy_verdict v, v2 = PV_PROXY_MORE;
	const char *why;
	size_t need, need2, i;

	v = pv_proxy_parse(data, size, &h, &need, &why);
	if (v == PV_PROXY_DONE && (h.len > size || h.len > PV_PROXY_HDR_MAX))
		abort();
	if (v == PV_PROXY_MORE && (need <= size || need > PV_PROXY_HDR_MAX))
		abort();
	if (v == PV_PROXY_BAD && why == NULL)
		abort();
	/* Incrementally, as the listener reads: the first verdict that is
	 * not "more" is the whole input's. */
	for (i = 0; i <= size; i++) {
		v2 = pv_proxy_parse(data, i, &h2, &need2, &why);
		if (v2 != PV_PROXY_MORE)
			break;
		if (need2 <= i)
			abort();
	}
	if (v2 != v)
		abort();
	if (v == PV_PROXY_DONE && memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
}

static void
check_cidr(const unsigned char *data, size_t size)
{
	char s[PV_CIDR_TEXT_MAX + 8];
	struct pv_cidr c;

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pv_cidr_parse(s, &c) != PV_OK)
		return;
	if (c.prefix > 128 || !pv_cidr_contains(&c, c.addr))
		abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	check_proxy(data, size);
	check_cidr(data, size);
	return 0;
}
