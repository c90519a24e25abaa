/*
 * pg_records.c — the PostgreSQL backend's record tables in the records
 * database: sealed resources and their versions, the blind index, legal
 * holds, and the erasure of a patient.
 *
 * Guarantees (as sqlite_records.c, across nodes): a resource version is
 * stored only as exactly the next one (the stored maximum + 1, else
 * PV_ECONFLICT) and becomes the single current version; of two nodes
 * writing the same version at once, one wins and the other gets
 * PV_ECONFLICT (they meet on the primary key, P_RES_INSERT_NEXT in
 * pg_stmt.c); older versions stay for history. Resources arrive sealed
 * and the blind index holds keyed digests, so no plaintext PHI reaches
 * this file. Erasing a patient deletes every sealed version (one empty,
 * deleted row per resource stays, so it reads as gone), the care-team
 * rows, the Patient's blind-index rows and the sealed break-glass
 * reasons.
 *
 * Does not guarantee what SQLite's secure_delete does: PostgreSQL leaves
 * a deleted row's bytes in the table file until vacuum reuses the space,
 * and in its WAL. They are ciphertext under the patient's key, which
 * pv_dek_shred destroyed first; that is what erasure rests on here.
 *
 * resource_scan pages through the current rows by key (500 at a time)
 * instead of holding one result of the whole vault in memory; a resource
 * written during the scan may or may not be seen, as with any scan that
 * does not hold a snapshot.
 *
 * Test builds can make a resource write fail here (faults store_write
 * and store_tx_lost, the latter ending the whole transaction).
 */
#include "store/pg_int.h"
#include "common/fault.h"

#include <string.h>

/* ---- resources ----------------------------------------------------- */

static pv_status
read_resource(const PGresult *r, int row, struct pv_resource *x)
{
	memset(x, 0, sizeof(*x));
	pg_col_text(r, row, 0, x->type, sizeof(x->type));
	pg_col_text(r, row, 1, x->id, sizeof(x->id));
	pg_col_text(r, row, 3, x->patient_id, sizeof(x->patient_id));
	if (!pg_col_i64(r, row, 2, &x->version) ||
	    !pg_col_bool(r, row, 4, &x->is_deleted) ||
	    !pg_col_i64(r, row, 5, &x->updated_at))
		return PV_EINTERNAL;
	return pg_col_bytes_dup(r, row, 6, &x->sealed, &x->sealed_len);
}

static void
type_id(struct pg_params *p, const char *type, const char *id)
{
	pg_p_init(p);
	pg_p_text(p, type);
	pg_p_text(p, id);
}

/*
 * Inserts r as the next version of (type, id): r->version must be exactly
 * one more than the stored maximum (1 for a new resource), otherwise
 * PV_ECONFLICT, with nothing written. Call inside a transaction.
 */
pv_status
pg_resource_put(struct pv_store *s, const struct pv_resource *r)
{
	struct pg_params p;
	pv_status st;

	if (pv_fault("store_write")) /* tests: a failing disk */
		return PV_EIO;
	if (pv_fault("store_tx_lost")) { /* tests: a full disk */
		pg_tx_abandon(s);
		return PV_EIO;
	}
	type_id(&p, r->type, r->id);
	pg_p_i64(&p, r->version);
	pg_p_text(&p, r->patient_id);
	pg_p_bool(&p, r->is_deleted);
	pg_p_i64(&p, r->updated_at);
	pg_p_bytes(&p, r->sealed, r->sealed_len);
	if ((st = pg_run_one(s, P_RES_INSERT_NEXT, &p, PV_ECONFLICT)) != PV_OK)
		return st;
	type_id(&p, r->type, r->id);
	pg_p_i64(&p, r->version);
	return pg_run(s, P_RES_UNCURRENT, &p, NULL);
}

pv_status
pg_resource_get(struct pv_store *s, const char *type, const char *id,
    int64_t version, struct pv_resource *x)
{
	struct pg_params p;
	PGresult *r = NULL;
	pv_status st;

	type_id(&p, type, id);
	if (version > 0)
		pg_p_i64(&p, version);
	st = pg_exec(s, version > 0 ? P_RES_GET_VER : P_RES_GET_CUR, &p, &r);
	if (st == PV_OK)
		st = PQntuples(r) > 0 ? read_resource(r, 0, x) : PV_ENOTFOUND;
	PQclear(r);
	return st;
}

/* Hands each row to cb until it returns false; *more (may be NULL) says
 * whether cb wanted more. */
static pv_status
each_resource(const PGresult *r, pv_resource_cb cb, void *arg, bool *more)
{
	struct pv_resource x;
	pv_status st = PV_OK;
	bool go = true;
	int i;

	for (i = 0; go && i < PQntuples(r); i++) {
		if ((st = read_resource(r, i, &x)) != PV_OK)
			break;
		go = cb(arg, &x);
		pv_resource_clear(&x);
	}
	if (more != NULL)
		*more = go;
	return st;
}

