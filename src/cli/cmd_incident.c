/*
 * cmd_incident.c — `phivault incident report DIR --actor NAME --since T
 * [--until T] [--json]`.
 */
#include "cli/cli.h"
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: phivault incident report DIR --actor NAME --since T [--until T]"
    " [--json]\n"
    "\n"
    "Lists every patient whose data the account NAME reached (and every\n"
    "patient it tried to reach and was denied) between --since and\n"
    "--until (default: now), from the audit trail: the list breach\n"
    "notification starts from. T is 2026-11-25, 2026-11-25T10:00:00Z or\n"
    "seconds since the epoch.\n";

int
cmd_incident(int argc, char **argv)
{
	static const char *const names[] = { "actor", "since", "until" };
	static const char *const flag_n[] = { "json" };
	const char *o[3], *pos[1];
	bool is_json;
	struct pv_cli_change *c;
	struct pv_vault *v;
	struct pv_user u;
	char ref[24];
	pv_status st;
	int64_t since, until;
	json_t *rep = NULL, *p;
	size_t npos, i;
	int rc = PV_EXIT_FAIL;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	if (strcmp(argv[1], "report") != 0 ||
	    !pv_cli_parse(argc - 1, argv + 1, names, o, 3, flag_n, &is_json, 1,
		pos, 1, &npos) ||
	    npos != 1 || o[0] == NULL || o[1] == NULL ||
	    pv_parse_time(o[1], &since) != PV_OK ||
	    (o[2] != NULL && pv_parse_time(o[2], &until) != PV_OK)) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (o[2] == NULL)
		until = pv_now();
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (pv_store_user_get_by_name(v->store, o[0], &u) != PV_OK) {
		fprintf(stderr, "phivault: no such account\n");
		goto done;
	}
	PV_IGNORE(pv_snprintf(ref, sizeof(ref), "%lld", (long long)u.id));
	if ((c = pv_cli_begin(v, "incident.report", "User", ref, NULL)) == NULL)
		goto done;
	st = pv_incident_report(v, u.id, since, until, &rep);
	pv_cli_end(c, st);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: cannot read the audit trail\n");
		goto done;
	}
	if (is_json) {
		char *t = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (t != NULL)
			puts(t);
		free(t);
	} else {
		printf("%-34s %-8s %-8s %-24s %-24s %s\n", "PATIENT",
		    "ACCESSES", "DENIED", "FIRST", "LAST", "ACTIONS");
		json_array_foreach(json_object_get(rep, "patients"), i, p)
		{
			char acts[128] = "";
			json_t *a;
			size_t k;

			/* display only: actions that do not fit are left out */
			json_array_foreach(json_object_get(p, "actions"), k,
			    a) if (json_is_string(a))
			    PV_IGNORE(pv_csv_append(acts, sizeof(acts),
				json_string_value(a), json_string_length(a)));
			printf("%-34s %-8lld %-8lld %-24s %-24s %s\n",
			    json_string_value(json_object_get(p, "patient")),
			    (long long)json_integer_value(
				json_object_get(p, "accesses")),
			    (long long)json_integer_value(
				json_object_get(p, "denied_attempts")),
			    json_string_value(
				json_object_get(p, "first_access")),
			    json_string_value(
				json_object_get(p, "last_access")),
			    acts);
		}
	}
	fprintf(is_json ? stderr : stdout,
	    "%zu patient(s) reached or attempted by %s\n",
	    json_array_size(json_object_get(rep, "patients")), o[0]);
	rc = PV_EXIT_OK;
done:
	json_decref(rep);
	pv_vault_close(v);
	return rc;
}
