/*
 * export.c — the de-identified export (`deid export`, GET /deid/export).
 *
 * Two passes over the encrypted store through the one record service:
 * pass 1 feeds every Patient to the Safe Harbor engine (deid.c), which
 * computes quasi-identifier groups and suppresses patients in groups
 * smaller than k; pass 2 de-identifies every resource of the released
 * patients. Output goes to a private temporary file first; only when
 * pv_deid_check_k confirms what was written is k-anonymous is it copied
 * to the destination — a violating export is never produced.
 */
#include "deid/deid.h"
#include "fhir/fhir.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pass_ctx {
	struct pv_vault *v;
	struct pv_deid *d;
	FILE *f;
	bool is_csv;
	size_t written, seen;
	void (*progress)(void *, size_t);
	void *arg;
	pv_status st;
};

/* Pass 1 scans metadata and opens only the Patients. */
static bool
pass_patients(void *arg, struct pv_record *rec, pv_status st)
{
	struct pass_ctx *c = arg;
	struct pv_record full;

	(void)st;
	if (rec->is_deleted || strcmp(rec->type, "Patient") != 0)
		return true;
	st = pv_record_open(c->v, "Patient", rec->id, 0, &full);
	if (st == PV_EGONE)
		return true; /* erased: not exported */
	if (st != PV_OK) {
		c->st = st;
		return false;
	}
	c->st = pv_deid_add_patient(c->d, full.patient, full.res);
	pv_record_clear(&full);
	return c->st == PV_OK;
}

static bool
pass_resources(void *arg, struct pv_record *rec, pv_status st)
{
	struct pass_ctx *c = arg;
	json_t *out = NULL;
	bool suppressed = false;
	char *line = NULL;

	if (c->progress != NULL && (++c->seen & 0x3fff) == 0)
		c->progress(c->arg, c->seen);
	if (st == PV_EGONE || rec->is_deleted ||
	    !pv_deid_type_is_supported(rec->type))
		return true;
	if (st != PV_OK) {
		c->st = st;
		return false;
	}
	c->st =
	    pv_deid_resource(c->d, rec->patient, rec->res, &out, &suppressed);
	if (c->st == PV_ENOTFOUND) { /* compartment of a deleted Patient */
		c->st = PV_OK;
		return true;
	}
	if (c->st != PV_OK || suppressed)
		return c->st == PV_OK;
	if (c->is_csv)
		c->st = pv_deid_csv_row(out, &line);
	else if ((line = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		c->st = PV_ENOMEM;
	json_decref(out);
	if (c->st != PV_OK)
		return false;
	if (fputs(line, c->f) == EOF ||
	    (!c->is_csv && fputc('\n', c->f) == EOF))
		c->st = PV_EIO;
	free(line);
	c->written++;
	return c->st == PV_OK;
}

static int64_t
this_year(void)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	return tm.tm_year + 1900;
}

pv_status
pv_deid_export(struct pv_vault *v, const unsigned char key[PV_KEY_BYTES],
    bool csv, FILE *tmp, FILE *out, struct pv_deid_report *rep, size_t *written,
    void (*progress)(void *arg, size_t records), void *arg)
{
	struct pass_ctx c = { v, NULL, tmp, csv, 0, 0, progress, arg, PV_OK };
	char buf[65536];
	size_t n;
	pv_status st;

	*written = 0;
	if ((st = pv_deid_new(key, v->cfg.deid_k, v->cfg.deid_quasi,
		 this_year(), &c.d)) != PV_OK)
		return st;
	if ((st = pv_record_scan(v, false, pass_patients, &c)) != PV_OK ||
	    (st = c.st) != PV_OK ||
	    (st = pv_deid_finish_groups(c.d, rep)) != PV_OK)
		goto done;
	if (csv && fputs(pv_deid_csv_header(), tmp) == EOF) {
		st = PV_EIO;
		goto done;
	}
	if ((st = pv_record_scan(v, true, pass_resources, &c)) != PV_OK ||
	    (st = c.st) != PV_OK)
		goto done;
	/* The gate: what was written must be k-anonymous, or nothing is. */
	if ((st = pv_deid_check_k(c.d)) != PV_OK)
		goto done;
	if (fflush(tmp) != 0 || fseek(tmp, 0, SEEK_SET) != 0) {
		st = PV_EIO;
		goto done;
	}
	while ((n = fread(buf, 1, sizeof(buf), tmp)) > 0)
		if (fwrite(buf, 1, n, out) != n) {
			st = PV_EIO;
			goto done;
		}
	if (fflush(out) != 0)
		st = PV_EIO;
	*written = c.written;
done:
	pv_deid_free(c.d);
	return st;
}
