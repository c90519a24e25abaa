/*
 * pg_stmt.c — the text of every statement the PostgreSQL backend
 * prepares, by id (enum pg_q, pg_int.h), its parameters, running it, and
 * reading its binary result.
 *
 * Guarantees: apart from the schema (pg_schema.c) and the transaction
 * commands (pg_conn.c), all of the backend's SQL is the constant table
 * below; values reach PostgreSQL only as parameters of a prepared
 * statement (bytea in binary), never as text of a statement. libpq errors
 * become pv_status in one place, pg_map_result: a constraint violation is
 * PV_EEXISTS (what SQLite's SQLITE_CONSTRAINT gives), a serialization
 * failure or deadlock PV_EBUSY, a lost connection or a server shutting
 * down PV_EUNAVAIL, a full disk PV_EIO. Columns are read only when their
 * binary width is the expected one, and blobs within the stated capacity.
 *
 * Concurrency: on SQLite every write transaction holds the whole database;
 * here nodes write at once under READ COMMITTED, so every statement that
 * SQLite made correct by that lock is made correct by itself; the
 * comments at P_USER_SET_PW, P_RES_INSERT_NEXT, P_GRANT_INSERT,
 * P_DEK_INSERT and P_DEK_SHRED say how.
 */
#include "store/pg_int.h"
#include "common/log.h"

#include <endian.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statement text ----------------------------------------------- */

#define USER_COLS                                                              \
	"id, username, role, active, pw_hash, patient_id,"                     \
	" mfa_sealed, mfa_enabled, mfa_last_step, failed_count, locked_until," \
	" created_at, last_login_at, authz_epoch, key_id, pubkey, scopes"
#define SESS_COLS                                                              \
	"id, token_hash, user_id, created_at, last_seen, expires_at,"          \
	" mfa_verified, authz_epoch"
#define RES_COLS "type, id, version, patient_id, deleted, updated_at, sealed"
#define GRANT_COLS                                                             \
	"id, user_id, patient_id, created_at, expires_at,"                     \
	" reviewed_at, reason_sealed"
/* resource_scan reads in pages of this many rows (keyset paging). */
#define SCAN_PAGE "500"

#define R(t)                                                                   \
	{                                                                      \
		PG_REC, false, t                                               \
	}
#define W(t)                                                                   \
	{                                                                      \
		PG_REC, true, t                                                \
	}
#define KR(t)                                                                  \
	{                                                                      \
		PG_KEYS, false, t                                              \
	}
#define KW(t)                                                                  \
	{                                                                      \
		PG_KEYS, true, t                                               \
	}

