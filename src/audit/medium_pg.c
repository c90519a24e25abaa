/*
 * medium_pg.c — the audit trail in the records database of a PostgreSQL
 * vault (medium.h), shared by every node of the deployment.
 *
 * Tables (created by the records schema's migration 2, store/pg_schema.c):
 * audit_log (seq, off, line) — one row per entry line, off its byte
 * offset in the stream the file medium would hold, so offsets, sizes and
 * every check above this file are the same; audit_checkpoints (id, line);
 * audit_quarantine; audit_state (slot = the node's key id, rec);
 * audit_nodes (the registered node keys with their endorsements).
 *
 * Guarantees:
 *  - One sequencer for the deployment: a writer's section is a
 *    transaction that first takes a transaction-scoped advisory lock, so
 *    writers on every node serialise exactly as flock serialises the
 *    server and the CLI on files; inside it the writer reads what others
 *    committed, appends its batch and its checkpoint, and unlock(keep)
 *    commits — with synchronous_commit on, that COMMIT is the batch's
 *    durability point (is_transactional): the completions, and so the
 *    responses, come after it. A failed section rolls back whole, so the
 *    trail never holds part of a batch.
 *  - Values reach PostgreSQL only as parameters; lines are split into
 *    rows by the server (string_to_table) in one statement per batch.
 *  - Reads outside a section use their own connection and see only
 *    committed rows; a snapshot for `audit verify` is one REPEATABLE READ
 *    transaction over the log and the checkpoints.
 *  - A broken connection is re-made on the next call (PQreset); the
 *    password, if any, is kept in guarded memory and wiped at close.
 *  - No line, DSN or password reaches a log line: only SQLSTATEs.
 */
#include "audit/medium.h"

#include "common/log.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "phva" — the sequencer's advisory lock (migrations use "phvm"). */
#define SEQ_LOCK "1885894241"
#define READ_ROWS "20000"
#define PW_MAX 1024

struct pg_conn {
	pthread_mutex_t mu;
	PGconn *c;
};

struct pg_medium {
	struct audit_medium base;
	char *dsn;
	char *pw; /* secret memory or NULL */
	struct pg_conn w, r; /* writers' section; readers */
	bool in_section;
	pthread_t owner;
};

static struct pg_medium *
pm(struct audit_medium *m)
{
	return (struct pg_medium *)m;
}

/* ---- connections ----------------------------------------------------- */

static void
log_sqlstate(const char *event, const PGresult *r)
{
	const char *code =
	    r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	pv_log(PV_LOG_ERROR, event, NULL, "sqlstate",
	    code != NULL ? code : "none", (const char *)NULL);
}

static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* notices may quote values: never printed */
}

/* Connects (or re-connects) c; PV_EUNAVAIL when the database is away. */
static pv_status
conn_ready(struct pg_medium *p, struct pg_conn *k)
{
	/* TCP keepalives and tcp_user_timeout: a database host that
	 * vanishes fails a statement in ~30 s instead of hanging it (the
	 * DSN may override them, as every default here). */
	const char *keys[] = { "connect_timeout", "fallback_application_name",
		"client_encoding", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", "password",
		NULL };
	const char *vals[] = { "10", "phivault-audit", "UTF8", "30", "10", "3",
		"30000", p->dsn, p->pw, NULL };
	PGresult *r;

	if (k->c != NULL && PQstatus(k->c) == CONNECTION_OK)
		return PV_OK;
	if (k->c != NULL) {
		PQfinish(k->c);
		k->c = NULL;
	}
	if (p->pw == NULL)
		keys[8] = NULL;
	if ((k->c = PQconnectdbParams(keys, vals, 1)) == NULL)
		return PV_ENOMEM;
	if (PQstatus(k->c) != CONNECTION_OK) {
		pv_log(PV_LOG_ERROR, "audit_db_unreachable", NULL,
		    (const char *)NULL);
		return PV_EUNAVAIL;
	}
	PQsetNoticeProcessor(k->c, quiet, NULL);
	/* The COMMIT of a batch must be durable when it returns. */
	r = PQexec(k->c,
	    "SELECT set_config('synchronous_commit', 'on', false)"
	    " WHERE current_setting('synchronous_commit') = 'off'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return PV_EUNAVAIL;
	}
	PQclear(r);
	return PV_OK;
}

