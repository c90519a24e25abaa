/*
 * pg_keys.c — the PostgreSQL backend's key tables in the keys database:
 * wrapped per-patient DEKs, the current KEK version and the tombstones of
 * shredded DEKs; and the store's readiness probe and compaction.
 *
 * Guarantees (as sqlite_keys.c, across nodes): only wrapped DEKs are
 * stored, and a stored one of the wrong size is never returned
 * (PV_ECRYPTO, or skipped when listing); a DEK is never inserted under a
 * KEK older than the current one nor for an id that was shredded, even
 * when the insert and the rotation or the shred run on different nodes at
 * once (pg_stmt.c, P_DEK_INSERT); the current KEK version only moves up; a
 * rewrap lands only if the key is still under the version the caller
 * read. Shredding drops the wrapped key and leaves the row as a tombstone
 * that is never deleted.
 *
 * keys_version and the shred epoch are the same counter, a row bumped in
 * the same transaction as every shred and visible at its commit: the only
 * write to the keys database that can make a cached DEK wrong (a new key
 * is not in any cache yet; a rewrap or a KEK change leaves the unwrapped
 * key as it was). It is read from the database on every call, never
 * cached in the process, so an erasure through one node is seen by the
 * next DEK lookup on every other (core/dek.c empties its cache when the
 * number moves): the staleness bound is that one read.
 */
#include "store/pg_int.h"

/* ---- version, readiness, compaction -------------------------------- */

pv_status
pg_keys_shred_epoch(struct pv_store *s, int64_t *out)
{
	bool found;
	pv_status st = pg_one_int(s, P_SHRED_EPOCH, NULL, out, &found);

	return st == PV_OK && !found ? PV_EIO : st;
}

/* Runs on every DEK lookup: one indexed read of one row. */
pv_status
pg_keys_version(struct pv_store *s, int64_t *out)
{
	return pg_keys_shred_epoch(s, out);
}

/* Readiness (GET /readyz): both databases answer a read. */
pv_status
pg_ping(struct pv_store *s)
{
	static const enum pg_q probes[] = { P_PING_REC, P_PING_KEYS };
	int64_t n = 0;
	bool found;
	pv_status st;
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(probes); i++) {
		st = pg_one_int(s, probes[i], NULL, &n, &found);
		if (st != PV_OK)
			return st;
		if (!found || n <= 0)
			return PV_EIO;
	}
	return PV_OK;
}

/*
 * compact: VACUUM of the key table, so the space of a wrapped key that a
 * shred dropped is reclaimed now rather than whenever autovacuum comes.
 * Not a byte-level guarantee (PostgreSQL has no secure_delete; the WAL
 * keeps old pages until recycled): documented in docs/SCALING.md. The
 * records' dead rows are left to autovacuum: they are sealed under keys
 * that are gone. VACUUM cannot run in a transaction: skipped inside one.
 */
pv_status
pg_compact(struct pv_store *s)
{
	struct pg_thread *t;
	struct pg_link *l;
	PGresult *r;
	pv_status st;

	if ((st = pg_thread_get(PGS(s), &t)) != PV_OK)
		return st;
	if (t->tx_open)
		return PV_OK;
	if ((st = pg_link_get(PGS(s), t, PG_KEYS, &l)) != PV_OK)
		return st;
	r = PQexec(l->conn, "VACUUM deks");
	st = pg_map_result(l->conn, r, P_N);
	PQclear(r);
	return st;
}

/* ---- wrapped data keys --------------------------------------------- */

