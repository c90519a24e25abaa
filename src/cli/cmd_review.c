/*
 * cmd_review.c — `phivault access-review DIR [--apply] [--json]
 * [--ack-grant ID]`.
 */
#include "cli/cli.h"
#include "authz/authz.h"
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: phivault access-review DIR [--apply] [--json] [--ack-grant ID]\n"
    "\n"
    "Lists every account: role, status, care-team size, last activity,\n"
    "permissions its role grants but it did not use in 90 days, and\n"
    "whether it is dormant (idle past [authz] dormant_days); then every\n"
    "break-glass grant awaiting review.\n"
    "\n"
    "  --apply         disable dormant accounts (their sessions end)\n"
    "  --json          print the report as JSON\n"
    "  --ack-grant ID  mark a break-glass grant as reviewed\n";

static void
print_table(json_t *rep)
{
	json_t *a, *g;
	size_t i;

	printf("%-20s %-10s %-8s %-4s %-5s %-20s %-5s %-8s %-8s %s\n", "NAME",
	    "ROLE", "STATUS", "MFA", "TEAM", "LAST ACTIVITY", "IDLE", "GRANTED",
	    "UNUSED", "DORMANT");
	json_array_foreach(json_object_get(rep, "accounts"), i, a)
	    printf("%-20s %-10s %-8s %-4s %-5lld %-20s %-5lld %-8s %-8s %s\n",
		json_string_value(json_object_get(a, "name")),
		json_string_value(json_object_get(a, "role")),
		json_string_value(json_object_get(a, "status")),
		json_is_true(json_object_get(a, "mfa")) ? "yes" : "no",
		(long long)json_integer_value(
		    json_object_get(a, "care_team_size")),
		json_string_value(json_object_get(a, "last_activity")),
		(long long)json_integer_value(json_object_get(a, "idle_days")),
		json_string_value(json_object_get(a, "granted")),
		json_string_value(json_object_get(a, "unused_90d")),
		json_is_true(json_object_get(a, "dormant")) ? "DORMANT" : "-");
	printf("\nbreak-glass grants awaiting review: %zu\n",
	    json_array_size(json_object_get(rep, "break_glass_pending")));
	json_array_foreach(json_object_get(rep, "break_glass_pending"), i, g)
	    printf("  grant %lld  user %s  patient %s  opened %s  expires %s\n",
		(long long)json_integer_value(json_object_get(g, "grant")),
		json_string_value(json_object_get(g, "user")),
		json_string_value(json_object_get(g, "patient")),
		json_string_value(json_object_get(g, "opened")),
		json_string_value(json_object_get(g, "expires")));
	if (json_array_size(json_object_get(rep, "disabled")) > 0)
		printf("\ndisabled %zu dormant account(s)\n",
		    json_array_size(json_object_get(rep, "disabled")));
}

int
cmd_access_review(int argc, char **argv)
{
	static const char *const names[] = { "ack-grant" };
	static const char *const flags_n[] = { "apply", "json" };
	const char *o[1], *pos[1];
	bool flags[2];
	struct pv_cli_change *c;
	struct pv_policy policy;
	struct pv_vault *v;
	json_t *rep = NULL;
	char perr[200];
	size_t npos;
	pv_status st;
	int rc = PV_EXIT_FAIL;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, names, o, 1, flags_n, flags, 2, pos, 1,
		&npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (o[0] != NULL) {
		if ((c = pv_cli_begin(v, "break-glass.review", "Grant", o[0],
			 NULL)) == NULL) {
			pv_vault_close(v);
			return PV_EXIT_FAIL;
		}
		st = pv_store_grant_review(v->store, strtoll(o[0], NULL, 10),
		    pv_now());
		pv_cli_end(c, st);
		if (st != PV_OK)
			fprintf(stderr,
			    "phivault: no such grant awaiting "
			    "review\n");
		else
			printf("grant %s marked reviewed\n", o[0]);
		pv_vault_close(v);
		return st == PV_OK ? PV_EXIT_OK : PV_EXIT_FAIL;
	}
	if (v->cfg.policy_file[0] != '\0') {
		char ppath[PV_PATH_MAX];

		if ((v->cfg.policy_file[0] == '/'
			    ? pv_strlcpy(ppath, v->cfg.policy_file,
				  sizeof(ppath))
			    : pv_vault_path(v, v->cfg.policy_file, ppath,
				  sizeof(ppath))) != PV_OK ||
		    pv_policy_load(&policy, ppath, perr, sizeof(perr)) !=
			PV_OK) {
			fprintf(stderr, "phivault: %s\n", perr);
			goto done;
		}
	} else {
		pv_policy_defaults(&policy);
	}
	c = NULL;
	if (flags[0] &&
	    (c = pv_cli_begin(v, "access-review.apply", NULL, NULL, NULL)) ==
		NULL)
		goto done;
	st = pv_access_review(v, &policy, pv_now(), flags[0], &rep);
	pv_cli_end(c, st);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: review failed (%s)\n",
		    pv_status_name(st));
		goto done;
	}
	if (flags[1]) {
		char *t = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (t != NULL)
			puts(t);
		free(t);
	} else {
		print_table(rep);
	}
	rc = PV_EXIT_OK;
done:
	json_decref(rep);
	pv_vault_close(v);
	return rc;
}
