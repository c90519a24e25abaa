/*
 * cmd_node.c — `phivault node add NEWDIR --from DIR`: another node of a
 * PostgreSQL vault (core/vault_node.c does the work).
 *
 * Audited write-ahead like every admin action ("node.add", operator,
 * local): the intent is durable in the shared trail before the new key
 * is registered; the registration itself (key id, endorsing key, time)
 * is a row of audit_nodes, which `audit verify` checks.
 */
#include "cli/cli.h"

#include <string.h>

static const char usage_text[] =
    "usage: phivault node add NEWDIR --from DIR\n"
    "\n"
    "Makes NEWDIR another node of the PostgreSQL vault at DIR: the same\n"
    "phivault.conf, databases and keys, its own TLS certificate and\n"
    "audit-signing key (registered in the trail, endorsed by DIR's key).\n"
    "Prints the new node's key id. Start it with phivault serve NEWDIR.\n";

int
cmd_node(int argc, char **argv)
{
	static const char *const names[] = { "from" };
	const char *vals[1], *pos[1];
	char key_id[PV_AUDIT_KEY_ID_LEN + 1], err[512];
	struct pv_cli_change *c;
	struct pv_vault *v = NULL;
	size_t npos;
	pv_status st;

	if (argc >= 2 && pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (argc < 2 || strcmp(argv[1], "add") != 0 ||
	    !pv_cli_parse(argc - 1, argv + 1, names, vals, 1, NULL, NULL, 0,
		pos, 1, &npos) ||
	    npos != 1 || vals[0] == NULL) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(vals[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if ((c = pv_cli_begin(v, "node.add", NULL, NULL, NULL)) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = pv_vault_node_add(v, pos[0], key_id, err, sizeof(err));
	pv_cli_end(c, st);
	pv_vault_close(v);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		return PV_EXIT_FAIL;
	}
	printf("node added: %s (audit key %s)\n", pos[0], key_id);
	return PV_EXIT_OK;
}
