/*
 * sqlite.c — the embedded SQLite backend of the store interface.
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
 * unlinked from the b-tree.
 *
 * Migrations: PRAGMA user_version is the schema version; each entry of
 * migrations[] moves it up by one inside a transaction.
 */
#include "store/backend.h"
#include "common/fault.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- prepared statements ------------------------------------------ */

enum sql_id {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO,
	Q_USER_INSERT, Q_USER_BY_NAME, Q_USER_BY_ID, Q_USER_BY_KEY,
	Q_USER_LIST, Q_USER_RESERVE, Q_USER_REFUND, Q_USER_LOGIN_OK,
	Q_USER_UNLOCK, Q_USER_TOTP_USE, Q_USER_MFA_BEGIN, Q_USER_MFA_ENABLE,
	Q_USER_SET_PW, Q_USER_SET_ACCESS,
	Q_SESS_INSERT, Q_SESS_GET, Q_SESS_TOUCH, Q_SESS_DELETE,
	Q_SESS_DELETE_ALL, Q_SESS_LIST,
	Q_REC_CLEAR, Q_REC_INSERT, Q_REC_CONSUME,
	Q_CT_ADD, Q_CT_REMOVE, Q_CT_HAS, Q_CT_COUNT,
	Q_RES_MAXVER, Q_RES_UNCURRENT, Q_RES_INSERT, Q_RES_GET_CUR,
	Q_RES_GET_VER, Q_RES_HISTORY, Q_RES_SEARCH, Q_RES_SEARCH_ALL,
	Q_RES_COUNT, Q_RES_COUNT_ALL, Q_RES_SCAN, Q_RES_PURGE, Q_IDX_PURGE,
	Q_PAT_PURGE_OLD, Q_PAT_PURGE_RES, Q_PAT_PURGE_CT, Q_PAT_PURGE_IDX, Q_PAT_PURGE_GRANTS,
	Q_IDX_DELETE, Q_IDX_INSERT, Q_IDX_FIND,
	Q_GRANT_INSERT, Q_GRANT_ACTIVE, Q_GRANT_LIST_ALL, Q_GRANT_LIST_OPEN,
	Q_GRANT_GET, Q_GRANT_REVIEW, Q_GRANT_END_USER,
	Q_HOLD_SET, Q_HOLD_CLEAR, Q_HOLD_HAS,
	Q_DEK_GET, Q_DEK_INSERT, Q_DEK_REWRAP, Q_DEK_DELETE, Q_DEK_TOMB, Q_DEK_IS_SHRED,
	Q_DEK_COUNT_VER, Q_DEK_LIST_OLD, Q_KEK_SET, Q_KEK_GET, Q_KEYS_VERSION,
	Q_KEYS_SHRED_EPOCH,
	Q_N
};

#define USER_COLS "id, username, role, active, pw_hash, patient_id," \
	" mfa_sealed, mfa_enabled, mfa_last_step, failed_count, locked_until," \
	" created_at, last_login_at, authz_epoch, key_id, pubkey, scopes"
#define RES_COLS "type, id, version, patient_id, deleted, updated_at, sealed"
#define GRANT_COLS "id, user_id, patient_id, created_at, expires_at," \
	" reviewed_at, reason_sealed"

