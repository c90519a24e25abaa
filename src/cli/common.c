/*
 * common.c — argument parsing and stdin handling shared by subcommands.
 */
#include "cli/cli.h"
#include "audit/audit.h"

#include <string.h>
#include <unistd.h>

bool
pv_cli_wants_help(int argc, char **argv, const char *usage)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return true;
		}
	return false;
}

bool
pv_cli_parse(int argc, char **argv, const char *const *names,
    const char **values, size_t nnames, const char *const *flag_names,
    bool *flags, size_t nflags, const char **pos, size_t npos,
    size_t *npos_out)
{
	size_t np = 0, j;
	int i;

	for (j = 0; j < nnames; j++)
		values[j] = NULL;
	for (j = 0; j < nflags; j++)
		flags[j] = false;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool is_known = false;

		if (strncmp(a, "--", 2) != 0) {
			if (np >= npos) {
				fprintf(stderr, "phivault: unexpected argument\n");
				return false;
			}
			pos[np++] = a;
			continue;
		}
		for (j = 0; j < nnames && !is_known; j++)
			if (strcmp(a + 2, names[j]) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "phivault: %s needs a value\n",
					    a);
					return false;
				}
				values[j] = argv[++i];
				is_known = true;
			}
		for (j = 0; j < nflags && !is_known; j++)
			if (strcmp(a + 2, flag_names[j]) == 0) {
				flags[j] = true;
				is_known = true;
			}
		if (!is_known) {
			fprintf(stderr, "phivault: unknown option %s\n", a);
			return false;
		}
	}
	*npos_out = np;
	return true;
}

pv_status
pv_cli_open(const char *dir, struct pv_vault **out)
{
	char err[256];
	pv_status st = pv_vault_open(dir, out, err, sizeof(err));

	if (st != PV_OK)
		fprintf(stderr, "phivault: %s\n", err[0] ? err :
		    pv_status_name(st));
	return st;
}

pv_status
pv_cli_read_line(char *buf, size_t bufsz)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(STDIN_FILENO, &c, 1);

		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= bufsz) {
			sodium_memzero(buf, bufsz);
			return PV_ETOOBIG;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return n == 0 ? PV_EINVAL : PV_OK;
}

void
pv_cli_audit(struct pv_vault *v, const char *action, const char *type,
    const char *id, const char *patient, pv_status result)
{
	struct pv_audit_opts ao = { v->dir, v->sign_sk, v->sign_pk,
		v->sign_key_id, false, 0 };
	struct pv_audit_event ev;
	struct pv_audit *a = NULL;

	memset(&ev, 0, sizeof(ev));
	PV_IGNORE(pv_strlcpy(ev.role, "operator", sizeof(ev.role)));
	PV_IGNORE(pv_strlcpy(ev.action, action, sizeof(ev.action)));
	if (type != NULL)
		PV_IGNORE(pv_strlcpy(ev.type, type, sizeof(ev.type)));
	if (id != NULL)
		PV_IGNORE(pv_strlcpy(ev.id, id, sizeof(ev.id)));
	if (patient != NULL)
		PV_IGNORE(pv_strlcpy(ev.patient, patient, sizeof(ev.patient)));
	PV_IGNORE(pv_strlcpy(ev.src, "local", sizeof(ev.src)));
	pv_random_id(ev.rid);
	ev.outcome = result == PV_OK ? "allowed" : "failed";
	ev.reason = result == PV_OK ? "cli" : pv_status_name(result);
	if (pv_audit_open(&ao, &a) != PV_OK || pv_audit_append(a, &ev) != PV_OK)
		fprintf(stderr, "phivault: WARNING: could not write the audit "
		    "entry for this action\n");
	pv_audit_close(a);
}
