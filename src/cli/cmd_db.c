/*
 * cmd_db.c — `phivault db migrate DIR` and `phivault db
 * migrate-from-sqlite DIR --to DSN [--keys-to DSN] [--password-file F]`.
 *
 * migrate brings the store's schema to this build's version.
 * PostgreSQL: both databases (records and keys) are migrated by
 * pv_store_pg_migrate — versioned steps, each in a transaction, under an
 * advisory lock so two operators cannot race — and the result is printed
 * as "schema N -> M" ("N -> N": nothing to do). A serving node never
 * migrates and refuses a schema it does not expect, so an upgrade is:
 * stop the nodes (or drain them), run this once, start the new build.
 * SQLite: one vault, one machine; the schema has always been migrated
 * whenever a command or `serve` opens the vault (store/sqlite_conn.c),
 * and still is. `db migrate` opens the vault, which does exactly that,
 * and says so. Not audited: the schema is structure, not data — no
 * record, account or key changes — and the audit trail must not be
 * written by a build whose schema is not yet the one it expects. The
 * PostgreSQL migrations are recorded in each database's schema_version
 * table.
 *
 * migrate-from-sqlite moves an SQLite vault to PostgreSQL
 * (core/vault_move.c has the steps and what happens on failure). Here:
 *  - --keys-to names the keys database; without it (SPEC.md makes it
 *    optional) it is the records database's name + "_keys" on the same
 *    server, printed, as for `init --store`; --password-file is kept as
 *    an absolute path in [store];
 *  - the vault directory is locked exclusively without waiting: refused
 *    (exit 1) while `serve` or any other command has the vault open;
 *  - audited like every admin action, on both sides of the move: the
 *    write-ahead intent "db.migrate" is made durable in the SQLite trail
 *    before anything changes (and is copied with it), and a second
 *    "db.migrate" entry (reason moved_to_postgresql) is the first one
 *    written through PostgreSQL, so the trail shows where its medium
 *    changed; a failure gets its follow-up in the SQLite trail, which
 *    stays the vault's;
 *  - one summary line with what was moved and how long it took.
 *  - run again on a vault that was moved to the same databases but
 *    still has SQLite files (the move was interrupted after its commit
 *    point, the rename of phivault.conf), it removes them: they are
 *    stale, and keys/keys.db among them must not survive.
 * Exit 1: nothing was moved (DIR as it was but for the trail's entries
 * about the attempt), or — said so on stderr — the move is complete but
 * an old SQLite file could not be removed. Exit 2: bad usage.
 */
#include "cli/cli.h"

#include <string.h>
#include <time.h>

static const char usage_text[] =
    "usage: phivault db migrate DIR\n"
    "       phivault db migrate-from-sqlite DIR --to DSN [--keys-to DSN]\n"
    "                                       [--password-file FILE]\n"
    "\n"
    "migrate              upgrades the schema of the vault's store to\n"
    "                     this build's version. PostgreSQL: both\n"
    "                     databases; prints 'schema N -> M'. Run it once\n"
    "                     per upgrade, before starting the new build (a\n"
    "                     node refuses an old schema). SQLite: the schema\n"
    "                     is upgraded whenever the vault is opened; this\n"
    "                     opens it and reports that.\n"
    "migrate-from-sqlite  moves an SQLite vault to two new, empty\n"
    "                     PostgreSQL databases (records: --to, keys:\n"
    "                     --keys-to, default: --to's name + _keys; the\n"
    "                     password in --password-file or\n"
    "                     PGPASSFILE): accounts, sessions, records, keys\n"
    "                     and the audit trail, verified, then switches\n"
    "                     phivault.conf and removes the SQLite files\n"
    "                     (keys/keys.db overwritten first). Stop the\n"
    "                     server and take a backup first.\n";