/* The connection this thread uses: its section's, or the readers'. */
static struct pg_conn *
conn_for(struct pg_medium *p, bool *is_writer)
{
	*is_writer = p->in_section && pthread_equal(p->owner, pthread_self());
	return *is_writer ? &p->w : &p->r;
}

/* Runs one parameterised statement (all text parameters). */
static PGresult *
run(PGconn *c, const char *sql, int n, const char *const *v, const int *len,
    int result_format)
{
	return PQexecParams(c, sql, n, NULL, v, len, NULL, result_format);
}

static pv_status
ok_or(PGresult *r, ExecStatusType want, const char *event)
{
	pv_status st = PQresultStatus(r) == want ? PV_OK : PV_EUNAVAIL;

	if (st != PV_OK)
		log_sqlstate(event, r);
	PQclear(r);
	return st;
}

/* ---- the writers' section ------------------------------------------- */

static pv_status
g_lock(struct audit_medium *m)
{
	struct pg_medium *p = pm(m);
	pv_status st;

	pthread_mutex_lock(&p->w.mu);
	if ((st = conn_ready(p, &p->w)) == PV_OK &&
	    (st = ok_or(PQexec(p->w.c, "BEGIN"), PGRES_COMMAND_OK,
		 "audit_db_begin_failed")) == PV_OK &&
	    (st = ok_or(PQexec(p->w.c,
			    "SELECT pg_advisory_xact_lock(" SEQ_LOCK ")"),
		 PGRES_TUPLES_OK, "audit_db_lock_failed")) != PV_OK)
		PQclear(PQexec(p->w.c, "ROLLBACK"));
	if (st != PV_OK) {
		pthread_mutex_unlock(&p->w.mu);
		return PV_EUNAVAIL;
	}
	p->owner = pthread_self();
	p->in_section = true;
	return PV_OK;
}

static pv_status
g_unlock(struct audit_medium *m, bool keep)
{
	struct pg_medium *p = pm(m);
	pv_status st = PV_OK;
	PGresult *r;

	r = PQexec(p->w.c, keep ? "COMMIT" : "ROLLBACK");
	/* A COMMIT of a failed transaction answers "ROLLBACK". */
	if (PQresultStatus(r) != PGRES_COMMAND_OK ||
	    strcmp(PQcmdStatus(r), keep ? "COMMIT" : "ROLLBACK") != 0) {
		log_sqlstate("audit_db_commit_failed", r);
		st = PV_EUNAVAIL;
	}
	PQclear(r);
	p->in_section = false;
	pthread_mutex_unlock(&p->w.mu);
	return keep ? st : PV_OK;
}

static pv_status
g_size(struct audit_medium *m, off_t *out)
{
	struct pg_medium *p = pm(m);
	bool is_w;
	struct pg_conn *k = conn_for(p, &is_w);
	pv_status st;
	PGresult *r;

	/* In the section: the writer's transaction; outside it (a node
	 * reading the trail before it takes the lock): the reader's. */
	if (!is_w)
		pthread_mutex_lock(&k->mu);
	if ((st = conn_ready(p, k)) == PV_OK) {
		r = PQexec(k->c,
		    "SELECT off + octet_length(line) + 1 FROM audit_log"
		    " ORDER BY seq DESC LIMIT 1");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_sqlstate("audit_db_read_failed", r);
			st = PV_EUNAVAIL;
		} else {
			*out = PQntuples(r) == 0
			    ? 0
			    : (off_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		}
		PQclear(r);
	}
	if (!is_w)
		pthread_mutex_unlock(&k->mu);
	return st;
}

/*
 * Copies the rows of r (off, line) that overlap [from, from + len) into
 * buf (whose byte 0 is offset from); *next gets the offset after the
 * last row, *filled the bytes written up to there.
 */
