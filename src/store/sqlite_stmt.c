/*
 * sqlite_stmt.c — the text of every statement the SQLite backend
 * prepares, by id (enum sql_id, sqlite_int.h), and the small helpers
 * that bind, step and read them.
 *
 * Guarantees: apart from the schema and the connection's own pragmas
 * (sqlite_conn.c), all of the backend's SQL is the constant table below;
 * values reach SQLite only as bound parameters, never as text. The step
 * helpers leave the statement reset, so a cached statement never holds
 * a read open between calls, and SQLite's result codes become pv_status
 * in one place (sq_map_rc). A blob column is copied only within its
 * stated capacity.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- statement text ----------------------------------------------- */

#define USER_COLS                                                              \
	"id, username, role, active, pw_hash, patient_id,"                     \
	" mfa_sealed, mfa_enabled, mfa_last_step, failed_count, locked_until," \
	" created_at, last_login_at, authz_epoch, key_id, pubkey, scopes"
#define RES_COLS "type, id, version, patient_id, deleted, updated_at, sealed"
#define GRANT_COLS                                                             \
	"id, user_id, patient_id, created_at, expires_at,"                     \
	" reviewed_at, reason_sealed"

const char *const sq_sql_text[Q_N] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SAVEPOINT] = "SAVEPOINT pv_change",
	[Q_RELEASE] = "RELEASE pv_change",
	[Q_ROLLBACK_TO] = "ROLLBACK TO pv_change",
	[Q_USER_INSERT] = "INSERT INTO users (username, role, active, pw_hash,"
			  " patient_id, created_at, key_id, pubkey, scopes)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_USER_BY_NAME] = "SELECT " USER_COLS " FROM users"
			   " WHERE username = ?1",
	[Q_USER_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
	[Q_USER_BY_KEY] = "SELECT " USER_COLS " FROM users WHERE key_id = ?1",
	[Q_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
	/* The lock delay is base * 2^(failures - threshold), capped: the
	 * same rule as pv_lockout_delay (the shift is bounded so the product
	 * cannot overflow: base <= 1 day, 2^30). Column names on the right
	 * of SET are the values before this update. */
	[Q_USER_RESERVE] =
	    "UPDATE users SET failed_count = failed_count + 1,"
	    " locked_until = CASE WHEN failed_count + 1 >= ?3"
	    " THEN ?2 + min(?5, ?4 * (1 << min(failed_count + 1 - ?3, 30)))"
	    " ELSE locked_until END"
	    " WHERE id = ?1 AND locked_until <= ?2"
	    " RETURNING failed_count, locked_until",
	/* A refund only lifts a lock that its own reservation set: no
	 * reservation can follow a lock, so the count is still ours then. */
	[Q_USER_REFUND] =
	    "UPDATE users SET failed_count = failed_count - 1,"
	    " locked_until = CASE WHEN failed_count = ?2 THEN 0"
	    " ELSE locked_until END WHERE id = ?1 AND failed_count > 0",
	[Q_USER_LOGIN_OK] = "UPDATE users SET failed_count = 0,"
			    " locked_until = 0, last_login_at = ?2,"
			    " pw_hash = coalesce(?5, pw_hash)"
			    " WHERE id = ?1 AND active = 1 AND pw_hash = ?3"
			    " AND mfa_enabled = ?4 RETURNING authz_epoch",
	[Q_USER_UNLOCK] = "UPDATE users SET failed_count = 0, locked_until = 0"
			  " WHERE id = ?1",
	[Q_USER_TOTP_USE] =
	    "UPDATE users SET mfa_last_step = ?3"
	    " WHERE id = ?1 AND mfa_sealed = ?2 AND mfa_last_step < ?3",
	[Q_USER_MFA_BEGIN] =
	    "UPDATE users SET mfa_sealed = ?2,"
	    " mfa_last_step = 0 WHERE id = ?1 AND mfa_enabled = 0",
	[Q_USER_MFA_ENABLE] =
	    "UPDATE users SET mfa_enabled = 1"
	    " WHERE id = ?1 AND mfa_enabled = 0 AND mfa_sealed = ?2",
	[Q_USER_SET_PW] = "UPDATE users SET pw_hash = ?3"
			  " WHERE id = ?1 AND pw_hash = ?2 AND mfa_enabled = ?4"
			  " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM sessions"
			  " WHERE id = ?5 AND user_id = ?1))",
	[Q_USER_SET_ACCESS] = "UPDATE users SET role = ?3, active = ?4,"
			      " scopes = ?5, authz_epoch = authz_epoch + 1"
			      " WHERE id = ?1 AND authz_epoch = ?2",
	[Q_SESS_INSERT] =
	    "INSERT INTO sessions (id, token_hash, user_id,"
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
	[Q_REC_CONSUME] =
	    "UPDATE recovery_codes SET used_at = ?3"
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
	[Q_RES_SEARCH] =
	    "SELECT " RES_COLS " FROM resources"
	    " WHERE patient_id = ?1 AND type = ?2 AND is_current = 1"
	    " AND deleted = 0 ORDER BY id LIMIT ?3 OFFSET ?4",
	[Q_RES_SEARCH_ALL] =
	    "SELECT " RES_COLS " FROM resources"
	    " WHERE patient_id = ?1 AND is_current = 1 AND deleted = 0"
	    " ORDER BY type, id LIMIT ?3 OFFSET ?4",
	[Q_RES_COUNT] = "SELECT count(*) FROM resources WHERE patient_id = ?1"
			" AND type = ?2 AND is_current = 1 AND deleted = 0",
	[Q_RES_COUNT_ALL] =
	    "SELECT count(*) FROM resources"
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
	[Q_GRANT_INSERT] =
	    "INSERT INTO grants (user_id, patient_id,"
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
	[Q_DEK_INSERT] =
	    "INSERT INTO k.deks (key_id, kek_version,"
	    " wrapped, created_at) SELECT ?1, ?2, ?3, ?4"
	    " WHERE ?2 >= (SELECT v FROM k.meta WHERE k = 'kek_current')"
	    " AND NOT EXISTS (SELECT 1 FROM k.shredded WHERE key_id = ?1)",
	[Q_DEK_REWRAP] = "UPDATE k.deks SET kek_version = ?3, wrapped = ?4"
			 " WHERE key_id = ?1 AND kek_version = ?2",
	[Q_DEK_DELETE] = "DELETE FROM k.deks WHERE key_id = ?1",
	[Q_DEK_TOMB] = "INSERT OR IGNORE INTO k.shredded (key_id, shredded_at)"
		       " VALUES (?1, ?2)",
	[Q_DEK_IS_SHRED] = "SELECT 1 FROM k.shredded WHERE key_id = ?1",
	[Q_DEK_COUNT_VER] = "SELECT count(*) FROM k.deks"
			    " WHERE kek_version = ?1",
	[Q_DEK_LIST_OLD] = "SELECT key_id, kek_version, wrapped FROM k.deks"
			   " WHERE kek_version < ?1 LIMIT ?2",
	[Q_KEK_SET] = "UPDATE k.meta SET v = ?1 WHERE k = 'kek_current'"
		      " AND v <= ?1",
	[Q_KEYS_VERSION] = "PRAGMA k.data_version",
	/* Tombstones are never deleted, so the largest rowid only grows,
	 * and only when a key is shredded. */
	[Q_KEYS_SHRED_EPOCH] = "SELECT coalesce(max(rowid), 0) FROM k.shredded",
	/* Readiness: a read of each database's schema touches both files. */
	[Q_PING] = "SELECT (SELECT count(*) FROM main.sqlite_master) +"
		   " (SELECT count(*) FROM k.sqlite_master)",
};

/* ---- running statements ------------------------------------------ */

pv_status
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
pv_status
sq_run(sqlite3_stmt *q)
{
	int rc;

	if (q == NULL)
		return PV_EIO;
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? PV_OK : sq_map_rc(rc);
}

int
sq_changes(struct pv_store *store)
{
	struct conn *c;

	if (sq_conn_get(S(store), &c) != PV_OK)
		return 0;
	return sqlite3_changes(c->db);
}

void
sq_bind_text(sqlite3_stmt *q, int i, const char *v)
{
	sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

void
sq_bind_blob(sqlite3_stmt *q, int i, const void *v, size_t n)
{
	if (v == NULL)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_blob(q, i, v, (int)n, SQLITE_STATIC);
}

void
sq_col_text(sqlite3_stmt *q, int i, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	if (t == NULL || pv_strlcpy(out, (const char *)t, outsz) != PV_OK)
		out[0] = '\0';
}

/* Copies a blob column into out (capacity cap); false when too long. */
bool
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

pv_status
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

/* Runs q; PV_OK when it changed exactly one row, else `none`. */
pv_status
sq_run_one(struct pv_store *store, sqlite3_stmt *q, pv_status none)
{
	pv_status st;

	if ((st = sq_run(q)) != PV_OK)
		return st;
	return sq_changes(store) == 1 ? PV_OK : none;
}

/* Runs a one-row, one-integer query; *found false when no row. */
pv_status
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

pv_status
sq_pid_exec(struct pv_store *store, enum sql_id id, const char *pid)
{
	sqlite3_stmt *q = sq_stmt(store, id);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, pid);
	return sq_run(q);
}
