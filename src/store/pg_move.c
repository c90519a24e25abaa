/*
 * pg_move.c — the target half of moving an SQLite vault to PostgreSQL
 * (`phivault db migrate-from-sqlite`, store.h's pv_store_move_*): checks
 * that the two databases are empty, creates their schemas with the code
 * `init --store` uses (pv_store_pg_migrate), copies every table of
 * move_tables.c, and verifies the row counts.
 *
 * Guarantees:
 *  - One mover at a time per database: begin takes a session advisory
 *    lock ("phvc") on both databases with pg_try_advisory_lock and
 *    refuses (PV_EBUSY) when another mover holds it; end releases it.
 *  - The target must hold no vault: either no schema at all, or this
 *    build's schema with every vault table empty (what a failed `init
 *    --store` or a failed, cleaned-up move leaves). Anything else is
 *    refused (PV_EEXISTS) before anything is written.
 *  - One transaction per database, the keys database committed first (as
 *    the store's own writes do: a key without its records is harmless, a
 *    record without its key is lost). Rows are sent as parameters of one
 *    prepared INSERT per table (text, bytea in binary), pipelined in
 *    batches (libpq pipeline mode) — never as SQL text.
 *  - After both commits every table's count in PostgreSQL is compared
 *    with SQLite's and with the rows sent; any difference fails the move.
 *  - end(keep = false) empties both databases again (move_clear), under
 *    the same lock, so a failed move can be run again; if even that
 *    fails the caller is told to drop the databases. The schemas stay.
 *  - No value and no server message reaches a log line or err: only
 *    SQLSTATEs and table names.
 */
#include "store/move_int.h"
#include "store/pg_int.h"
#include "common/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "phvc": the movers' lock (migrations take "phvm", the trail "phva"). */
#define MOVE_LOCK "1885894243"
#define MOVE_BATCH 256 /* rows per pipeline sync */

#define ERR(...) PV_IGNORE(pv_snprintf(err, errsz, __VA_ARGS__))

static const char *const db_name[2] = { "records", "keys" };

struct pv_store_move {
	PGconn *c[PG_NDB];
	bool is_locked[PG_NDB];
};

/* move_db and pg_db number the databases alike. */
_Static_assert((int)MOVE_REC == (int)PG_REC && (int)MOVE_KEYS == (int)PG_KEYS,
    "one numbering of the two databases");

/* Runs sql (no parameters); *state gets the SQLSTATE of a failure. */
static pv_status
exec_simple(PGconn *c, const char *sql, char state[6])
{
	PGresult *r = PQexec(c, sql);
	pv_status st = pg_map_result(c, r, P_N);
	const char *s =
	    r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (st != PV_OK && state != NULL)
		PV_IGNORE(pv_strlcpy(state, s != NULL ? s : "?????", 6));
	PQclear(r);
	return st;
}

/* One value of a one-row, one-column query, as text into out. */
static pv_status
exec_value(PGconn *c, const char *sql, char *out, size_t outsz)
{
	PGresult *r = PQexec(c, sql);
	pv_status st = pg_map_result(c, r, P_N);

	if (st == PV_OK && (PQntuples(r) != 1 || PQnfields(r) != 1))
		st = PV_EINTERNAL;
	if (st == PV_OK)
		st = pv_strlcpy(out, PQgetvalue(r, 0, 0), outsz);
	PQclear(r);
	return st;
}

static pv_status
exec_count(PGconn *c, const char *sql, int64_t *n)
{
	char v[24];
	char *end;
	pv_status st = exec_value(c, sql, v, sizeof(v));

	if (st != PV_OK)
		return st;
	*n = strtoll(v, &end, 10);
	return *end == '\0' ? PV_OK : PV_EINTERNAL;
}

/* ---- begin: lock, check empty, create the schemas ------------------ */

