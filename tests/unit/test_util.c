/* Unit tests for common/util.c: bounded copies and lists, UTF-8, FHIR ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/pv.h"

static void
test_strlcpy(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(pv_strlcpy(buf, "abc", sizeof(buf)), PV_OK);
	assert_string_equal(buf, "abc");
	assert_int_equal(pv_strlcpy(buf, "abcd", sizeof(buf)), PV_ETOOBIG);
	assert_string_equal(buf, "");
	assert_int_equal(pv_snprintf(buf, sizeof(buf), "%d", 123), PV_OK);
	assert_int_equal(pv_snprintf(buf, sizeof(buf), "%d", 1234), PV_ETOOBIG);
	assert_string_equal(buf, "");
}

static void
test_csv_append(void **state)
{
	char buf[8] = "";

	(void)state;
	assert_int_equal(pv_csv_append(buf, sizeof(buf), "ab", 2), PV_OK);
	assert_string_equal(buf, "ab");
	assert_int_equal(pv_csv_append(buf, sizeof(buf), "cdXX", 2), PV_OK);
	assert_string_equal(buf, "ab,cd");
	/* "ab,cd,ef" needs 9 bytes: refused, unchanged */
	assert_int_equal(pv_csv_append(buf, sizeof(buf), "ef", 2), PV_ETOOBIG);
	assert_string_equal(buf, "ab,cd");
	assert_int_equal(pv_csv_append(buf, sizeof(buf), "e", 1), PV_OK);
	assert_string_equal(buf, "ab,cd,e"); /* exactly full */
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(pv_utf8_is_valid("plain", 5));
	assert_true(pv_utf8_is_valid("\xc3\xa9t\xc3\xa9", 5)); /* été */
	assert_true(pv_utf8_is_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
	assert_false(pv_utf8_is_valid("\xc3", 1)); /* truncated */
	assert_false(pv_utf8_is_valid("\xc0\xaf", 2)); /* overlong / */
	assert_false(pv_utf8_is_valid("\xe0\x80\xaf", 3)); /* overlong */
	assert_false(pv_utf8_is_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(pv_utf8_is_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(pv_utf8_is_valid("\xff", 1));
	assert_false(pv_utf8_is_valid("a\0b", 3)); /* NUL */
	assert_int_equal(pv_utf8_len("\xc3\xa9t\xc3\xa9"), 3);
}

static void
test_fhir_id(void **state)
{
	char long_id[70];

	(void)state;
	assert_true(pv_fhir_id_is_valid("abc-123.X"));
	assert_false(pv_fhir_id_is_valid(""));
	assert_false(pv_fhir_id_is_valid("a/b"));
	assert_false(pv_fhir_id_is_valid("a b"));
	assert_false(pv_fhir_id_is_valid("..%2f"));
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_false(pv_fhir_id_is_valid(long_id));
	long_id[64] = '\0';
	assert_true(pv_fhir_id_is_valid(long_id));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_csv_append),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_fhir_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
