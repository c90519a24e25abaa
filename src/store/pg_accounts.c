/*
 * pg_accounts.c — the PostgreSQL backend's account tables in the records
 * database: users, sessions and recovery codes.
 *
 * Guarantees (the same as sqlite_accounts.c, across nodes): every account
 * change is one targeted statement, conditional where a concurrent change
 * could make it wrong (the verified password hash, the MFA state, the
 * authz epoch, the lock), so a slow step between a caller's read and its
 * write cannot undo another change, wherever it ran: the loser gets
 * PV_ECONFLICT (PV_EAUTH for a TOTP step already used). PostgreSQL's row
 * lock orders two such statements on the same account; under READ
 * COMMITTED the second re-checks its condition on the row the first
 * committed, so a lockout reservation counts every attempt of every node
 * and a TOTP step is used once in the whole deployment. A session is
 * found only by the hash of its token, and one deleted through any node
 * is gone for every node at the next lookup (nothing is cached here).
 * Recovery codes are stored as hashes and each is used at most once.
 *
 * Does not decide anything: the lockout rule, password and MFA checks are
 * auth/'s, and arrive here as parameters.
 */
#include "store/pg_int.h"

#include <string.h>

/* ---- users --------------------------------------------------------- */

static pv_status
read_user(const PGresult *r, int row, struct pv_user *u)
{
	size_t n;
	bool ok;

	memset(u, 0, sizeof(*u));
	ok = pg_col_i64(r, row, 0, &u->id);
	pg_col_text(r, row, 1, u->username, sizeof(u->username));
	pg_col_text(r, row, 2, u->role, sizeof(u->role));
	ok = ok && pg_col_bool(r, row, 3, &u->is_active);
	pg_col_text(r, row, 4, u->pw_hash, sizeof(u->pw_hash));
	pg_col_text(r, row, 5, u->patient_id, sizeof(u->patient_id));
	ok = ok &&
	    pg_col_bytes_fixed(r, row, 6, u->mfa_sealed, sizeof(u->mfa_sealed),
		&u->mfa_sealed_len) &&
	    pg_col_bool(r, row, 7, &u->has_mfa) &&
	    pg_col_i64(r, row, 8, &u->mfa_last_step) &&
	    pg_col_i64(r, row, 9, &u->failed_count) &&
	    pg_col_i64(r, row, 10, &u->locked_until) &&
	    pg_col_i64(r, row, 11, &u->created_at) &&
	    pg_col_i64(r, row, 12, &u->last_login_at) &&
	    pg_col_i64(r, row, 13, &u->authz_epoch);
	pg_col_text(r, row, 14, u->key_id, sizeof(u->key_id));
	ok = ok &&
	    pg_col_bytes_fixed(r, row, 15, u->pubkey, sizeof(u->pubkey), &n);
	u->has_pubkey = n == sizeof(u->pubkey);
	pg_col_text(r, row, 16, u->scopes, sizeof(u->scopes));
	return ok ? PV_OK : PV_EINTERNAL;
}

static pv_status
user_one(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    struct pv_user *u)
{
	PGresult *r = NULL;
	pv_status st = pg_exec(s, q, p, &r);

	if (st == PV_OK)
		st = PQntuples(r) > 0 ? read_user(r, 0, u) : PV_ENOTFOUND;
	PQclear(r);
	return st;
}

pv_status
pg_user_insert(struct pv_store *s, struct pv_user *u)
{
	struct pg_params p;
	int64_t id = 0;
	bool found;
	pv_status st;

	pg_p_init(&p);
	pg_p_text(&p, u->username);
	pg_p_text(&p, u->role);
	pg_p_bool(&p, u->is_active);
	pg_p_text(&p, u->pw_hash);
	pg_p_text(&p, u->patient_id);
	pg_p_i64(&p, u->created_at);
	pg_p_text(&p, u->key_id[0] != '\0' ? u->key_id : NULL);
	pg_p_bytes(&p, u->has_pubkey ? u->pubkey : NULL, sizeof(u->pubkey));
	pg_p_text(&p, u->scopes);
	if ((st = pg_one_int(s, P_USER_INSERT, &p, &id, &found)) != PV_OK)
		return st;
	if (!found)
		return PV_EEXISTS; /* the name or the key id is taken */
	u->id = id;
	return PV_OK;
}

pv_status
pg_user_get_by_name(struct pv_store *s, const char *name, struct pv_user *u)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, name);
	return user_one(s, P_USER_BY_NAME, &p, u);
}

pv_status
pg_user_get_by_id(struct pv_store *s, int64_t id, struct pv_user *u)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	return user_one(s, P_USER_BY_ID, &p, u);
}

