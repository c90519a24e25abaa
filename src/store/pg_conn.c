/*
 * pg_conn.c — the PostgreSQL backend of the store interface: connections,
 * transactions over two databases, open and close, and the ops table
 * that pv_store_open_pg hands out.
 *
 * Two databases, two connections: the records database (accounts,
 * sessions, care teams, grants, legal holds, sealed resources, the replay
 * cache) and the keys database (wrapped DEKs, KEK version, tombstones),
 * which may live on another cluster, so that a backup of the records
 * never holds a key and a restored one cannot bring a shredded patient
 * back. Each thread gets its own pair on first use (thread-local, as the
 * SQLite backend's connections are), and each statement is prepared once
 * per connection (pg_stmt.c).
 *
 * Transactions: pv_store_begin marks the thread's transaction open; BEGIN
 * goes to a connection just before its first write (and a read after
 * that joins it), so a transaction that only reads costs no round trip
 * and one that writes one database does not touch the other. Isolation is
 * READ COMMITTED: every statement that must be atomic against another
 * node is one conditional statement or meets the other on a key or a row
 * lock (see pg_stmt.c); nothing relies on a database-wide write lock as
 * SQLite's BEGIN IMMEDIATE gives. The commit commits the keys database
 * first, then the records: there is no two-phase commit, and this order is
 * the one that is safe when the second commit fails (a key without
 * records is harmless; records without their key cannot happen).
 * Savepoints are set the same lazy way on each connection the change
 * touches, and undone on each.
 *
 * Failures: a statement that fails inside a transaction aborts it in
 * PostgreSQL; inside a savepoint, rollback_to recovers it (as a failed
 * statement in SQLite leaves the transaction usable), otherwise the
 * commit refuses (PV_EIO, the transaction rolled back), never reports a
 * rolled-back transaction as committed. A connection found lost is closed
 * and made again on the next call, so a node recovers by itself after a
 * database restart; a transaction that was on it is lost: every call of
 * the thread fails (PV_EIO) until its rollback, so no later statement of
 * that transaction commits on its own on the new connection. A read
 * outside any transaction is retried once on a new connection.
 *
 * Durability: a write returns after its commit, and synchronous_commit is
 * set back to on for the session if the server has it off.
 */
#include "store/pg_int.h"
#include "common/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- connecting ----------------------------------------------------- */

void
pg_conn_error(PGconn *c, char *out, size_t outsz)
{
	const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t n = strcspn(m, "\n");

	if (outsz == 0)
		return;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, m, n);
	out[n] = '\0';
}

/* One log line per second at most: a database that is down must not
 * flood the log with one line per request. The line is libpq's first
 * line of the connection error: host, port, database and role names,
 * what the operator needs to fix it, never a statement or a value. */
static void
log_connect_failure(PGconn *c)
{
	static _Atomic int64_t last;
	int64_t now = (int64_t)time(NULL);
	int64_t prev = atomic_load(&last);
	char line[256];

	if (prev == now || !atomic_compare_exchange_strong(&last, &prev, now))
		return;
	pg_conn_error(c, line, sizeof(line));
	pv_log(PV_LOG_ERROR, "store_pg_connect_failed", NULL, "error", line,
	    (const char *)NULL);
}

/* Server notices (warnings, "terminating connection" at a shutdown)
 * may quote values: not printed. Set once the connection is made, so a
 * notice the server sends during connection start-up itself would still
 * reach libpq's default (stderr); none of ours does. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

pv_status
pg_connect(const char *dsn, const char *password, PGconn **out)
{
	/* Defaults first: the DSN (expanded from dbname) overrides them;
	 * the password, last, overrides nothing the DSN may hold (a DSN
	 * with a password is refused before this). */
	/* TCP keepalives and tcp_user_timeout: a database host that
	 * vanishes fails a statement in ~30 s instead of hanging a worker
	 * (or the janitor's nonce expiry) for ever. */
	const char *keys[] = { "connect_timeout", "fallback_application_name",
		"client_encoding", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", "password",
		NULL };
	const char *vals[] = { "10", "phivault", "UTF8", "30", "10", "3",
		"30000", dsn, password, NULL };
	PGresult *r;
	PGconn *c;

	if (password == NULL)
		keys[8] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	*out = c;
	if (c == NULL)
		return PV_ENOMEM;
	PQsetNoticeProcessor(c, quiet, NULL);
	if (PQstatus(c) != CONNECTION_OK)
		return PV_EUNAVAIL;
	/* A commit must be durable when it returns (store.h's contract). */
	r = PQexec(c,
	    "SELECT set_config('synchronous_commit', 'on', false)"
	    " WHERE current_setting('synchronous_commit') = 'off'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return PV_EUNAVAIL;
	}
	PQclear(r);
	return PV_OK;
}