static const char *const sql_text[Q_N] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SAVEPOINT] = "SAVEPOINT pv_change",
	[Q_RELEASE] = "RELEASE pv_change",
	[Q_ROLLBACK_TO] = "ROLLBACK TO pv_change",
	[Q_USER_INSERT] = "INSERT INTO users (username, role, active, pw_hash,"
	    " patient_id, created_at, key_id, pubkey, scopes)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_USER_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?1",
	[Q_USER_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
	[Q_USER_BY_KEY] = "SELECT " USER_COLS " FROM users WHERE key_id = ?1",
	[Q_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
	/* The lock delay is base * 2^(failures - threshold), capped: the
	 * same rule as pv_lockout_delay (the shift is bounded so the product
	 * cannot overflow: base <= 1 day, 2^30). Column names on the right
	 * of SET are the values before this update. */
	[Q_USER_RESERVE] = "UPDATE users SET failed_count = failed_count + 1,"
	    " locked_until = CASE WHEN failed_count + 1 >= ?3"
	    " THEN ?2 + min(?5, ?4 * (1 << min(failed_count + 1 - ?3, 30)))"
	    " ELSE locked_until END"
	    " WHERE id = ?1 AND locked_until <= ?2"
	    " RETURNING failed_count, locked_until",
	/* A refund only lifts a lock that its own reservation set: no
	 * reservation can follow a lock, so the count is still ours then. */
	[Q_USER_REFUND] = "UPDATE users SET failed_count = failed_count - 1,"
	    " locked_until = CASE WHEN failed_count = ?2 THEN 0"
	    " ELSE locked_until END WHERE id = ?1 AND failed_count > 0",
	[Q_USER_LOGIN_OK] = "UPDATE users SET failed_count = 0,"
	    " locked_until = 0, last_login_at = ?2,"
	    " pw_hash = coalesce(?5, pw_hash)"
	    " WHERE id = ?1 AND active = 1 AND pw_hash = ?3"
	    " AND mfa_enabled = ?4 RETURNING authz_epoch",
	[Q_USER_UNLOCK] = "UPDATE users SET failed_count = 0, locked_until = 0"
	    " WHERE id = ?1",
	[Q_USER_TOTP_USE] = "UPDATE users SET mfa_last_step = ?3"
	    " WHERE id = ?1 AND mfa_sealed = ?2 AND mfa_last_step < ?3",
	[Q_USER_MFA_BEGIN] = "UPDATE users SET mfa_sealed = ?2,"
	    " mfa_last_step = 0 WHERE id = ?1 AND mfa_enabled = 0",
	[Q_USER_MFA_ENABLE] = "UPDATE users SET mfa_enabled = 1"
	    " WHERE id = ?1 AND mfa_enabled = 0 AND mfa_sealed = ?2",
	[Q_USER_SET_PW] = "UPDATE users SET pw_hash = ?3"
	    " WHERE id = ?1 AND pw_hash = ?2 AND mfa_enabled = ?4"
	    " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM sessions"
	    " WHERE id = ?5 AND user_id = ?1))",
	[Q_USER_SET_ACCESS] = "UPDATE users SET role = ?3, active = ?4,"
	    " scopes = ?5, authz_epoch = authz_epoch + 1"
	    " WHERE id = ?1 AND authz_epoch = ?2",
	[Q_SESS_INSERT] = "INSERT INTO sessions (id, token_hash, user_id,"
	    " created_at, last_seen, expires_at, mfa_verified, authz_epoch)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_SESS_GET] = "SELECT id, token_hash, user_id, created_at, last_seen,"
	    " expires_at, mfa_verified, authz_epoch FROM sessions"
	    " WHERE token_hash = ?1",
	[Q_SESS_TOUCH] = "UPDATE sessions SET last_seen = ?2 WHERE id = ?1",
	[Q_SESS_DELETE] = "DELETE FROM sessions WHERE user_id = ?1 AND id = ?2",
	[Q_SESS_DELETE_ALL] = "DELETE FROM sessions WHERE user_id = ?1"
	    " AND id IS NOT ?2",
	[Q_SESS_LIST] = "SELECT id, token_hash, user_id, created_at, last_seen,"
	    " expires_at, mfa_verified, authz_epoch FROM sessions"
	    " WHERE user_id = ?1 ORDER BY created_at",
	[Q_REC_CLEAR] = "DELETE FROM recovery_codes WHERE user_id = ?1",
	[Q_REC_INSERT] = "INSERT INTO recovery_codes (user_id, code_hash)"
	    " VALUES (?1, ?2)",
	[Q_REC_CONSUME] = "UPDATE recovery_codes SET used_at = ?3"
	    " WHERE user_id = ?1 AND code_hash = ?2 AND used_at = 0",
	[Q_CT_ADD] = "INSERT OR IGNORE INTO careteam (user_id, patient_id,"
	    " added_at) VALUES (?1, ?2, ?3)",
	[Q_CT_REMOVE] = "DELETE FROM careteam WHERE user_id = ?1"
	    " AND patient_id = ?2",
	[Q_CT_HAS] = "SELECT 1 FROM careteam WHERE user_id = ?1"
	    " AND patient_id = ?2",
	[Q_CT_COUNT] = "SELECT count(*) FROM careteam WHERE user_id = ?1",
	[Q_RES_MAXVER] = "SELECT max(version) FROM resources"
	    " WHERE type = ?1 AND id = ?2",
	[Q_RES_UNCURRENT] = "UPDATE resources SET is_current = 0"
	    " WHERE type = ?1 AND id = ?2 AND is_current = 1",
	[Q_RES_INSERT] = "INSERT INTO resources (type, id, version,"
	    " patient_id, is_current, deleted, updated_at, sealed)"
	    " VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
	[Q_RES_GET_CUR] = "SELECT " RES_COLS " FROM resources"
	    " WHERE type = ?1 AND id = ?2 AND is_current = 1",
	[Q_RES_GET_VER] = "SELECT " RES_COLS " FROM resources"
	    " WHERE type = ?1 AND id = ?2 AND version = ?3",
	[Q_RES_HISTORY] = "SELECT " RES_COLS " FROM resources"
	    " WHERE type = ?1 AND id = ?2 ORDER BY version DESC",
	[Q_RES_SEARCH] = "SELECT " RES_COLS " FROM resources"
	    " WHERE patient_id = ?1 AND type = ?2 AND is_current = 1"
	    " AND deleted = 0 ORDER BY id LIMIT ?3 OFFSET ?4",
	[Q_RES_SEARCH_ALL] = "SELECT " RES_COLS " FROM resources"
	    " WHERE patient_id = ?1 AND is_current = 1 AND deleted = 0"
	    " ORDER BY type, id LIMIT ?3 OFFSET ?4",
	[Q_RES_COUNT] = "SELECT count(*) FROM resources WHERE patient_id = ?1"
	    " AND type = ?2 AND is_current = 1 AND deleted = 0",
	[Q_RES_COUNT_ALL] = "SELECT count(*) FROM resources"
	    " WHERE patient_id = ?1 AND is_current = 1 AND deleted = 0",
	[Q_RES_SCAN] = "SELECT " RES_COLS " FROM resources"
	    " WHERE is_current = 1 ORDER BY patient_id, type, id",
	[Q_RES_PURGE] = "DELETE FROM resources WHERE type = ?1 AND id = ?2",
	[Q_IDX_PURGE] = "DELETE FROM blind_index WHERE type = ?1 AND id = ?2",
	/* Erasure keeps one empty, deleted row per resource so reads answer
	 * 410 Gone; every sealed version is deleted (secure_delete). */
	[Q_PAT_PURGE_OLD] = "DELETE FROM resources WHERE patient_id = ?1"
	    " AND is_current = 0",
	[Q_PAT_PURGE_RES] = "UPDATE resources SET sealed = NULL, deleted = 1"
	    " WHERE patient_id = ?1",
	[Q_PAT_PURGE_CT] = "DELETE FROM careteam WHERE patient_id = ?1",
	[Q_PAT_PURGE_IDX] = "DELETE FROM blind_index WHERE type = 'Patient'"
	    " AND id = ?1",
	[Q_PAT_PURGE_GRANTS] = "UPDATE grants SET reason_sealed = NULL"
	    " WHERE patient_id = ?1",
	[Q_IDX_DELETE] = "DELETE FROM blind_index WHERE type = ?1 AND id = ?2",
	[Q_IDX_INSERT] = "INSERT OR IGNORE INTO blind_index (type, digest, id)"
	    " VALUES (?1, ?2, ?3)",
	[Q_IDX_FIND] = "SELECT r.type, r.id, r.version, r.patient_id,"
	    " r.deleted, r.updated_at, r.sealed FROM blind_index b"
	    " JOIN resources r ON r.type = b.type AND r.id = b.id"
	    " AND r.is_current = 1 AND r.deleted = 0"
	    " WHERE b.type = ?1 AND b.digest = ?2 ORDER BY r.id",
	[Q_GRANT_INSERT] = "INSERT INTO grants (user_id, patient_id,"
	    " created_at, expires_at, reason_sealed, id)"
	    " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM users"
	    " WHERE id = ?1 AND active = 1 AND authz_epoch = ?7)",
	[Q_GRANT_ACTIVE] = "SELECT id FROM grants WHERE user_id = ?1"
	    " AND patient_id = ?2 AND expires_at > ?3"
	    " ORDER BY expires_at DESC LIMIT 1",
	[Q_GRANT_LIST_ALL] = "SELECT " GRANT_COLS " FROM grants ORDER BY id",
	[Q_GRANT_LIST_OPEN] = "SELECT " GRANT_COLS " FROM grants"
	    " WHERE reviewed_at = 0 ORDER BY id",
	[Q_GRANT_GET] = "SELECT " GRANT_COLS " FROM grants WHERE id = ?1",
	[Q_GRANT_REVIEW] = "UPDATE grants SET reviewed_at = ?2 WHERE id = ?1"
	    " AND reviewed_at = 0",
	[Q_GRANT_END_USER] = "UPDATE grants SET expires_at = ?2"
	    " WHERE user_id = ?1 AND expires_at > ?2",
	[Q_HOLD_SET] = "INSERT OR IGNORE INTO legal_holds (patient_id,"
	    " created_at) VALUES (?1, ?2)",
	[Q_HOLD_CLEAR] = "DELETE FROM legal_holds WHERE patient_id = ?1",
	[Q_HOLD_HAS] = "SELECT 1 FROM legal_holds WHERE patient_id = ?1",
	[Q_DEK_GET] = "SELECT kek_version, wrapped FROM k.deks"
	    " WHERE key_id = ?1",
	/* Refuses a DEK wrapped under a KEK older than the current one, so a
	 * server that has not yet seen a rotation cannot slip an old-version
	 * DEK in after `key rotate` counted them. */
	[Q_DEK_INSERT] = "INSERT INTO k.deks (key_id, kek_version,"
	    " wrapped, created_at) SELECT ?1, ?2, ?3, ?4"
	    " WHERE ?2 >= (SELECT v FROM k.meta WHERE k = 'kek_current')"
	    " AND NOT EXISTS (SELECT 1 FROM k.shredded WHERE key_id = ?1)",
	[Q_DEK_REWRAP] = "UPDATE k.deks SET kek_version = ?3, wrapped = ?4"
	    " WHERE key_id = ?1 AND kek_version = ?2",
	[Q_DEK_DELETE] = "DELETE FROM k.deks WHERE key_id = ?1",
	[Q_DEK_TOMB] = "INSERT OR IGNORE INTO k.shredded (key_id, shredded_at)"
	    " VALUES (?1, ?2)",
	[Q_DEK_IS_SHRED] = "SELECT 1 FROM k.shredded WHERE key_id = ?1",
	[Q_DEK_COUNT_VER] = "SELECT count(*) FROM k.deks WHERE kek_version = ?1",
	[Q_DEK_LIST_OLD] = "SELECT key_id, kek_version, wrapped FROM k.deks"
	    " WHERE kek_version < ?1 LIMIT ?2",
	[Q_KEK_SET] = "UPDATE k.meta SET v = ?1 WHERE k = 'kek_current'"
	    " AND v <= ?1",
	[Q_KEK_GET] = "SELECT v FROM k.meta WHERE k = 'kek_current'",
	[Q_KEYS_VERSION] = "PRAGMA k.data_version",
	/* Tombstones are never deleted, so the largest rowid only grows,
	 * and only when a key is shredded. */
	[Q_KEYS_SHRED_EPOCH] = "SELECT coalesce(max(rowid), 0) FROM k.shredded",
};

/* ---- connections --------------------------------------------------- */

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_N];
	struct conn *next;
};

