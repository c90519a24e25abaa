/*
 * test_account_races.c — account state under concurrent changes (outside
 * review, issue 13, finding 1).
 *
 * The review reproduced lost updates on the account row: a login read the
 * row, spent the Argon2id time, and wrote the whole stale row back, so a
 * `user disable` or permission revoke made meanwhile was undone, a
 * password change was reverted, one TOTP code opened several sessions,
 * and parallel wrong passwords were all hashed past the lockout threshold.
 * Each test below races the real login code (real threads, the real
 * SQLite store, real Argon2id) against the change it used to undo; each
 * failed on the code before the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <liboath/oath.h>
#include <pthread.h>
#include <time.h>

#include "auth/auth.h"
#include "authz/authz.h"
#include "testvault.h"

#define PW "Long-secret-for-race-1"
#define PW2 "Another-long-secret-2"

/* Slow enough (tens of ms) that the changes below land mid-login. */
#define SLOW_ARGON "[auth]\nargon2_memlimit_kib = 65536\nargon2_opslimit = 3\n"
#define FAST_ARGON "[auth]\nargon2_memlimit_kib = 8192\nargon2_opslimit = 1\n"

struct login_arg {
	struct pv_vault *v;
	const char *name, *pw, *otp;
	pthread_barrier_t *start;
	struct pv_login_outcome o;
};

static void *
login_thread(void *p)
{
	struct login_arg *a = p;

	if (a->start != NULL)
		pthread_barrier_wait(a->start);
	pv_login(a->v, a->name, a->pw, a->otp, NULL, pv_now(), &a->o);
	return NULL;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
get_user(struct pv_vault *v, const char *name, struct pv_user *u)
{
	assert_int_equal(pv_store_user_get_by_name(v->store, name, u), PV_OK);
}

static void
count_session(void *arg, const struct pv_session *s)
{
	(void)s;
	(*(int *)arg)++;
}

static int
sessions_of(struct pv_vault *v, int64_t id)
{
	int n = 0;

	assert_int_equal(pv_store_session_list(v->store, id, count_session, &n),
	    PV_OK);
	return n;
}

/* Starts a login, lets it reach the hash, runs change(), joins. */
static void
race_login(struct pv_vault *v, const char *name, const char *pw,
    void (*change)(struct pv_vault *), struct pv_login_outcome *out)
{
	struct login_arg a = { v, name, pw, NULL, NULL, { 0 } };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, login_thread, &a), 0);
	sleep_ms(15);
	change(v);
	pthread_join(t, NULL);
	*out = a.o;
}

static void
do_disable(struct pv_vault *v)
{
	assert_int_equal(pv_account_disable(v, "ann"), PV_OK);
}

/* `user disable` run while a login hashes stays in force. */
static void
test_disable_during_login(void **state)
{
	struct pv_vault *v = tv_open(SLOW_ARGON);
	struct pv_login_outcome o;
	pv_pw_verdict verdict;
	struct pv_user u;
	int64_t id;

	(void)state;
	assert_non_null(v);
	assert_int_equal(pv_account_create(v, "ann", "researcher", NULL, PW,
			     &verdict, &id),
	    PV_OK);
	race_login(v, "ann", PW, do_disable, &o);
	get_user(v, "ann", &u);
	assert_false(u.is_active); /* was re-enabled before */
	assert_int_not_equal(o.result, PV_LOGIN_OK);
	assert_int_equal(sessions_of(v, id), 0);
	tv_close(v);
}

static void
do_revoke(struct pv_vault *v)
{
	assert_int_equal(pv_account_permission(v, "bea", "restricted", false),
	    PV_OK);
}

/* A permission revoked while a login hashes stays revoked. */
static void
test_revoke_during_login(void **state)
{
	struct pv_vault *v = tv_open(SLOW_ARGON);
	struct pv_login_outcome o;
	pv_pw_verdict verdict;
	struct pv_user u;

	(void)state;
	assert_non_null(v);
	assert_int_equal(pv_account_create(v, "bea", "researcher", NULL, PW,
			     &verdict, NULL),
	    PV_OK);
	assert_int_equal(pv_account_permission(v, "bea", "restricted", true),
	    PV_OK);
	get_user(v, "bea", &u);
	assert_string_equal(u.scopes, "restricted");
	race_login(v, "bea", PW, do_revoke, &o);
	get_user(v, "bea", &u);
	assert_string_equal(u.scopes, "");
	/* A session the login made carries the epoch after the revoke. */
	if (o.result == PV_LOGIN_OK)
		assert_int_equal(o.session.authz_epoch, u.authz_epoch);
	tv_close(v);
}

