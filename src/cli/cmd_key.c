/*
 * cmd_key.c — `phivault key rotate DIR`: a new master-key version; every
 * patient's data key re-wrapped under it (no record is re-encrypted);
 * versions no key uses any more are destroyed. Safe while `serve` runs:
 * the server reloads new versions on demand and re-reads a key whose
 * wrapping changed under it.
 */
#include "cli/cli.h"

#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault key rotate DIR\n"
    "\n"
    "Creates master-key version N+1 (keys/master-N.key, 0600), re-wraps\n"
    "every data key under it in batches, then destroys (overwrites and\n"
    "unlinks) every older version no data key uses. Online: the server\n"
    "keeps serving throughout.\n";

static void
progress(void *arg, size_t done)
{
	(void)arg;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rre-wrapped %zu data keys", done);
}

int
cmd_key(int argc, char **argv)
{
	const char *pos[1];
	struct pv_cli_change *c;
	struct pv_vault *v;
	size_t npos, rewrapped = 0, retired = 0;
	bool is_pg;
	uint32_t nv = 0;
	pv_status st;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	if (strcmp(argv[1], "rotate") != 0 ||
	    !pv_cli_parse(argc - 1, argv + 1, NULL, NULL, 0, NULL, NULL, 0, pos,
		1, &npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if ((c = pv_cli_begin(v, "key.rotate", NULL, NULL, NULL)) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = pv_dek_rotate(v, &nv, &rewrapped, &retired, progress, NULL);
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	pv_cli_end(c, st);
	is_pg = v->cfg.is_store_pg;
	pv_vault_close(v);
	if (st != PV_OK) {
		fprintf(stderr,
		    "phivault: rotation failed (%s); the vault is "
		    "consistent, run it again\n",
		    pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	printf("master key rotated to version %u: %zu data keys re-wrapped, "
	       "%zu old versions retired\n",
	    nv, rewrapped, retired);
	/* The other nodes of a PostgreSQL vault have their own keys/. */
	if (is_pg)
		printf("other nodes: copy keys/master-%u.key (mode 0600) into "
		       "every other node's keys/ now; until then they refuse "
		       "reads of re-wrapped keys\n",
		    nv);
	return PV_EXIT_OK;
}