/* ---- thread pairs -------------------------------------------------- */

static void
link_close(struct pg_link *l)
{
	PQfinish(l->conn);
	memset(l, 0, sizeof(*l));
}

static void
thread_free(struct pg_thread *t)
{
	int db;

	for (db = 0; db < PG_NDB; db++)
		link_close(&t->link[db]);
	free(t);
}

static void
thread_unlink(struct pg_store *s, struct pg_thread *t)
{
	struct pg_thread **pp;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

/* The pthread key destructor gets the store through this. */
struct pg_tls {
	struct pg_store *s;
	struct pg_thread *t;
};

static void
tls_destroy(void *p)
{
	struct pg_tls *x = p;

	thread_unlink(x->s, x->t);
	thread_free(x->t);
	free(x);
}

pv_status
pg_thread_get(struct pg_store *s, struct pg_thread **out)
{
	struct pg_tls *x = pthread_getspecific(s->tls);
	struct pg_thread *t;

	if (x != NULL) {
		*out = x->t;
		return PV_OK;
	}
	t = calloc(1, sizeof(*t));
	x = malloc(sizeof(*x));
	if (t == NULL || x == NULL) {
		free(t);
		free(x);
		return PV_ENOMEM;
	}
	x->s = s;
	x->t = t;
	if (pthread_setspecific(s->tls, x) != 0) {
		free(t);
		free(x);
		return PV_EINTERNAL;
	}
	pthread_mutex_lock(&s->lock);
	t->next = s->conns;
	s->conns = t;
	pthread_mutex_unlock(&s->lock);
	*out = t;
	return PV_OK;
}

void
pg_link_drop(struct pg_thread *t, struct pg_link *l)
{
	if (t->tx_open && l->in_tx)
		t->tx_lost = true;
	link_close(l);
}

pv_status
pg_link_get(struct pg_store *s, struct pg_thread *t, enum pg_db db,
    struct pg_link **out)
{
	struct pg_link *l = &t->link[db];
	pv_status st;

	*out = l;
	if (l->conn != NULL && PQstatus(l->conn) == CONNECTION_OK)
		return PV_OK;
	if (l->conn != NULL)
		pg_link_drop(t, l);
	if ((st = pg_connect(s->dsn[db], s->password, &l->conn)) != PV_OK) {
		log_connect_failure(l->conn);
		link_close(l);
	}
	return st;
}

/* A transaction command (no parameters, no value) on one connection. */
static pv_status
link_simple(struct pg_thread *t, struct pg_link *l, const char *sql)
{
	PGresult *r = PQexec(l->conn, sql);
	pv_status st = pg_map_result(l->conn, r, P_N);

	PQclear(r);
	if (st != PV_OK && PQstatus(l->conn) == CONNECTION_BAD)
		pg_link_drop(t, l);
	return st;
}

pv_status
pg_link_join_tx(struct pg_thread *t, struct pg_link *l, bool is_write)
{
	const char *sql;
	pv_status st;

	if (!t->tx_open)
		return PV_OK;
	if (!l->in_tx) {
		if (!is_write)
			return PV_OK; /* a read before any write: on its own */
		sql = t->sp_open ? "BEGIN; SAVEPOINT pv_change" : "BEGIN";
	} else if (t->sp_open && !l->in_sp) {
		sql = "SAVEPOINT pv_change";
	} else {
		return PV_OK;
	}
	st = link_simple(t, l, sql);
	if (l->conn != NULL && PQtransactionStatus(l->conn) != PQTRANS_IDLE)
		l->in_tx = true;
	if (st == PV_OK && t->sp_open)
		l->in_sp = true;
	return st;
}

/* ---- running a statement ------------------------------------------- */

static bool
is_prepared(const struct pg_link *l, enum pg_q q)
{
	return (l->prepared[q / 64] >> (q % 64)) & 1u;
}

static pv_status
prepare(struct pg_link *l, enum pg_q q, const char *name)
{
	PGresult *r;
	pv_status st;

	if (is_prepared(l, q))
		return PV_OK;
	r = PQprepare(l->conn, name, pg_sql[q].text, 0, NULL);
	st = pg_map_result(l->conn, r, q);
	PQclear(r);
	if (st == PV_OK)
		l->prepared[q / 64] |= (uint64_t)1 << (q % 64);
	return st;
}

/* One attempt; *retry true when the connection turned out lost under a
 * read that ran on its own (safe to run again on a new connection). */
static pv_status
exec_once(struct pg_store *s, struct pg_thread *t, enum pg_q q,
    const struct pg_params *p, PGresult **res, bool *retry)
{
	struct pg_link *l;
	PGresult *r;
	char name[16];
	bool alone;
	pv_status st;

	*retry = false;
	if ((st = pg_link_get(s, t, pg_sql[q].db, &l)) != PV_OK)
		return st;
	if ((st = pg_link_join_tx(t, l, pg_sql[q].is_write)) != PV_OK)
		return st;
	alone = !l->in_tx;
	(void)snprintf(name, sizeof(name), "pv%d", (int)q);
	if ((st = prepare(l, q, name)) == PV_OK) {
		r = PQexecPrepared(l->conn, name, p->n, p->v, p->len, p->fmt,
		    1);
		st = pg_map_result(l->conn, r, q);
		if (st == PV_OK)
			*res = r;
		else
			PQclear(r);
	}
	if (st != PV_OK && l->conn != NULL &&
	    PQstatus(l->conn) == CONNECTION_BAD) {
		*retry = alone && !pg_sql[q].is_write;
		pg_link_drop(t, l);
		st = PV_EUNAVAIL;
	}
	return st;
}

pv_status
pg_exec(struct pv_store *store, enum pg_q q, const struct pg_params *p,
    PGresult **res)
{
	struct pg_store *s = PGS(store);
	struct pg_params none;
	struct pg_thread *t;
	PGresult *r = NULL;
	bool retry;
	pv_status st;

	if (res != NULL)
		*res = NULL;
	if (p == NULL) {
		pg_p_init(&none);
		p = &none;
	}
	if (p->is_bad || q >= P_N)
		return PV_EINTERNAL;
	if ((st = pg_thread_get(s, &t)) != PV_OK)
		return st;
	if (t->tx_open && t->tx_lost)
		return PV_EIO; /* never a statement of a lost transaction */
	st = exec_once(s, t, q, p, &r, &retry);
	if (st != PV_OK && retry)
		st = exec_once(s, t, q, p, &r, &retry);
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return st;
}

/* ---- transactions --------------------------------------------------- */

static pv_status
pg_begin(struct pv_store *store)
{
	struct pg_thread *t;
	pv_status st;

	if ((st = pg_thread_get(PGS(store), &t)) != PV_OK)
		return st;
	if (t->tx_open)
		return PV_EINTERNAL; /* not nested */
	t->tx_open = true;
	t->sp_open = false;
	t->tx_lost = false;
	return PV_OK;
}

static bool
pg_in_tx(struct pv_store *store)
{
	struct pg_thread *t;

	if (pg_thread_get(PGS(store), &t) != PV_OK)
		return false;
	return t->tx_open && !t->tx_lost;
}

/* Ends the thread's transaction on every connection, undoing it. */
static void
rollback_all(struct pg_thread *t)
{
	int db;

	for (db = 0; db < PG_NDB; db++) {
		struct pg_link *l = &t->link[db];

		if (l->conn != NULL && l->in_tx) {
			PGresult *r = PQexec(l->conn, "ROLLBACK");

			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				link_close(l); /* unknown state: a new one */
			PQclear(r);
		}
		l->in_tx = l->in_sp = false;
	}
	t->tx_open = t->sp_open = t->tx_lost = false;
}

static void
pg_rollback(struct pv_store *store)
{
	struct pg_thread *t;

	if (pg_thread_get(PGS(store), &t) != PV_OK || !t->tx_open)
		return;
	rollback_all(t);
}

/* COMMIT on one connection; a transaction PostgreSQL already aborted
 * answers ROLLBACK to it, which is a failure here, not a success. */
static pv_status
commit_link(struct pg_link *l)
{
	PGresult *r;
	pv_status st;

	if (!l->in_tx)
		return PV_OK;
	if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK)
		return PV_EIO;
	if (PQtransactionStatus(l->conn) != PQTRANS_INTRANS)
		return PV_EIO;
	r = PQexec(l->conn, "COMMIT");
	st = pg_map_result(l->conn, r, P_N);
	if (st == PV_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		st = PV_EIO;
	PQclear(r);
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		/* The outcome is unknown: never report it committed. */
		link_close(l);
		return PV_EIO;
	}
	l->in_tx = l->in_sp = false;
	return st;
}

