/*
 * sqlite_keys.c — the SQLite backend's key tables in keys/keys.db
 * (attached as "k"): wrapped per-patient DEKs, the current KEK version
 * and the tombstones of shredded DEKs.
 *
 * Guarantees: only wrapped DEKs are stored, and a stored one of the
 * wrong size is never returned (PV_ECRYPTO, or skipped when listing); a
 * DEK is never inserted under a KEK older than the current one nor for
 * an id that was shredded; the current KEK version only moves up; a
 * rewrap lands only if the key is still under the version the caller
 * read. Shredding deletes the wrapped key (overwritten in the file by
 * secure_delete) and leaves a tombstone that is never deleted; the
 * largest tombstone rowid is the shred epoch, which grows with every
 * shred and changes for nothing else.
 */
#include "store/sqlite_int.h"

/* ---- wrapped data keys --------------------------------------------- */

/* Cached statement: this runs on every DEK lookup. */
pv_status
sq_keys_version(struct pv_store *store, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_KEYS_VERSION);
	bool found;
	pv_status st = sq_one_int(q, out, &found);

	return st == PV_OK && !found ? PV_EIO : st;
}

/* Readiness (GET /readyz): both databases answer a read. */
pv_status
sq_ping(struct pv_store *store)
{
	sqlite3_stmt *q = sq_stmt(store, Q_PING);
	int64_t n = 0;
	bool found;
	pv_status st = sq_one_int(q, &n, &found);

	return st == PV_OK && (!found || n <= 0) ? PV_EIO : st;
}

/* Cached statement: runs whenever keys.db's data_version moved. */
pv_status
sq_keys_shred_epoch(struct pv_store *store, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_KEYS_SHRED_EPOCH);
	bool found;
	pv_status st = sq_one_int(q, out, &found);

	return st == PV_OK && !found ? PV_EIO : st;
}

pv_status
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
			&n) ||
		    n != PV_WRAPPED_DEK_BYTES)
			st = PV_ECRYPTO;
	} else {
		st = rc == SQLITE_DONE ? PV_ENOTFOUND : sq_map_rc(rc);
	}
	sqlite3_reset(q);
	return st;
}

pv_status
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
	/* No row: the KEK moved on (refresh and retry) or the id is
	 * shredded. */
	return sq_changes(store) == 1 ? PV_OK : PV_ECONFLICT;
}

pv_status
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

pv_status
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

pv_status
sq_dek_is_shredded(struct pv_store *store, const char *key_id, bool *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_IS_SHRED);

	if (q != NULL)
		sq_bind_text(q, 1, key_id);
	return sq_one_int(q, NULL, out);
}

pv_status
sq_dek_count_version(struct pv_store *store, uint32_t v, int64_t *out)
{
	sqlite3_stmt *q = sq_stmt(store, Q_DEK_COUNT_VER);
	bool found;

	if (q != NULL)
		sqlite3_bind_int64(q, 1, v);
	return sq_one_int(q, out, &found);
}

pv_status
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

pv_status
sq_kek_current_set(struct pv_store *store, uint32_t v)
{
	sqlite3_stmt *q = sq_stmt(store, Q_KEK_SET);

	if (q == NULL)
		return PV_EIO;
	sqlite3_bind_int64(q, 1, v);
	return sq_run(q);
}