pv_status
pg_user_get_by_key_id(struct pv_store *s, const char *key_id, struct pv_user *u)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, key_id);
	return user_one(s, P_USER_BY_KEY, &p, u);
}

pv_status
pg_user_list(struct pv_store *s, pv_user_cb cb, void *arg)
{
	PGresult *r = NULL;
	struct pv_user u;
	pv_status st;
	int i;

	if ((st = pg_exec(s, P_USER_LIST, NULL, &r)) != PV_OK)
		return st;
	for (i = 0; i < PQntuples(r); i++) {
		if ((st = read_user(r, i, &u)) != PV_OK)
			break;
		cb(arg, &u);
	}
	PQclear(r);
	sodium_memzero(&u, sizeof(u));
	return st;
}

/* Runs q for one RETURNING row of n bigints: PV_ENOTFOUND when no row. */
static pv_status
run_returning(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    int64_t *out, int n)
{
	PGresult *r = NULL;
	pv_status st = pg_exec(s, q, p, &r);
	int i;

	if (st == PV_OK && PQntuples(r) == 0)
		st = PV_ENOTFOUND;
	for (i = 0; st == PV_OK && i < n; i++)
		if (!pg_col_i64(r, 0, i, &out[i]))
			st = PV_EINTERNAL;
	PQclear(r);
	return st;
}

pv_status
pg_user_attempt_reserve(struct pv_store *s, int64_t id, int64_t now,
    const struct pv_lockout_rule *rule, struct pv_attempt *a)
{
	struct pg_params p;
	int64_t row[2] = { 0, 0 };
	pv_status st;

	memset(a, 0, sizeof(*a));
	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_i64(&p, now);
	pg_p_i64(&p, rule->threshold);
	pg_p_i64(&p, rule->base_delay);
	pg_p_i64(&p, rule->max_delay);
	st = run_returning(s, P_USER_RESERVE, &p, row, 2);
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
pg_user_attempt_refund(struct pv_store *s, int64_t id,
    const struct pv_attempt *a)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_i64(&p, a->failed_count);
	return pg_run(s, P_USER_REFUND, &p, NULL);
}

pv_status
pg_user_login_ok(struct pv_store *s, int64_t id, int64_t now,
    const char *verified_hash, bool has_mfa, const char *new_hash,
    int64_t *epoch)
{
	struct pg_params p;
	pv_status st;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_i64(&p, now);
	pg_p_text(&p, verified_hash);
	pg_p_bool(&p, has_mfa);
	pg_p_text(&p, new_hash);
	st = run_returning(s, P_USER_LOGIN_OK, &p, epoch, 1);
	return st == PV_ENOTFOUND ? PV_ECONFLICT : st;
}

pv_status
pg_user_unlock(struct pv_store *s, int64_t id)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	return pg_run_one(s, P_USER_UNLOCK, &p, PV_ENOTFOUND);
}

pv_status
pg_user_totp_consume(struct pv_store *s, int64_t id,
    const unsigned char *sealed, size_t sealed_len, int64_t step)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_bytes(&p, sealed, sealed_len);
	pg_p_i64(&p, step);
	return pg_run_one(s, P_USER_TOTP_USE, &p, PV_EAUTH);
}

/* The two MFA transitions share their shape: id, sealed secret. */
static pv_status
mfa_change(struct pv_store *s, enum pg_q q, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_bytes(&p, sealed, sealed_len);
	return pg_run_one(s, q, &p, PV_ECONFLICT);
}

pv_status
pg_user_mfa_begin(struct pv_store *s, int64_t id, const unsigned char *sealed,
    size_t sealed_len)
{
	return mfa_change(s, P_USER_MFA_BEGIN, id, sealed, sealed_len);
}

pv_status
pg_user_mfa_enable(struct pv_store *s, int64_t id, const unsigned char *sealed,
    size_t sealed_len)
{
	return mfa_change(s, P_USER_MFA_ENABLE, id, sealed, sealed_len);
}

pv_status
pg_user_set_password(struct pv_store *s, int64_t id, const char *old_hash,
    const char *new_hash, bool has_mfa, const char *session)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_text(&p, old_hash);
	pg_p_text(&p, new_hash);
	pg_p_bool(&p, has_mfa);
	pg_p_text(&p, session != NULL && session[0] != '\0' ? session : NULL);
	return pg_run_one(s, P_USER_SET_PW, &p, PV_ECONFLICT);
}

pv_status
pg_user_set_access(struct pv_store *s, int64_t id, int64_t epoch,
    const char *role, bool is_active, const char *scopes)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_i64(&p, epoch);
	pg_p_text(&p, role);
	pg_p_bool(&p, is_active);
	pg_p_text(&p, scopes);
	return pg_run_one(s, P_USER_SET_ACCESS, &p, PV_ECONFLICT);
}

