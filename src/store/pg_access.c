/*
 * pg_access.c — the PostgreSQL backend's access tables in the records
 * database: care teams, break-glass grants, and the replay cache (RFC 9421
 * nonces) that every node shares.
 *
 * Guarantees (as sqlite_access.c, across nodes): a grant is inserted only
 * while its holder is active with the authz epoch the grant was decided
 * on, in one statement that locks the holder's row (FOR SHARE), so a grant
 * decided before a role or permission change made on any node never lands
 * after it; a grant is reviewed once; ending a user's grants keeps the
 * rows for review. A grant's reason arrives sealed and is stored as it
 * came. A nonce is claimed by exactly one request in the deployment until
 * it expires: the claim is one insert on its digest's primary key.
 *
 * Does not decide access: authz/ does, from what these return.
 */
#include "store/pg_int.h"

#include <string.h>

/* ---- care teams ---------------------------------------------------- */

static void
ct_params(struct pg_params *p, int64_t user_id, const char *pid)
{
	pg_p_init(p);
	pg_p_i64(p, user_id);
	pg_p_text(p, pid);
}

pv_status
pg_careteam_add(struct pv_store *s, int64_t user_id, const char *pid)
{
	struct pg_params p;

	ct_params(&p, user_id, pid);
	pg_p_i64(&p, pv_now());
	return pg_run(s, P_CT_ADD, &p, NULL);
}

pv_status
pg_careteam_remove(struct pv_store *s, int64_t user_id, const char *pid)
{
	struct pg_params p;
	int64_t n = 0;
	pv_status st;

	ct_params(&p, user_id, pid);
	if ((st = pg_run(s, P_CT_REMOVE, &p, &n)) != PV_OK)
		return st;
	return n > 0 ? PV_OK : PV_ENOTFOUND;
}

pv_status
pg_careteam_has(struct pv_store *s, int64_t user_id, const char *pid, bool *out)
{
	struct pg_params p;

	ct_params(&p, user_id, pid);
	return pg_one_int(s, P_CT_HAS, &p, NULL, out);
}

pv_status
pg_careteam_count(struct pv_store *s, int64_t user_id, int64_t *out)
{
	struct pg_params p;
	bool found;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	return pg_one_int(s, P_CT_COUNT, &p, out, &found);
}

/* ---- break-glass grants -------------------------------------------- */

static pv_status
read_grant(const PGresult *r, int row, struct pv_grant *g)
{
	memset(g, 0, sizeof(*g));
	if (!pg_col_i64(r, row, 0, &g->id) ||
	    !pg_col_i64(r, row, 1, &g->user_id) ||
	    !pg_col_i64(r, row, 3, &g->created_at) ||
	    !pg_col_i64(r, row, 4, &g->expires_at) ||
	    !pg_col_i64(r, row, 5, &g->reviewed_at))
		return PV_EINTERNAL;
	pg_col_text(r, row, 2, g->patient_id, sizeof(g->patient_id));
	return pg_col_bytes_dup(r, row, 6, &g->reason_sealed,
	    &g->reason_sealed_len);
}

pv_status
pg_grant_insert(struct pv_store *s, struct pv_grant *g)
{
	struct pg_params p;
	int64_t id = 0;
	bool found;
	pv_status st;

	pg_p_init(&p);
	pg_p_i64(&p, g->user_id);
	pg_p_text(&p, g->patient_id);
	pg_p_i64(&p, g->created_at);
	pg_p_i64(&p, g->expires_at);
	pg_p_bytes(&p, g->reason_sealed, g->reason_sealed_len);
	if (g->id > 0) /* chosen by the caller (audited first) */
		pg_p_i64(&p, g->id);
	else
		pg_p_text(&p, NULL);
	pg_p_i64(&p, g->holder_epoch);
	if ((st = pg_one_int(s, P_GRANT_INSERT, &p, &id, &found)) != PV_OK)
		return st;
	if (!found)
		return PV_ECONFLICT;
	g->id = id;
	return PV_OK;
}

pv_status
pg_grant_active(struct pv_store *s, int64_t user_id, const char *pid,
    int64_t now, int64_t *grant_id)
{
	struct pg_params p;
	bool found;
	pv_status st;

	ct_params(&p, user_id, pid);
	pg_p_i64(&p, now);
	*grant_id = 0;
	if ((st = pg_one_int(s, P_GRANT_ACTIVE, &p, grant_id, &found)) != PV_OK)
		return st;
	return found ? PV_OK : PV_ENOTFOUND;
}

pv_status
pg_grant_list(struct pv_store *s, bool only_open, pv_grant_cb cb, void *arg)
{
	PGresult *r = NULL;
	struct pv_grant g;
	pv_status st;
	int i;

	st = pg_exec(s, only_open ? P_GRANT_LIST_OPEN : P_GRANT_LIST_ALL, NULL,
	    &r);
	if (st != PV_OK)
		return st;
	for (i = 0; i < PQntuples(r); i++) {
		if ((st = read_grant(r, i, &g)) != PV_OK)
			break;
		cb(arg, &g);
		pv_grant_clear(&g);
	}
	PQclear(r);
	return st;
}

pv_status
pg_grant_get(struct pv_store *s, int64_t id, struct pv_grant *g)
{
	struct pg_params p;
	PGresult *r = NULL;
	pv_status st;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	if ((st = pg_exec(s, P_GRANT_GET, &p, &r)) == PV_OK)
		st = PQntuples(r) > 0 ? read_grant(r, 0, g) : PV_ENOTFOUND;
	PQclear(r);
	return st;
}

pv_status
pg_grant_review(struct pv_store *s, int64_t id, int64_t now)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, id);
	pg_p_i64(&p, now);
	return pg_run_one(s, P_GRANT_REVIEW, &p, PV_ENOTFOUND);
}

pv_status
pg_grant_end_user(struct pv_store *s, int64_t user_id, int64_t now)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, user_id);
	pg_p_i64(&p, now);
	return pg_run(s, P_GRANT_END_USER, &p, NULL);
}

/* ---- the replay cache ---------------------------------------------- */

pv_status
pg_nonce_claim(struct pv_store *s, const unsigned char digest[PV_HASH_BYTES],
    int64_t expires_at, int64_t now)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_bytes(&p, digest, PV_HASH_BYTES);
	pg_p_i64(&p, expires_at);
	pg_p_i64(&p, now);
	return pg_run_one(s, P_NONCE_CLAIM, &p, PV_EEXISTS);
}

pv_status
pg_nonce_expire(struct pv_store *s, int64_t now)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, now);
	return pg_run(s, P_NONCE_EXPIRE, &p, NULL);
}
