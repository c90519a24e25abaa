/*
 * sqlite_accounts.c — the SQLite backend's account tables in
 * phivault.db: users, sessions and recovery codes.
 *
 * Guarantees: every account change is one targeted statement,
 * conditional where a concurrent change could make it wrong (the
 * password hash that was verified, the MFA state, the authz epoch, the
 * lock); nothing here reads a row and writes it back, so a slow step
 * between a caller's read and its write cannot undo another change: the
 * loser gets PV_ECONFLICT (PV_EAUTH for a TOTP step already used). A
 * session is found only by the hash of its token; recovery codes are
 * stored as hashes and each is used at most once.
 *
 * Does not decide anything: the lockout rule, password and MFA checks
 * are auth/'s, and arrive here as parameters.
 */
#include "store/sqlite_int.h"

#include <string.h>

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

pv_status
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

pv_status
sq_user_get_by_name(struct pv_store *store, const char *name, struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_BY_NAME);

	if (q != NULL)
		sq_bind_text(q, 1, name);
	return user_one(q, u);
}

pv_status
sq_user_get_by_id(struct pv_store *store, int64_t id, struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_BY_ID);

	if (q != NULL)
		sqlite3_bind_int64(q, 1, id);
	return user_one(q, u);
}

pv_status
sq_user_get_by_key_id(struct pv_store *store, const char *key_id,
    struct pv_user *u)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_BY_KEY);

	if (q != NULL)
		sq_bind_text(q, 1, key_id);
	return user_one(q, u);
}

pv_status
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
		rc = sqlite3_step(q); /* one row at most: the id is unique */
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		return PV_ENOTFOUND;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? PV_OK : sq_map_rc(rc);
}

pv_status
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
		return PV_OK; /* locked: not reserved */
	if (st != PV_OK)
		return st;
	a->is_reserved = true;
	a->failed_count = row[0];
	a->locked_until = row[1];
	return PV_OK;
}

pv_status
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

pv_status
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

pv_status
sq_user_unlock(struct pv_store *store, int64_t id)
{
	sqlite3_stmt *q = sq_stmt(store, Q_USER_UNLOCK);

	if (q != NULL)
		sqlite3_bind_int64(q, 1, id);
	return sq_run_one(store, q, PV_ENOTFOUND);
}

pv_status
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

pv_status
sq_user_mfa_begin(struct pv_store *store, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	return mfa_change(store, Q_USER_MFA_BEGIN, id, sealed, sealed_len);
}

pv_status
sq_user_mfa_enable(struct pv_store *store, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	return mfa_change(store, Q_USER_MFA_ENABLE, id, sealed, sealed_len);
}

pv_status
sq_user_set_password(struct pv_store *store, int64_t id, const char *old_hash,
    const char *new_hash, bool has_mfa, const char *session)
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

pv_status
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

pv_status
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

pv_status
sq_session_get(struct pv_store *store, const unsigned char hash[PV_HASH_BYTES],
    struct pv_session *s)
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

pv_status
sq_session_touch(struct pv_store *store, const char *id, int64_t now)
{
	sqlite3_stmt *q = sq_stmt(store, Q_SESS_TOUCH);

	if (q == NULL)
		return PV_EIO;
	sq_bind_text(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	return sq_run(q);
}

pv_status
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

pv_status
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

pv_status
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

pv_status
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

pv_status
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
