/*
 * Unit tests for the bounded in-memory defences: the replay nonce cache
 * (fixed memory, replays refused, full means refuse) and the rate limiter
 * (token bucket arithmetic, bounded table under many addresses).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "http/guard.h"

static int
setup(void **state)
{
	(void)state;
	return pv_crypto_init() == PV_OK ? 0 : -1;
}

static void
test_nonce_replay_and_expiry(void **state)
{
	struct pv_nonces *n;
	char d1[PV_NONCE_DIGEST_HEX + 1], d2[PV_NONCE_DIGEST_HEX + 1];

	(void)state;
	assert_int_equal(pv_nonces_new(64, &n), PV_OK);
	pv_nonce_digest("key-a", "nonce-1", d1);
	pv_nonce_digest("key-b", "nonce-1", d2);
	assert_string_not_equal(d1, d2); /* keyid is part of it */
	assert_int_equal(pv_nonces_add(n, d1, 1300, 1000), PV_OK);
	assert_int_equal(pv_nonces_add(n, d1, 1300, 1001), PV_EEXISTS);
	assert_int_equal(pv_nonces_add(n, d2, 1300, 1001), PV_OK);
	/* After its expiry the slot is free again. */
	assert_int_equal(pv_nonces_add(n, d1, 1700, 1400), PV_OK);
	assert_int_equal(pv_nonces_add(n, "zz", 1700, 1400), PV_EINVAL);
	pv_nonces_free(n);
}

static void
test_nonce_cache_full_refuses(void **state)
{
	struct pv_nonces *n;
	char d[PV_NONCE_DIGEST_HEX + 1], nonce[32];
	int i, ok = 0, busy = 0;

	(void)state;
	assert_int_equal(pv_nonces_new(16, &n), PV_OK);
	for (i = 0; i < 40; i++) {
		snprintf(nonce, sizeof(nonce), "n%d", i);
		pv_nonce_digest("k", nonce, d);
		pv_status st = pv_nonces_add(n, d, 5000, 1000);
		if (st == PV_OK)
			ok++;
		else if (st == PV_EBUSY)
			busy++;
	}
	assert_int_equal(ok, 16); /* never more than the fixed size */
	assert_int_equal(busy, 24); /* and never forgets to make room */
	/* Once they expire, room comes back. */
	pv_nonce_digest("k", "late", d);
	assert_int_equal(pv_nonces_add(n, d, 9000, 6000), PV_OK);
	pv_nonces_free(n);
}

static void
test_token_bucket(void **state)
{
	struct pv_ratelimit *rl;
	int i, allowed = 0;

	(void)state;
	assert_int_equal(pv_ratelimit_new(128, &rl), PV_OK);
	for (i = 0; i < 10; i++)
		if (pv_ratelimit_take(rl, "ip:1.2.3.4", 1.0, 5.0) == 0)
			allowed++;
	assert_int_equal(allowed, 5); /* the burst, then no more */
	assert_true(pv_ratelimit_take(rl, "ip:1.2.3.4", 1.0, 5.0) >= 1);
	assert_int_equal(pv_ratelimit_take(rl, "ip:5.6.7.8", 1.0, 5.0), 0);
	usleep(1100 * 1000);
	assert_int_equal(pv_ratelimit_take(rl, "ip:1.2.3.4", 1.0, 5.0), 0);
	pv_ratelimit_free(rl);
}

static void
test_rate_table_bounded(void **state)
{
	struct pv_ratelimit *rl;
	char key[64];
	int i;

	(void)state;
	/* A million addresses through a 64-bucket table: memory is the
	 * table, fixed at creation; every call still answers. */
	assert_int_equal(pv_ratelimit_new(64, &rl), PV_OK);
	for (i = 0; i < 1000000; i++) {
		snprintf(key, sizeof(key), "ip:10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		assert_int_equal(pv_ratelimit_take(rl, key, 100.0, 100.0), 0);
	}
	pv_ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonce_replay_and_expiry),
		cmocka_unit_test(test_nonce_cache_full_refuses),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_rate_table_bounded),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