static bool
copy_rows(PGresult *r, char *buf, size_t len, off_t from, off_t *next)
{
	int i, n = PQntuples(r);

	for (i = 0; i < n; i++) {
		off_t off = (off_t)strtoll(PQgetvalue(r, i, 0), NULL, 10);
		const char *line = PQgetvalue(r, i, 1);
		size_t ll = (size_t)PQgetlength(r, i, 1);
		off_t end = off + (off_t)ll + 1, a, b;

		if (off != *next && !(i == 0 && off <= *next && end > *next))
			return false; /* a hole: not the stream we know */
		a = off > from ? off : from;
		b = end < from + (off_t)len ? end : from + (off_t)len;
		for (off_t x = a; x < b; x++)
			buf[x - from] =
			    x - off < (off_t)ll ? line[x - off] : '\n';
		*next = end;
	}
	return true;
}

static pv_status
g_read(struct audit_medium *m, void *buf, size_t len, off_t off)
{
	struct pg_medium *p = pm(m);
	bool is_w;
	struct pg_conn *k = conn_for(p, &is_w);
	char a[24], b[24];
	off_t next = off, stop = off + (off_t)len;
	pv_status st = PV_OK;

	if (len == 0)
		return PV_OK;
	if (!is_w)
		pthread_mutex_lock(&k->mu);
	if ((st = conn_ready(p, k)) != PV_OK)
		goto done;
	while (st == PV_OK && next < stop) {
		const char *v[2] = { a, b };
		PGresult *r;

		PV_IGNORE(pv_snprintf(a, sizeof(a), "%lld", (long long)next));
		PV_IGNORE(pv_snprintf(b, sizeof(b), "%lld", (long long)stop));
		/* From the row holding byte `next` (the first time it may
		 * start before it) up to stop, a bounded chunk at a time. */
		r = run(k->c,
		    "SELECT off, line FROM audit_log WHERE off >= coalesce("
		    "(SELECT max(off) FROM audit_log WHERE off <= $1::bigint),"
		    " 0) AND off < $2::bigint ORDER BY off LIMIT " READ_ROWS,
		    2, v, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_sqlstate("audit_db_read_failed", r);
			st = PV_EUNAVAIL;
		} else if (PQntuples(r) == 0 ||
		    !copy_rows(r, buf, len, off, &next)) {
			st = PV_EIO;
		}
		PQclear(r);
	}
done:
	if (!is_w)
		pthread_mutex_unlock(&k->mu);
	return st;
}

/* A NUL-terminated copy of the first n bytes of b (text parameters are
 * C strings: libpq ignores their lengths). */
static char *
cstr(const char *b, size_t n)
{
	char *c = malloc(n + 1);

	if (c != NULL) {
		memcpy(c, b, n);
		c[n] = '\0';
	}
	return c;
}

static pv_status
g_append(struct audit_medium *m, const char *buf, size_t len, off_t at)
{
	struct pg_medium *p = pm(m);
	char a[24];
	const char *v[2] = { NULL, a };
	char *lines;
	pv_status st;

	if (len == 0 || buf[len - 1] != '\n' || memchr(buf, '\0', len))
		return PV_EINVAL;
	/* Without the last newline: string_to_table gives the n lines. */
	if ((lines = cstr(buf, len - 1)) == NULL)
		return PV_ENOMEM;
	PV_IGNORE(pv_snprintf(a, sizeof(a), "%lld", (long long)at));
	v[0] = lines;
	/* seq continues the table; off is `at` plus the lengths before. */
	st = ok_or(run(p->w.c,
		       "INSERT INTO audit_log (seq, off, line)"
		       " SELECT (SELECT coalesce(max(seq) + 1, 0)"
		       " FROM audit_log) + t.n - 1,"
		       " $2::bigint + coalesce(sum(octet_length(t.l) + 1)"
		       " OVER (ORDER BY t.n ROWS BETWEEN UNBOUNDED PRECEDING"
		       " AND 1 PRECEDING), 0), t.l"
		       " FROM string_to_table($1::text, E'\\n')"
		       " WITH ORDINALITY AS t(l, n)",
		       2, v, NULL, 0),
	    PGRES_COMMAND_OK, "audit_db_append_failed");
	free(lines);
	return st;
}

