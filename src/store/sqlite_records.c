/*
 * sqlite_records.c — the SQLite backend's record tables in phivault.db:
 * sealed resources and their versions, the blind index, legal holds,
 * and the erasure of a patient.
 *
 * Guarantees: a resource version is stored only as exactly the next one
 * (the stored maximum + 1, else PV_ECONFLICT) and becomes the single
 * current version; older ones stay for history. Resources arrive sealed
 * and the blind index holds keyed digests, so no plaintext PHI reaches
 * this file. Erasing a patient deletes every sealed version (one empty,
 * deleted row per resource stays, so it reads as gone), the care-team
 * rows, the Patient's blind-index rows and the sealed break-glass
 * reasons; secure_delete overwrites the bytes in the file.
 *
 * Test builds can make a resource write fail here (faults store_write
 * and store_tx_lost, the latter as a full disk that ends the whole
 * transaction).
 */
#include "store/sqlite_int.h"
#include "common/fault.h"

#include <string.h>

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
pv_status
sq_resource_put(struct pv_store *store, const struct pv_resource *r)
{
	sqlite3_stmt *q = sq_stmt(store, Q_RES_MAXVER);
	int64_t maxv = 0;
	bool found;
	pv_status st;

	if (pv_fault("store_write")) /* tests: a failing disk */
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

pv_status
sq_resource_get(struct pv_store *store, const char *type, const char *id,
    int64_t version, struct pv_resource *r)
{
	sqlite3_stmt *q =
	    sq_stmt(store, version > 0 ? Q_RES_GET_VER : Q_RES_GET_CUR);
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

pv_status
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
pv_status
sq_resource_search(struct pv_store *store, const char *pid, const char *type,
    int64_t limit, int64_t offset, pv_resource_cb cb, void *arg, int64_t *total)
{
	sqlite3_stmt *q =
	    sq_stmt(store, type != NULL ? Q_RES_COUNT : Q_RES_COUNT_ALL);
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

pv_status
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

pv_status
sq_resource_purge(struct pv_store *store, const char *type, const char *id)
{
	pv_status st = type_id_exec(store, Q_RES_PURGE, type, id);

	if (st != PV_OK)
		return st;
	return type_id_exec(store, Q_IDX_PURGE, type, id);
}

pv_status
sq_patient_purge(struct pv_store *store, const char *pid)
{
	static const enum sql_id steps[] = { Q_PAT_PURGE_OLD, Q_PAT_PURGE_RES,
		Q_PAT_PURGE_CT, Q_PAT_PURGE_IDX, Q_PAT_PURGE_GRANTS };
	pv_status st;
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(steps); i++)
		if ((st = sq_pid_exec(store, steps[i], pid)) != PV_OK)
			return st;
	return PV_OK;
}

pv_status
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

pv_status
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

/* ---- legal holds --------------------------------------------------- */

pv_status
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

pv_status
sq_hold_has(struct pv_store *store, const char *pid, bool *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_HOLD_HAS);

	if (q != NULL)
		sq_bind_text(q, 1, pid);
	return sq_one_int(q, NULL, out);
}
