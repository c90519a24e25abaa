/*
 * route_deid.c — GET /deid/export?format=ndjson|csv for the researcher
 * role: the same de-identified export as `phivault deid export`
 * (deid/export.c), built on a worker and streamed from a private
 * temporary file. Pseudonyms use the vault's export key, so they are
 * stable across exports for longitudinal research; they never equal or
 * reveal vault ids.
 */
#include "http/routes.h"
#include "deid/deid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct export_job {
	bool is_csv;
};

static void
export_work(const struct pv_hreq *q, struct pv_reply *p)
{
	bool csv = ((struct export_job *)p->job)->is_csv;
	unsigned char key[PV_KEY_BYTES];
	struct pv_deid_report rep;
	FILE *tmp = tmpfile(), *out = tmpfile();
	size_t written = 0;
	struct stat sb;
	pv_status st = PV_EIO;
	int fd;

	pv_vault_subkey(q->svc->vault, "deidexp", 1, key);
	if (tmp != NULL && out != NULL)
		st = pv_deid_export(q->svc->vault, key, csv, tmp, out, &rep,
		    &written, NULL, NULL);
	sodium_memzero(key, sizeof(key));
	if (tmp != NULL)
		fclose(tmp);
	if (st == PV_EDENIED) {
		pv_note_outcome(p, "denied", "k_anonymity");
		pv_reply_error_detail(p, 409, "too-costly", "k_anonymity",
		    "the export would not be k-anonymous; nothing was "
		    "produced");
	} else if (st != PV_OK || out == NULL || fstat(fileno(out), &sb) != 0 ||
	    (fd = dup(fileno(out))) < 0) {
		pv_reply_error(p, 500, "exception", "the export failed");
	} else {
		lseek(fd, 0, SEEK_SET);
		pv_reply_fd(p, 200,
		    csv ? "text/csv; charset=utf-8" : "application/fhir+ndjson",
		    fd, (uint64_t)sb.st_size);
	}
	if (out != NULL)
		fclose(out);
}

void
route_deid_export(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *fmt = pv_hreq_query(q, "format");

	if (fmt != NULL && strcmp(fmt, "ndjson") != 0 &&
	    strcmp(fmt, "csv") != 0) {
		pv_reply_error(p, 400, "invalid", "format is ndjson or csv");
		return;
	}
	if (!pv_http_authorize(q, p, PV_ACT_EXPORT, NULL, NULL, PV_CLASS_NORMAL,
		NULL))
		return;
	struct export_job *j = malloc(sizeof(*j));

	if (j == NULL) {
		pv_reply_error(p, 503, "transient", "out of memory");
		return;
	}
	j->is_csv = fmt != NULL && strcmp(fmt, "csv") == 0;
	p->job = j;
	p->job_free = free;
	pv_reply_continue(p, PV_NEXT_WORK, export_work);
}
