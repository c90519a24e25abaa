/* Unit tests for http/proxyproto.c: the PROXY protocol v2 header parser
 * (valid IPv4, IPv6 and LOCAL headers, TLVs skipped; truncated input, bad
 * signature, version, command, family, transport, lengths, TLVs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "http/proxyproto.h"

static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
	0x55, 0x49, 0x54, 0x0a };

/* A header: ver_cmd, fam, then body (len bytes); returns total size. */
static size_t
hdr(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t len)
{
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (len > 0)
		memcpy(out + 16, body, len);
	return 16 + len;
}

static const uint8_t v4_body[12] = { 192, 0, 2, 10, 10, 0, 0, 5, 0xc3, 0x50,
	0x01, 0xbb }; /* 192.0.2.10:50000 -> 10.0.0.5:443 */

static enum pv_proxy_verdict
parse(const uint8_t *b, size_t n, struct pv_proxy_hdr *h, size_t *need,
    const char **why)
{
	return pv_proxy_parse(b, n, h, need, why);
}

static void
test_ipv4(void **state)
{
	uint8_t b[64];
	struct pv_proxy_hdr h;
	size_t n = hdr(b, 0x21, 0x11, v4_body, sizeof(v4_body)), need;
	const char *why;

	(void)state;
	assert_int_equal(parse(b, n, &h, &need, &why), PV_PROXY_DONE);
	assert_int_equal(h.len, 28);
	assert_false(h.is_local);
	assert_false(h.is_v6);
	assert_memory_equal(h.src, v4_body, 4);
	assert_memory_equal(h.dst, v4_body + 4, 4);
	assert_int_equal(h.src_port, 50000);
	assert_int_equal(h.dst_port, 443);
	/* bytes after the header (the TLS ClientHello) are not its */
	b[n] = 0x16;
	assert_int_equal(parse(b, n + 1, &h, &need, &why), PV_PROXY_DONE);
	assert_int_equal(h.len, 28);
}

static void
test_ipv6(void **state)
{
	uint8_t b[64], body[36];
	struct pv_proxy_hdr h;
	size_t n, need;
	const char *why;

	(void)state;
	memset(body, 0, sizeof(body));
	body[0] = 0x20;
	body[1] = 0x01;
	body[2] = 0x0d;
	body[3] = 0xb8;
	body[15] = 7; /* 2001:db8::7 */
	body[31] = 1; /* ::1 */
	body[32] = 0x30;
	body[33] = 0x39; /* 12345 */
	body[35] = 80;
	n = hdr(b, 0x21, 0x21, body, sizeof(body));
	assert_int_equal(parse(b, n, &h, &need, &why), PV_PROXY_DONE);
	assert_true(h.is_v6);
	assert_memory_equal(h.src, body, 16);
	assert_int_equal(h.src_port, 12345);
	assert_int_equal(h.dst_port, 80);
	assert_int_equal(h.len, 52);
}

static void
test_local(void **state)
{
	uint8_t b[64];
	struct pv_proxy_hdr h;
	size_t need;
	const char *why;

	(void)state;
	/* LOCAL, UNSPEC, no addresses: a health check */
	assert_int_equal(parse(b, hdr(b, 0x20, 0x00, NULL, 0), &h, &need, &why),
	    PV_PROXY_DONE);
	assert_true(h.is_local);
	assert_int_equal(h.len, 16);
	/* LOCAL may carry addresses: ignored */
	assert_int_equal(parse(b, hdr(b, 0x20, 0x11, v4_body, sizeof(v4_body)),
			     &h, &need, &why),
	    PV_PROXY_DONE);
	assert_true(h.is_local);
	assert_int_equal(h.len, 28);
}

static void
test_tlvs_skipped(void **state)
{
	uint8_t b[128], body[64];
	struct pv_proxy_hdr h;
	size_t n, need;
	const char *why;

	(void)state;
	memcpy(body, v4_body, 12);
	/* PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP empty, an unknown type */
	memcpy(body + 12, "\x01\x00\x02h2\x04\x00\x00\xee\x00\x03xyz", 14);
	n = hdr(b, 0x21, 0x11, body, 26);
	assert_int_equal(parse(b, n, &h, &need, &why), PV_PROXY_DONE);
	assert_int_equal(h.len, 42);
	assert_memory_equal(h.src, v4_body, 4);
	/* a TLV running past the length */
	memcpy(body + 12, "\x01\x00\x05h2", 5);
	n = hdr(b, 0x21, 0x11, body, 17);
	assert_int_equal(parse(b, n, &h, &need, &why), PV_PROXY_BAD);
	assert_non_null(strstr(why, "TLV"));
	/* a TLV header cut short */
	n = hdr(b, 0x21, 0x11, body, 14);
	assert_int_equal(parse(b, n, &h, &need, &why), PV_PROXY_BAD);
}