struct sqlite_store {
	struct pv_store base;		/* must be first */
	char db_path[1024];
	char keys_path[1024];
	bool is_full;
	int busy_ms;
	pthread_key_t tls;
	pthread_mutex_t lock;		/* guards conns */
	struct conn *conns;
};

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
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? PV_OK :
	    PV_EIO;
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
	if (sqlite3_open_v2(s->db_path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, s->busy_ms);
	sqlite3_extended_result_codes(c->db, 1);
	if (sqlite3_prepare_v2(c->db, "ATTACH DATABASE ?1 AS k", -1, &att,
	    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(att, 1, s->keys_path, -1, SQLITE_STATIC);
	if (sqlite3_step(att) != SQLITE_DONE)
		goto fail;
	if ((st = exec_sql(c->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA k.journal_mode=WAL;"
	    "PRAGMA secure_delete=ON; PRAGMA k.secure_delete=ON;"
	    "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
	    /* Reads through a shared mapping instead of a pread and a copy
	     * per page into each connection's small cache (1M-resource
	     * reads; address space only, pages stay the kernel's). */
	    "PRAGMA main.mmap_size=" PV_SQLITE_MMAP_BYTES ";")) != PV_OK)
		goto fail;
	st = exec_sql(c->db, s->is_full ?
	    "PRAGMA synchronous=FULL; PRAGMA k.synchronous=FULL;" :
	    "PRAGMA synchronous=NORMAL; PRAGMA k.synchronous=FULL;");
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

static pv_status
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

#define S(st) ((struct sqlite_store *)(st))

/* Returns the cached, reset statement q on this thread's connection. */
static sqlite3_stmt *
sq_stmt(struct pv_store *store, enum sql_id q)
{
	struct conn *c;

	if (sq_conn_get(S(store), &c) != PV_OK)
		return NULL;
	if (c->stmt[q] == NULL &&
	    sqlite3_prepare_v3(c->db, sql_text[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &c->stmt[q], NULL) != SQLITE_OK)
		return NULL;
	sqlite3_reset(c->stmt[q]);
	sqlite3_clear_bindings(c->stmt[q]);
	return c->stmt[q];
}

static pv_status
sq_map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return PV_OK;
	case SQLITE_CONSTRAINT:
		return PV_EEXISTS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return PV_EBUSY;
	case SQLITE_NOMEM:
		return PV_ENOMEM;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
		return PV_EIO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return PV_ECRYPTO;
	default:
		return PV_EINTERNAL;
	}
}

/* Steps a statement that returns no rows; resets it. */
static pv_status
sq_run(sqlite3_stmt *q)
{
	int rc;

	if (q == NULL)
		return PV_EIO;
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? PV_OK : sq_map_rc(rc);
}

static int
sq_changes(struct pv_store *store)
{
	struct conn *c;

	if (sq_conn_get(S(store), &c) != PV_OK)
		return 0;
	return sqlite3_changes(c->db);
}

static void
sq_bind_text(sqlite3_stmt *q, int i, const char *v)
{
	sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static void
sq_bind_blob(sqlite3_stmt *q, int i, const void *v, size_t n)
{
	if (v == NULL)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_blob(q, i, v, (int)n, SQLITE_STATIC);
}

static void
sq_col_text(sqlite3_stmt *q, int i, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	if (t == NULL || pv_strlcpy(out, (const char *)t, outsz) != PV_OK)
		out[0] = '\0';
}

/* Copies a blob column into out (capacity cap); false when too long. */
static bool
sq_col_blob_fixed(sqlite3_stmt *q, int i, unsigned char *out, size_t cap,
    size_t *len)
{
	int n = sqlite3_column_bytes(q, i);
	const void *b = sqlite3_column_blob(q, i);

	*len = 0;
	if (b == NULL || n <= 0)
		return true;
	if ((size_t)n > cap)
		return false;
	memcpy(out, b, (size_t)n);
	*len = (size_t)n;
	return true;
}

static pv_status
sq_col_blob_dup(sqlite3_stmt *q, int i, unsigned char **out, size_t *len)
{
	int n = sqlite3_column_bytes(q, i);
	const void *b = sqlite3_column_blob(q, i);

	*out = NULL;
	*len = 0;
	if (b == NULL || n <= 0)
		return PV_OK;
	*out = malloc((size_t)n);
	if (*out == NULL)
		return PV_ENOMEM;
	memcpy(*out, b, (size_t)n);
	*len = (size_t)n;
	return PV_OK;
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

static pv_status
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

static void
sq_rollback(struct pv_store *store)
{
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

static pv_status sq_one_int(sqlite3_stmt *q, int64_t *out, bool *found);

/* Cached statement: this runs on every DEK lookup. */
static pv_status
sq_keys_version(struct pv_store *store, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_KEYS_VERSION);
	bool found;
	pv_status st = sq_one_int(q, out, &found);

	return st == PV_OK && !found ? PV_EIO : st;
}

/* Cached statement: runs whenever keys.db's data_version moved. */
static pv_status
sq_keys_shred_epoch(struct pv_store *store, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_KEYS_SHRED_EPOCH);
	bool found;
	pv_status st = sq_one_int(q, out, &found);

	return st == PV_OK && !found ? PV_EIO : st;
}

static pv_status
migrate_one(sqlite3 *db, const char *schema, const char *const *steps,
    int n)
{
	char sql[64];
	int have, i;
	pv_status st;

	if ((st = pv_snprintf(sql, sizeof(sql), "PRAGMA %s.user_version",
	    schema)) != PV_OK ||
	    (st = pragma_int(db, sql, &have)) != PV_OK)
		return st;
	if (have > n)
		return PV_EINVAL;	/* a newer phivault wrote this vault */
	for (i = have; i < n; i++) {
		char bump[64];

		if ((st = pv_snprintf(bump, sizeof(bump),
		    "PRAGMA %s.user_version = %d", schema, i + 1)) != PV_OK)
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

/* ---- users --------------------------------------------------------- */

static pv_status
read_user(sqlite3_stmt *q, struct pv_user *u)
{
	size_t n;

	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(q, 0);
	sq_col_text(q, 1, u->username, sizeof(u->username));
	sq_col_text(q, 2, u->role, sizeof(u->role));
	u->is_active = sqlite3_column_int(q, 3) != 0;
	sq_col_text(q, 4, u->pw_hash, sizeof(u->pw_hash));
	sq_col_text(q, 5, u->patient_id, sizeof(u->patient_id));
	if (!sq_col_blob_fixed(q, 6, u->mfa_sealed, sizeof(u->mfa_sealed),
	    &u->mfa_sealed_len))
		return PV_EINTERNAL;
	u->has_mfa = sqlite3_column_int(q, 7) != 0;
	u->mfa_last_step = sqlite3_column_int64(q, 8);
	u->failed_count = sqlite3_column_int64(q, 9);
	u->locked_until = sqlite3_column_int64(q, 10);
	u->created_at = sqlite3_column_int64(q, 11);
	u->last_login_at = sqlite3_column_int64(q, 12);
	u->authz_epoch = sqlite3_column_int64(q, 13);
	sq_col_text(q, 14, u->key_id, sizeof(u->key_id));
	if (!sq_col_blob_fixed(q, 15, u->pubkey, sizeof(u->pubkey), &n))
		return PV_EINTERNAL;
	u->has_pubkey = n == sizeof(u->pubkey);
	sq_col_text(q, 16, u->scopes, sizeof(u->scopes));
	return PV_OK;
}

static pv_status
user_one(sqlite3_stmt *q, struct pv_user *u)
{
	int rc;
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		st = read_user(q, u);
	else
		st = rc == SQLITE_DONE ? PV_ENOTFOUND : sq_map_rc(rc);
	sqlite3_reset(q);
	return st;
}

static pv_status
sq_user_insert(struct pv_store *store, struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_INSERT);
	struct conn *c;
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, u->username);
	sq_bind_text(q, 2, u->role);
	sqlite3_bind_int(q, 3, u->is_active ? 1 : 0);
	sq_bind_text(q, 4, u->pw_hash);
	sq_bind_text(q, 5, u->patient_id);
	sqlite3_bind_int64(q, 6, u->created_at);
	if (u->key_id[0] != '\0')
		sq_bind_text(q, 7, u->key_id);
	if (u->has_pubkey)
		sq_bind_blob(q, 8, u->pubkey, sizeof(u->pubkey));
	sq_bind_text(q, 9, u->scopes);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	if ((st = sq_conn_get(S(store), &c)) != PV_OK)
		return st;
	u->id = sqlite3_last_insert_rowid(c->db);
	return PV_OK;
}

static pv_status
sq_user_get_by_name(struct pv_store *store, const char *name,
    struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_BY_NAME);

	if (q != NULL)
		sq_bind_text(q, 1, name);
	return user_one(q, u);
}

static pv_status
sq_user_get_by_id(struct pv_store *store, int64_t id, struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_BY_ID);

	if (q != NULL)
		sqlite3_bind_int64(q, 1, id);
	return user_one(q, u);
}

static pv_status
sq_user_get_by_key_id(struct pv_store *store, const char *key_id,
    struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_BY_KEY);

	if (q != NULL)
		sq_bind_text(q, 1, key_id);
	return user_one(q, u);
}