/* The schema check for one database before anything is created. */
static pv_status
check_target(PGconn *c, enum pg_db db, char *err, size_t errsz)
{
	const char *why = NULL;
	char has[8];
	pv_status st;

	if ((st = exec_value(c,
		 "SELECT to_regclass('schema_version') IS NOT NULL", has,
		 sizeof(has))) != PV_OK) {
		ERR("%s database: cannot read it (%s)", db_name[db],
		    pv_status_name(st));
		return st;
	}
	if (strcmp(has, "t") != 0)
		return PV_OK; /* no schema: the migration makes it */
	if (pg_schema_check(c, db, &why) != PV_OK) {
		ERR("%s database: it already holds a phivault schema that is "
		    "not this build's empty one (%s); move into new, empty "
		    "databases",
		    db_name[db], why);
		return PV_EEXISTS;
	}
	return PV_OK;
}

static pv_status
check_empty(PGconn *c, enum pg_db db, char *err, size_t errsz)
{
	char empty[8];
	pv_status st;

	if ((st = exec_value(c, move_is_empty[db], empty, sizeof(empty))) !=
	    PV_OK) {
		ERR("%s database: cannot read it (%s)", db_name[db],
		    pv_status_name(st));
		return st;
	}
	if (strcmp(empty, "t") != 0) {
		ERR("%s database: it already holds vault data; move into new, "
		    "empty databases",
		    db_name[db]);
		return PV_EEXISTS;
	}
	return PV_OK;
}

pv_status
pv_store_move_begin(const struct pv_store_pg_opts *to,
    struct pv_store_move **out, char *err, size_t errsz)
{
	const char *dsn[PG_NDB] = { to->dsn, to->keys_dsn };
	struct pv_store_move *m;
	char got[8], merr[256] = "";
	int db, from = 0, ver = 0;
	pv_status st = PV_OK;

	*out = NULL;
	for (db = 0; db < PG_NDB; db++)
		if (dsn[db] == NULL || pv_store_pg_dsn_has_password(dsn[db])) {
			ERR("%s database: the DSN is missing, malformed or "
			    "holds a password",
			    db_name[db]);
			return PV_EINVAL;
		}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return PV_ENOMEM;
	for (db = 0; db < PG_NDB && st == PV_OK; db++) {
		if ((st = pg_connect(dsn[db], to->password, &m->c[db])) !=
		    PV_OK) {
			char line[200];

			pg_conn_error(m->c[db], line, sizeof(line));
			ERR("%s database: %s", db_name[db], line);
			break;
		}
		if ((st = exec_value(m->c[db],
			 "SELECT pg_try_advisory_lock(" MOVE_LOCK ")", got,
			 sizeof(got))) == PV_OK &&
		    strcmp(got, "t") != 0)
			st = PV_EBUSY;
		if (st != PV_OK) {
			ERR("%s database: another move into it is under way",
			    db_name[db]);
			break;
		}
		m->is_locked[db] = true;
		st = check_target(m->c[db], (enum pg_db)db, err, errsz);
	}
	if (st == PV_OK &&
	    (st = pv_store_pg_migrate(to, &from, &ver, merr, sizeof(merr))) !=
		PV_OK)
		ERR("cannot create the schemas: %s",
		    merr[0] != '\0' ? merr : pv_status_name(st));
	for (db = 0; db < PG_NDB && st == PV_OK; db++)
		st = check_empty(m->c[db], (enum pg_db)db, err, errsz);
	if (st != PV_OK) {
		PV_IGNORE(pv_store_move_end(m, true)); /* nothing written */
		return st;
	}
	*out = m;
	return PV_OK;
}

/* ---- copy ---------------------------------------------------------- */

/* Where the rows of one table go: a pipeline on one connection. */
struct sink {
	PGconn *c;
	const struct move_table *t;
	char stmt[16];
	int64_t sent;
	int pending;
	char state[6]; /* SQLSTATE of the first failure */
};

/* Ends a batch: a sync, then every result up to it. */
static pv_status
sink_flush(struct sink *k)
{
	pv_status st = PV_OK;
	int guard;

	if (k->pending == 0)
		return PV_OK;
	if (PQpipelineSync(k->c) != 1)
		return PV_EUNAVAIL;
	/* Each query gives a result and a NULL; the sync one result. */
	for (guard = 0; guard < 2 * k->pending + 8; guard++) {
		PGresult *r = PQgetResult(k->c);
		ExecStatusType es;

		if (r == NULL) {
			if (PQstatus(k->c) == CONNECTION_BAD)
				return PV_EUNAVAIL;
			continue;
		}
		es = PQresultStatus(r);
		if (es == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			k->pending = 0;
			return st;
		}
		if (es != PGRES_COMMAND_OK && st == PV_OK) {
			const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

			st = es == PGRES_PIPELINE_ABORTED
			    ? PV_EIO
			    : pg_map_result(k->c, r, P_N);
			if (st == PV_OK)
				st = PV_EINTERNAL;
			PV_IGNORE(pv_strlcpy(k->state, s != NULL ? s : "?????",
			    sizeof(k->state)));
		}
		PQclear(r);
	}
	return PV_EINTERNAL; /* results out of step: never expected */
}