const struct pg_sql pg_sql[P_N] = {
	/* ON CONFLICT DO NOTHING: a taken name or key id is "no row"
	 * (PV_EEXISTS) instead of an error that would abort the caller's
	 * transaction (SQLite's does not). */
	[P_USER_INSERT] = W("INSERT INTO users (username, role, active,"
			    " pw_hash, patient_id, created_at, key_id, pubkey,"
			    " scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
			    " $9) ON CONFLICT DO NOTHING RETURNING id"),
	[P_USER_BY_NAME] = R("SELECT " USER_COLS " FROM users"
			     " WHERE username = $1"),
	[P_USER_BY_ID] = R("SELECT " USER_COLS " FROM users WHERE id = $1"),
	[P_USER_BY_KEY] = R("SELECT " USER_COLS " FROM users"
			    " WHERE key_id = $1"),
	[P_USER_LIST] = R("SELECT " USER_COLS " FROM users ORDER BY username"),
	/* One statement: the row lock makes reservations from every node
	 * count, one after the other (the lockout is global). The delay is
	 * base * 2^(failures - threshold), capped, as pv_lockout_delay. */
	[P_USER_RESERVE] =
	    W("UPDATE users SET failed_count = failed_count + 1,"
	      " locked_until = CASE WHEN failed_count + 1 >= $3::bigint"
	      " THEN $2::bigint + least($5::bigint, $4::bigint *"
	      " (1::bigint << least(failed_count + 1 - $3::bigint, 30)::int))"
	      " ELSE locked_until END"
	      " WHERE id = $1 AND locked_until <= $2::bigint"
	      " RETURNING failed_count, locked_until"),
	[P_USER_REFUND] =
	    W("UPDATE users SET failed_count = failed_count - 1,"
	      " locked_until = CASE WHEN failed_count = $2::bigint THEN 0"
	      " ELSE locked_until END WHERE id = $1 AND failed_count > 0"),
	[P_USER_LOGIN_OK] = W("UPDATE users SET failed_count = 0,"
			      " locked_until = 0, last_login_at = $2,"
			      " pw_hash = coalesce($5::text, pw_hash)"
			      " WHERE id = $1 AND active AND pw_hash = $3"
			      " AND mfa_enabled = $4::boolean"
			      " RETURNING authz_epoch"),
	[P_USER_UNLOCK] = W("UPDATE users SET failed_count = 0,"
			    " locked_until = 0 WHERE id = $1"),
	[P_USER_TOTP_USE] = W("UPDATE users SET mfa_last_step = $3"
			      " WHERE id = $1 AND mfa_sealed = $2::bytea"
			      " AND mfa_last_step < $3::bigint"),
	[P_USER_MFA_BEGIN] = W("UPDATE users SET mfa_sealed = $2,"
			       " mfa_last_step = 0"
			       " WHERE id = $1 AND NOT mfa_enabled"),
	[P_USER_MFA_ENABLE] = W("UPDATE users SET mfa_enabled = true"
				" WHERE id = $1 AND NOT mfa_enabled"
				" AND mfa_sealed = $2::bytea"),
	/* FOR SHARE: a concurrent revocation of that session (MFA
	 * confirmation on another node) either waits for this change or
	 * wins, and then the session is gone and nothing changes. */
	[P_USER_SET_PW] = W("UPDATE users SET pw_hash = $3"
			    " WHERE id = $1 AND pw_hash = $2"
			    " AND mfa_enabled = $4::boolean"
			    " AND ($5::text IS NULL OR EXISTS (SELECT 1"
			    " FROM sessions WHERE id = $5::text"
			    " AND user_id = $1 FOR SHARE))"),
	[P_USER_SET_ACCESS] = W("UPDATE users SET role = $3, active = $4,"
				" scopes = $5,"
				" authz_epoch = authz_epoch + 1"
				" WHERE id = $1 AND authz_epoch = $2"),
	[P_SESS_INSERT] = W("INSERT INTO sessions (" SESS_COLS ")"
			    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
			    " ON CONFLICT DO NOTHING"),
	[P_SESS_GET] = R("SELECT " SESS_COLS " FROM sessions"
			 " WHERE token_hash = $1"),
	[P_SESS_TOUCH] = W("UPDATE sessions SET last_seen = $2 WHERE id = $1"),
	[P_SESS_DELETE] = W("DELETE FROM sessions WHERE user_id = $1"
			    " AND id = $2"),
	[P_SESS_DELETE_ALL] = W("DELETE FROM sessions WHERE user_id = $1"
				" AND id IS DISTINCT FROM $2::text"),
	[P_SESS_LIST] = R("SELECT " SESS_COLS " FROM sessions"
			  " WHERE user_id = $1 ORDER BY created_at, id"),
	[P_REC_CLEAR] = W("DELETE FROM recovery_codes WHERE user_id = $1"),
	[P_REC_INSERT] = W("INSERT INTO recovery_codes (user_id, code_hash)"
			   " VALUES ($1, $2) ON CONFLICT DO NOTHING"),
	[P_REC_CONSUME] = W("UPDATE recovery_codes SET used_at = $3"
			    " WHERE user_id = $1 AND code_hash = $2"
			    " AND used_at = 0"),
	[P_CT_ADD] = W("INSERT INTO careteam (user_id, patient_id, added_at)"
		       " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
	[P_CT_REMOVE] = W("DELETE FROM careteam WHERE user_id = $1"
			  " AND patient_id = $2"),
	[P_CT_HAS] = R("SELECT 1 FROM careteam WHERE user_id = $1"
		       " AND patient_id = $2"),
	[P_CT_COUNT] = R("SELECT count(*) FROM careteam WHERE user_id = $1"),
	/*
	 * The next version, in one statement: inserted only if it is the
	 * stored maximum + 1. Two nodes writing the same version at once
	 * meet on the primary key: the second waits for the first to end,
	 * then inserts nothing (PV_ECONFLICT), instead of an error that
	 * would abort its transaction. Nobody can add the version after
	 * ours before we commit (it would need ours), so the flip of
	 * is_current that follows is safe without SQLite's database lock.
	 */
	[P_RES_INSERT_NEXT] = W(
	    "INSERT INTO resources (type, id, version, patient_id, is_current,"
	    " deleted, updated_at, sealed)"
	    " SELECT $1::text, $2::text, $3::bigint, $4::text, true,"
	    " $5::boolean, $6::bigint, $7::bytea"
	    " WHERE (SELECT coalesce(max(version), 0) FROM resources"
	    " WHERE type = $1::text AND id = $2::text) = $3::bigint - 1"
	    " ON CONFLICT (type, id, version) DO NOTHING"),
	[P_RES_UNCURRENT] = W("UPDATE resources SET is_current = false"
			      " WHERE type = $1 AND id = $2 AND is_current"
			      " AND version < $3"),
	[P_RES_GET_CUR] = R("SELECT " RES_COLS " FROM resources"
			    " WHERE type = $1 AND id = $2 AND is_current"),
	[P_RES_GET_VER] = R("SELECT " RES_COLS " FROM resources"
			    " WHERE type = $1 AND id = $2 AND version = $3"),
	[P_RES_HISTORY] = R("SELECT " RES_COLS " FROM resources"
			    " WHERE type = $1 AND id = $2"
			    " ORDER BY version DESC"),
	[P_RES_SEARCH] = R("SELECT " RES_COLS " FROM resources"
			   " WHERE patient_id = $1 AND type = $2"
			   " AND is_current AND NOT deleted"
			   " ORDER BY id LIMIT $3 OFFSET $4"),
	[P_RES_SEARCH_ALL] = R("SELECT " RES_COLS " FROM resources"
			       " WHERE patient_id = $1 AND is_current"
			       " AND NOT deleted AND $2::text IS NULL"
			       " ORDER BY type, id LIMIT $3 OFFSET $4"),
	[P_RES_COUNT] = R("SELECT count(*) FROM resources"
			  " WHERE patient_id = $1 AND type = $2"
			  " AND is_current AND NOT deleted"),
	[P_RES_COUNT_ALL] = R("SELECT count(*) FROM resources"
			      " WHERE patient_id = $1 AND is_current"
			      " AND NOT deleted"),
	[P_RES_SCAN_FIRST] = R("SELECT " RES_COLS " FROM resources"
			       " WHERE is_current"
			       " ORDER BY patient_id, type, id"
			       " LIMIT " SCAN_PAGE),
	[P_RES_SCAN_NEXT] = R("SELECT " RES_COLS " FROM resources"
			      " WHERE is_current"
			      " AND (patient_id, type, id) > ($1, $2, $3)"
			      " ORDER BY patient_id, type, id"
			      " LIMIT " SCAN_PAGE),
	[P_RES_PURGE] = W("DELETE FROM resources WHERE type = $1 AND id = $2"),
	[P_IDX_PURGE] = W("DELETE FROM blind_index WHERE type = $1"
			  " AND id = $2"),
	[P_PAT_PURGE_OLD] = W("DELETE FROM resources WHERE patient_id = $1"
			      " AND NOT is_current"),
	[P_PAT_PURGE_RES] = W("UPDATE resources SET sealed = NULL,"
			      " deleted = true WHERE patient_id = $1"),
	[P_PAT_PURGE_CT] = W("DELETE FROM careteam WHERE patient_id = $1"),
	[P_PAT_PURGE_IDX] = W("DELETE FROM blind_index WHERE type = 'Patient'"
			      " AND id = $1"),
	[P_PAT_PURGE_GRANTS] = W("UPDATE grants SET reason_sealed = NULL"
				 " WHERE patient_id = $1"),
	[P_IDX_INSERT] = W("INSERT INTO blind_index (type, digest, id)"
			   " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
	[P_IDX_FIND] = R("SELECT r.type, r.id, r.version, r.patient_id,"
			 " r.deleted, r.updated_at, r.sealed FROM blind_index b"
			 " JOIN resources r ON r.type = b.type AND r.id = b.id"
			 " AND r.is_current AND NOT r.deleted"
			 " WHERE b.type = $1 AND b.digest = $2 ORDER BY r.id"),
	/* FOR SHARE on the holder's row: a role or permission change on
	 * another node (an UPDATE of that row, bumping the epoch) either
	 * waits for this grant, which it then ends, or commits first, and
	 * then the re-checked condition refuses the grant. */
	[P_GRANT_INSERT] =
	    W("INSERT INTO grants (id, user_id, patient_id, created_at,"
	      " expires_at, reason_sealed)"
	      " SELECT coalesce($6::bigint, nextval('grants_id_seq')),"
	      " $1::bigint, $2::text, $3::bigint, $4::bigint, $5::bytea"
	      " WHERE EXISTS (SELECT 1 FROM users WHERE id = $1::bigint"
	      " AND active AND authz_epoch = $7::bigint FOR SHARE)"
	      " RETURNING id"),
	[P_GRANT_ACTIVE] = R("SELECT id FROM grants WHERE user_id = $1"
			     " AND patient_id = $2 AND expires_at > $3"
			     " ORDER BY expires_at DESC LIMIT 1"),
	[P_GRANT_LIST_ALL] = R("SELECT " GRANT_COLS " FROM grants"
			       " ORDER BY id"),
	[P_GRANT_LIST_OPEN] = R("SELECT " GRANT_COLS " FROM grants"
				" WHERE reviewed_at = 0 ORDER BY id"),
	[P_GRANT_GET] = R("SELECT " GRANT_COLS " FROM grants WHERE id = $1"),
	[P_GRANT_REVIEW] = W("UPDATE grants SET reviewed_at = $2"
			     " WHERE id = $1 AND reviewed_at = 0"),
	[P_GRANT_END_USER] = W("UPDATE grants SET expires_at = $2"
			       " WHERE user_id = $1 AND expires_at > $2"),
	[P_HOLD_SET] = W("INSERT INTO legal_holds (patient_id, created_at)"
			 " VALUES ($1, $2) ON CONFLICT DO NOTHING"),
	[P_HOLD_CLEAR] = W("DELETE FROM legal_holds WHERE patient_id = $1"),
	[P_HOLD_HAS] = R("SELECT 1 FROM legal_holds WHERE patient_id = $1"),
	/* A claim lands (one row) when the digest is new or its claim
	 * expired; a live claim, from any node, leaves no row. */
	[P_NONCE_CLAIM] = W("INSERT INTO nonces (digest, expires_at)"
			    " VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE"
			    " SET expires_at = EXCLUDED.expires_at"
			    " WHERE nonces.expires_at <= $3::bigint"),
	[P_NONCE_EXPIRE] = W("DELETE FROM nonces WHERE expires_at <= $1"),
	[P_PING_REC] = R("SELECT count(*) FROM schema_version"),
	/* ---- the keys database ---- */
	[P_DEK_GET] = KR("SELECT kek_version, wrapped FROM deks"
			 " WHERE key_id = $1 AND shredded_at IS NULL"),
	/*
	 * The key row is also the tombstone (pg_schema.c), so an insert and
	 * a shred of the same id meet on the primary key, on any node:
	 * ON CONFLICT DO NOTHING leaves no row when a key or a tombstone is
	 * there (P_DEK_STATE tells which). FOR SHARE on the current KEK
	 * version: `key rotate` moving it (UPDATE of that row) waits for
	 * inserts under way, and an insert after it re-reads the new one, so
	 * no DEK lands under a KEK older than the current one once the
	 * rotation has listed the old ones.
	 */
	[P_DEK_INSERT] = KW("INSERT INTO deks (key_id, kek_version, wrapped,"
			    " created_at)"
			    " SELECT $1::text, $2::bigint, $3::bytea,"
			    " $4::bigint WHERE $2::bigint >= (SELECT v"
			    " FROM keys_meta WHERE k = 'kek_current'"
			    " FOR SHARE)"
			    " ON CONFLICT (key_id) DO NOTHING"),
	[P_DEK_STATE] =
	    KR("SELECT CASE WHEN shredded_at IS NULL THEN 0 ELSE 1 END::bigint"
	       " FROM deks"
	       " WHERE key_id = $1"),
	[P_DEK_REWRAP] = KW("UPDATE deks SET kek_version = $3, wrapped = $4"
			    " WHERE key_id = $1 AND kek_version = $2"
			    " AND shredded_at IS NULL"),
	/*
	 * A shred, in one statement: the shred epoch moves (its row lock
	 * orders shreds from every node, so the epoch grows in commit
	 * order) and the key row becomes a tombstone, the wrapped key
	 * dropped, whether or not a key was there. Both are visible at the
	 * same commit, which is what keys_version readers rely on.
	 */
	[P_DEK_SHRED] = KW(
	    "WITH e AS (UPDATE keys_meta SET v = v + 1"
	    " WHERE k = 'shred_epoch' RETURNING v)"
	    " INSERT INTO deks (key_id, kek_version, wrapped, created_at,"
	    " shredded_at) SELECT $1::text, 0, NULL, $2::bigint, $2::bigint"
	    " FROM e ON CONFLICT (key_id) DO UPDATE SET wrapped = NULL,"
	    " shredded_at = coalesce(deks.shredded_at, EXCLUDED.shredded_at)"),
	[P_DEK_IS_SHRED] = KR("SELECT 1 FROM deks WHERE key_id = $1"
			      " AND shredded_at IS NOT NULL"),
	[P_DEK_COUNT_VER] = KR("SELECT count(*) FROM deks"
			       " WHERE kek_version = $1"
			       " AND shredded_at IS NULL"),
	[P_DEK_LIST_OLD] = KR("SELECT key_id, kek_version, wrapped FROM deks"
			      " WHERE kek_version < $1 AND shredded_at IS NULL"
			      " LIMIT $2"),
	[P_KEK_SET] = KW("UPDATE keys_meta SET v = $1"
			 " WHERE k = 'kek_current' AND v <= $1"),
	/* keys_version and the shred epoch: read from the database on every
	 * call, never cached in the process, so another node's shred is seen
	 * by the next lookup here. */
	[P_SHRED_EPOCH] = KR("SELECT v FROM keys_meta"
			     " WHERE k = 'shred_epoch'"),
	[P_PING_KEYS] = KR("SELECT count(*) FROM schema_version"),
};

/* ---- parameters ---------------------------------------------------- */

void
pg_p_init(struct pg_params *p)
{
	memset(p, 0, sizeof(*p));
}

static int
p_slot(struct pg_params *p)
{
	if (p->n >= PG_MAX_PARAMS) {
		p->is_bad = true;
		return -1;
	}
	return p->n++;
}

void
pg_p_text(struct pg_params *p, const char *s)
{
	int i = p_slot(p);

	if (i < 0)
		return;
	p->v[i] = s; /* NULL: SQL NULL */
	p->len[i] = 0;
	p->fmt[i] = 0;
}

void
pg_p_i64(struct pg_params *p, int64_t v)
{
	int i = p_slot(p);

	if (i < 0)
		return;
	(void)snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, v);
	p->v[i] = p->num[i];
	p->fmt[i] = 0;
}

void
pg_p_bool(struct pg_params *p, bool b)
{
	pg_p_text(p, b ? "t" : "f");
}

void
pg_p_bytes(struct pg_params *p, const void *b, size_t n)
{
	int i = p_slot(p);

	if (i < 0)
		return;
	if (n > INT_MAX) {
		p->is_bad = true;
		return;
	}
	p->v[i] = b; /* NULL: SQL NULL */
	p->len[i] = (int)n;
	p->fmt[i] = 1;
}

/* ---- errors -------------------------------------------------------- */

static bool
is_class(const char *state, const char *cls)
{
	return strncmp(state, cls, 2) == 0;
}

static pv_status
map_sqlstate(const char *s)
{
	if (is_class(s, "23")) /* integrity constraint violation */
		return PV_EEXISTS;
	if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
	    strcmp(s, "55P03") == 0 || strcmp(s, "57014") == 0)
		return PV_EBUSY; /* serialization, deadlock, lock, cancel */
	if (is_class(s, "08") || strcmp(s, "57P01") == 0 ||
	    strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0 ||
	    is_class(s, "3D") || is_class(s, "28"))
		return PV_EUNAVAIL; /* connection, shutdown, no db, auth */
	if (strcmp(s, "53200") == 0)
		return PV_ENOMEM;
	if (is_class(s, "53") || is_class(s, "58") || strcmp(s, "25006") == 0)
		return PV_EIO; /* disk full, I/O, read-only */
	if (strcmp(s, "XX001") == 0 || strcmp(s, "XX002") == 0)
		return PV_ECRYPTO; /* corrupt data, as SQLITE_CORRUPT */
	if (is_class(s, "22"))
		return PV_EINVAL; /* a value the database refused */
	if (is_class(s, "25"))
		return PV_EIO; /* the transaction is in a failed state */
	return PV_EINTERNAL;
}