static pv_status
sq_user_list(struct pv_store *store, pv_user_cb cb, void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_LIST);
	struct pv_user u;
	pv_status st = PV_OK;
	int rc;

	if (q == NULL)
		return PV_EIO;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((st = read_user(q, &u)) != PV_OK)
			break;
		cb(arg, &u);
	}
	if (st == PV_OK && rc != SQLITE_DONE)
		st = sq_map_rc(rc);
	sqlite3_reset(q);
	sodium_memzero(&u, sizeof(u));
	return st;
}

/* Steps a statement once for a RETURNING row of integers: PV_OK with
 * out[] filled, PV_ENOTFOUND when no row matched; resets it. */
static pv_status
run_returning(sqlite3_stmt *q, int64_t *out, int n)
{
	int rc, i;

	if (q == NULL)
		return PV_EIO;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		for (i = 0; i < n; i++)
			out[i] = sqlite3_column_int64(q, i);
		rc = sqlite3_step(q);	/* one row at most: the id is unique */
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		return PV_ENOTFOUND;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? PV_OK : sq_map_rc(rc);
}

/* Runs q; PV_OK when it changed exactly one row, else `none`. */
static pv_status
sq_run_one(struct pv_store *store, sqlite3_stmt *q, pv_status none)
{
	pv_status st;

	if ((st = sq_run(q)) != PV_OK)
		return st;
	return sq_changes(store) == 1 ? PV_OK : none;
}