static pv_status
pg_commit(struct pv_store *store)
{
	struct pg_thread *t;
	pv_status st;

	if ((st = pg_thread_get(PGS(store), &t)) != PV_OK)
		return st;
	if (!t->tx_open)
		return PV_EINTERNAL;
	if (t->tx_lost) {
		rollback_all(t);
		return PV_EIO;
	}
	/* COMMIT ends an open savepoint with the transaction, as SQLite's. */
	t->sp_open = false;
	/* Keys first: see the top of this file. */
	if ((st = commit_link(&t->link[PG_KEYS])) != PV_OK ||
	    (st = commit_link(&t->link[PG_REC])) != PV_OK) {
		rollback_all(t);
		return st == PV_EUNAVAIL ? PV_EIO : st;
	}
	t->tx_open = false;
	return PV_OK;
}

static pv_status
pg_savepoint(struct pv_store *store)
{
	struct pg_thread *t;
	pv_status st;

	if ((st = pg_thread_get(PGS(store), &t)) != PV_OK)
		return st;
	if (!t->tx_open || t->sp_open)
		return PV_EINTERNAL;
	if (t->tx_lost)
		return PV_EIO;
	t->sp_open = true; /* set on each connection when it is used */
	return PV_OK;
}

/* RELEASE (keep) or ROLLBACK TO + RELEASE (undo) on each connection the
 * change touched. A failed ROLLBACK TO is never followed by RELEASE: that
 * would keep the change (one simple query stops at its first error). */
