/*
 * cmd_careteam.c — `phivault careteam add|remove DIR --user NAME
 * --patient PID`. Takes effect from the server's next request (membership
 * is read from the store for every decision). Audited.
 */
#include "cli/cli.h"
#include "authz/authz.h"

#include <string.h>

static const char usage_text[] =
    "usage: phivault careteam add DIR --user NAME --patient PID\n"
    "       phivault careteam remove DIR --user NAME --patient PID\n"
    "\n"
    "Puts a clinician, nurse or service client on (or takes them off) a\n"
    "patient's care team: the relationship that lets them reach that\n"
    "patient's records.\n";

int
cmd_careteam(int argc, char **argv)
{
	static const char *const names[] = { "user", "patient" };
	const char *o[2], *pos[1];
	struct pv_cli_change *c;
	struct pv_vault *v;
	char ref[24];
	bool add;
	size_t npos;
	pv_status st;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	add = strcmp(argv[1], "add") == 0;
	if ((!add && strcmp(argv[1], "remove") != 0) ||
	    !pv_cli_parse(argc - 1, argv + 1, names, o, 2, NULL, NULL, 0, pos,
		1, &npos) ||
	    npos != 1 || o[0] == NULL || o[1] == NULL) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	pv_cli_user_ref(v, o[0], ref);
	if ((c = pv_cli_begin(v, add ? "careteam.add" : "careteam.remove",
		 "CareTeam", ref, o[1])) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = add ? pv_careteam_add(v, o[0], o[1])
		 : pv_careteam_remove(v, o[0], o[1]);
	pv_cli_end(c, st);
	pv_vault_close(v);
	if (st == PV_ENOTFOUND) {
		fprintf(stderr, "phivault: no such user%s\n",
		    add ? " or patient" : " or membership");
		return PV_EXIT_FAIL;
	}
	if (st == PV_EINVAL) {
		fprintf(stderr,
		    "phivault: care teams take clinicians, nurses "
		    "and service clients, and a valid patient id\n");
		return PV_EXIT_USAGE;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: failed (%s)\n", pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	printf("%s %s care team of patient %s\n",
	    add ? "added to" : "removed from", o[0], o[1]);
	return PV_EXIT_OK;
}
