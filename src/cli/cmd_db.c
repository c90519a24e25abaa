/*
 * cmd_db.c — `phivault db migrate DIR`: brings the store's schema to
 * this build's version.
 *
 * PostgreSQL: both databases (records and keys) are migrated by
 * pv_store_pg_migrate — versioned steps, each in a transaction, under an
 * advisory lock so two operators cannot race — and the result is printed
 * as "schema N -> M" ("N -> N": nothing to do). A serving node never
 * migrates and refuses a schema it does not expect, so an upgrade is:
 * stop the nodes (or drain them), run this once, start the new build.
 *
 * SQLite: one vault, one machine; the schema has always been migrated
 * whenever a command or `serve` opens the vault (store/sqlite_conn.c),
 * and still is. `db migrate` opens the vault, which does exactly that,
 * and says so.
 *
 * Not audited: the schema is structure, not data — no record, account
 * or key changes — and the audit trail must not be written by a build
 * whose schema is not yet the one it expects. The PostgreSQL migrations
 * are recorded in each database's schema_version table.
 */
#include "cli/cli.h"

#include <string.h>

static const char usage_text[] =
    "usage: phivault db migrate DIR\n"
    "\n"
    "Upgrades the schema of the vault's store to this build's version.\n"
    "PostgreSQL: both databases; prints 'schema N -> M'. Run it once per\n"
    "upgrade, before starting the new build (a node refuses an old\n"
    "schema). SQLite: the schema is upgraded whenever the vault is\n"
    "opened; this opens it and reports that.\n";

static int
db_migrate(const char *dir)
{
	struct pv_vault_migration m;
	char err[512];
	pv_status st;

	if ((st = pv_vault_migrate(dir, &m, err, sizeof(err))) != PV_OK) {
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

int
cmd_db(int argc, char **argv)
{
	const char *pos[1];
	size_t npos;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	if (strcmp(argv[1], "migrate") != 0 ||
	    !pv_cli_parse(argc - 1, argv + 1, NULL, NULL, 0, NULL, NULL, 0, pos,
		1, &npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	return db_migrate(pos[0]);
}
