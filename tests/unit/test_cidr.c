/* Unit tests for common/cidr.c: the edges of CIDR parsing and matching
 * (/0, /32, /128, bad masks, host bits, IPv4-mapped IPv6) and lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/cidr.h"

static bool
in(const char *block, const char *ip)
{
	struct pv_cidr c;
	uint8_t a[PV_IP_BYTES];

	assert_int_equal(pv_cidr_parse(block, &c), PV_OK);
	assert_int_equal(pv_ip_parse(ip, a), PV_OK);
	return pv_cidr_contains(&c, a);
}

static void
test_parse_ok(void **state)
{
	struct pv_cidr c;

	(void)state;
	assert_int_equal(pv_cidr_parse("10.0.0.0/8", &c), PV_OK);
	assert_int_equal(c.prefix, 96 + 8);
	assert_int_equal(pv_cidr_parse("10.1.2.3", &c), PV_OK);
	assert_int_equal(c.prefix, 128); /* one address: /32 */
	assert_int_equal(pv_cidr_parse("10.1.2.3/32", &c), PV_OK);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(pv_cidr_parse("0.0.0.0/0", &c), PV_OK);
	assert_int_equal(c.prefix, 96);
	assert_int_equal(pv_cidr_parse("::/0", &c), PV_OK);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(pv_cidr_parse("::1/128", &c), PV_OK);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(pv_cidr_parse("2001:db8::/32", &c), PV_OK);
	assert_int_equal(pv_cidr_parse("2001:db8::", &c), PV_OK);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(pv_cidr_parse("192.168.0.0/23", &c), PV_OK);
	assert_int_equal(pv_cidr_parse("10.0.0.0/9", &c), PV_OK);
}

static void
test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"/",
		"/8",
		"10.0.0.0/",
		"10.0.0.0/33",
		"::/129",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/08",
		"10.0.0.0/8/8",
		"10.0.0.0/ 8",
		" 10.0.0.0/8",
		"10.0.0.0 /8",
		"10.0.0.0/8 ",
		"10.0.0.0/1000",
		"10.0.0.0/8x",
		"10.0.0.1/8", /* host bits set */
		"11.0.0.0/7", /* host bits set: 11 = 00001011 */
		"192.168.1.0/23",
		"2001:db8::1/64",
		"::1/127",
		"10.1",
		"10.0.0",
		"10.0.0.256",
		"010.0.0.1",
		"1.2.3.4.5",
		"localhost",
		"fe80::1%eth0",
		"fe80::1%1/64",
		":::/0",
		"2001:db8:::/48",
		"::ffff:10.0.0.1/104", /* host bits */
		"0x0a.0.0.0/8",
		"1.2.3.4/32/",
		"abcd",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999/128",
	};
	struct pv_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pv_cidr_parse(bad[i], &c) == PV_OK)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(pv_cidr_parse(NULL, &c), PV_EINVAL);
}

