/*
 * test_store_nodes.c — two store handles on the same databases, as two
 * nodes (PostgreSQL) or two processes (SQLite) are, racing with real
 * threads: what issue 15 requires to be global is global. A session
 * deleted through one is gone through the other; lockout reservations
 * from both count once each against one threshold; a TOTP step is used
 * once; a resource version is written once; a shred through one moves
 * keys_version on the other, and the DEK is gone there; a nonce claimed
 * through one is refused through the other (PostgreSQL: on SQLite the
 * server's memory holds the nonces).
 *
 * PostgreSQL only: migrations (twice is a no-op; a newer schema, an
 * unmigrated database, one database for both and a DSN with a password
 * are refused) and recovery after a database restart (a lost transaction
 * fails until rolled back; the next one works on a new connection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>

#include "storeharness.h"

#define RACERS 8 /* threads per handle */

/* The second handle ("node B") of a case, on the same databases. */
static struct pv_store *
node_b(struct sh_case *c)
{
	struct pv_store *b = NULL;

	assert_int_equal(sh_open(&c->db, &b), PV_OK);
	return b;
}

static int64_t
add_user(struct pv_store *s, const char *name)
{
	struct pv_user u;

	memset(&u, 0, sizeof(u));
	strcpy(u.username, name);
	strcpy(u.role, "clinician");
	u.is_active = true;
	strcpy(u.pw_hash, "$argon2id$h");
	assert_int_equal(pv_store_user_insert(s, &u), PV_OK);
	return u.id;
}

/* ---- racing threads ------------------------------------------------ */

struct race {
	pthread_barrier_t start;
	pv_status (*fn)(struct pv_store *, void *);
	void *arg;
	pthread_mutex_t lock;
	int ok, other, failed;
};

struct racer {
	struct race *r;
	struct pv_store *s;
};

static void *
racer_main(void *p)
{
	struct racer *x = p;
	pv_status st;

	pthread_barrier_wait(&x->r->start);
	st = x->r->fn(x->s, x->r->arg);
	pthread_mutex_lock(&x->r->lock);
	if (st == PV_OK)
		x->r->ok++;
	else if (st == PV_EAUTH || st == PV_ECONFLICT || st == PV_EEXISTS ||
	    st == PV_EDENIED)
		x->r->other++;
	else
		x->r->failed++;
	pthread_mutex_unlock(&x->r->lock);
	return NULL;
}

/* Runs fn RACERS times on each handle at once; counts the outcomes. */
static void
race(struct pv_store *a, struct pv_store *b,
    pv_status (*fn)(struct pv_store *, void *), void *arg, struct race *r)
{
	pthread_t th[2 * RACERS];
	struct racer x[2 * RACERS];
	int i;

	memset(r, 0, sizeof(*r));
	r->fn = fn;
	r->arg = arg;
	pthread_mutex_init(&r->lock, NULL);
	pthread_barrier_init(&r->start, NULL, 2 * RACERS);
	for (i = 0; i < 2 * RACERS; i++) {
		x[i].r = r;
		x[i].s = i % 2 == 0 ? a : b;
		assert_int_equal(pthread_create(&th[i], NULL, racer_main,
				     &x[i]),
		    0);
	}
	for (i = 0; i < 2 * RACERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r->start);
	pthread_mutex_destroy(&r->lock);
	assert_int_equal(r->failed, 0);
}

/* ---- sessions ------------------------------------------------------ */

static void
test_session_revoked_everywhere(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *b = node_b(c);
	struct pv_session x, got;
	int64_t id = add_user(c->s, "ann");

	memset(&x, 0, sizeof(x));
	strcpy(x.id, "0123456789abcdef0123456789abcdef");
	memset(x.token_hash, 0x42, sizeof(x.token_hash));
	x.user_id = id;
	x.expires_at = 99999;
	assert_int_equal(pv_store_session_insert(c->s, &x), PV_OK);
	assert_int_equal(pv_store_session_get(b, x.token_hash, &got), PV_OK);
	assert_int_equal(pv_store_session_delete(c->s, id, x.id), PV_OK);
	assert_int_equal(pv_store_session_get(b, x.token_hash, &got),
	    PV_ENOTFOUND);
	pv_store_close(b);
}

/* ---- lockout ------------------------------------------------------- */