static pv_status
end_savepoint(struct pv_store *store, const char *sql)
{
	struct pg_thread *t;
	pv_status st, ret = PV_OK;
	int db;

	if ((st = pg_thread_get(PGS(store), &t)) != PV_OK)
		return st;
	if (!t->tx_open || !t->sp_open)
		return PV_EINTERNAL;
	for (db = 0; db < PG_NDB; db++) {
		struct pg_link *l = &t->link[db];

		if (l->conn == NULL || !l->in_sp)
			continue;
		if ((st = link_simple(t, l, sql)) != PV_OK) {
			ret = PV_EIO;
			t->tx_lost = true; /* the caller must roll back */
		}
		l->in_sp = false;
	}
	t->sp_open = false;
	return t->tx_lost ? PV_EIO : ret;
}

static pv_status
pg_release(struct pv_store *store)
{
	return end_savepoint(store, "RELEASE pv_change");
}

static pv_status
pg_rollback_to(struct pv_store *store)
{
	return end_savepoint(store, "ROLLBACK TO pv_change; RELEASE pv_change");
}

/* The transaction ended by itself (tests: a full disk, as SQLite rolls
 * back on SQLITE_FULL): undone on every connection, and lost until the
 * caller's rollback. */
void
pg_tx_abandon(struct pv_store *store)
{
	struct pg_thread *t;

	if (pg_thread_get(PGS(store), &t) != PV_OK || !t->tx_open)
		return;
	rollback_all(t);
	t->tx_open = true;
	t->tx_lost = true;
}

/* ---- lifecycle ------------------------------------------------------ */

