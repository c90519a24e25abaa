/*
 * sqlite_access.c — the SQLite backend's access tables in phivault.db:
 * care teams and break-glass grants.
 *
 * Guarantees: a grant is inserted only while its holder is active with
 * the authz epoch the grant was decided on (one conditional INSERT), so
 * a grant decided before a role or permission change never lands after
 * it; a grant is reviewed once; ending a user's grants keeps the rows
 * for review. A grant's reason arrives sealed and is stored as it came.
 *
 * Does not decide access: authz/ does, from what these return.
 */
#include "store/sqlite_int.h"

#include <string.h>

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

pv_status
sq_careteam_add(struct pv_store *store, int64_t user_id, const char *pid)
{
	return ct_exec(store, Q_CT_ADD, user_id, pid);
}

pv_status
sq_careteam_remove(struct pv_store *store, int64_t user_id, const char *pid)
{
	pv_status st = ct_exec(store, Q_CT_REMOVE, user_id, pid);

	if (st != PV_OK)
		return st;
	return sq_changes(store) > 0 ? PV_OK : PV_ENOTFOUND;
}

pv_status
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

pv_status
sq_careteam_count(struct pv_store *store, int64_t user_id, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_CT_COUNT);
	bool found;

	if (q != NULL)
		sqlite3_bind_int64(q, 1, user_id);
	return sq_one_int(q, out, &found);
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

pv_status
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
	if (g->id > 0) /* chosen by the caller (audited first) */
		sqlite3_bind_int64(q, 6, g->id);
	sqlite3_bind_int64(q, 7, g->holder_epoch);
	if ((st = sq_run_one(store, q, PV_ECONFLICT)) != PV_OK ||
	    (st = sq_conn_get(S(store), &c)) != PV_OK)
		return st;
	g->id = sqlite3_last_insert_rowid(c->db);
	return PV_OK;
}

pv_status
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

pv_status
sq_grant_list(struct pv_store *store, bool only_open, pv_grant_cb cb, void *arg)
{
	sqlite3_stmt *q =
	    sq_stmt(store, only_open ? Q_GRANT_LIST_OPEN : Q_GRANT_LIST_ALL);
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

pv_status
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

pv_status
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

pv_status
sq_grant_end_user(struct pv_store *store, int64_t user_id, int64_t now)
{
	sqlite3_stmt *q = sq_stmt(store, Q_GRANT_END_USER);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_int64(q, 2, now);
	return sq_run(q);
}