pv_status
pg_map_result(PGconn *c, const PGresult *r, enum pg_q q)
{
	ExecStatusType es = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	const char *state;
	pv_status st;
	char qid[16];

	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)
		return PV_OK;
	if (c == NULL || PQstatus(c) == CONNECTION_BAD)
		return PV_EUNAVAIL;
	if (r == NULL)
		return PV_ENOMEM;
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state == NULL || strlen(state) != 5)
		return PV_EUNAVAIL; /* reported by libpq itself */
	st = map_sqlstate(state);
	if (st != PV_EEXISTS) {
		/* The SQLSTATE and which statement, never the message: it
		 * may quote a value. */
		(void)snprintf(qid, sizeof(qid), "%d", (int)q);
		pv_log(PV_LOG_WARN, "store_pg_error", NULL, "sqlstate", state,
		    "statement", qid, "status", pv_status_name(st),
		    (const char *)NULL);
	}
	return st;
}

/* ---- running ------------------------------------------------------- */

pv_status
pg_run(struct pv_store *s, enum pg_q q, const struct pg_params *p, int64_t *n)
{
	PGresult *r = NULL;
	pv_status st = pg_exec(s, q, p, &r);

	if (st == PV_OK && n != NULL)
		*n = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return st;
}

pv_status
pg_run_one(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    pv_status none)
{
	int64_t n = 0;
	pv_status st = pg_run(s, q, p, &n);

	if (st != PV_OK)
		return st;
	return n == 1 ? PV_OK : none;
}