pv_status
pg_dek_get(struct pv_store *s, const char *key_id, uint32_t *version,
    unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	struct pg_params p;
	PGresult *r = NULL;
	int64_t v = 0;
	size_t n = 0;
	pv_status st;

	pg_p_init(&p);
	pg_p_text(&p, key_id);
	if ((st = pg_exec(s, P_DEK_GET, &p, &r)) != PV_OK)
		return st;
	if (PQntuples(r) == 0) {
		st = PV_ENOTFOUND;
	} else if (!pg_col_i64(r, 0, 0, &v) || v < 0 || v > UINT32_MAX ||
	    !pg_col_bytes_fixed(r, 0, 1, wrapped, PV_WRAPPED_DEK_BYTES, &n) ||
	    n != PV_WRAPPED_DEK_BYTES) {
		st = PV_ECRYPTO;
	} else {
		*version = (uint32_t)v;
	}
	PQclear(r);
	return st;
}

pv_status
pg_dek_insert(struct pv_store *s, const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	struct pg_params p;
	int64_t n = 0, shredded = 0;
	bool found;
	pv_status st;

	pg_p_init(&p);
	pg_p_text(&p, key_id);
	pg_p_i64(&p, version);
	pg_p_bytes(&p, wrapped, PV_WRAPPED_DEK_BYTES);
	pg_p_i64(&p, pv_now());
	if ((st = pg_run(s, P_DEK_INSERT, &p, &n)) != PV_OK)
		return st;
	if (n == 1)
		return PV_OK;
	/* No row: a key (PV_EEXISTS: use it) or a tombstone is there, or
	 * the KEK moved on (PV_ECONFLICT for both: refresh, or gone). */
	pg_p_init(&p);
	pg_p_text(&p, key_id);
	if ((st = pg_one_int(s, P_DEK_STATE, &p, &shredded, &found)) != PV_OK)
		return st;
	return found && shredded == 0 ? PV_EEXISTS : PV_ECONFLICT;
}

pv_status
pg_dek_rewrap(struct pv_store *s, const char *key_id, uint32_t old_v,
    uint32_t new_v, const unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, key_id);
	pg_p_i64(&p, old_v);
	pg_p_i64(&p, new_v);
	pg_p_bytes(&p, wrapped, PV_WRAPPED_DEK_BYTES);
	return pg_run_one(s, P_DEK_REWRAP, &p, PV_ECONFLICT);
}

pv_status
pg_dek_shred(struct pv_store *s, const char *key_id)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, key_id);
	pg_p_i64(&p, pv_now());
	return pg_run_one(s, P_DEK_SHRED, &p, PV_EIO);
}

pv_status
pg_dek_is_shredded(struct pv_store *s, const char *key_id, bool *out)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_text(&p, key_id);
	return pg_one_int(s, P_DEK_IS_SHRED, &p, NULL, out);
}

pv_status
pg_dek_count_version(struct pv_store *s, uint32_t v, int64_t *out)
{
	struct pg_params p;
	bool found;

	pg_p_init(&p);
	pg_p_i64(&p, v);
	return pg_one_int(s, P_DEK_COUNT_VER, &p, out, &found);
}

pv_status
pg_dek_list_old(struct pv_store *s, uint32_t below, size_t limit,
    void (*cb)(void *, const char *, uint32_t, const unsigned char *),
    void *arg)
{
	struct pg_params p;
	PGresult *r = NULL;
	pv_status st;
	int i;

	pg_p_init(&p);
	pg_p_i64(&p, below);
	pg_p_i64(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	if ((st = pg_exec(s, P_DEK_LIST_OLD, &p, &r)) != PV_OK)
		return st;
	for (i = 0; i < PQntuples(r); i++) {
		int64_t v = 0;

		if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 2) ||
		    PQgetlength(r, i, 2) != PV_WRAPPED_DEK_BYTES ||
		    !pg_col_i64(r, i, 1, &v) || v < 0 || v > UINT32_MAX)
			continue;
		cb(arg, PQgetvalue(r, i, 0), (uint32_t)v,
		    (const unsigned char *)PQgetvalue(r, i, 2));
	}
	PQclear(r);
	return PV_OK;
}

pv_status
pg_kek_current_set(struct pv_store *s, uint32_t v)
{
	struct pg_params p;

	pg_p_init(&p);
	pg_p_i64(&p, v);
	return pg_run(s, P_KEK_SET, &p, NULL);
}