static pv_status
sq_user_attempt_reserve(struct pv_store *store, int64_t id, int64_t now,
    const struct pv_lockout_rule *rule, struct pv_attempt *a)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_RESERVE);
	int64_t row[2] = { 0, 0 };
	pv_status st;

	memset(a, 0, sizeof(*a));
	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	sqlite3_bind_int64(q, 3, rule->threshold);
	sqlite3_bind_int64(q, 4, rule->base_delay);
	sqlite3_bind_int64(q, 5, rule->max_delay);
	st = run_returning(q, row, 2);
	if (st == PV_ENOTFOUND)
		return PV_OK;		/* locked: not reserved */
	if (st != PV_OK)
		return st;
	a->is_reserved = true;
	a->failed_count = row[0];
	a->locked_until = row[1];
	return PV_OK;
}

static pv_status
sq_user_attempt_refund(struct pv_store *store, int64_t id,
    const struct pv_attempt *a)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_REFUND);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, a->failed_count);
	return sq_run(q);
}

static pv_status
sq_user_login_ok(struct pv_store *store, int64_t id, int64_t now,
    const char *verified_hash, bool has_mfa, const char *new_hash,
    int64_t *epoch)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_LOGIN_OK);
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	sq_bind_text(q, 3, verified_hash);
	sqlite3_bind_int(q, 4, has_mfa ? 1 : 0);
	if (new_hash != NULL)
		sq_bind_text(q, 5, new_hash);
	st = run_returning(q, epoch, 1);
	return st == PV_ENOTFOUND ? PV_ECONFLICT : st;
}

static pv_status
sq_user_unlock(struct pv_store *store, int64_t id)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_UNLOCK);

	if (q != NULL)
		sqlite3_bind_int64(q, 1, id);
	return sq_run_one(store, q, PV_ENOTFOUND);
}

static pv_status
sq_user_totp_consume(struct pv_store *store, int64_t id,
    const unsigned char *sealed, size_t sealed_len, int64_t step)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_TOTP_USE);

	if (q != NULL) {
		sqlite3_bind_int64(q, 1, id);
		sq_bind_blob(q, 2, sealed, sealed_len);
		sqlite3_bind_int64(q, 3, step);
	}
	return sq_run_one(store, q, PV_EAUTH);
}

/* The two MFA transitions share their shape: id, sealed secret. */
static pv_status
mfa_change(struct pv_store *store, enum sql_id id_q, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	sqlite3_stmt *q = sq_stmt(store, id_q);

	if (q != NULL) {
		sqlite3_bind_int64(q, 1, id);
		sq_bind_blob(q, 2, sealed, sealed_len);
	}
	return sq_run_one(store, q, PV_ECONFLICT);
}

static pv_status
sq_user_mfa_begin(struct pv_store *store, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	return mfa_change(store, Q_USER_MFA_BEGIN, id, sealed, sealed_len);
}

static pv_status
sq_user_mfa_enable(struct pv_store *store, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	return mfa_change(store, Q_USER_MFA_ENABLE, id, sealed, sealed_len);
}

static pv_status
sq_user_set_password(struct pv_store *store, int64_t id,
    const char *old_hash, const char *new_hash, bool has_mfa,
    const char *session)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_SET_PW);

	if (q != NULL) {
		sqlite3_bind_int64(q, 1, id);
		sq_bind_text(q, 2, old_hash);
		sq_bind_text(q, 3, new_hash);
		sqlite3_bind_int(q, 4, has_mfa ? 1 : 0);
		if (session != NULL && session[0] != '\0')
			sq_bind_text(q, 5, session);
	}
	return sq_run_one(store, q, PV_ECONFLICT);
}

static pv_status
sq_user_set_access(struct pv_store *store, int64_t id, int64_t epoch,
    const char *role, bool is_active, const char *scopes)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_SET_ACCESS);

	if (q != NULL) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, epoch);
		sq_bind_text(q, 3, role);
		sqlite3_bind_int(q, 4, is_active ? 1 : 0);
		sq_bind_text(q, 5, scopes);
	}
	return sq_run_one(store, q, PV_ECONFLICT);
}

/* ---- sessions ------------------------------------------------------ */

static void
read_session(sqlite3_stmt *q, struct pv_session *s)
{
	size_t n;

	memset(s, 0, sizeof(*s));
	sq_col_text(q, 0, s->id, sizeof(s->id));
	(void)sq_col_blob_fixed(q, 1, s->token_hash, sizeof(s->token_hash), &n);
	s->user_id = sqlite3_column_int64(q, 2);
	s->created_at = sqlite3_column_int64(q, 3);
	s->last_seen = sqlite3_column_int64(q, 4);
	s->expires_at = sqlite3_column_int64(q, 5);
	s->is_mfa_verified = sqlite3_column_int(q, 6) != 0;
	s->authz_epoch = sqlite3_column_int64(q, 7);
}

static pv_status
sq_session_insert(struct pv_store *store, const struct pv_session *s)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_INSERT);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, s->id);
	sq_bind_blob(q, 2, s->token_hash, sizeof(s->token_hash));
	sqlite3_bind_int64(q, 3, s->user_id);
	sqlite3_bind_int64(q, 4, s->created_at);
	sqlite3_bind_int64(q, 5, s->last_seen);
	sqlite3_bind_int64(q, 6, s->expires_at);
	sqlite3_bind_int(q, 7, s->is_mfa_verified ? 1 : 0);
	sqlite3_bind_int64(q, 8, s->authz_epoch);
	return sq_run(q);
}

static pv_status
sq_session_get(struct pv_store *store,
    const unsigned char hash[PV_HASH_BYTES], struct pv_session *s)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_GET);
	pv_status st;
	int rc;

	if (q == NULL)
		return PV_EIO;
	sq_bind_blob(q, 1, hash, PV_HASH_BYTES);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		read_session(q, s);
		st = PV_OK;
	} else {
		st = rc == SQLITE_DONE ? PV_ENOTFOUND : sq_map_rc(rc);
	}
	sqlite3_reset(q);
	return st;
}