struct reserve_arg {
	int64_t id;
};

static pv_status
reserve_once(struct pv_store *s, void *p)
{
	struct reserve_arg *a = p;
	struct pv_lockout_rule rule = { 5, 300, 3600 };
	struct pv_attempt at;
	pv_status st =
	    pv_store_user_attempt_reserve(s, a->id, 1000, &rule, &at);

	if (st != PV_OK)
		return st;
	return at.is_reserved ? PV_OK : PV_EDENIED;
}

static void
test_lockout_is_global(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *b = node_b(c);
	struct reserve_arg a = { add_user(c->s, "bea") };
	struct pv_user u;
	struct race r;

	race(c->s, b, reserve_once, &a, &r);
	/* exactly the threshold's worth of guesses, across both nodes */
	assert_int_equal(r.ok, 5);
	assert_int_equal(r.other, 2 * RACERS - 5);
	assert_int_equal(pv_store_user_get_by_id(b, a.id, &u), PV_OK);
	assert_int_equal(u.failed_count, 5);
	assert_int_equal(u.locked_until, 1300);
	pv_store_close(b);
}

/* ---- TOTP ---------------------------------------------------------- */

static const unsigned char totp_sealed[] = "sealed-secret";

struct totp_arg {
	int64_t id;
};

static pv_status
totp_once(struct pv_store *s, void *p)
{
	struct totp_arg *a = p;

	return pv_store_user_totp_consume(s, a->id, totp_sealed,
	    sizeof(totp_sealed), 777);
}

static void
test_totp_step_once(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *b = node_b(c);
	struct totp_arg a = { add_user(c->s, "cy") };
	struct race r;

	assert_int_equal(pv_store_user_mfa_begin(c->s, a.id, totp_sealed,
			     sizeof(totp_sealed)),
	    PV_OK);
	assert_int_equal(pv_store_user_mfa_enable(b, a.id, totp_sealed,
			     sizeof(totp_sealed)),
	    PV_OK);
	race(c->s, b, totp_once, &a, &r);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.other, 2 * RACERS - 1);
	pv_store_close(b);
}

/* ---- resource versions --------------------------------------------- */