/* ---- sessions ------------------------------------------------------ */

static pv_status
read_session(const PGresult *r, int row, struct pv_session *x)
{
	size_t n;
	bool ok;

	memset(x, 0, sizeof(*x));
	pg_col_text(r, row, 0, x->id, sizeof(x->id));
	ok = pg_col_bytes_fixed(r, row, 1, x->token_hash, sizeof(x->token_hash),
		 &n) &&
	    pg_col_i64(r, row, 2, &x->user_id) &&
	    pg_col_i64(r, row, 3, &x->created_at) &&
	    pg_col_i64(r, row, 4, &x->last_seen) &&
	    pg_col_i64(r, row, 5, &x->expires_at) &&
	    pg_col_bool(r, row, 6, &x->is_mfa_verified) &&
	    pg_col_i64(r, row, 7, &x->authz_epoch);
	return ok ? PV_OK : PV_EINTERNAL;
}

pv_status
pg_session_insert(struct pv_store *s, const struct pv_session *x)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, x->id);
	pg_p_bytes(&p, x->token_hash, sizeof(x->token_hash));
	pg_p_i64(&p, x->user_id);
	pg_p_i64(&p, x->created_at);
	pg_p_i64(&p, x->last_seen);
	pg_p_i64(&p, x->expires_at);
	pg_p_bool(&p, x->is_mfa_verified);
	pg_p_i64(&p, x->authz_epoch);
	return pg_run_one(s, P_SESS_INSERT, &p, PV_EEXISTS);
}

pv_status
pg_session_get(struct pv_store *s, const unsigned char hash[PV_HASH_BYTES],
    struct pv_session *x)
{
	struct pg_params p;
	PGresult *r = NULL;
	pv_status st;

	pg_p_init(&p);
	pg_p_bytes(&p, hash, PV_HASH_BYTES);
	if ((st = pg_exec(s, P_SESS_GET, &p, &r)) == PV_OK)
		st = PQntuples(r) > 0 ? read_session(r, 0, x) : PV_ENOTFOUND;
	PQclear(r);
	return st;
}

pv_status
pg_session_touch(struct pv_store *s, const char *id, int64_t now)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, id);
	pg_p_i64(&p, now);
	return pg_run(s, P_SESS_TOUCH, &p, NULL);
}

pv_status
pg_session_delete(struct pv_store *s, int64_t user_id, const char *id)
{
	struct pg_params p;
	int64_t n = 0;
	pv_status st;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	pg_p_text(&p, id);
	if ((st = pg_run(s, P_SESS_DELETE, &p, &n)) != PV_OK)
		return st;
	return n > 0 ? PV_OK : PV_ENOTFOUND;
}

pv_status
pg_session_delete_all(struct pv_store *s, int64_t user_id,
    const char *except_id)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	pg_p_text(&p, except_id);
	return pg_run(s, P_SESS_DELETE_ALL, &p, NULL);
}

pv_status
pg_session_list(struct pv_store *s, int64_t user_id, pv_session_cb cb,
    void *arg)
{
	struct pg_params p;
	struct pv_session x;
	PGresult *r = NULL;
	pv_status st;
	int i;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	if ((st = pg_exec(s, P_SESS_LIST, &p, &r)) != PV_OK)
		return st;
	for (i = 0; i < PQntuples(r); i++) {
		if ((st = read_session(r, i, &x)) != PV_OK)
			break;
		cb(arg, &x);
	}
	PQclear(r);
	return st;
}

/* ---- recovery codes ------------------------------------------------ */

pv_status
pg_recovery_replace(struct pv_store *s, int64_t user_id,
    const unsigned char (*hashes)[PV_HASH_BYTES], size_t n)
{
	struct pg_params p;
	pv_status st;
	size_t i;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	if ((st = pg_run(s, P_REC_CLEAR, &p, NULL)) != PV_OK)
		return st;
	for (i = 0; i < n; i++) {
		pg_p_init(&p);
		pg_p_i64(&p, user_id);
		pg_p_bytes(&p, hashes[i], PV_HASH_BYTES);
		/* a duplicate hash: SQLite's primary key refuses it too */
		if ((st = pg_run_one(s, P_REC_INSERT, &p, PV_EEXISTS)) != PV_OK)
			return st;
	}
	return PV_OK;
}

pv_status
pg_recovery_consume(struct pv_store *s, int64_t user_id,
    const unsigned char hash[PV_HASH_BYTES], int64_t now)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	pg_p_bytes(&p, hash, PV_HASH_BYTES);
	pg_p_i64(&p, now);
	return pg_run_one(s, P_REC_CONSUME, &p, PV_ENOTFOUND);
}
