/*
 * main.c — the subcommand table, and nothing else.
 */
#include "cli/cli.h"
#include "fhir/fhir.h"

#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const struct pv_cmd commands[] = {
	{ "init", "create a new vault directory", cmd_init },
	{ "serve", "run the HTTPS server on a vault", cmd_serve },
	{ "db", "migrate the schema; move an SQLite vault to PostgreSQL",
	    cmd_db },
	{ "node", "add another node of a PostgreSQL vault", cmd_node },
	{ "user", "add, list, disable, role, unlock, grant, mfa: accounts",
	    cmd_user },
	{ "careteam", "add or remove care-team members", cmd_careteam },
	{ "client", "register a service client (Ed25519, SMART scopes)",
	    cmd_client },
	{ "audit", "verify, export, checkpoint the audit trail", cmd_audit },
	{ "key", "rotate the master key (online)", cmd_key },
	{ "backup", "encrypted online backup of a SQLite vault", cmd_backup },
	{ "restore", "restore a backup into a new directory", cmd_restore },
	{ "erase", "erase a patient on request (crypto-shredding)", cmd_erase },
	{ "hold", "set or lift a legal hold on a patient", cmd_hold },
	{ "access-review",
	    "report accounts, unused rights, break-glass; "
	    "disable dormant accounts",
	    cmd_access_review },
	{ "incident", "report the patients an actor touched", cmd_incident },
	{ "purge", "apply retention rules (crypto-shred expired patients)",
	    cmd_purge },
	{ "deid", "de-identified export (HIPAA Safe Harbor, k-anonymity)",
	    cmd_deid },
	{ "import", "bulk-load FHIR resources from NDJSON", cmd_import },
	{ "compliance", "check the vault's controls (exit 1 on a failure)",
	    cmd_compliance },
};

static void
usage(FILE *f)
{
	size_t i;

	fputs("usage: phivault COMMAND [ARGS]\n\ncommands:\n", f);
	for (i = 0; i < PV_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name,
		    commands[i].summary);
	fputs("\nRun 'phivault COMMAND --help' for a command's options.\n", f);
}

int
main(int argc, char **argv)
{
	size_t i;

	umask(077); /* every file a vault creates is private */
	{
		/* Keys and decrypted records must never land in a core file
		 * or be readable through ptrace by the same user. */
		struct rlimit no_core = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &no_core);
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	pv_fhir_json_init(); /* before any JSON exists */
	if (argc < 2) {
		usage(stderr);
		return PV_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return PV_EXIT_OK;
	}
	for (i = 0; i < PV_ARRAY_LEN(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "phivault: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return PV_EXIT_USAGE;
}