/* A password changed while a login with the old one hashes: the old one
 * must not work afterwards, nor that login open a session. */
static void
test_password_change_during_login(void **state)
{
	struct pv_vault *v = tv_open(SLOW_ARGON);
	struct login_arg a = { NULL, "cid", PW, NULL, NULL, { 0 } };
	struct pv_login_outcome o;
	pv_pw_verdict verdict;
	char hash[PV_PWHASH_MAX], old_hash[PV_PWHASH_MAX];
	pthread_t t;
	int64_t id;

	(void)state;
	assert_non_null(v);
	a.v = v;
	assert_int_equal(pv_account_create(v, "cid", "researcher", NULL, PW,
			     &verdict, &id),
	    PV_OK);
	/* The change is hashed first, then committed while the login with
	 * the old password is inside its Argon2id time. */
	assert_int_equal(pv_password_prepare(v, id, PW, PW2, hash, old_hash,
			     &verdict),
	    PV_OK);
	assert_int_equal(pthread_create(&t, NULL, login_thread, &a), 0);
	sleep_ms(15);
	assert_int_equal(pv_password_commit(v, id, old_hash, hash, false, NULL),
	    PV_OK);
	pthread_join(t, NULL);
	/* The racing login verified the old hash before the change and must
	 * not have opened a session after it. */
	assert_int_not_equal(a.o.result, PV_LOGIN_OK);
	assert_int_equal(sessions_of(v, id), 0);
	pv_login(v, "cid", PW, NULL, NULL, pv_now(), &o);
	assert_int_not_equal(o.result, PV_LOGIN_OK);
	pv_login(v, "cid", PW2, NULL, NULL, pv_now(), &o);
	assert_int_equal(o.result, PV_LOGIN_OK);
	tv_close(v);
}

/* Sets up an account with MFA on; writes the TOTP code for now. */
static void
mfa_account(struct pv_vault *v, const char *name, char code[8])
{
	struct pv_user u;
	pv_pw_verdict verdict;
	char b32[64], uri[256], *raw = NULL;
	size_t rawlen = 0;

	assert_int_equal(pv_account_create(v, name, "researcher", NULL, PW,
			     &verdict, NULL),
	    PV_OK);
	get_user(v, name, &u);
	assert_int_equal(pv_totp_enroll(v, &u, b32, sizeof(b32), uri,
			     sizeof(uri)),
	    PV_OK);
	assert_int_equal(pv_store_user_mfa_enable(v->store, u.id, u.mfa_sealed,
			     u.mfa_sealed_len),
	    PV_OK);
	assert_int_equal(oath_base32_decode(b32, strlen(b32), &raw, &rawlen),
	    OATH_OK);
	assert_int_equal(pv_totp_code((unsigned char *)raw, rawlen, pv_now(), 6,
			     code, 8),
	    PV_OK);
	free(raw);
}