static pv_status
sink_row(void *arg, const struct move_cell *cells)
{
	struct sink *k = arg;
	const char *v[MOVE_MAX_COLS];
	int len[MOVE_MAX_COLS], fmt[MOVE_MAX_COLS];
	char num[MOVE_MAX_COLS][24];
	int i;

	for (i = 0; i < k->t->ncols; i++) {
		const struct move_cell *x = &cells[i];

		len[i] = 0;
		fmt[i] = 0;
		v[i] = NULL;
		if (x->is_null)
			continue;
		switch (k->t->kind[i]) {
		case MV_INT:
			PV_IGNORE(pv_snprintf(num[i], sizeof(num[i]), "%lld",
			    (long long)x->i));
			v[i] = num[i];
			break;
		case MV_BOOL:
			v[i] = x->i != 0 ? "t" : "f";
			break;
		case MV_TEXT:
			v[i] = x->p;
			break;
		case MV_BLOB:
			if (x->len > INT_MAX)
				return PV_ETOOBIG;
			v[i] = x->p;
			len[i] = (int)x->len;
			fmt[i] = 1;
			break;
		}
	}
	if (PQsendQueryPrepared(k->c, k->stmt, k->t->ncols, v, len, fmt, 0) !=
	    1)
		return PV_EUNAVAIL;
	k->sent++;
	if (++k->pending < MOVE_BATCH)
		return PV_OK;
	return sink_flush(k);
}

/* Copies table ti into its database, inside that database's open
 * transaction; *sent gets the rows sent. */
static pv_status
copy_table(struct pv_store_move *m, struct move_src *src, size_t ti,
    int64_t *sent, char *err, size_t errsz)
{
	const struct move_table *t = &move_tables[ti];
	struct sink k = { m->c[t->db], t, "", 0, 0, "" };
	PGresult *r;
	pv_status st, fst;
	bool is_src;

	PV_IGNORE(pv_snprintf(k.stmt, sizeof(k.stmt), "mv%zu", ti));
	r = PQprepare(k.c, k.stmt, t->dst_insert, 0, NULL);
	st = pg_map_result(k.c, r, P_N);
	PQclear(r);
	if (st != PV_OK) {
		ERR("table %s: cannot prepare the copy (%s)", t->name,
		    pv_status_name(st));
		return st;
	}
	if (PQenterPipelineMode(k.c) != 1) {
		ERR("table %s: cannot start sending rows", t->name);
		return PV_EUNAVAIL;
	}
	st = move_src_rows(src, t, sink_row, &k);
	is_src = st != PV_OK && k.state[0] == '\0' && st != PV_EUNAVAIL;
	fst = sink_flush(&k); /* the last batch, or the one under way */
	if (st == PV_OK)
		st = fst;
	if (PQexitPipelineMode(k.c) != 1 && st == PV_OK)
		st = PV_EINTERNAL;
	*sent = k.sent;
	if (st != PV_OK && is_src)
		ERR("table %s: a value in SQLite does not have its column's "
		    "type (%s); nothing was moved",
		    t->name, pv_status_name(st));
	else if (st != PV_OK)
		ERR("table %s: copy failed (%s%s%s)", t->name,
		    pv_status_name(st), k.state[0] != '\0' ? ", SQLSTATE " : "",
		    k.state);
	return st;
}