static int
db_migrate(int argc, char **argv)
{
	struct pv_vault_migration m;
	const char *pos[1];
	char err[512];
	size_t npos;
	pv_status st;

	if (!pv_cli_parse(argc, argv, NULL, NULL, 0, NULL, NULL, 0, pos, 1,
		&npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if ((st = pv_vault_migrate(pos[0], &m, err, sizeof(err))) != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		return PV_EXIT_FAIL;
	}
	if (!m.is_pg)
		printf("SQLite vault: its schema is upgraded whenever it is "
		       "opened; it is current\n");
	else
		printf("schema %d -> %d\n", m.from, m.to);
	return PV_EXIT_OK;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
print_summary(const struct pv_vault_move *m, double seconds)
{
	size_t i;

	printf("moved to PostgreSQL in %.2f s:", seconds);
	for (i = 0; i < m->rows.n; i++)
		printf("%s %s %lld", i == 0 ? "" : ",", m->rows.t[i].table,
		    (long long)m->rows.t[i].rows);
	printf("; audit trail %llu entries (%llu copied), %llu checkpoints, "
	       "%llu quarantined lines\n",
	    (unsigned long long)m->entries,
	    (unsigned long long)m->trail.entries,
	    (unsigned long long)m->trail.checkpoints,
	    (unsigned long long)m->trail.quarantined);
}

/* The move itself, on an open vault locked for it. */
static int
move_vault(struct pv_vault *v, const struct pv_config_pg *pg)
{
	struct pv_audit_event moved;
	struct pv_vault_move m = { .to = pg, .moved = &moved };
	struct pv_cli_change *c;
	char err[512] = "";
	double t0 = now_seconds();
	pv_status st;

	if ((c = pv_cli_begin(v, "db.migrate", NULL, NULL, NULL)) == NULL)
		return PV_EXIT_FAIL;
	pv_cli_event(&moved, "db.migrate", NULL, NULL, NULL);
	moved.reason = "moved_to_postgresql";
	if ((st = pv_vault_move_to_pg(v, &m, err, sizeof(err))) != PV_OK) {
		fprintf(stderr, "phivault: not moved: %s\n",
		    err[0] != '\0' ? err : pv_status_name(st));
		pv_cli_end(c, st);
		return PV_EXIT_FAIL;
	}
	pv_cli_end(c, PV_OK); /* closes the SQLite trail */
	st = pv_vault_move_remove_sqlite(v, err, sizeof(err));
	print_summary(&m, now_seconds() - t0);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		return PV_EXIT_FAIL;
	}
	return PV_EXIT_OK;
}

/*
 * A vault on PostgreSQL already. When it was moved to these very
 * databases and SQLite files are left (the move was interrupted after
 * its commit point), they are stale — the vault has been served from
 * PostgreSQL since — and removing them finishes the move.
 */
static int
finish_move(struct pv_vault *v, const struct pv_config_pg *pg)
{
	struct pv_cli_change *c;
	char err[512] = "";
	pv_status st;

	if (strcmp(v->cfg.store_dsn, pg->dsn) != 0 ||
	    strcmp(v->cfg.store_keys_dsn, pg->keys_dsn) != 0 ||
	    !pv_vault_has_sqlite_files(v)) {
		fprintf(stderr,
		    "phivault: the vault is on PostgreSQL "
		    "already\n");
		return PV_EXIT_FAIL;
	}
	if ((c = pv_cli_begin(v, "db.migrate", NULL, NULL, NULL)) == NULL)
		return PV_EXIT_FAIL;
	st = pv_vault_move_remove_sqlite(v, err, sizeof(err));
	pv_cli_end(c, st);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		return PV_EXIT_FAIL;
	}
	printf("the vault was moved already; its SQLite files are removed "
	       "now\n");
	return PV_EXIT_OK;
}

static int
db_migrate_from_sqlite(int argc, char **argv)
{
	static const char *const names[] = { "to", "keys-to", "password-file" };
	const char *vals[3], *pos[1];
	struct pv_config_pg pg = { NULL, NULL, NULL };
	char pwpath[PV_PATH_MAX], err[512], keys_dsn[PV_CONF_STR_MAX];
	struct pv_vault *v = NULL;
	size_t npos;
	int rc;

	if (!pv_cli_parse(argc, argv, names, vals, PV_ARRAY_LEN(names), NULL,
		NULL, 0, pos, 1, &npos) ||
	    npos != 1 || vals[0] == NULL) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	pg.dsn = vals[0];
	pg.keys_dsn = vals[1];
	if (vals[1] == NULL) { /* SPEC.md: optional; <dbname>_keys */
		if (pv_store_pg_default_keys_dsn(vals[0], keys_dsn,
			sizeof(keys_dsn)) != PV_OK) {
			fprintf(stderr,
			    "phivault: --to does not parse; name "
			    "the keys database with --keys-to\n");
			return PV_EXIT_USAGE;
		}
		pg.keys_dsn = keys_dsn;
		printf("keys database: %s\n", keys_dsn);
	}
	if (vals[2] != NULL) {
		if (!pv_cli_abs_path("--password-file", vals[2], pwpath,
			sizeof(pwpath)))
			return PV_EXIT_USAGE;
		pg.password_file = pwpath;
	}
	if (pv_config_check_pg(&pg, err, sizeof(err)) != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (pv_vault_lock_exclusive(v, err, sizeof(err)) != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		rc = PV_EXIT_FAIL;
	} else if (v->cfg.is_store_pg) {
		rc = finish_move(v, &pg);
	} else {
		rc = move_vault(v, &pg);
	}
	pv_vault_close(v);
	return rc;
}

/* The subcommands of `db`. */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
} subs[] = {
	{ "migrate", db_migrate },
	{ "migrate-from-sqlite", db_migrate_from_sqlite },
};

int
cmd_db(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	for (i = 0; i < PV_ARRAY_LEN(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			break;
	if (i == PV_ARRAY_LEN(subs)) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	return subs[i].run(argc - 1, argv + 1);
}