static pv_status
g_cut(struct audit_medium *m, off_t at)
{
	char a[24];
	const char *v[1] = { a };

	PV_IGNORE(pv_snprintf(a, sizeof(a), "%lld", (long long)at));
	return ok_or(run(pm(m)->w.c,
			 "DELETE FROM audit_log WHERE off >= $1::bigint", 1, v,
			 NULL, 0),
	    PGRES_COMMAND_OK, "audit_db_cut_failed");
}

static pv_status
g_cp_append(struct audit_medium *m, const char *line, size_t len, bool do_sync)
{
	const char *v[1];
	char *text;
	pv_status st;

	(void)do_sync; /* durable with the section's COMMIT */
	if (len == 0)
		return PV_OK;
	if ((text = cstr(line, len)) == NULL)
		return PV_ENOMEM;
	v[0] = text;
	st = ok_or(run(pm(m)->w.c,
		       "INSERT INTO audit_checkpoints (line) VALUES ($1)", 1, v,
		       NULL, 0),
	    PGRES_COMMAND_OK, "audit_db_checkpoint_failed");
	free(text);
	return st;
}

static pv_status
g_cp_last(struct audit_medium *m, char *buf, size_t cap)
{
	struct pg_medium *p = pm(m);
	bool is_w;
	struct pg_conn *k = conn_for(p, &is_w);
	pv_status st = PV_EUNAVAIL; /* a failed read is not "none" */
	PGresult *r;

	if (!is_w)
		pthread_mutex_lock(&k->mu);
	if (conn_ready(p, k) == PV_OK) {
		r = PQexec(k->c,
		    "SELECT line FROM audit_checkpoints"
		    " ORDER BY id DESC LIMIT 1");
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			log_sqlstate("audit_db_read_failed", r);
		else if (PQntuples(r) == 0)
			st = PV_ENOTFOUND;
		else
			st = pv_strlcpy(buf, PQgetvalue(r, 0, 0), cap);
		PQclear(r);
	}
	if (!is_w)
		pthread_mutex_unlock(&k->mu);
	return st;
}

static pv_status
g_quarantine(struct audit_medium *m, const char *bytes, size_t len)
{
	char now[24];
	const char *v[2] = { now, NULL };
	char *text;
	pv_status st;

	if (memchr(bytes, '\0', len) != NULL)
		return PV_EINVAL;
	if ((text = cstr(bytes, len)) == NULL)
		return PV_ENOMEM;
	v[1] = text;
	PV_IGNORE(pv_snprintf(now, sizeof(now), "%lld", (long long)time(NULL)));
	st = ok_or(run(pm(m)->w.c,
		       "INSERT INTO audit_quarantine (moved_at, bytes)"
		       " VALUES ($1::bigint, $2)",
		       2, v, NULL, 0),
	    PGRES_COMMAND_OK, "audit_db_quarantine_failed");
	free(text);
	return st;
}

/* ---- resume state, signers ------------------------------------------- */

static bool
g_state_load(struct audit_medium *m, void *rec, size_t n)
{
	const char *v[1] = { m->slot };
	PGresult *r = run(pm(m)->w.c,
	    "SELECT rec FROM audit_state WHERE slot = $1", 1, v, NULL, 1);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    (size_t)PQgetlength(r, 0, 0) == n;

	if (ok)
		memcpy(rec, PQgetvalue(r, 0, 0), n);
	PQclear(r);
	return ok;
}