pv_status
pg_one_int(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    int64_t *out, bool *found)
{
	PGresult *r = NULL;
	pv_status st = pg_exec(s, q, p, &r);

	*found = false;
	if (st == PV_OK && PQntuples(r) > 0) {
		*found = true;
		if (out != NULL && !pg_col_i64(r, 0, 0, out))
			st = PV_EINTERNAL;
	}
	PQclear(r);
	return st;
}

pv_status
pg_text_exec(struct pv_store *s, enum pg_q q, const char *v)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, v);
	return pg_run(s, q, &p, NULL);
}

/* ---- columns (binary format) --------------------------------------- */

bool
pg_col_i64(const PGresult *r, int row, int col, int64_t *out)
{
	const char *v = PQgetvalue(r, row, col);
	uint64_t u8;
	uint32_t u4;
	uint16_t u2;

	*out = 0;
	if (PQgetisnull(r, row, col))
		return true;
	switch (PQgetlength(r, row, col)) {
	case 8:
		memcpy(&u8, v, 8);
		*out = (int64_t)be64toh(u8);
		return true;
	case 4:
		memcpy(&u4, v, 4);
		*out = (int32_t)be32toh(u4);
		return true;
	case 2:
		memcpy(&u2, v, 2);
		*out = (int16_t)be16toh(u2);
		return true;
	default:
		return false;
	}
}

