/*
 * store/move_int.h — what the two halves of moving an SQLite vault to
 * PostgreSQL share (`phivault db migrate-from-sqlite`): the table of
 * tables to copy (move_tables.c), one row as neutral cells, and the
 * source side (sqlite_move.c). The target side is pg_move.c. Included only
 * by those files, so that neither half sees the other's library: the
 * cells carry plain C values, never a sqlite3 or libpq type.
 *
 * Ownership: a struct move_cell borrows its text or blob from the source
 * until the row callback returns; the callback copies what it keeps
 * (libpq copies parameters when a statement is sent). move_src_open's
 * *out is the caller's, closed with move_src_close.
 */
#ifndef PV_STORE_MOVE_INT_H
#define PV_STORE_MOVE_INT_H

#include "store/store.h"

#define MOVE_MAX_COLS 17

/* A column's type in both schemas (SQLite's storage class is checked:
 * a value of another class stops the move rather than be converted). */
enum move_kind {
	MV_INT, /* INTEGER -> BIGINT */
	MV_BOOL, /* INTEGER 0/1 -> BOOLEAN */
	MV_TEXT, /* TEXT (no NUL, UTF-8 as PostgreSQL checks) -> TEXT */
	MV_BLOB /* BLOB -> BYTEA, byte for byte */
};

struct move_cell {
	bool is_null;
	int64_t i; /* MV_INT, MV_BOOL */
	const void *p; /* MV_TEXT (NUL-terminated), MV_BLOB; borrowed */
	size_t len;
};

enum move_db { MOVE_REC = 0, MOVE_KEYS = 1 };

/*
 * One table to copy. src_select reads the rows in a stable order;
 * dst_insert writes one row, its parameters $1..$ncols in the same order
 * (typed by casts in the text); src_count and dst_count are what the
 * verification compares after the commit. All constant text.
 */
struct move_table {
	const char *name; /* as the report names it */
	enum move_db db;
	int ncols;
	enum move_kind kind[MOVE_MAX_COLS];
	unsigned nullable; /* bit i: column i may be NULL */
	const char *src_select;
	const char *src_count;
	const char *dst_insert;
	const char *dst_count;
};

extern const struct move_table move_tables[];
extern const size_t move_tables_n;

/* Run on each database after its rows, in the same transaction. */
extern const char *const move_after[2];
/* True (one boolean row) when a database holds no vault data. */
extern const char *const move_is_empty[2];
/* Empties what a failed move committed (each database). */
extern const char *const move_clear[2];

/* ---- the source: an SQLite vault's two files (sqlite_move.c) ---- */

struct move_src;

/* Opens phivault.db with keys.db attached as k, read-only, and starts
 * one read transaction so every table is read from the same state. */
PV_MUST_CHECK pv_status move_src_open(const struct pv_store_opts *o,
    struct move_src **out);
PV_MUST_CHECK pv_status move_src_count(struct move_src *s,
    const struct move_table *t, int64_t *n);
/* Calls row(arg, cells) for every row of t; stops at the first status
 * that is not PV_OK and returns it. PV_EINVAL when a value does not have
 * the column's declared type (or a text holds a NUL). */
PV_MUST_CHECK pv_status move_src_rows(struct move_src *s,
    const struct move_table *t,
    pv_status (*row)(void *arg, const struct move_cell *cells), void *arg);
void move_src_close(struct move_src *s);

#endif