static void
test_truncated(void **state)
{
	uint8_t b[64];
	struct pv_proxy_hdr h;
	size_t n = hdr(b, 0x21, 0x11, v4_body, sizeof(v4_body)), i, need;
	const char *why;

	(void)state;
	/* every prefix is "more", and says how much in all */
	for (i = 0; i < n; i++) {
		assert_int_equal(parse(b, i, &h, &need, &why), PV_PROXY_MORE);
		assert_true(need > i);
		assert_int_equal(need, i < 16 ? 16 : 28);
	}
}

static void
test_bad_signature(void **state)
{
	uint8_t b[64];
	struct pv_proxy_hdr h;
	size_t need;
	const char *why;

	(void)state;
	/* a TLS ClientHello, HTTP, the text version 1: on the first byte */
	b[0] = 0x16;
	assert_int_equal(parse(b, 1, &h, &need, &why), PV_PROXY_BAD);
	assert_int_equal(parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h,
			     &need, &why),
	    PV_PROXY_BAD);
	assert_int_equal(parse((const uint8_t
				       *)"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
			     32, &h, &need, &why),
	    PV_PROXY_BAD);
	assert_non_null(strstr(why, "signature"));
	/* the last signature byte wrong */
	hdr(b, 0x21, 0x11, v4_body, sizeof(v4_body));
	b[11] = 0x0b;
	assert_int_equal(parse(b, 12, &h, &need, &why), PV_PROXY_BAD);
}

static void
test_bad_version_command(void **state)
{
	uint8_t b[64];
	struct pv_proxy_hdr h;
	size_t need;
	const char *why;

	(void)state;
	hdr(b, 0x11, 0x11, v4_body, sizeof(v4_body)); /* version 1 */
	assert_int_equal(parse(b, 13, &h, &need, &why), PV_PROXY_BAD);
	assert_non_null(strstr(why, "version"));
	hdr(b, 0x31, 0x11, v4_body, sizeof(v4_body)); /* version 3 */
	assert_int_equal(parse(b, 28, &h, &need, &why), PV_PROXY_BAD);
	hdr(b, 0x22, 0x11, v4_body, sizeof(v4_body)); /* command 2 */
	assert_int_equal(parse(b, 28, &h, &need, &why), PV_PROXY_BAD);
	assert_non_null(strstr(why, "command"));
}

static void
test_bad_family(void **state)
{
	uint8_t b[300], body[216];
	struct pv_proxy_hdr h;
	size_t need;
	const char *why;

	(void)state;
	memset(body, 0, sizeof(body));
	/* PROXY + UNSPEC: no client address, refused */
	assert_int_equal(parse(b, hdr(b, 0x21, 0x00, NULL, 0), &h, &need, &why),
	    PV_PROXY_BAD);
	assert_int_equal(parse(b, 14, &h, &need, &why), PV_PROXY_BAD);
	/* PROXY + UNIX */
	assert_int_equal(parse(b, hdr(b, 0x21, 0x31, body, 216), &h, &need,
			     &why),
	    PV_PROXY_BAD);
	/* UDP */
	assert_int_equal(parse(b, hdr(b, 0x21, 0x12, v4_body, 12), &h, &need,
			     &why),
	    PV_PROXY_BAD);
	assert_non_null(strstr(why, "TCP"));
	/* unknown family and transport values */
	assert_int_equal(parse(b, hdr(b, 0x20, 0x41, NULL, 0), &h, &need, &why),
	    PV_PROXY_BAD);
	assert_int_equal(parse(b, hdr(b, 0x20, 0x13, NULL, 0), &h, &need, &why),
	    PV_PROXY_BAD);
}

static void
test_bad_length(void **state)
{
	uint8_t b[64];
	struct pv_proxy_hdr h;
	size_t need;
	const char *why;

	(void)state;
	/* huge: refused on the length alone, nothing more awaited */
	hdr(b, 0x21, 0x11, v4_body, sizeof(v4_body));
	b[14] = 0xff;
	b[15] = 0xff;
	assert_int_equal(parse(b, 16, &h, &need, &why), PV_PROXY_BAD);
	assert_non_null(strstr(why, "limit"));
	/* the cap itself is allowed (TLV padding), one more is not */
	b[14] = (uint8_t)((PV_PROXY_LEN_MAX + 1) >> 8);
	b[15] = (uint8_t)(PV_PROXY_LEN_MAX + 1);
	assert_int_equal(parse(b, 16, &h, &need, &why), PV_PROXY_BAD);
	b[14] = (uint8_t)(PV_PROXY_LEN_MAX >> 8);
	b[15] = (uint8_t)PV_PROXY_LEN_MAX;
	assert_int_equal(parse(b, 16, &h, &need, &why), PV_PROXY_MORE);
	assert_int_equal(need, PV_PROXY_HDR_MAX);
	/* shorter than the addresses of its family */
	hdr(b, 0x21, 0x11, v4_body, 11);
	assert_int_equal(parse(b, 27, &h, &need, &why), PV_PROXY_BAD);
	hdr(b, 0x21, 0x21, v4_body, 12); /* IPv6 needs 36 */
	assert_int_equal(parse(b, 28, &h, &need, &why), PV_PROXY_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_tlvs_skipped),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_bad_version_command),
		cmocka_unit_test(test_bad_family),
		cmocka_unit_test(test_bad_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