static pv_status
sq_session_touch(struct pv_store *store, const char *id, int64_t now)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_TOUCH);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	return sq_run(q);
}

static pv_status
sq_session_delete(struct pv_store *store, int64_t user_id, const char *id)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_DELETE);
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	sq_bind_text(q, 2, id);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	return sq_changes(store) > 0 ? PV_OK : PV_ENOTFOUND;
}

static pv_status
sq_session_delete_all(struct pv_store *store, int64_t user_id,
    const char *except_id)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_DELETE_ALL);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	if (except_id != NULL)
		sq_bind_text(q, 2, except_id);
	return sq_run(q);
}

static pv_status
sq_session_list(struct pv_store *store, int64_t user_id, pv_session_cb cb,
    void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_LIST);
	struct pv_session s;
	int rc;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_session(q, &s);
		cb(arg, &s);
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? PV_OK : sq_map_rc(rc);
}

/* ---- recovery codes ------------------------------------------------ */

static pv_status
sq_recovery_replace(struct pv_store *store, int64_t user_id,
    const unsigned char (*hashes)[PV_HASH_BYTES], size_t n)
{
	sqlite3_stmt *q = sq_stmt(store, Q_REC_CLEAR);
	pv_status st;
	size_t i;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	for (i = 0; i < n; i++) {
		q = sq_stmt(store, Q_REC_INSERT);
		if (q == NULL)
			return PV_EIO;
		sqlite3_bind_int64(q, 1, user_id);
		sq_bind_blob(q, 2, hashes[i], PV_HASH_BYTES);
		if ((st = sq_run(q)) != PV_OK)
			return st;
	}
	return PV_OK;
}

static pv_status
sq_recovery_consume(struct pv_store *store, int64_t user_id,
    const unsigned char hash[PV_HASH_BYTES], int64_t now)
{
	sqlite3_stmt *q = sq_stmt(store, Q_REC_CONSUME);
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	sq_bind_blob(q, 2, hash, PV_HASH_BYTES);
	sqlite3_bind_int64(q, 3, now);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	return sq_changes(store) == 1 ? PV_OK : PV_ENOTFOUND;
}

/* ---- care teams ---------------------------------------------------- */

static pv_status
ct_exec(struct pv_store *store, enum sql_id id, int64_t user_id,
    const char *pid)
{
	sqlite3_stmt *q = sq_stmt(store, id);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	sq_bind_text(q, 2, pid);
	if (id == Q_CT_ADD)
		sqlite3_bind_int64(q, 3, pv_now());
	return sq_run(q);
}

static pv_status
sq_careteam_add(struct pv_store *store, int64_t user_id, const char *pid)
{
	return ct_exec(store, Q_CT_ADD, user_id, pid);
}

static pv_status
sq_careteam_remove(struct pv_store *store, int64_t user_id, const char *pid)
{
	pv_status st = ct_exec(store, Q_CT_REMOVE, user_id, pid);

	if (st != PV_OK)
		return st;
	return sq_changes(store) > 0 ? PV_OK : PV_ENOTFOUND;
}

/* Runs a one-row, one-integer query; *found false when no row. */
static pv_status
sq_one_int(sqlite3_stmt *q, int64_t *out, bool *found)
{
	int rc;

	if (q == NULL)
		return PV_EIO;
	rc = sqlite3_step(q);
	*found = rc == SQLITE_ROW;
	if (*found && out != NULL)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? PV_OK : sq_map_rc(rc);
}

static pv_status
sq_careteam_has(struct pv_store *store, int64_t user_id, const char *pid,
    bool *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_CT_HAS);

	if (q != NULL) {
		sqlite3_bind_int64(q, 1, user_id);
		sq_bind_text(q, 2, pid);
	}
	return sq_one_int(q, NULL, out);
}

static pv_status
sq_careteam_count(struct pv_store *store, int64_t user_id, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_CT_COUNT);
	bool found;

	if (q != NULL)
		sqlite3_bind_int64(q, 1, user_id);
	return sq_one_int(q, out, &found);
}

/* ---- resources ----------------------------------------------------- */

static pv_status
read_resource(sqlite3_stmt *q, struct pv_resource *r)
{
	memset(r, 0, sizeof(*r));
	sq_col_text(q, 0, r->type, sizeof(r->type));
	sq_col_text(q, 1, r->id, sizeof(r->id));
	r->version = sqlite3_column_int64(q, 2);
	sq_col_text(q, 3, r->patient_id, sizeof(r->patient_id));
	r->is_deleted = sqlite3_column_int(q, 4) != 0;
	r->updated_at = sqlite3_column_int64(q, 5);
	return sq_col_blob_dup(q, 6, &r->sealed, &r->sealed_len);
}

/*
 * Inserts r as the next version of (type, id): r->version must be exactly
 * one more than the stored maximum (1 for a new resource), otherwise
 * PV_ECONFLICT. Call inside a transaction.
 */
static pv_status
sq_resource_put(struct pv_store *store, const struct pv_resource *r)
{
	sqlite3_stmt *q = sq_stmt(store, Q_RES_MAXVER);
	int64_t maxv = 0;
	bool found;
	pv_status st;

	if (pv_fault("store_write"))	/* tests: a failing disk */
		return PV_EIO;
	/* tests: a full disk, on which SQLite rolls the whole transaction
	 * back by itself (SQLITE_FULL) */
	if (pv_fault("store_tx_lost")) {
		(void)sq_tx_simple(store, Q_ROLLBACK);
		return PV_EIO;
	}
	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, r->type);
	sq_bind_text(q, 2, r->id);
	if ((st = sq_one_int(q, &maxv, &found)) != PV_OK)
		return st;
	if (r->version != maxv + 1)
		return PV_ECONFLICT;
	q = sq_stmt(store, Q_RES_UNCURRENT);
	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, r->type);
	sq_bind_text(q, 2, r->id);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	q = sq_stmt(store, Q_RES_INSERT);
	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, r->type);
	sq_bind_text(q, 2, r->id);
	sqlite3_bind_int64(q, 3, r->version);
	sq_bind_text(q, 4, r->patient_id);
	sqlite3_bind_int(q, 5, r->is_deleted ? 1 : 0);
	sqlite3_bind_int64(q, 6, r->updated_at);
	sq_bind_blob(q, 7, r->sealed, r->sealed_len);
	st = sq_run(q);
	return st == PV_EEXISTS ? PV_ECONFLICT : st;
}

