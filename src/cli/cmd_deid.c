/*
 * cmd_deid.c — `phivault deid export DIR [--out FILE] [--format
 * ndjson|csv] [--key-file FILE]`.
 */
#include "cli/cli.h"
#include "deid/deid.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault deid export DIR [--out FILE] [--format ndjson|csv]"
    " [--key-file FILE]\n"
    "\n"
    "Writes every resource de-identified per HIPAA Safe Harbor (45 CFR\n"
    "164.514(b)(2); see docs/DEID.md): identifiers removed, dates cut to\n"
    "the year, ages over 89 folded into 90+, ZIP codes to 3 digits (000\n"
    "for sparse areas), free text dropped, ids replaced by keyed\n"
    "pseudonyms. Patients whose quasi-identifiers ([deid]\n"
    "quasi_identifiers) are shared by fewer than [deid] k patients are\n"
    "suppressed; the file is written only if the result is k-anonymous.\n"
    "\n"
    "  --out FILE       write there (mode 0600) instead of stdout\n"
    "  --format F       ndjson (default) or csv\n"
    "  --key-file FILE  32-byte pseudonym key (raw); pseudonyms are stable\n"
    "                   per key. Default: the vault's own export key.\n";

static pv_status
read_key(const char *path, unsigned char key[PV_KEY_BYTES])
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return PV_EIO;
	n = fread(key, 1, PV_KEY_BYTES, f);
	fclose(f);
	return n == PV_KEY_BYTES ? PV_OK : PV_EINVAL;
}

static void
progress(void *arg, size_t n)
{
	(void)arg;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rde-identified %zu records", n);
}

int
cmd_deid(int argc, char **argv)
{
	static const char *const names[] = { "out", "format", "key-file" };
	const char *o[3], *pos[1];
	unsigned char key[PV_KEY_BYTES];
	struct pv_deid_report rep;
	struct pv_cli_change *c;
	struct pv_vault *v;
	FILE *tmp = NULL, *out = stdout;
	size_t npos, written = 0;
	bool csv = false;
	pv_status st;
	int rc = PV_EXIT_FAIL;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	if (strcmp(argv[1], "export") != 0 ||
	    !pv_cli_parse(argc - 1, argv + 1, names, o, 3, NULL, NULL, 0, pos,
		1, &npos) ||
	    npos != 1 ||
	    (o[1] != NULL && strcmp(o[1], "ndjson") != 0 &&
		strcmp(o[1], "csv") != 0)) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	csv = o[1] != NULL && strcmp(o[1], "csv") == 0;
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (o[2] != NULL) {
		if (read_key(o[2], key) != PV_OK) {
			fprintf(stderr,
			    "phivault: the key file must hold 32 "
			    "bytes\n");
			goto done;
		}
	} else {
		pv_vault_subkey(v, "deidexp", 1, key);
	}
	tmp = tmpfile(); /* unlinked at creation, mode 0600 (umask) */
	if (tmp == NULL ||
	    (o[0] != NULL && (out = fopen(o[0], "wx")) == NULL)) {
		fprintf(stderr,
		    "phivault: cannot create the output file (it "
		    "must not exist)\n");
		goto done;
	}
	/* Reading every record is audited before it starts. */
	if ((c = pv_cli_begin(v, "deid.export", NULL, NULL, NULL)) == NULL)
		goto done;
	st = pv_deid_export(v, key, csv, tmp, out, &rep, &written, progress,
	    NULL);
	pv_cli_end(c, st);
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	fprintf(stderr,
	    "de-identified export: %zu patients, %zu released in "
	    "%zu groups (smallest %zu), %zu suppressed (k=%lld); %zu records "
	    "written\n",
	    rep.patients, rep.patients_released, rep.groups_released,
	    rep.smallest_released_group, rep.patients_suppressed,
	    (long long)v->cfg.deid_k, written);
	if (st == PV_EDENIED) {
		fprintf(stderr,
		    "phivault: refused: the result would not be "
		    "k-anonymous\n");
		goto done;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: export failed (%s)\n",
		    pv_status_name(st));
		goto done;
	}
	rc = PV_EXIT_OK;
done:
	sodium_memzero(key, sizeof(key));
	if (tmp != NULL)
		fclose(tmp);
	if (out != stdout && out != NULL) {
		fclose(out);
		if (rc != PV_EXIT_OK && o[0] != NULL)
			unlink(o[0]);
	}
	pv_vault_close(v);
	return rc;
}
