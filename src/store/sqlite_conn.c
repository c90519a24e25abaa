/*
 * sqlite_conn.c — the embedded SQLite backend of the store interface:
 * opening, connections, migrations, transactions, and the ops table
 * that pv_store_open_sqlite hands out.
 *
 * Two files: phivault.db (records, accounts, sessions, care teams, grants)
 * and keys/keys.db (wrapped DEKs), ATTACHed as "k" on one connection so a
 * request needs one handle. Each thread gets its own connection on first
 * use (thread-local, NOMUTEX), with every statement prepared once and
 * cached; no SQL text is ever built from a value.
 *
 * Durability: WAL journal, synchronous=FULL by default, busy timeout so
 * the CLI and the server can write the same vault. secure_delete=ON so a
 * shredded DEK or purged row is overwritten in the file, not just
 * unlinked from the b-tree; compact (a TRUNCATE checkpoint of both WAL
 * files) removes the copies the WAL still holds.
 *
 * Migrations: PRAGMA user_version is the schema version; each entry of
 * migrations[] moves it up by one inside a transaction. A vault whose
 * version is newer than this build knows is refused (PV_EINVAL), never
 * written.
 *
 * Transactions are BEGIN IMMEDIATE: the write lock is taken at the
 * start, so a second writer waits there (busy timeout) instead of
 * failing half-way. A rollback with no transaction open does nothing.
 *
 * The tables' operations are in sqlite_accounts.c, sqlite_access.c,
 * sqlite_records.c and sqlite_keys.c; the statements' text and the
 * helpers that run them in sqlite_stmt.c (see sqlite_int.h).
 */
#include "store/sqlite_int.h"

#include <stdlib.h>

#define PV_SQLITE_MMAP_BYTES "4294967296"

/* ---- schema -------------------------------------------------------- */