static pv_status
sq_resource_get(struct pv_store *store, const char *type, const char *id,
    int64_t version, struct pv_resource *r)
{
	sqlite3_stmt *q = sq_stmt(store, version > 0 ? Q_RES_GET_VER :
	    Q_RES_GET_CUR);
	pv_status st;
	int rc;

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, type);
	sq_bind_text(q, 2, id);
	if (version > 0)
		sqlite3_bind_int64(q, 3, version);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		st = read_resource(q, r);
	else
		st = rc == SQLITE_DONE ? PV_ENOTFOUND : sq_map_rc(rc);
	sqlite3_reset(q);
	return st;
}

static pv_status
each_resource(sqlite3_stmt *q, pv_resource_cb cb, void *arg)
{
	struct pv_resource r;
	pv_status st = PV_OK;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		bool more;

		if ((st = read_resource(q, &r)) != PV_OK)
			break;
		more = cb(arg, &r);
		pv_resource_clear(&r);
		if (!more)
			break;
	}
	if (st == PV_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = sq_map_rc(rc);
	sqlite3_reset(q);
	return st;
}

static pv_status
sq_resource_history(struct pv_store *store, const char *type, const char *id,
    pv_resource_cb cb, void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, Q_RES_HISTORY);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, type);
	sq_bind_text(q, 2, id);
	return each_resource(q, cb, arg);
}

/* type NULL = every type in the compartment. *total counts all matches. */
static pv_status
sq_resource_search(struct pv_store *store, const char *pid, const char *type,
    int64_t limit, int64_t offset, pv_resource_cb cb, void *arg,
    int64_t *total)
{
	sqlite3_stmt *q = sq_stmt(store, type != NULL ? Q_RES_COUNT :
	    Q_RES_COUNT_ALL);
	bool found;
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, pid);
	if (type != NULL)
		sq_bind_text(q, 2, type);
	if ((st = sq_one_int(q, total, &found)) != PV_OK)
		return st;
	q = sq_stmt(store, type != NULL ? Q_RES_SEARCH : Q_RES_SEARCH_ALL);
	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, pid);
	if (type != NULL)
		sq_bind_text(q, 2, type);
	sqlite3_bind_int64(q, 3, limit);
	sqlite3_bind_int64(q, 4, offset);
	return each_resource(q, cb, arg);
}

static pv_status
sq_resource_scan(struct pv_store *store, pv_resource_cb cb, void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, Q_RES_SCAN);

	if (q == NULL)
		return PV_EIO;
	return each_resource(q, cb, arg);
}

static pv_status
type_id_exec(struct pv_store *store, enum sql_id id, const char *type,
    const char *rid)
{
	sqlite3_stmt *q = sq_stmt(store, id);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, type);
	sq_bind_text(q, 2, rid);
	return sq_run(q);
}

static pv_status
sq_resource_purge(struct pv_store *store, const char *type, const char *id)
{
	pv_status st = type_id_exec(store, Q_RES_PURGE, type, id);

	if (st != PV_OK)
		return st;
	return type_id_exec(store, Q_IDX_PURGE, type, id);
}

static pv_status
sq_pid_exec(struct pv_store *store, enum sql_id id, const char *pid)
{
	sqlite3_stmt *q = sq_stmt(store, id);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, pid);
	return sq_run(q);
}

static pv_status
sq_patient_purge(struct pv_store *store, const char *pid)
{
	static const enum sql_id steps[] = { Q_PAT_PURGE_OLD, Q_PAT_PURGE_RES,
		Q_PAT_PURGE_CT,
		Q_PAT_PURGE_IDX, Q_PAT_PURGE_GRANTS };
	pv_status st;
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(steps); i++)
		if ((st = sq_pid_exec(store, steps[i], pid)) != PV_OK)
			return st;
	return PV_OK;
}

static pv_status
sq_index_replace(struct pv_store *store, const char *type, const char *id,
    const unsigned char (*digests)[PV_HASH_BYTES], size_t n)
{
	pv_status st = type_id_exec(store, Q_IDX_DELETE, type, id);
	size_t i;

	for (i = 0; st == PV_OK && i < n; i++) {
		sqlite3_stmt *q = sq_stmt(store, Q_IDX_INSERT);

		if (q == NULL)
			return PV_EIO;
		sq_bind_text(q, 1, type);
		sq_bind_blob(q, 2, digests[i], PV_HASH_BYTES);
		sq_bind_text(q, 3, id);
		st = sq_run(q);
	}
	return st;
}

static pv_status
sq_index_find(struct pv_store *store, const char *type,
    const unsigned char digest[PV_HASH_BYTES], pv_resource_cb cb, void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, Q_IDX_FIND);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, type);
	sq_bind_blob(q, 2, digest, PV_HASH_BYTES);
	return each_resource(q, cb, arg);
}

/* ---- break-glass grants -------------------------------------------- */

static pv_status
read_grant(sqlite3_stmt *q, struct pv_grant *g)
{
	memset(g, 0, sizeof(*g));
	g->id = sqlite3_column_int64(q, 0);
	g->user_id = sqlite3_column_int64(q, 1);
	sq_col_text(q, 2, g->patient_id, sizeof(g->patient_id));
	g->created_at = sqlite3_column_int64(q, 3);
	g->expires_at = sqlite3_column_int64(q, 4);
	g->reviewed_at = sqlite3_column_int64(q, 5);
	return sq_col_blob_dup(q, 6, &g->reason_sealed, &g->reason_sealed_len);
}

static pv_status
sq_grant_insert(struct pv_store *store, struct pv_grant *g)
{
	sqlite3_stmt *q = sq_stmt(store, Q_GRANT_INSERT);
	struct conn *c;
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, g->user_id);
	sq_bind_text(q, 2, g->patient_id);
	sqlite3_bind_int64(q, 3, g->created_at);
	sqlite3_bind_int64(q, 4, g->expires_at);
	sq_bind_blob(q, 5, g->reason_sealed, g->reason_sealed_len);
	if (g->id > 0)		/* chosen by the caller (audited first) */
		sqlite3_bind_int64(q, 6, g->id);
	sqlite3_bind_int64(q, 7, g->holder_epoch);
	if ((st = sq_run_one(store, q, PV_ECONFLICT)) != PV_OK ||
	    (st = sq_conn_get(S(store), &c)) != PV_OK)
		return st;
	g->id = sqlite3_last_insert_rowid(c->db);
	return PV_OK;
}