static pv_status
query_each(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    pv_resource_cb cb, void *arg)
{
	PGresult *r = NULL;
	pv_status st;

	if ((st = pg_exec(s, q, p, &r)) == PV_OK)
		st = each_resource(r, cb, arg, NULL);
	PQclear(r);
	return st;
}

pv_status
pg_resource_history(struct pv_store *s, const char *type, const char *id,
    pv_resource_cb cb, void *arg)
{
	struct pg_params p;

	type_id(&p, type, id);
	return query_each(s, P_RES_HISTORY, &p, cb, arg);
}

/* type NULL = every type in the compartment. *total counts all matches. */
pv_status
pg_resource_search(struct pv_store *s, const char *pid, const char *type,
    int64_t limit, int64_t offset, pv_resource_cb cb, void *arg, int64_t *total)
{
	struct pg_params p;
	bool found;
	pv_status st;

	pg_p_init(&p);
	pg_p_text(&p, pid);
	if (type != NULL)
		pg_p_text(&p, type);
	st = pg_one_int(s, type != NULL ? P_RES_COUNT : P_RES_COUNT_ALL, &p,
	    total, &found);
	if (st != PV_OK)
		return st;
	pg_p_init(&p);
	pg_p_text(&p, pid);
	pg_p_text(&p, type); /* NULL for P_RES_SEARCH_ALL */
	pg_p_i64(&p, limit);
	pg_p_i64(&p, offset);
	return query_each(s, type != NULL ? P_RES_SEARCH : P_RES_SEARCH_ALL, &p,
	    cb, arg);
}

pv_status
pg_resource_scan(struct pv_store *s, pv_resource_cb cb, void *arg)
{
	char pid[PV_PATIENT_ID_MAX + 1], type[PV_TYPE_MAX + 1],
	    id[PV_RES_ID_MAX + 1];
	struct pg_params p;
	PGresult *r = NULL;
	bool more = true;
	pv_status st;
	int n;

	st = pg_exec(s, P_RES_SCAN_FIRST, NULL, &r);
	while (st == PV_OK) {
		n = PQntuples(r);
		if ((st = each_resource(r, cb, arg, &more)) != PV_OK || !more ||
		    n == 0)
			break;
		/* The next page starts after the last row of this one. */
		pg_col_text(r, n - 1, 3, pid, sizeof(pid));
		pg_col_text(r, n - 1, 0, type, sizeof(type));
		pg_col_text(r, n - 1, 1, id, sizeof(id));
		PQclear(r);
		r = NULL;
		pg_p_init(&p);
		pg_p_text(&p, pid);
		pg_p_text(&p, type);
		pg_p_text(&p, id);
		st = pg_exec(s, P_RES_SCAN_NEXT, &p, &r);
	}
	PQclear(r);
	return st;
}

pv_status
pg_resource_purge(struct pv_store *s, const char *type, const char *id)
{
	struct pg_params p;
	pv_status st;

	type_id(&p, type, id);
	if ((st = pg_run(s, P_RES_PURGE, &p, NULL)) != PV_OK)
		return st;
	return pg_run(s, P_IDX_PURGE, &p, NULL);
}

pv_status
pg_patient_purge(struct pv_store *s, const char *pid)
{
	static const enum pg_q steps[] = { P_PAT_PURGE_OLD, P_PAT_PURGE_RES,
		P_PAT_PURGE_CT, P_PAT_PURGE_IDX, P_PAT_PURGE_GRANTS };
	pv_status st;
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(steps); i++)
		if ((st = pg_text_exec(s, steps[i], pid)) != PV_OK)
			return st;
	return PV_OK;
}

pv_status
pg_index_replace(struct pv_store *s, const char *type, const char *id,
    const unsigned char (*digests)[PV_HASH_BYTES], size_t n)
{
	struct pg_params p;
	pv_status st;
	size_t i;

	type_id(&p, type, id);
	st = pg_run(s, P_IDX_PURGE, &p, NULL);
	for (i = 0; st == PV_OK && i < n; i++) {
		pg_p_init(&p);
		pg_p_text(&p, type);
		pg_p_bytes(&p, digests[i], PV_HASH_BYTES);
		pg_p_text(&p, id);
		st = pg_run(s, P_IDX_INSERT, &p, NULL);
	}
	return st;
}

pv_status
pg_index_find(struct pv_store *s, const char *type,
    const unsigned char digest[PV_HASH_BYTES], pv_resource_cb cb, void *arg)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, type);
	pg_p_bytes(&p, digest, PV_HASH_BYTES);
	return query_each(s, P_IDX_FIND, &p, cb, arg);
}

/* ---- legal holds --------------------------------------------------- */

pv_status
pg_hold_set(struct pv_store *s, const char *pid, bool on)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, pid);
	if (on)
		pg_p_i64(&p, pv_now());
	return pg_run(s, on ? P_HOLD_SET : P_HOLD_CLEAR, &p, NULL);
}

pv_status
pg_hold_has(struct pv_store *s, const char *pid, bool *out)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, pid);
	return pg_one_int(s, P_HOLD_HAS, &p, NULL, out);
}