static void
pg_close(struct pv_store *store)
{
	struct pg_store *s = PGS(store);
	struct pg_tls *x;
	struct pg_thread *t;
	int db;

	if (s == NULL)
		return;
	x = pthread_getspecific(s->tls);
	if (x != NULL) {
		pthread_setspecific(s->tls, NULL);
		free(x);
	}
	/* Pairs of threads still alive; request threads have stopped by the
	 * time the store closes. */
	pthread_mutex_lock(&s->lock);
	while ((t = s->conns) != NULL) {
		s->conns = t->next;
		thread_free(t);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_key_delete(s->tls);
	pthread_mutex_destroy(&s->lock);
	for (db = 0; db < PG_NDB; db++)
		free(s->dsn[db]);
	pv_secret_free(s->password, s->password_len);
	free(s);
}

static void
refuse(const char *why, const char *db)
{
	pv_log(PV_LOG_ERROR, "store_pg_refused", NULL, "database", db, "reason",
	    why, (const char *)NULL);
}

/* Both databases reachable, and at this build's schema version. */
static pv_status
check_schemas(struct pg_store *s)
{
	static const char *const names[PG_NDB] = { "records", "keys" };
	struct pg_thread *t;
	struct pg_link *l;
	const char *why = NULL;
	pv_status st;
	int db;

	if ((st = pg_thread_get(s, &t)) != PV_OK)
		return st;
	for (db = 0; db < PG_NDB; db++) {
		if ((st = pg_link_get(s, t, (enum pg_db)db, &l)) != PV_OK) {
			refuse("cannot connect", names[db]);
			return st;
		}
		if ((st = pg_schema_check(l->conn, (enum pg_db)db, &why)) !=
		    PV_OK) {
			refuse(why, names[db]);
			return st;
		}
	}
	return PV_OK;
}

static pv_status
copy_opts(struct pg_store *s, const struct pv_store_pg_opts *o)
{
	const char *dsn[PG_NDB] = { o->dsn, o->keys_dsn };
	int db;

	for (db = 0; db < PG_NDB; db++) {
		if (dsn[db] == NULL || pv_store_pg_dsn_has_password(dsn[db])) {
			refuse(dsn[db] == NULL
				? "no DSN"
				: "the DSN is malformed or holds a password"
				  " (use a password file or PGPASSFILE)",
			    db == PG_REC ? "records" : "keys");
			return PV_EINVAL;
		}
		if ((s->dsn[db] = strdup(dsn[db])) == NULL)
			return PV_ENOMEM;
	}
	if (o->password != NULL) {
		s->password_len = strlen(o->password) + 1;
		if ((s->password = pv_secret_alloc(s->password_len)) == NULL)
			return PV_ENOMEM;
		memcpy(s->password, o->password, s->password_len);
	}
	return PV_OK;
}

static const struct pv_store_ops pg_ops;

pv_status
pv_store_open_pg(const struct pv_store_pg_opts *o, struct pv_store **out)
{
	struct pg_store *s;
	pv_status st;

	*out = NULL;
	if (!PQisthreadsafe())
		return PV_EINTERNAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_ENOMEM;
	s->base.ops = &pg_ops;
	pthread_mutex_init(&s->lock, NULL);
	if (pthread_key_create(&s->tls, tls_destroy) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return PV_EINTERNAL;
	}
	if ((st = copy_opts(s, o)) != PV_OK ||
	    (st = check_schemas(s)) != PV_OK) {
		pg_close(&s->base);
		return st;
	}
	*out = &s->base;
	return PV_OK;
}

/* ---- the backend: one function per operation ----------------------- */

static const struct pv_store_ops pg_ops = {
	.close = pg_close,
	.begin = pg_begin,
	.in_tx = pg_in_tx,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.release = pg_release,
	.rollback_to = pg_rollback_to,
	.user_insert = pg_user_insert,
	.user_get_by_name = pg_user_get_by_name,
	.user_get_by_id = pg_user_get_by_id,
	.user_get_by_key_id = pg_user_get_by_key_id,
	.user_list = pg_user_list,
	.user_attempt_reserve = pg_user_attempt_reserve,
	.user_attempt_refund = pg_user_attempt_refund,
	.user_login_ok = pg_user_login_ok,
	.user_unlock = pg_user_unlock,
	.user_totp_consume = pg_user_totp_consume,
	.user_mfa_begin = pg_user_mfa_begin,
	.user_mfa_enable = pg_user_mfa_enable,
	.user_set_password = pg_user_set_password,
	.user_set_access = pg_user_set_access,
	.session_insert = pg_session_insert,
	.session_get = pg_session_get,
	.session_touch = pg_session_touch,
	.session_delete = pg_session_delete,
	.session_delete_all = pg_session_delete_all,
	.session_list = pg_session_list,
	.recovery_replace = pg_recovery_replace,
	.recovery_consume = pg_recovery_consume,
	.careteam_add = pg_careteam_add,
	.careteam_remove = pg_careteam_remove,
	.careteam_has = pg_careteam_has,
	.careteam_count = pg_careteam_count,
	.resource_put = pg_resource_put,
	.resource_get = pg_resource_get,
	.resource_history = pg_resource_history,
	.resource_search = pg_resource_search,
	.resource_scan = pg_resource_scan,
	.resource_purge = pg_resource_purge,
	.patient_purge = pg_patient_purge,
	.index_replace = pg_index_replace,
	.index_find = pg_index_find,
	.grant_insert = pg_grant_insert,
	.grant_active = pg_grant_active,
	.grant_list = pg_grant_list,
	.grant_get = pg_grant_get,
	.grant_review = pg_grant_review,
	.grant_end_user = pg_grant_end_user,
	.hold_set = pg_hold_set,
	.hold_has = pg_hold_has,
	.dek_get = pg_dek_get,
	.dek_insert = pg_dek_insert,
	.dek_rewrap = pg_dek_rewrap,
	.dek_shred = pg_dek_shred,
	.dek_is_shredded = pg_dek_is_shredded,
	.dek_count_version = pg_dek_count_version,
	.dek_list_old = pg_dek_list_old,
	.kek_current_set = pg_kek_current_set,
	.keys_version = pg_keys_version,
	.keys_shred_epoch = pg_keys_shred_epoch,
	.compact = pg_compact,
	.ping = pg_ping,
	.nonce_claim = pg_nonce_claim,
	.nonce_expire = pg_nonce_expire,
	.is_shared = true,
};