/* One database: BEGIN, its tables, its after-statements, COMMIT. */
static pv_status
copy_db(struct pv_store_move *m, struct move_src *src, enum move_db db,
    int64_t *sent, char *err, size_t errsz)
{
	PGconn *c = m->c[db];
	char state[6] = "";
	pv_status st;
	size_t i;

	if ((st = exec_simple(c, "BEGIN", state)) != PV_OK) {
		ERR("%s database: BEGIN failed (SQLSTATE %s)", db_name[db],
		    state);
		return st;
	}
	for (i = 0; i < move_tables_n && st == PV_OK; i++)
		if (move_tables[i].db == db)
			st = copy_table(m, src, i, &sent[i], err, errsz);
	if (st == PV_OK &&
	    (st = exec_simple(c, move_after[db], state)) != PV_OK)
		ERR("%s database: finishing the copy failed (SQLSTATE %s)",
		    db_name[db], state);
	if (st == PV_OK && (st = exec_simple(c, "COMMIT", state)) != PV_OK)
		ERR("%s database: COMMIT failed (SQLSTATE %s)", db_name[db],
		    state);
	if (st != PV_OK)
		PQclear(PQexec(c, "ROLLBACK"));
	return st;
}

static pv_status
verify_counts(struct pv_store_move *m, struct move_src *src,
    const int64_t *sent, struct pv_store_copy_report *rep, char *err,
    size_t errsz)
{
	int64_t want, have;
	pv_status st;
	size_t i;

	for (i = 0; i < move_tables_n; i++) {
		const struct move_table *t = &move_tables[i];

		if ((st = move_src_count(src, t, &want)) != PV_OK ||
		    (st = exec_count(m->c[t->db], t->dst_count, &have)) !=
			PV_OK) {
			ERR("table %s: cannot count its rows (%s)", t->name,
			    pv_status_name(st));
			return st;
		}
		if (want != have || want != sent[i]) {
			ERR("table %s: %lld rows in SQLite, %lld sent, %lld in "
			    "PostgreSQL",
			    t->name, (long long)want, (long long)sent[i],
			    (long long)have);
			return PV_ECONFLICT;
		}
		rep->t[i].table = t->name;
		rep->t[i].rows = have;
		rep->rows += have;
	}
	rep->n = move_tables_n;
	return PV_OK;
}

pv_status
pv_store_move_copy(struct pv_store_move *m, const struct pv_store_opts *from,
    struct pv_store_copy_report *rep, char *err, size_t errsz)
{
	int64_t sent[PV_STORE_COPY_TABLES] = { 0 };
	struct move_src *src = NULL;
	pv_status st;

	memset(rep, 0, sizeof(*rep));
	if (move_tables_n > PV_STORE_COPY_TABLES)
		return PV_EINTERNAL;
	if ((st = move_src_open(from, &src)) != PV_OK) {
		ERR("cannot read the SQLite databases (%s)",
		    pv_status_name(st));
		return st;
	}
	if ((st = copy_db(m, src, MOVE_KEYS, sent, err, errsz)) == PV_OK &&
	    (st = copy_db(m, src, MOVE_REC, sent, err, errsz)) == PV_OK)
		st = verify_counts(m, src, sent, rep, err, errsz);
	move_src_close(src);
	return st;
}

/* ---- end ----------------------------------------------------------- */

pv_status
pv_store_move_end(struct pv_store_move *m, bool keep)
{
	pv_status st = PV_OK, one;
	char state[6] = "";
	int db;

	if (m == NULL)
		return PV_OK;
	for (db = 0; db < PG_NDB; db++) {
		if (m->c[db] == NULL)
			continue;
		if (!keep && m->is_locked[db]) {
			one = exec_simple(m->c[db], "BEGIN", state);
			if (one == PV_OK)
				one = exec_simple(m->c[db], move_clear[db],
				    state);
			one = one == PV_OK
			    ? exec_simple(m->c[db], "COMMIT", state)
			    : one;
			if (one != PV_OK) {
				PQclear(PQexec(m->c[db], "ROLLBACK"));
				pv_log(PV_LOG_ERROR, "store_move_clear_failed",
				    NULL, "database", db_name[db], "sqlstate",
				    state, (const char *)NULL);
				st = one;
			}
		} else if (!keep) {
			st = PV_EBUSY; /* not ours to empty */
		}
		if (m->is_locked[db])
			PQclear(PQexec(m->c[db],
			    "SELECT pg_advisory_unlock(" MOVE_LOCK ")"));
		PQfinish(m->c[db]);
	}
	free(m);
	return st;
}