bool
pg_col_bool(const PGresult *r, int row, int col, bool *out)
{
	*out = false;
	if (PQgetisnull(r, row, col))
		return true;
	if (PQgetlength(r, row, col) != 1)
		return false;
	*out = PQgetvalue(r, row, col)[0] != 0;
	return true;
}

/* libpq ends every value with a NUL; text never holds one (the server
 * refuses it), so the value is the C string. */
void
pg_col_text(const PGresult *r, int row, int col, char *out, size_t outsz)
{
	if (PQgetisnull(r, row, col) ||
	    pv_strlcpy(out, PQgetvalue(r, row, col), outsz) != PV_OK)
		out[0] = '\0';
}

bool
pg_col_bytes_fixed(const PGresult *r, int row, int col, unsigned char *out,
    size_t cap, size_t *len)
{
	int n = PQgetlength(r, row, col);

	*len = 0;
	if (PQgetisnull(r, row, col) || n <= 0)
		return true;
	if ((size_t)n > cap)
		return false;
	memcpy(out, PQgetvalue(r, row, col), (size_t)n);
	*len = (size_t)n;
	return true;
}

pv_status
pg_col_bytes_dup(const PGresult *r, int row, int col, unsigned char **out,
    size_t *len)
{
	int n = PQgetlength(r, row, col);

	*out = NULL;
	*len = 0;
	if (PQgetisnull(r, row, col) || n <= 0)
		return PV_OK;
	*out = malloc((size_t)n);
	if (*out == NULL)
		return PV_ENOMEM;
	memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
	*len = (size_t)n;
	return PV_OK;
}