static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE users ("
	" id INTEGER PRIMARY KEY,"
	" username TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL,"
	" active INTEGER NOT NULL DEFAULT 1,"
	" pw_hash TEXT NOT NULL,"
	" patient_id TEXT NOT NULL DEFAULT '',"
	" mfa_sealed BLOB,"
	" mfa_enabled INTEGER NOT NULL DEFAULT 0,"
	" mfa_last_step INTEGER NOT NULL DEFAULT 0,"
	" failed_count INTEGER NOT NULL DEFAULT 0,"
	" locked_until INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" last_login_at INTEGER NOT NULL DEFAULT 0,"
	" authz_epoch INTEGER NOT NULL DEFAULT 0,"
	" key_id TEXT UNIQUE,"
	" pubkey BLOB,"
	" scopes TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE sessions ("
	" id TEXT PRIMARY KEY,"
	" token_hash BLOB NOT NULL UNIQUE,"
	" user_id INTEGER NOT NULL REFERENCES users(id),"
	" created_at INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" mfa_verified INTEGER NOT NULL,"
	" authz_epoch INTEGER NOT NULL);"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE TABLE recovery_codes ("
	" user_id INTEGER NOT NULL REFERENCES users(id),"
	" code_hash BLOB NOT NULL,"
	" used_at INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (user_id, code_hash));"
	"CREATE TABLE careteam ("
	" user_id INTEGER NOT NULL REFERENCES users(id),"
	" patient_id TEXT NOT NULL,"
	" added_at INTEGER NOT NULL,"
	" PRIMARY KEY (user_id, patient_id));"
	"CREATE TABLE resources ("
	" type TEXT NOT NULL,"
	" id TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" patient_id TEXT NOT NULL,"
	" is_current INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" sealed BLOB,"
	" PRIMARY KEY (type, id, version));"
	"CREATE INDEX resources_compartment ON resources(patient_id, type, id)"
	" WHERE is_current = 1 AND deleted = 0;"
	"CREATE INDEX resources_patient ON resources(patient_id);"
	"CREATE TABLE blind_index ("
	" type TEXT NOT NULL,"
	" digest BLOB NOT NULL,"
	" id TEXT NOT NULL,"
	" PRIMARY KEY (type, digest, id));"
	"CREATE INDEX blind_index_res ON blind_index(type, id);"
	"CREATE TABLE grants ("
	" id INTEGER PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users(id),"
	" patient_id TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" reviewed_at INTEGER NOT NULL DEFAULT 0,"
	" reason_sealed BLOB);"
	"CREATE INDEX grants_user ON grants(user_id, patient_id);"
	"CREATE TABLE legal_holds ("
	" patient_id TEXT PRIMARY KEY,"
	" created_at INTEGER NOT NULL);",
};

/* The keys database keeps its own version, likewise. */
static const char *const key_migrations[] = {
	"CREATE TABLE k.meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"INSERT INTO k.meta VALUES ('kek_current', 1);"
	"CREATE TABLE k.deks ("
	" key_id TEXT PRIMARY KEY,"
	" kek_version INTEGER NOT NULL,"
	" wrapped BLOB NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX k.deks_version ON deks(kek_version);"
	"CREATE TABLE k.shredded ("
	" key_id TEXT PRIMARY KEY,"
	" shredded_at INTEGER NOT NULL);",
};

/* ---- connections --------------------------------------------------- */

static void
conn_free(struct conn *c)
{
	size_t i;

	for (i = 0; i < Q_N; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

static void
conn_unlink(struct sqlite_store *s, struct conn *c)
{
	struct conn **pp;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

/* Thread exit: the pthread key destructor gets the store via the conn. */
struct conn_tls {
	struct sqlite_store *s;
	struct conn *c;
};

static void
conn_tls_destroy(void *p)
{
	struct conn_tls *t = p;

	conn_unlink(t->s, t->c);
	conn_free(t->c);
	free(t);
}

static pv_status
exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? PV_OK
								    : PV_EIO;
}

static pv_status
conn_open(struct sqlite_store *s, struct conn **out)
{
	struct conn *c;
	sqlite3_stmt *att = NULL;
	pv_status st = PV_EIO;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return PV_ENOMEM;
	if (sqlite3_open_v2(s->db_path, &c->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, s->busy_ms);
	sqlite3_extended_result_codes(c->db, 1);
	if (sqlite3_prepare_v2(c->db, "ATTACH DATABASE ?1 AS k", -1, &att,
		NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(att, 1, s->keys_path, -1, SQLITE_STATIC);
	if (sqlite3_step(att) != SQLITE_DONE)
		goto fail;
	if ((st = exec_sql(c->db,
		 "PRAGMA journal_mode=WAL;"
		 "PRAGMA k.journal_mode=WAL;"
		 "PRAGMA secure_delete=ON; PRAGMA k.secure_delete=ON;"
		 "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
		 /* Reads through a shared mapping instead of a pread and a copy
		  * per page into each connection's small cache (1M-resource
		  * reads; address space only, pages stay the kernel's). */
		 "PRAGMA main.mmap_size=" PV_SQLITE_MMAP_BYTES ";")) != PV_OK)
		goto fail;
	st = exec_sql(c->db,
	    s->is_full
		? "PRAGMA synchronous=FULL; PRAGMA k.synchronous=FULL;"
		: "PRAGMA synchronous=NORMAL; PRAGMA k.synchronous=FULL;");
	if (st != PV_OK)
		goto fail;
	sqlite3_finalize(att);
	*out = c;
	return PV_OK;
fail:
	sqlite3_finalize(att);
	sqlite3_close(c->db);
	free(c);
	return st == PV_OK ? PV_EIO : st;
}

pv_status
sq_conn_get(struct sqlite_store *s, struct conn **out)
{
	struct conn_tls *t = pthread_getspecific(s->tls);
	struct conn *c;
	pv_status st;

	if (t != NULL) {
		*out = t->c;
		return PV_OK;
	}
	if ((st = conn_open(s, &c)) != PV_OK)
		return st;
	t = malloc(sizeof(*t));
	if (t == NULL) {
		conn_free(c);
		return PV_ENOMEM;
	}
	t->s = s;
	t->c = c;
	if (pthread_setspecific(s->tls, t) != 0) {
		free(t);
		conn_free(c);
		return PV_EINTERNAL;
	}
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	*out = c;
	return PV_OK;
}

/* Returns the cached, reset statement q on this thread's connection. */
sqlite3_stmt *
sq_stmt(struct pv_store *store, enum sql_id q)
{
	struct conn *c;

	if (sq_conn_get(S(store), &c) != PV_OK)
		return NULL;
	if (c->stmt[q] == NULL &&
	    sqlite3_prepare_v3(c->db, sq_sql_text[q], -1,
		SQLITE_PREPARE_PERSISTENT, &c->stmt[q], NULL) != SQLITE_OK)
		return NULL;
	sqlite3_reset(c->stmt[q]);
	sqlite3_clear_bindings(c->stmt[q]);
	return c->stmt[q];
}

/* ---- lifecycle ----------------------------------------------------- */

static void
sq_close(struct pv_store *store)
{
	struct sqlite_store *s = S(store);
	struct conn_tls *t;
	struct conn *c;

	if (s == NULL)
		return;
	t = pthread_getspecific(s->tls);
	if (t != NULL) {
		pthread_setspecific(s->tls, NULL);
		free(t);
	}
	/* Connections of threads still alive; all request threads have
	 * stopped by the time the store closes. */
	pthread_mutex_lock(&s->lock);
	while ((c = s->conns) != NULL) {
		s->conns = c->next;
		conn_free(c);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_key_delete(s->tls);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

pv_status
sq_tx_simple(struct pv_store *store, enum sql_id q)
{
	return sq_run(sq_stmt(store, q));
}

static pv_status
sq_begin(struct pv_store *store)
{
	return sq_tx_simple(store, Q_BEGIN);
}

static bool
sq_in_tx(struct pv_store *store)
{
	struct conn *c;

	if (sq_conn_get(S(store), &c) != PV_OK)
		return false;
	return sqlite3_get_autocommit(c->db) == 0;
}

static pv_status
sq_commit(struct pv_store *store)
{
	return sq_tx_simple(store, Q_COMMIT);
}

/* A no-op without a transaction (pv_store_rollback's contract): SQLite
 * may already have rolled back by itself (SQLITE_FULL, SQLITE_IOERR,
 * SQLITE_NOMEM), and an error path must not have to know. */
static void
sq_rollback(struct pv_store *store)
{
	if (!sq_in_tx(store))
		return;
	(void)sq_tx_simple(store, Q_ROLLBACK);
}

static pv_status
sq_savepoint(struct pv_store *store)
{
	return sq_tx_simple(store, Q_SAVEPOINT);
}

static pv_status
sq_release(struct pv_store *store)
{
	return sq_tx_simple(store, Q_RELEASE);
}

static pv_status
sq_rollback_to(struct pv_store *store)
{
	pv_status st;

	/* ROLLBACK TO keeps the savepoint open; RELEASE closes it. A failed
	 * ROLLBACK TO must not be followed by RELEASE: that would keep the
	 * change. */
	if ((st = sq_tx_simple(store, Q_ROLLBACK_TO)) != PV_OK)
		return st;
	return sq_tx_simple(store, Q_RELEASE);
}

static pv_status
pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *q = NULL;
	pv_status st = PV_EIO;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		*out = sqlite3_column_int(q, 0);
		st = PV_OK;
	}
	sqlite3_finalize(q);
	return st;
}

static pv_status
migrate_one(sqlite3 *db, const char *schema, const char *const *steps, int n)
{
	char sql[64];
	int have, i;
	pv_status st;

	if ((st = pv_snprintf(sql, sizeof(sql), "PRAGMA %s.user_version",
		 schema)) != PV_OK ||
	    (st = pragma_int(db, sql, &have)) != PV_OK)
		return st;
	if (have > n)
		return PV_EINVAL; /* a newer phivault wrote this vault */
	for (i = have; i < n; i++) {
		char bump[64];

		if ((st = pv_snprintf(bump, sizeof(bump),
			 "PRAGMA %s.user_version = %d", schema, i + 1)) !=
		    PV_OK)
			return st;
		if (exec_sql(db, "BEGIN IMMEDIATE") != PV_OK)
			return PV_EIO;
		if (exec_sql(db, steps[i]) != PV_OK ||
		    exec_sql(db, bump) != PV_OK) {
			(void)exec_sql(db, "ROLLBACK");
			return PV_EIO;
		}
		if (exec_sql(db, "COMMIT") != PV_OK)
			return PV_EIO;
	}
	return PV_OK;
}

static const struct pv_store_ops sqlite_ops;

pv_status
pv_store_open_sqlite(const struct pv_store_opts *o, struct pv_store **out)
{
	struct sqlite_store *s;
	struct conn *c;
	pv_status st;

	*out = NULL;
	if (!sqlite3_threadsafe())
		return PV_EINTERNAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return PV_ENOMEM;
	s->base.ops = &sqlite_ops;
	s->is_full = o->is_synchronous_full;
	s->busy_ms = o->busy_timeout_ms;
	if (pv_strlcpy(s->db_path, o->db_path, sizeof(s->db_path)) != PV_OK ||
	    pv_strlcpy(s->keys_path, o->keys_db_path, sizeof(s->keys_path)) !=
		PV_OK) {
		free(s);
		return PV_ETOOBIG;
	}
	pthread_mutex_init(&s->lock, NULL);
	if (pthread_key_create(&s->tls, conn_tls_destroy) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return PV_EINTERNAL;
	}
	if ((st = sq_conn_get(s, &c)) != PV_OK ||
	    (st = migrate_one(c->db, "main", migrations,
		 (int)PV_ARRAY_LEN(migrations))) != PV_OK ||
	    (st = migrate_one(c->db, "k", key_migrations,
		 (int)PV_ARRAY_LEN(key_migrations))) != PV_OK) {
		sq_close(&s->base);
		return st;
	}
	*out = &s->base;
	return PV_OK;
}

/* compact: WAL files truncated, so no old page stays behind in them. */
static pv_status
sq_checkpoint(struct pv_store *store)
{
	struct conn *c;
	pv_status st;

	if ((st = sq_conn_get(S(store), &c)) != PV_OK)
		return st;
	return exec_sql(c->db,
	    "PRAGMA main.wal_checkpoint(TRUNCATE);"
	    "PRAGMA k.wal_checkpoint(TRUNCATE);");
}

/* ---- the backend: one function per operation --------------------- */

static const struct pv_store_ops sqlite_ops = {
	.close = sq_close,
	.begin = sq_begin,
	.in_tx = sq_in_tx,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.rollback_to = sq_rollback_to,
	.user_insert = sq_user_insert,
	.user_get_by_name = sq_user_get_by_name,
	.user_get_by_id = sq_user_get_by_id,
	.user_get_by_key_id = sq_user_get_by_key_id,
	.user_list = sq_user_list,
	.user_attempt_reserve = sq_user_attempt_reserve,
	.user_attempt_refund = sq_user_attempt_refund,
	.user_login_ok = sq_user_login_ok,
	.user_unlock = sq_user_unlock,
	.user_totp_consume = sq_user_totp_consume,
	.user_mfa_begin = sq_user_mfa_begin,
	.user_mfa_enable = sq_user_mfa_enable,
	.user_set_password = sq_user_set_password,
	.user_set_access = sq_user_set_access,
	.session_insert = sq_session_insert,
	.session_get = sq_session_get,
	.session_touch = sq_session_touch,
	.session_delete = sq_session_delete,
	.session_delete_all = sq_session_delete_all,
	.session_list = sq_session_list,
	.recovery_replace = sq_recovery_replace,
	.recovery_consume = sq_recovery_consume,
	.careteam_add = sq_careteam_add,
	.careteam_remove = sq_careteam_remove,
	.careteam_has = sq_careteam_has,
	.careteam_count = sq_careteam_count,
	.resource_put = sq_resource_put,
	.resource_get = sq_resource_get,
	.resource_history = sq_resource_history,
	.resource_search = sq_resource_search,
	.resource_scan = sq_resource_scan,
	.resource_purge = sq_resource_purge,
	.patient_purge = sq_patient_purge,
	.index_replace = sq_index_replace,
	.index_find = sq_index_find,
	.grant_insert = sq_grant_insert,
	.grant_active = sq_grant_active,
	.grant_list = sq_grant_list,
	.grant_get = sq_grant_get,
	.grant_review = sq_grant_review,
	.grant_end_user = sq_grant_end_user,
	.compact = sq_checkpoint,
	.hold_set = sq_hold_set,
	.hold_has = sq_hold_has,
	.dek_get = sq_dek_get,
	.dek_insert = sq_dek_insert,
	.dek_rewrap = sq_dek_rewrap,
	.dek_shred = sq_dek_shred,
	.dek_is_shredded = sq_dek_is_shredded,
	.dek_count_version = sq_dek_count_version,
	.dek_list_old = sq_dek_list_old,
	.kek_current_set = sq_kek_current_set,
	.keys_version = sq_keys_version,
	.keys_shred_epoch = sq_keys_shred_epoch,
	.ping = sq_ping,
	/* One node: the server's in-memory replay cache is authoritative
	 * (store.c answers PV_OK for these). */
	.nonce_claim = NULL,
	.nonce_expire = NULL,
	.is_shared = false,
};