static void
test_contains(void **state)
{
	(void)state;
	/* /0 */
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_false(in("0.0.0.0/0", "2001:db8::1")); /* IPv4 only */
	assert_true(in("::/0", "2001:db8::1"));
	assert_true(in("::/0", "203.0.113.9")); /* every address */
	/* /32, /128: one address */
	assert_true(in("10.1.2.3/32", "10.1.2.3"));
	assert_false(in("10.1.2.3/32", "10.1.2.4"));
	assert_true(in("::1/128", "::1"));
	assert_false(in("::1/128", "::2"));
	assert_false(in("::1/128", "127.0.0.1"));
	/* prefixes not on a byte boundary */
	assert_true(in("10.0.0.0/9", "10.127.255.255"));
	assert_false(in("10.0.0.0/9", "10.128.0.0"));
	assert_true(in("192.168.0.0/23", "192.168.1.200"));
	assert_false(in("192.168.0.0/23", "192.168.2.0"));
	assert_true(in("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(in("2001:db8::/33", "2001:db8:8000::1"));
	/* IPv4-mapped IPv6: the same block, both ways */
	assert_true(in("10.0.0.0/8", "::ffff:10.9.8.7"));
	assert_true(in("::ffff:10.0.0.0/104", "10.9.8.7"));
	assert_false(in("::ffff:10.0.0.0/104", "11.0.0.1"));
	assert_true(in("127.0.0.0/8", "127.0.0.2"));
	assert_false(in("127.0.0.1", "127.0.0.2"));
}

static void
test_equal_forms(void **state)
{
	struct pv_cidr a, b;

	(void)state;
	assert_int_equal(pv_cidr_parse("10.0.0.0/8", &a), PV_OK);
	assert_int_equal(pv_cidr_parse("::ffff:10.0.0.0/104", &b), PV_OK);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(pv_cidr_parse("::ffff:0:0/96", &b), PV_OK);
	assert_int_equal(pv_cidr_parse("0.0.0.0/0", &a), PV_OK);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_ip_parse(void **state)
{
	uint8_t a[PV_IP_BYTES];

	(void)state;
	assert_int_equal(pv_ip_parse("127.0.0.1", a), PV_OK);
	assert_int_equal(a[10], 0xff);
	assert_int_equal(a[12], 127);
	assert_int_equal(pv_ip_parse("::1", a), PV_OK);
	assert_int_equal(a[15], 1);
	assert_int_equal(pv_ip_parse("unknown", a), PV_EINVAL);
	assert_int_equal(pv_ip_parse("", a), PV_EINVAL);
	assert_int_equal(pv_ip_parse(NULL, a), PV_EINVAL);
	assert_int_equal(pv_ip_parse("10.0.0.0/8", a), PV_EINVAL);
}

static void
test_lists(void **state)
{
	struct pv_cidr l[4];
	uint8_t a[PV_IP_BYTES];
	char bad[PV_CIDR_TEXT_MAX];
	size_t n;

	(void)state;
	assert_int_equal(pv_cidr_list_parse("10.0.0.0/8, ::1/128 ,192.0.2.7", l,
			     4, &n, bad, sizeof(bad)),
	    PV_OK);
	assert_int_equal(n, 3);
	assert_int_equal(pv_ip_parse("192.0.2.7", a), PV_OK);
	assert_true(pv_cidr_list_contains(l, n, a));
	assert_int_equal(pv_ip_parse("192.0.2.8", a), PV_OK);
	assert_false(pv_cidr_list_contains(l, n, a));
	assert_false(pv_cidr_list_contains(l, 0, a));
	/* empty lists and items are errors, never "nothing allowed" or
	 * "everything allowed" */
	assert_int_equal(pv_cidr_list_parse("", l, 4, &n, bad, sizeof(bad)),
	    PV_EINVAL);
	assert_int_equal(pv_cidr_list_parse("10.0.0.0/8,", l, 4, &n, bad,
			     sizeof(bad)),
	    PV_EINVAL);
	assert_int_equal(pv_cidr_list_parse("10.0.0.0/8,,::1", l, 4, &n, bad,
			     sizeof(bad)),
	    PV_EINVAL);
	assert_int_equal(pv_cidr_list_parse("10.0.0.0/8, 10.0.0.1/8", l, 4, &n,
			     bad, sizeof(bad)),
	    PV_EINVAL);
	assert_string_equal(bad, "10.0.0.1/8");
	assert_int_equal(pv_cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3", l, 2, &n,
			     bad, sizeof(bad)),
	    PV_ETOOBIG);
	assert_string_equal(bad, "3.3.3.3");
	/* a very long item is cut in the report, still refused */
	assert_int_equal(pv_cidr_list_parse("1111:2222:3333:4444:5555:6666:"
					    "7777:8888:9999:"
					    "aaaa:bbbb",
			     l, 4, &n, bad, sizeof(bad)),
	    PV_EINVAL);
	assert_true(strlen(bad) < sizeof(bad));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_equal_forms),
		cmocka_unit_test(test_ip_parse),
		cmocka_unit_test(test_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
