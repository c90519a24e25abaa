/*
 * common.c — argument parsing and stdin handling shared by subcommands.
 */
#include "cli/cli.h"
#include "audit/writeahead.h"

#include <stdlib.h>
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
    bool *flags, size_t nflags, const char **pos, size_t npos, size_t *npos_out)
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
				fprintf(stderr,
				    "phivault: unexpected argument\n");
				return false;
			}
			pos[np++] = a;
			continue;
		}
		for (j = 0; j < nnames && !is_known; j++)
			if (strcmp(a + 2, names[j]) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr,
					    "phivault: %s needs a value\n", a);
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

bool
pv_cli_abs_path(const char *flag, const char *in, char *out, size_t outsz)
{
	char *real = realpath(in, NULL);
	bool ok = real != NULL && pv_strlcpy(out, real, outsz) == PV_OK;

	free(real);
	if (!ok)
		fprintf(stderr, "phivault: %s: no such file\n", flag);
	return ok;
}

pv_status
pv_cli_open(const char *dir, struct pv_vault **out)
{
	char err[256];
	pv_status st = pv_vault_open(dir, out, err, sizeof(err));

	if (st != PV_OK)
		fprintf(stderr, "phivault: %s\n",
		    err[0] ? err : pv_status_name(st));
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

struct pv_cli_change {
	struct pv_audit *a;
	struct pv_audit_event ev;
};

void
pv_cli_event(struct pv_audit_event *ev, const char *action, const char *type,
    const char *id, const char *patient)
{
	memset(ev, 0, sizeof(*ev));
	PV_IGNORE(pv_strlcpy(ev->role, "operator", sizeof(ev->role)));
	PV_IGNORE(pv_strlcpy(ev->action, action, sizeof(ev->action)));
	if (type != NULL)
		PV_IGNORE(pv_strlcpy(ev->type, type, sizeof(ev->type)));
	if (id != NULL && pv_fhir_id_is_valid(id))
		PV_IGNORE(pv_strlcpy(ev->id, id, sizeof(ev->id)));
	if (patient != NULL && pv_fhir_id_is_valid(patient))
		PV_IGNORE(
		    pv_strlcpy(ev->patient, patient, sizeof(ev->patient)));
	PV_IGNORE(pv_strlcpy(ev->src, "local", sizeof(ev->src)));
	pv_random_id(ev->rid);
	ev->outcome = "allowed";
	ev->reason = "cli";
}

struct pv_cli_change *
pv_cli_begin(struct pv_vault *v, const char *action, const char *type,
    const char *id, const char *patient)
{
	struct pv_audit_opts ao = PV_VAULT_AUDIT_OPTS(v, false, 0);
	struct pv_cli_change *c = calloc(1, sizeof(*c));
	struct pv_audit_event *ev;

	if (c == NULL)
		return NULL;
	ev = &c->ev;
	pv_cli_event(ev, action, type, id, patient);
	/* Write-ahead (audit/writeahead.h): the intent is durable before
	 * the caller changes anything. */
	if (pv_audit_open(&ao, &c->a) != PV_OK ||
	    pv_audit_intent(c->a, ev) != PV_OK) {
		fprintf(stderr,
		    "phivault: the audit trail cannot be written; "
		    "nothing was changed\n");
		pv_audit_close(c->a);
		free(c);
		return NULL;
	}
	return c;
}

void
pv_cli_end(struct pv_cli_change *c, pv_status result)
{
	if (c == NULL)
		return;
	if (result != PV_OK &&
	    pv_audit_followup(c->a, &c->ev, "failed", pv_status_name(result)) !=
		PV_OK)
		fprintf(stderr,
		    "phivault: WARNING: could not record the "
		    "failure in the audit trail\n");
	pv_audit_close(c->a);
	free(c);
}

void
pv_cli_user_ref(struct pv_vault *v, const char *name, char out[24])
{
	struct pv_user u;

	out[0] = '\0';
	if (pv_store_user_get_by_name(v->store, name, &u) == PV_OK)
		PV_IGNORE(pv_snprintf(out, 24, "%lld", (long long)u.id));
}
