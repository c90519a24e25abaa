/*
 * Unit tests for auth/: RFC 6238 vectors through our TOTP wrapper,
 * password policy, Argon2id cost upgrade on login, lockout delays,
 * sessions, TOTP replay — against a real vault in a temp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <liboath/oath.h>

#include "auth/auth.h"
#include "testvault.h"

/* RFC 6238 Appendix B, SHA-1 rows: seed "12345678901234567890", 8 digits. */
static void
test_totp_rfc6238_vectors(void **state)
{
	static const struct {
		int64_t t;
		const char *code;
	} vec[] = {
		{ 59, "94287082" },
		{ 1111111109, "07081804" },
		{ 1111111111, "14050471" },
		{ 1234567890, "89005924" },
		{ 2000000000, "69279037" },
		{ 20000000000LL, "65353130" },
	};
	const unsigned char *seed =
	    (const unsigned char *)"12345678901234567890";
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < PV_ARRAY_LEN(vec); i++) {
		assert_int_equal(pv_totp_code(seed, 20, vec[i].t, 8, out,
				     sizeof(out)),
		    PV_OK);
		assert_string_equal(out, vec[i].code);
	}
	/* 6 digits is the last 6 of the 8-digit value. */
	assert_int_equal(pv_totp_code(seed, 20, 59, 6, out, sizeof(out)),
	    PV_OK);
	assert_string_equal(out, "287082");
}

static void
test_password_policy(void **state)
{
	(void)state;
	assert_true(pv_password_common_count() >= 10000);
	assert_int_equal(pv_password_check("short-one", NULL), PV_PW_TOO_SHORT);
	assert_int_equal(pv_password_check("password1234", NULL), PV_PW_COMMON);
	assert_int_equal(pv_password_check("PASSWORD1234", NULL), PV_PW_COMMON);
	assert_int_equal(pv_password_check("my-alice-secret-1", "Alice"),
	    PV_PW_HAS_USERNAME);
	assert_int_equal(pv_password_check("bad\xff-utf8-password", NULL),
	    PV_PW_NOT_UTF8);
	/* 12 code points, 24 bytes: length counts characters. */
	assert_int_equal(pv_password_check("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
					   "\xc3\xa9\xc3\xa9"
					   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
					   "\xc3\xa9\xc3\xa9",
			     NULL),
	    PV_PW_OK);
	char long_pw[200];
	memset(long_pw, 'k', 129);
	long_pw[129] = '\0';
	assert_int_equal(pv_password_check(long_pw, NULL), PV_PW_TOO_LONG);
	long_pw[128] = '\0';
	assert_int_equal(pv_password_check(long_pw, NULL), PV_PW_OK);
	assert_int_equal(pv_password_check("Correct-Horse-Battery", "bob"),
	    PV_PW_OK);
}

static void
test_lockout_delay(void **state)
{
	struct pv_config c;

	(void)state;
	pv_config_defaults(&c);
	c.lockout_base_delay = 30;
	c.lockout_max_delay = 200;
	assert_int_equal(pv_lockout_delay(&c, 4), 0);
	assert_int_equal(pv_lockout_delay(&c, 5), 30);
	assert_int_equal(pv_lockout_delay(&c, 6), 60);
	assert_int_equal(pv_lockout_delay(&c, 7), 120);
	assert_int_equal(pv_lockout_delay(&c, 8), 200); /* capped */
	assert_int_equal(pv_lockout_delay(&c, 80), 200);
}

static void
test_rehash_on_login_when_cost_rises(void **state)
{
	struct pv_vault *v = tv_open("[auth]\nargon2_memlimit_kib = 8192\n"
				     "argon2_opslimit = 1\n");
	struct pv_login_outcome o;
	struct pv_user u;
	pv_pw_verdict verdict;
	char before[PV_PWHASH_MAX];

	(void)state;
	assert_non_null(v);
	assert_int_equal(pv_account_create(v, "carol", "patient", "p-1",
			     "Long-secret-for-c-1", &verdict, NULL),
	    PV_OK);
	assert_int_equal(pv_store_user_get_by_name(v->store, "carol", &u),
	    PV_OK);
	strcpy(before, u.pw_hash);
	assert_non_null(strstr(before, "m=8192,t=1"));
	/* Operator raises the cost; the next login upgrades the hash. */
	v->cfg.argon2_memlimit_kib = 19 * 1024;
	v->cfg.argon2_opslimit = 2;
	assert_true(pv_password_needs_rehash(&v->cfg, before));
	pv_login(v, "carol", "Long-secret-for-c-1", NULL, NULL, pv_now(), &o);
	assert_int_equal(o.result, PV_LOGIN_OK);
	assert_int_equal(pv_store_user_get_by_name(v->store, "carol", &u),
	    PV_OK);
	assert_non_null(strstr(u.pw_hash, "m=19456,t=2"));
	assert_false(pv_password_needs_rehash(&v->cfg, u.pw_hash));
	/* And the upgraded hash still verifies. */
	pv_login(v, "carol", "Long-secret-for-c-1", NULL, NULL, pv_now(), &o);
	assert_int_equal(o.result, PV_LOGIN_OK);
	tv_close(v);
}