/* One TOTP code, four parallel logins: exactly one session. */
static void
test_one_code_one_login(void **state)
{
	struct pv_vault *v = tv_open(FAST_ARGON);
	struct login_arg a[4];
	pthread_barrier_t start;
	pthread_t t[4];
	char code[8];
	int i, ok = 0;

	(void)state;
	assert_non_null(v);
	mfa_account(v, "dan", code);
	pthread_barrier_init(&start, NULL, 4);
	for (i = 0; i < 4; i++) {
		a[i] = (struct login_arg){ v, "dan", PW, code, &start, { 0 } };
		assert_int_equal(pthread_create(&t[i], NULL, login_thread,
				     &a[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (a[i].o.result == PV_LOGIN_OK)
			ok++;
		else
			assert_int_equal(a[i].o.result, PV_LOGIN_MFA_REQUIRED);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(ok, 1);
	tv_close(v);
}

/* Twenty wrong passwords in parallel, threshold 5: at most 5 verdicts. */
static void
test_parallel_guesses_stop_at_threshold(void **state)
{
	struct pv_vault *v = tv_open(FAST_ARGON "lockout_threshold = 5\n");
	struct login_arg a[20];
	pthread_barrier_t start;
	pthread_t t[20];
	pv_pw_verdict verdict;
	struct pv_user u;
	int i, judged = 0, locked = 0;

	(void)state;
	assert_non_null(v);
	assert_int_equal(pv_account_create(v, "eve", "researcher", NULL, PW,
			     &verdict, NULL),
	    PV_OK);
	pthread_barrier_init(&start, NULL, 20);
	for (i = 0; i < 20; i++) {
		a[i] = (struct login_arg){ v, "eve", "wrong-password-guess",
			NULL, &start, { 0 } };
		assert_int_equal(pthread_create(&t[i], NULL, login_thread,
				     &a[i]),
		    0);
	}
	for (i = 0; i < 20; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].o.result, PV_LOGIN_FAILED);
		if (strcmp(a[i].o.reason, "bad_password") == 0)
			judged++;
		else if (strcmp(a[i].o.reason, "locked") == 0)
			locked++;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(judged, 5);
	assert_int_equal(locked, 15);
	get_user(v, "eve", &u);
	assert_int_equal(u.failed_count, 5);
	assert_true(u.locked_until > pv_now());
	tv_close(v);
}

/* The two-step MFA login (password, then code) does not count as a
 * failure; a wrong code does. */
static void
test_mfa_step_is_not_a_failure(void **state)
{
	struct pv_vault *v = tv_open(FAST_ARGON);
	struct pv_login_outcome o;
	struct pv_user u;
	char code[8];

	(void)state;
	assert_non_null(v);
	mfa_account(v, "fay", code);
	pv_login(v, "fay", PW, NULL, NULL, pv_now(), &o);
	assert_int_equal(o.result, PV_LOGIN_MFA_REQUIRED);
	get_user(v, "fay", &u);
	assert_int_equal(u.failed_count, 0);
	pv_login(v, "fay", PW, "000000", NULL, pv_now(), &o);
	assert_int_equal(o.result, PV_LOGIN_MFA_REQUIRED);
	get_user(v, "fay", &u);
	assert_int_equal(u.failed_count, 1);
	tv_close(v);
}

/* Ending an account's break-glass grants on a role change (finding 10). */
static void
test_role_change_ends_grants(void **state)
{
	struct pv_vault *v = tv_open(FAST_ARGON);
	struct pv_principal who;
	struct pv_grant g;
	pv_pw_verdict verdict;
	int64_t id, grant = 0;

	(void)state;
	assert_non_null(v);
	assert_int_equal(tv_create_patient(v, "p-bg"), PV_OK);
	assert_int_equal(pv_account_create(v, "gus", "clinician", NULL, PW,
			     &verdict, &id),
	    PV_OK);
	memset(&who, 0, sizeof(who));
	who.user_id = id;
	strcpy(who.role, "clinician");
	assert_int_equal(pv_breakglass_open(v, &who, "p-bg", "cardiac arrest",
			     0, &g),
	    PV_OK);
	assert_int_equal(pv_store_grant_active(v->store, id, "p-bg", pv_now(),
			     &grant),
	    PV_OK);
	assert_int_equal(pv_account_set_role(v, "gus", "nurse"), PV_OK);
	assert_int_equal(pv_store_grant_active(v->store, id, "p-bg", pv_now(),
			     &grant),
	    PV_ENOTFOUND);
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
		cmocka_unit_test(test_disable_during_login),
		cmocka_unit_test(test_revoke_during_login),
		cmocka_unit_test(test_password_change_during_login),
		cmocka_unit_test(test_one_code_one_login),
		cmocka_unit_test(test_parallel_guesses_stop_at_threshold),
		cmocka_unit_test(test_mfa_step_is_not_a_failure),
		cmocka_unit_test(test_role_change_ends_grants),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