static void
g_state_save(struct audit_medium *m, const void *rec, size_t n)
{
	const char *v[2] = { m->slot, rec };
	int l[2] = { (int)strlen(m->slot), (int)n };
	int f[2] = { 0, 1 };
	PGresult *r = PQexecParams(pm(m)->w.c,
	    "INSERT INTO audit_state (slot, rec) VALUES ($1, $2)"
	    " ON CONFLICT (slot) DO UPDATE SET rec = excluded.rec",
	    2, NULL, v, l, f, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_sqlstate("audit_state_write_failed", r);
	PQclear(r);
}

static pv_status
g_signers(struct audit_medium *m,
    void (*cb)(void *arg, const char *key_id,
	const unsigned char pk[PV_SIGN_PK_BYTES], const char *endorser,
	const unsigned char sig[PV_SIG_BYTES]),
    void *arg)
{
	struct pg_medium *p = pm(m);
	bool is_w;
	struct pg_conn *k = conn_for(p, &is_w);
	pv_status st;
	PGresult *r = NULL;
	int i;

	if (!is_w)
		pthread_mutex_lock(&k->mu);
	if ((st = conn_ready(p, k)) == PV_OK) {
		/* Binary results: the key and signature bytes as they are. */
		r = PQexecParams(k->c,
		    "SELECT key_id, pubkey, endorser, endorsement"
		    " FROM audit_nodes ORDER BY added_at, key_id",
		    0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_sqlstate("audit_db_read_failed", r);
			st = PV_EUNAVAIL;
		}
	}
	for (i = 0; st == PV_OK && i < PQntuples(r); i++) {
		char id[33], by[33];

		if (PQgetlength(r, i, 1) != PV_SIGN_PK_BYTES ||
		    PQgetlength(r, i, 3) != PV_SIG_BYTES ||
		    PQgetlength(r, i, 0) >= (int)sizeof(id) ||
		    PQgetlength(r, i, 2) >= (int)sizeof(by))
			continue; /* malformed rows are never signers */
		memcpy(id, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
		id[PQgetlength(r, i, 0)] = '\0';
		memcpy(by, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
		by[PQgetlength(r, i, 2)] = '\0';
		cb(arg, id, (const unsigned char *)PQgetvalue(r, i, 1), by,
		    (const unsigned char *)PQgetvalue(r, i, 3));
	}
	PQclear(r);
	if (!is_w)
		pthread_mutex_unlock(&k->mu);
	return st;
}

static pv_status
g_add_signer(struct audit_medium *m, const char *key_id,
    const unsigned char pk[PV_SIGN_PK_BYTES], const char *endorser,
    const unsigned char sig[PV_SIG_BYTES])
{
	struct pg_medium *p = pm(m);
	char now[24];
	const char *v[5] = { key_id, (const char *)pk, endorser,
		(const char *)sig, now };
	int l[5] = { (int)strlen(key_id), PV_SIGN_PK_BYTES,
		(int)strlen(endorser), PV_SIG_BYTES, 0 };
	int f[5] = { 0, 1, 0, 1, 0 };
	pv_status st;

	PV_IGNORE(pv_snprintf(now, sizeof(now), "%lld", (long long)time(NULL)));
	l[4] = (int)strlen(now);
	pthread_mutex_lock(&p->r.mu);
	if ((st = conn_ready(p, &p->r)) == PV_OK)
		st = ok_or(PQexecParams(p->r.c,
			       "INSERT INTO audit_nodes (key_id, pubkey,"
			       " endorser, endorsement, added_at)"
			       " VALUES ($1, $2, $3, $4, $5::bigint)"
			       " ON CONFLICT (key_id) DO NOTHING",
			       5, NULL, v, l, f, 0),
		    PGRES_COMMAND_OK, "audit_db_register_failed");
	pthread_mutex_unlock(&p->r.mu);
	return st;
}

/* ---- snapshot --------------------------------------------------------- */

/* Writes every row of `sql` (one text column, ordered by a bigint key
 * given as $1 for paging) into a temporary file. */
static pv_status
dump(PGconn *c, const char *sql, FILE **out, off_t *size)
{
	char after[24] = "-1";
	const char *v[1] = { after };
	FILE *f = tmpfile();
	pv_status st = PV_OK;

	*out = NULL;
	*size = 0;
	if (f == NULL)
		return PV_EIO;
	for (;;) {
		PGresult *r = run(c, sql, 1, v, NULL, 0);
		int i, n;

		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_sqlstate("audit_db_read_failed", r);
			PQclear(r);
			st = PV_EUNAVAIL;
			break;
		}
		n = PQntuples(r);
		for (i = 0; i < n; i++) {
			size_t ll = (size_t)PQgetlength(r, i, 1);

			if (fwrite(PQgetvalue(r, i, 1), 1, ll, f) != ll ||
			    fputc('\n', f) == EOF)
				st = PV_EIO;
			*size += (off_t)ll + 1;
		}
		if (n > 0)
			PV_IGNORE(pv_strlcpy(after, PQgetvalue(r, n - 1, 0),
			    sizeof(after)));
		PQclear(r);
		if (n == 0 || st != PV_OK)
			break;
	}
	if (st != PV_OK || fflush(f) != 0 || fseeko(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return st != PV_OK ? st : PV_EIO;
	}
	*out = f;
	return PV_OK;
}

static pv_status
g_snapshot(struct audit_medium *m, FILE **log, off_t *log_size, FILE **cps,
    off_t *cp_size)
{
	struct pg_medium *p = pm(m);
	pv_status st;

	*log = *cps = NULL;
	pthread_mutex_lock(&p->r.mu);
	if ((st = conn_ready(p, &p->r)) != PV_OK ||
	    (st = ok_or(PQexec(p->r.c,
			    "BEGIN ISOLATION LEVEL REPEATABLE READ"
			    " READ ONLY"),
		 PGRES_COMMAND_OK, "audit_db_begin_failed")) != PV_OK)
		goto done;
	st = dump(p->r.c,
	    "SELECT seq, line FROM audit_log WHERE seq > $1::bigint"
	    " ORDER BY seq LIMIT " READ_ROWS,
	    log, log_size);
	if (st == PV_OK)
		st = dump(p->r.c,
		    "SELECT id, line FROM audit_checkpoints"
		    " WHERE id > $1::bigint ORDER BY id LIMIT " READ_ROWS,
		    cps, cp_size);
	PQclear(PQexec(p->r.c, "COMMIT"));
done:
	pthread_mutex_unlock(&p->r.mu);
	if (st != PV_OK) {
		if (*log != NULL)
			fclose(*log);
		if (*cps != NULL)
			fclose(*cps);
		*log = *cps = NULL;
	}
	return st;
}

static void
g_close(struct audit_medium *m)
{
	struct pg_medium *p = pm(m);

	if (p == NULL)
		return;
	if (p->w.c != NULL)
		PQfinish(p->w.c);
	if (p->r.c != NULL)
		PQfinish(p->r.c);
	pthread_mutex_destroy(&p->w.mu);
	pthread_mutex_destroy(&p->r.mu);
	pv_secret_free(p->pw, PW_MAX + 1);
	free(p->dsn);
	free(p);
}

static const struct audit_medium_ops pg_ops = {
	.lock = g_lock,
	.unlock = g_unlock,
	.size = g_size,
	.read = g_read,
	.append = g_append,
	.cut = g_cut,
	.cp_append = g_cp_append,
	.cp_last = g_cp_last,
	.quarantine = g_quarantine,
	.state_load = g_state_load,
	.state_save = g_state_save,
	.snapshot = g_snapshot,
	.signers = g_signers,
	.add_signer = g_add_signer,
	.close = g_close,
};

pv_status
audit_medium_pg_open(const char *dsn, const char *password,
    struct audit_medium **out)
{
	struct pg_medium *p = calloc(1, sizeof(*p));
	pv_status st;

	*out = NULL;
	if (p == NULL)
		return PV_ENOMEM;
	p->base.fn = &pg_ops;
	p->base.is_transactional = true;
	pthread_mutex_init(&p->w.mu, NULL);
	pthread_mutex_init(&p->r.mu, NULL);
	if ((p->dsn = strdup(dsn)) == NULL)
		goto nomem;
	if (password != NULL) {
		if (strlen(password) > PW_MAX ||
		    (p->pw = pv_secret_alloc(PW_MAX + 1)) == NULL)
			goto nomem;
		PV_IGNORE(pv_strlcpy(p->pw, password, PW_MAX + 1));
	}
	/* Fail at open, not at the first write, when the database is away. */
	pthread_mutex_lock(&p->r.mu);
	st = conn_ready(p, &p->r);
	pthread_mutex_unlock(&p->r.mu);
	if (st != PV_OK) {
		g_close(&p->base);
		return st;
	}
	*out = &p->base;
	return PV_OK;
nomem:
	g_close(&p->base);
	return PV_ENOMEM;
}
