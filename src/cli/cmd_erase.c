/*
 * cmd_erase.c — `phivault erase DIR --patient PID` (erasure on request)
 * and `phivault hold add|remove DIR --patient PID` (legal hold).
 */
#include "cli/cli.h"
#include "lifecycle/lifecycle.h"

#include <string.h>

static const char erase_usage[] =
    "usage: phivault erase DIR --patient PID\n"
    "\n"
    "Erasure on request: crypto-shreds the patient (their data key is\n"
    "destroyed, so every version in this database and in every backup is\n"
    "unreadable), deletes their rows and links, and disables their patient\n"
    "accounts. Refused while the patient is under legal hold.\n";

static const char hold_usage[] =
    "usage: phivault hold add DIR --patient PID\n"
    "       phivault hold remove DIR --patient PID\n"
    "\n"
    "A legal hold stops erasure and retention purges for the patient.\n";

int
cmd_erase(int argc, char **argv)
{
	static const char *const names[] = { "patient" };
	const char *o[1], *pos[1];
	struct pv_cli_change *c;
	struct pv_vault *v;
	size_t npos;
	pv_status st;

	if (pv_cli_wants_help(argc, argv, erase_usage))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, names, o, 1, NULL, NULL, 0, pos, 1,
		&npos) ||
	    npos != 1 || o[0] == NULL) {
		fputs(erase_usage, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if ((c = pv_cli_begin(v, "erase", "Patient", o[0], o[0])) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = pv_erase_patient(v, o[0]);
	pv_cli_end(c, st);
	pv_vault_close(v);
	switch (st) {
	case PV_OK:
		printf("patient %s erased (data key destroyed)\n", o[0]);
		return PV_EXIT_OK;
	case PV_EDENIED:
		fprintf(stderr,
		    "phivault: refused: the patient is under legal "
		    "hold\n");
		return PV_EXIT_FAIL;
	case PV_ENOTFOUND:
		fprintf(stderr, "phivault: no such patient\n");
		return PV_EXIT_FAIL;
	case PV_EINVAL:
		fprintf(stderr, "phivault: invalid patient id\n");
		return PV_EXIT_USAGE;
	default:
		fprintf(stderr, "phivault: erasure failed (%s)\n",
		    pv_status_name(st));
		return PV_EXIT_FAIL;
	}
}

int
cmd_hold(int argc, char **argv)
{
	static const char *const names[] = { "patient" };
	const char *o[1], *pos[1];
	struct pv_cli_change *c;
	struct pv_vault *v;
	size_t npos;
	bool on;
	pv_status st;

	if (argc < 2 || pv_cli_wants_help(argc, argv, hold_usage))
		return argc < 2 ? (fputs(hold_usage, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	on = strcmp(argv[1], "add") == 0;
	if ((!on && strcmp(argv[1], "remove") != 0) ||
	    !pv_cli_parse(argc - 1, argv + 1, names, o, 1, NULL, NULL, 0, pos,
		1, &npos) ||
	    npos != 1 || o[0] == NULL) {
		fputs(hold_usage, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if ((c = pv_cli_begin(v, on ? "hold.add" : "hold.remove", "Patient",
		 o[0], o[0])) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = pv_hold_set(v, o[0], on);
	pv_cli_end(c, st);
	pv_vault_close(v);
	if (st == PV_ENOTFOUND) {
		fprintf(stderr, "phivault: no such patient\n");
		return PV_EXIT_FAIL;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: failed (%s)\n", pv_status_name(st));
		return st == PV_EINVAL ? PV_EXIT_USAGE : PV_EXIT_FAIL;
	}
	printf("legal hold %s for patient %s\n", on ? "set" : "lifted", o[0]);
	return PV_EXIT_OK;
}