static pv_status
sq_grant_active(struct pv_store *store, int64_t user_id, const char *pid,
    int64_t now, int64_t *grant_id)
{
	sqlite3_stmt *q = sq_stmt(store, Q_GRANT_ACTIVE);
	bool found;
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	sq_bind_text(q, 2, pid);
	sqlite3_bind_int64(q, 3, now);
	*grant_id = 0;
	if ((st = sq_one_int(q, grant_id, &found)) != PV_OK)
		return st;
	return found ? PV_OK : PV_ENOTFOUND;
}

static pv_status
sq_grant_list(struct pv_store *store, bool only_open, pv_grant_cb cb,
    void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, only_open ? Q_GRANT_LIST_OPEN :
	    Q_GRANT_LIST_ALL);
	struct pv_grant g;
	pv_status st = PV_OK;
	int rc;

	if (q == NULL)
		return PV_EIO;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((st = read_grant(q, &g)) != PV_OK)
			break;
		cb(arg, &g);
		pv_grant_clear(&g);
	}
	if (st == PV_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = sq_map_rc(rc);
	sqlite3_reset(q);
	return st;
}

static pv_status
sq_grant_get(struct pv_store *store, int64_t id, struct pv_grant *g)
{
	sqlite3_stmt *q = sq_stmt(store, Q_GRANT_GET);
	pv_status st;
	int rc;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		st = read_grant(q, g);
	else
		st = rc == SQLITE_DONE ? PV_ENOTFOUND : sq_map_rc(rc);
	sqlite3_reset(q);
	return st;
}

static pv_status
sq_grant_review(struct pv_store *store, int64_t id, int64_t now)
{
	sqlite3_stmt *q = sq_stmt(store, Q_GRANT_REVIEW);
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	return sq_changes(store) == 1 ? PV_OK : PV_ENOTFOUND;
}

static pv_status
sq_grant_end_user(struct pv_store *store, int64_t user_id, int64_t now)
{
	sqlite3_stmt *q = sq_stmt(store, Q_GRANT_END_USER);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_int64(q, 2, now);
	return sq_run(q);
}

static pv_status
sq_checkpoint(struct pv_store *store)
{
	struct conn *c;
	pv_status st;

	if ((st = sq_conn_get(S(store), &c)) != PV_OK)
		return st;
	return exec_sql(c->db, "PRAGMA main.wal_checkpoint(TRUNCATE);"
	    "PRAGMA k.wal_checkpoint(TRUNCATE);");
}

/* ---- legal holds --------------------------------------------------- */

static pv_status
sq_hold_set(struct pv_store *store, const char *pid, bool on)
{
	sqlite3_stmt *q = sq_stmt(store, on ? Q_HOLD_SET : Q_HOLD_CLEAR);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, pid);
	if (on)
		sqlite3_bind_int64(q, 2, pv_now());
	return sq_run(q);
}

static pv_status
sq_hold_has(struct pv_store *store, const char *pid, bool *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_HOLD_HAS);

	if (q != NULL)
		sq_bind_text(q, 1, pid);
	return sq_one_int(q, NULL, out);
}

/* ---- wrapped data keys --------------------------------------------- */

static pv_status
sq_dek_get(struct pv_store *store, const char *key_id, uint32_t *version,
    unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_GET);
	pv_status st = PV_OK;
	size_t n;
	int rc;

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, key_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*version = (uint32_t)sqlite3_column_int64(q, 0);
		if (!sq_col_blob_fixed(q, 1, wrapped, PV_WRAPPED_DEK_BYTES,
		    &n) || n != PV_WRAPPED_DEK_BYTES)
			st = PV_ECRYPTO;
	} else {
		st = rc == SQLITE_DONE ? PV_ENOTFOUND : sq_map_rc(rc);
	}
	sqlite3_reset(q);
	return st;
}

static pv_status
sq_dek_insert(struct pv_store *store, const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_INSERT);
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, key_id);
	sqlite3_bind_int64(q, 2, version);
	sq_bind_blob(q, 3, wrapped, PV_WRAPPED_DEK_BYTES);
	sqlite3_bind_int64(q, 4, pv_now());
	if ((st = sq_run(q)) != PV_OK)
		return st;
	/* No row: the KEK moved on (refresh and retry) or the id is shredded. */
	return sq_changes(store) == 1 ? PV_OK : PV_ECONFLICT;
}

static pv_status
sq_dek_rewrap(struct pv_store *store, const char *key_id, uint32_t old_v,
    uint32_t new_v, const unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_REWRAP);
	pv_status st;

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, key_id);
	sqlite3_bind_int64(q, 2, old_v);
	sqlite3_bind_int64(q, 3, new_v);
	sq_bind_blob(q, 4, wrapped, PV_WRAPPED_DEK_BYTES);
	if ((st = sq_run(q)) != PV_OK)
		return st;
	return sq_changes(store) == 1 ? PV_OK : PV_ECONFLICT;
}

static pv_status
sq_dek_shred(struct pv_store *store, const char *key_id)
{
	sqlite3_stmt *q;
	pv_status st;

	if ((st = sq_pid_exec(store, Q_DEK_DELETE, key_id)) != PV_OK)
		return st;
	q = sq_stmt(store, Q_DEK_TOMB);
	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, key_id);
	sqlite3_bind_int64(q, 2, pv_now());
	return sq_run(q);
}

static pv_status
sq_dek_is_shredded(struct pv_store *store, const char *key_id, bool *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_IS_SHRED);

	if (q != NULL)
		sq_bind_text(q, 1, key_id);
	return sq_one_int(q, NULL, out);
}

static pv_status
sq_dek_count_version(struct pv_store *store, uint32_t v, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_COUNT_VER);
	bool found;

	if (q != NULL)
		sqlite3_bind_int64(q, 1, v);
	return sq_one_int(q, out, &found);
}

static pv_status
sq_dek_list_old(struct pv_store *store, uint32_t below, size_t limit,
    void (*cb)(void *, const char *, uint32_t, const unsigned char *),
    void *arg)
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_LIST_OLD);
	int rc;

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, below);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(q, 0);
		const void *w = sqlite3_column_blob(q, 2);

		if (id == NULL || w == NULL ||
		    sqlite3_column_bytes(q, 2) != PV_WRAPPED_DEK_BYTES)
			continue;
		cb(arg, (const char *)id, (uint32_t)sqlite3_column_int64(q, 1),
		    w);
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? PV_OK : sq_map_rc(rc);
}

static pv_status
sq_kek_current_set(struct pv_store *store, uint32_t v)
{
	sqlite3_stmt *q = sq_stmt(store, Q_KEK_SET);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, v);
	return sq_run(q);
}

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
};
