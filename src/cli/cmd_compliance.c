/*
 * cmd_compliance.c — `phivault compliance DIR [--json]`: the compliance
 * checks of report/compliance.c. Exit 1 when any check fails.
 */
#include "cli/cli.h"
#include "authz/authz.h"
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: phivault compliance DIR [--json]\n"
    "\n"
    "Checks the vault's controls and prints one line per check (pass,\n"
    "warn, fail, info): audit trail integrity, MFA coverage, key rotation\n"
    "state, TLS certificate lifetime, security settings, dormant accounts,\n"
    "pending break-glass reviews, retention backlog. Exit 1 if any check\n"
    "fails.\n";

int
cmd_compliance(int argc, char **argv)
{
	static const char *const flag_n[] = { "json" };
	const char *pos[1];
	bool is_json;
	struct pv_vault *v;
	json_t *rep = NULL, *c;
	size_t npos, i;
	int rc = PV_EXIT_FAIL;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, NULL, NULL, 0, flag_n, &is_json, 1, pos,
		1, &npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (pv_compliance_report(v, NULL, &rep) != PV_OK) {
		fprintf(stderr, "phivault: the checks could not run\n");
		goto done;
	}
	if (is_json) {
		char *t = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (t != NULL)
			puts(t);
		free(t);
	} else {
		json_array_foreach(json_object_get(rep, "checks"), i, c)
		    printf("%-20s %-5s %s\n",
			json_string_value(json_object_get(c, "check")),
			json_string_value(json_object_get(c, "status")),
			json_string_value(json_object_get(c, "detail")));
		printf("%lld failed, %lld warning(s)\n",
		    (long long)json_integer_value(
			json_object_get(rep, "failed")),
		    (long long)json_integer_value(
			json_object_get(rep, "warnings")));
	}
	rc = json_integer_value(json_object_get(rep, "failed")) == 0
	    ? PV_EXIT_OK
	    : PV_EXIT_FAIL;
done:
	json_decref(rep);
	pv_vault_close(v);
	return rc;
}