static pv_status
put_v2(struct pv_store *s, void *p)
{
	struct pv_resource r;
	pv_status st;

	(void)p;
	memset(&r, 0, sizeof(r));
	strcpy(r.type, "Observation");
	strcpy(r.id, "o1");
	strcpy(r.patient_id, "p1");
	r.version = 2;
	r.sealed = (unsigned char *)(uintptr_t) "v2";
	r.sealed_len = 2;
	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	if ((st = pv_store_resource_put(s, &r)) != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	return pv_store_commit(s);
}

static bool
count_res(void *arg, const struct pv_resource *r)
{
	(void)r;
	(*(int *)arg)++;
	return true;
}

static void
test_version_written_once(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *b = node_b(c);
	struct pv_resource r;
	struct race rc;
	int n = 0;

	memset(&r, 0, sizeof(r));
	strcpy(r.type, "Observation");
	strcpy(r.id, "o1");
	strcpy(r.patient_id, "p1");
	r.version = 1;
	r.sealed = (unsigned char *)(uintptr_t) "v1";
	r.sealed_len = 2;
	assert_int_equal(pv_store_begin(c->s), PV_OK);
	assert_int_equal(pv_store_resource_put(c->s, &r), PV_OK);
	assert_int_equal(pv_store_commit(c->s), PV_OK);
	race(c->s, b, put_v2, NULL, &rc);
	assert_int_equal(rc.ok, 1);
	assert_int_equal(rc.other, 2 * RACERS - 1);
	assert_int_equal(pv_store_resource_history(b, "Observation", "o1",
			     count_res, &n),
	    PV_OK);
	assert_int_equal(n, 2);
	/* one current version */
	int64_t total = 0;
	n = 0;
	assert_int_equal(pv_store_resource_search(b, "p1", NULL, 10, 0,
			     count_res, &n, &total),
	    PV_OK);
	assert_int_equal(total, 1);
	assert_int_equal(pv_store_resource_get(c->s, "Observation", "o1", 0,
			     &r),
	    PV_OK);
	assert_int_equal(r.version, 2);
	pv_resource_clear(&r);
	pv_store_close(b);
}

/* ---- keys ---------------------------------------------------------- */

static void
test_shred_seen_by_other_node(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *b = node_b(c);
	unsigned char w[PV_WRAPPED_DEK_BYTES], got[PV_WRAPPED_DEK_BYTES];
	int64_t va = 0, vb0 = 0, vb1 = 0, eb0 = 0, eb1 = 0;
	uint32_t ver;

	memset(w, 1, sizeof(w));
	assert_int_equal(pv_store_dek_insert(c->s, "pk", 1, w), PV_OK);
	assert_int_equal(pv_store_dek_get(b, "pk", &ver, got), PV_OK);
	assert_int_equal(pv_store_keys_version(b, &vb0), PV_OK);
	assert_int_equal(pv_store_keys_shred_epoch(b, &eb0), PV_OK);
	/* node A shreds (as pv_dek_shred does: epoch read inside) */
	assert_int_equal(pv_store_begin(c->s), PV_OK);
	assert_int_equal(pv_store_dek_shred(c->s, "pk"), PV_OK);
	assert_int_equal(pv_store_keys_shred_epoch(c->s, &va), PV_OK);
	/* not committed: B sees nothing yet */
	assert_int_equal(pv_store_keys_version(b, &vb1), PV_OK);
	assert_int_equal(vb1, vb0);
	assert_int_equal(pv_store_commit(c->s), PV_OK);
	/* committed: B's very next read sees it */
	assert_int_equal(pv_store_keys_version(b, &vb1), PV_OK);
	assert_int_not_equal(vb1, vb0);
	assert_int_equal(pv_store_keys_shred_epoch(b, &eb1), PV_OK);
	assert_true(eb1 > eb0);
	assert_int_equal(eb1, va);
	assert_int_equal(pv_store_dek_get(b, "pk", &ver, got), PV_ENOTFOUND);
	/* and a new key under that id is refused on B */
	assert_int_equal(pv_store_dek_insert(b, "pk", 1, w), PV_ECONFLICT);
	pv_store_close(b);
}

/* ---- nonces -------------------------------------------------------- */

static const unsigned char race_nonce[PV_HASH_BYTES] = { 1, 2, 3 };

static pv_status
claim_once(struct pv_store *s, void *p)
{
	(void)p;
	return pv_store_nonce_claim(s, race_nonce, 2000, 1000);
}

static void
test_nonce_is_global(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *b = node_b(c);
	unsigned char d[PV_HASH_BYTES];
	struct race r;

	memset(d, 0x77, sizeof(d));
	assert_true(pv_store_is_shared(b));
	assert_int_equal(pv_store_nonce_claim(c->s, d, 200, 100), PV_OK);
	assert_int_equal(pv_store_nonce_claim(b, d, 260, 160), PV_EEXISTS);
	/* expired: a new claim takes it over, and holds it */
	assert_int_equal(pv_store_nonce_claim(b, d, 400, 200), PV_OK);
	assert_int_equal(pv_store_nonce_claim(c->s, d, 400, 300), PV_EEXISTS);
	assert_int_equal(pv_store_nonce_expire(c->s, 400), PV_OK);
	assert_int_equal(pv_store_nonce_claim(c->s, d, 900, 399), PV_OK);
	race(c->s, b, claim_once, NULL, &r);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.other, 2 * RACERS - 1);
	pv_store_close(b);
}

/* ---- PostgreSQL only: migrations and refusals ---------------------- */

static PGconn *
connect_dsn(const char *dsn)
{
	PGconn *k = PQconnectdb(dsn);

	assert_int_equal(PQstatus(k), CONNECTION_OK);
	return k;
}

static void
sql(const char *dsn, const char *text)
{
	PGconn *k = connect_dsn(dsn);
	PGresult *r = PQexec(k, text);

	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(k);
}

