/*
 * sqlite_move.c — the source half of moving an SQLite vault to PostgreSQL
 * (move_int.h): reads phivault.db and keys/keys.db table by table as
 * neutral cells for pg_move.c.
 *
 * Guarantees: the files are opened without O_CREAT and with query_only
 * set, so the move can never change the vault it reads; every table is
 * read inside one read transaction, so the copy is of one state of both
 * files (the move also holds the vault directory's exclusive lock, so
 * nothing writes them meanwhile, core/vault_move.c). Each value is
 * checked against its column's declared kind before it is handed on —
 * an INTEGER where a BLOB belongs, a flag that is not 0 or 1, or a text
 * holding a NUL (libpq would cut it there) stops the move (PV_EINVAL)
 * instead of being converted.
 *
 * This is the one SQLite file that prepares SQL outside sq_sql_text: the
 * constant src_* statements of move_tables.c (no value is ever spliced
 * in; they take no parameters at all).
 */
#include "store/move_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct move_src {
	sqlite3 *db;
	bool in_tx;
};

void
move_src_close(struct move_src *s)
{
	if (s == NULL)
		return;
	if (s->in_tx)
		(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(s->db);
	free(s);
}

pv_status
move_src_open(const struct pv_store_opts *o, struct move_src **out)
{
	struct move_src *s;
	sqlite3_stmt *att = NULL;
	pv_status st = PV_EIO;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_ENOMEM;
	if (sqlite3_open_v2(o->db_path, &s->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, o->busy_timeout_ms);
	if (sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS k", -1, &att,
		NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(att, 1, o->keys_db_path, -1, SQLITE_STATIC);
	if (sqlite3_step(att) != SQLITE_DONE)
		goto fail;
	if (sqlite3_exec(s->db,
		"PRAGMA query_only = ON; PRAGMA trusted_schema = OFF; BEGIN;"
		"SELECT count(*) FROM main.sqlite_master;"
		"SELECT count(*) FROM k.sqlite_master",
		NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	s->in_tx = true;
	sqlite3_finalize(att);
	*out = s;
	return PV_OK;
fail:
	sqlite3_finalize(att);
	move_src_close(s);
	return st;
}

pv_status
move_src_count(struct move_src *s, const struct move_table *t, int64_t *n)
{
	sqlite3_stmt *q = NULL;
	pv_status st = PV_EIO;

	if (sqlite3_prepare_v2(s->db, t->src_count, -1, &q, NULL) ==
		SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		*n = sqlite3_column_int64(q, 0);
		st = PV_OK;
	}
	sqlite3_finalize(q);
	return st;
}

/* Column c of the current row as a cell of kind k, or PV_EINVAL. */
static pv_status
cell(sqlite3_stmt *q, int c, enum move_kind k, bool is_nullable,
    struct move_cell *out)
{
	int type = sqlite3_column_type(q, c);

	memset(out, 0, sizeof(*out));
	if (type == SQLITE_NULL) {
		out->is_null = true;
		return is_nullable ? PV_OK : PV_EINVAL;
	}
	switch (k) {
	case MV_INT:
	case MV_BOOL:
		if (type != SQLITE_INTEGER)
			return PV_EINVAL;
		out->i = sqlite3_column_int64(q, c);
		return k == MV_BOOL && out->i != 0 && out->i != 1 ? PV_EINVAL
								  : PV_OK;
	case MV_TEXT:
		if (type != SQLITE_TEXT)
			return PV_EINVAL;
		out->p = sqlite3_column_text(q, c);
		out->len = (size_t)sqlite3_column_bytes(q, c);
		if (out->p == NULL)
			return PV_ENOMEM;
		return strlen(out->p) == out->len ? PV_OK : PV_EINVAL;
	case MV_BLOB:
		if (type != SQLITE_BLOB)
			return PV_EINVAL;
		out->p = sqlite3_column_blob(q, c);
		out->len = (size_t)sqlite3_column_bytes(q, c);
		if (out->p == NULL)
			out->p = ""; /* an empty blob is not NULL */
		return PV_OK;
	}
	return PV_EINTERNAL;
}

pv_status
move_src_rows(struct move_src *s, const struct move_table *t,
    pv_status (*row)(void *arg, const struct move_cell *cells), void *arg)
{
	struct move_cell cells[MOVE_MAX_COLS];
	sqlite3_stmt *q = NULL;
	pv_status st = PV_OK;
	int rc = SQLITE_DONE, c;

	if (t->ncols > MOVE_MAX_COLS)
		return PV_EINTERNAL;
	if (sqlite3_prepare_v2(s->db, t->src_select, -1, &q, NULL) !=
		SQLITE_OK ||
	    sqlite3_column_count(q) != t->ncols) {
		sqlite3_finalize(q);
		return PV_EIO;
	}
	while (st == PV_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		for (c = 0; c < t->ncols && st == PV_OK; c++)
			st = cell(q, c, t->kind[c], (t->nullable >> c) & 1u,
			    &cells[c]);
		if (st == PV_OK)
			st = row(arg, cells);
	}
	if (st == PV_OK && rc != SQLITE_DONE)
		st = PV_EIO;
	sqlite3_finalize(q);
	return st;
}
