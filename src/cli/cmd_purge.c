/*
 * cmd_purge.c — `phivault purge DIR [--dry-run]`: applies [retention].
 */
#include "cli/cli.h"
#include "audit/audit.h"
#include "lifecycle/lifecycle.h"

#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault purge DIR [--dry-run] [--verbose]\n"
    "\n"
    "Deletes every resource older than its [retention] rule (all versions),\n"
    "and crypto-shreds a patient whose whole record has expired. Patients\n"
    "under legal hold are skipped. Every purge is audited. --dry-run only\n"
    "reports what would be purged; --verbose lists each decision.\n";

struct show_ctx {
	bool is_verbose;
	size_t n;
};

static void
show(void *arg, const char *type, const char *id, const char *patient,
    const char *what)
{
	struct show_ctx *c = arg;

	if (c->is_verbose)
		printf("%-6s %s/%s (patient %s)\n", what, type, id, patient);
	else if (isatty(STDERR_FILENO) && (++c->n & 0x3ff) == 0)
		fprintf(stderr, "\r%zu decisions", c->n);
}

int
cmd_purge(int argc, char **argv)
{
	static const char *const flag_n[] = { "dry-run", "verbose" };
	bool flags[2];
	const char *pos[1];
	struct pv_vault *v;
	struct pv_audit *a = NULL;
	struct pv_purge_report rep;
	size_t npos;
	pv_status st;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, NULL, NULL, 0, flag_n, flags, 2, pos, 1,
		&npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (!flags[0]) {
		struct pv_audit_opts ao = PV_VAULT_AUDIT_OPTS(v, false, 0);

		if (pv_audit_open(&ao, &a) != PV_OK) {
			fprintf(stderr,
			    "phivault: the audit trail cannot be "
			    "opened; nothing purged\n");
			pv_vault_close(v);
			return PV_EXIT_FAIL;
		}
	}
	struct show_ctx sc = { flags[1], 0 };

	st = pv_retention_purge(v, a, pv_now(), flags[0], show, &sc, &rep);
	if (!flags[1] && sc.n >= 0x400 && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	pv_audit_close(a);
	pv_vault_close(v);
	printf("%s%zu resources examined, %zu purged, %zu patients "
	       "crypto-shredded, %zu skipped under legal hold\n",
	    flags[0] ? "dry run: " : "", rep.examined, rep.resources_purged,
	    rep.patients_shredded, rep.held_skipped);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: purge stopped (%s)\n",
		    pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	return PV_EXIT_OK;
}