static void
test_migrate_and_refusals(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store_pg_opts o = sh_pg_opts(&c->db);
	struct pv_store *x = NULL;
	struct sh_db fresh;
	char err[256], dsn[160];
	int from = -1, to = -1;

	/* twice: nothing to do */
	assert_int_equal(pv_store_pg_migrate(&o, &from, &to, err, sizeof(err)),
	    PV_OK);
	assert_int_equal(from, to);
	assert_true(to >= 1);
	/* an unmigrated pair is refused by open, and migrated from 0 */
	assert_true(sh_db_make(&fresh, SH_PG, false));
	assert_int_equal(sh_open(&fresh, &x), PV_EINVAL);
	assert_null(x);
	struct pv_store_pg_opts f = sh_pg_opts(&fresh);
	assert_int_equal(pv_store_pg_migrate(&f, &from, &to, err, sizeof(err)),
	    PV_OK);
	assert_int_equal(from, 0);
	assert_true(to >= 1);
	assert_int_equal(sh_open(&fresh, &x), PV_OK);
	pv_store_close(x);
	/* a schema newer than this build: refused, never written */
	sql(fresh.keys_dsn, "UPDATE schema_version SET version = 99");
	assert_int_equal(sh_open(&fresh, &x), PV_EINVAL);
	assert_int_equal(pv_store_pg_migrate(&f, &from, &to, err, sizeof(err)),
	    PV_EINVAL);
	assert_non_null(strstr(err, "keys"));
	/* one database for both */
	struct pv_store_pg_opts same = { o.dsn, o.dsn, NULL };
	assert_int_equal(pv_store_open_pg(&same, &x), PV_EINVAL);
	assert_int_equal(pv_store_pg_migrate(&same, &from, &to, err,
			     sizeof(err)),
	    PV_EINVAL);
	/* a password in the DSN, in either form */
	snprintf(dsn, sizeof(dsn), "%s password=secret", o.dsn);
	struct pv_store_pg_opts pw = { dsn, o.keys_dsn, NULL };
	assert_int_equal(pv_store_open_pg(&pw, &x), PV_EINVAL);
	assert_int_equal(pv_store_pg_migrate(&pw, &from, &to, err, sizeof(err)),
	    PV_EINVAL);
	assert_null(strstr(err, "secret"));
	assert_true(
	    pv_store_pg_dsn_has_password("postgresql://u:secret@127.0.0.1/db"));
	assert_true(pv_store_pg_dsn_has_password("dbname='unclosed"));
	assert_false(pv_store_pg_dsn_has_password(
	    "postgresql://u@127.0.0.1/db?sslmode=verify-full"));
	assert_false(pv_store_pg_dsn_has_password("host=/tmp dbname=x"));
	/* an unreachable database */
	struct pv_store_pg_opts gone = { "host=127.0.0.1 port=1 dbname=x",
		o.keys_dsn, NULL };
	assert_int_equal(pv_store_open_pg(&gone, &x), PV_EUNAVAIL);
}

/* ---- PostgreSQL only: a database restart --------------------------- */

static void
test_database_restart(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	struct pv_user u;
	int64_t id = add_user(s, "dee");

	/* outside a transaction: the next call reconnects by itself */
	assert_true(sh_pg_restart());
	assert_int_equal(pv_store_user_get_by_id(s, id, &u), PV_OK);
	assert_int_equal(pv_store_ping(s), PV_OK);
	/* a transaction the restart cut: refused to the end, never
	 * continued on a new connection */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_careteam_add(s, id, "lost-1"), PV_OK);
	assert_true(sh_pg_restart());
	assert_int_not_equal(pv_store_careteam_add(s, id, "lost-2"), PV_OK);
	assert_int_not_equal(pv_store_careteam_add(s, id, "lost-3"), PV_OK);
	assert_int_not_equal(pv_store_commit(s), PV_OK);
	pv_store_rollback(s);
	bool has = true;
	assert_int_equal(pv_store_careteam_has(s, id, "lost-1", &has), PV_OK);
	assert_false(has);
	assert_int_equal(pv_store_careteam_has(s, id, "lost-3", &has), PV_OK);
	assert_false(has);
	/* the next transaction works */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_careteam_add(s, id, "kept"), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_int_equal(pv_store_careteam_has(s, id, "kept", &has), PV_OK);
	assert_true(has);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SH_BOTH(test_session_revoked_everywhere),
		SH_BOTH(test_lockout_is_global),
		SH_BOTH(test_totp_step_once),
		SH_BOTH(test_version_written_once),
		SH_BOTH(test_shred_seen_by_other_node),
		SH_PG_ONLY(test_nonce_is_global),
		SH_PG_ONLY(test_migrate_and_refusals),
		SH_PG_ONLY(test_database_restart),
	};

	return cmocka_run_group_tests(tests, sh_group_setup, sh_group_teardown);
}