static void
test_login_outcomes_and_lockout(void **state)
{
	struct pv_vault *v =
	    tv_open("[auth]\nargon2_memlimit_kib = 8192\n"
		    "argon2_opslimit = 1\nlockout_base_delay = 60s\n");
	struct pv_login_outcome o;
	pv_pw_verdict verdict;
	int64_t now = pv_now();
	int i;

	(void)state;
	assert_non_null(v);
	assert_int_equal(pv_account_create(v, "dave", "researcher", NULL,
			     "Long-secret-for-d-1", &verdict, NULL),
	    PV_OK);
	pv_login(v, "nobody", "Long-secret-for-d-1", NULL, NULL, now, &o);
	assert_int_equal(o.result, PV_LOGIN_FAILED);
	assert_string_equal(o.reason, "unknown_user");
	for (i = 0; i < 5; i++) {
		pv_login(v, "dave", "wrong-password-xx", NULL, NULL, now, &o);
		assert_int_equal(o.result, PV_LOGIN_FAILED);
	}
	assert_true(o.did_lock);
	pv_login(v, "dave", "Long-secret-for-d-1", NULL, NULL, now, &o);
	assert_int_equal(o.result, PV_LOGIN_FAILED);
	assert_string_equal(o.reason, "locked");
	pv_login(v, "dave", "Long-secret-for-d-1", NULL, NULL, now + 61, &o);
	assert_int_equal(o.result, PV_LOGIN_OK);
	tv_close(v);
}

static void
test_sessions_and_totp_replay(void **state)
{
	struct pv_vault *v = tv_open("[auth]\nargon2_memlimit_kib = 8192\n"
				     "argon2_opslimit = 1\n");
	struct pv_principal p;
	struct pv_session s;
	struct pv_user u;
	pv_pw_verdict verdict;
	char tok[PV_TOKEN_TEXT_LEN + 1], b32[64], uri[256], code[8];
	char *raw = NULL;
	size_t rawlen = 0;
	int64_t now = pv_now();

	(void)state;
	assert_non_null(v);
	assert_int_equal(pv_account_create(v, "erin", "nurse", NULL,
			     "Long-secret-for-e-1", &verdict, NULL),
	    PV_OK);
	assert_int_equal(pv_store_user_get_by_name(v->store, "erin", &u),
	    PV_OK);
	assert_int_equal(pv_session_create(v, &u, false, tok, &s), PV_OK);
	assert_int_equal(pv_session_validate(v, tok, &p), PV_OK);
	assert_string_equal(p.username, "erin");
	assert_false(p.is_mfa_satisfied); /* nurse needs MFA */
	assert_int_equal(pv_session_validate(v, "x", &p), PV_EAUTH);
	tok[0] = tok[0] == 'A' ? 'B' : 'A';
	assert_int_equal(pv_session_validate(v, tok, &p), PV_EAUTH);

	assert_int_equal(pv_totp_enroll(v, &u, b32, sizeof(b32), uri,
			     sizeof(uri)),
	    PV_OK);
	assert_int_equal(oath_base32_decode(b32, strlen(b32), &raw, &rawlen),
	    OATH_OK);
	assert_int_equal(pv_totp_code((unsigned char *)raw, rawlen, now, 6,
			     code, sizeof(code)),
	    PV_OK);
	assert_int_equal(pv_totp_verify(v, &u, code, now), PV_OK);
	assert_int_equal(pv_totp_verify(v, &u, code, now), PV_EAUTH);
	assert_int_equal(pv_totp_code((unsigned char *)raw, rawlen, now - 30, 6,
			     code, sizeof(code)),
	    PV_OK);
	assert_int_equal(pv_totp_verify(v, &u, code, now), PV_EAUTH);
	assert_int_equal(pv_totp_code((unsigned char *)raw, rawlen, now + 30, 6,
			     code, sizeof(code)),
	    PV_OK);
	assert_int_equal(pv_totp_verify(v, &u, code, now), PV_OK);
	assert_int_equal(pv_totp_code((unsigned char *)raw, rawlen, now + 90, 6,
			     code, sizeof(code)),
	    PV_OK);
	assert_int_equal(pv_totp_verify(v, &u, code, now), PV_EAUTH);
	free(raw);
	tv_close(v);
}

static int
setup(void **state)
{
	(void)state;
	return pv_crypto_init() == PV_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totp_rfc6238_vectors),
		cmocka_unit_test(test_password_policy),
		cmocka_unit_test(test_lockout_delay),
		cmocka_unit_test(test_rehash_on_login_when_cost_rises),
		cmocka_unit_test(test_login_outcomes_and_lockout),
		cmocka_unit_test(test_sessions_and_totp_replay),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
