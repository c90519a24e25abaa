/*
 * index.c — the server's in-memory indexes over the audit log: for each
 * patient, the list of entries about them (GET /fhir/AuditEvent), and
 * the replay nonces of the last hour (the signature verifier's replay
 * cache is reloaded from them at start-up).
 *
 * Memory: 8 bytes per indexed entry plus a slot per patient ever seen;
 * patient ids are random pseudonyms, so the table's hash (FNV-1a) is not
 * exposed to chosen keys. Only with keep_index (the server).
 */
#include "audit/log_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NONCE_KEEP_SECONDS 3600

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct audit_pindex *
pidx_find(struct pv_audit *a, const char *patient, bool create)
{
	size_t i, mask;

	if (a->pidx_cap == 0 || (create && (a->pidx_n + 1) * 2 > a->pidx_cap)) {
		if (!create)
			return NULL;
		size_t ncap = a->pidx_cap ? a->pidx_cap * 2 : 1024, j;
		struct audit_pindex *n = calloc(ncap, sizeof(*n));

		if (n == NULL)
			return NULL;
		for (j = 0; j < a->pidx_cap; j++) {
			struct audit_pindex *o = &a->pidx[j];
			size_t k;

			if (o->patient == NULL)
				continue;
			for (k = str_hash(o->patient) & (ncap - 1);
			    n[k].patient != NULL; k = (k + 1) & (ncap - 1))
				;
			n[k] = *o;
		}
		free(a->pidx);
		a->pidx = n;
		a->pidx_cap = ncap;
	}
	mask = a->pidx_cap - 1;
	for (i = str_hash(patient) & mask; a->pidx[i].patient != NULL;
	    i = (i + 1) & mask)
		if (strcmp(a->pidx[i].patient, patient) == 0)
			return &a->pidx[i];
	if (!create)
		return NULL;
	a->pidx[i].patient = strdup(patient);
	if (a->pidx[i].patient == NULL)
		return NULL;
	a->pidx_n++;
	return &a->pidx[i];
}

bool
audit_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return true;
	ncap = *cap ? *cap : first;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / elem)
		return false;
	np = realloc(*p, ncap * elem);
	if (np == NULL)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

static int64_t
parse_ts_seconds(const char *iso)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

pv_status
audit_index_line(struct pv_audit *a, const char *line, uint64_t seq)
{
	char patient[72], nonce[72], ts[40];

	if (audit_field_str(line, "patient", patient, sizeof(patient)) &&
	    patient[0] != '\0') {
		struct audit_pindex *pi = pidx_find(a, patient, true);

		/* Most patients have few entries: start small (a 1024-slot
		 * start cost ~8 KiB per patient ever seen). */
		if (pi == NULL || !audit_grow((void **)&pi->seqs, &pi->cap,
		    pi->n + 1, sizeof(uint64_t), 8))
			return PV_ENOMEM;
		pi->seqs[pi->n++] = seq;
	}
	if (audit_field_str(line, "nonce", nonce, sizeof(nonce)) &&
	    nonce[0] != '\0' && audit_field_str(line, "ts", ts, sizeof(ts))) {
		int64_t t = parse_ts_seconds(ts);

		if (t >= pv_now() - NONCE_KEEP_SECONDS &&
		    audit_grow((void **)&a->nonces, &a->nonces_cap,
		    a->nonces_n + 1, sizeof(struct audit_nonce), 1024)) {
			a->nonces[a->nonces_n].ts = t;
			strcpy(a->nonces[a->nonces_n].nonce, nonce);
			a->nonces_n++;
		}
	}
	return PV_OK;
}

void
audit_index_free(struct pv_audit *a)
{
	size_t i;

	for (i = 0; i < a->pidx_cap; i++) {
		free(a->pidx[i].patient);
		free(a->pidx[i].seqs);
	}
	free(a->pidx);
	free(a->nonces);
	a->pidx = NULL;
	a->nonces = NULL;
	a->pidx_cap = a->pidx_n = a->nonces_n = a->nonces_cap = 0;
}

/* Reads entry seq's line (caller holds tree_lock). */
static json_t *
read_entry(struct pv_audit *a, uint64_t seq)
{
	off_t start = a->offsets[seq];
	off_t stop = seq + 1 < a->size ? a->offsets[seq + 1] : a->end;
	size_t len = (size_t)(stop - start);
	char buf[AUDIT_LINE_MAX + 1];

	if (len == 0 || len > AUDIT_LINE_MAX ||
	    pread(a->fd, buf, len, start) != (ssize_t)len)
		return NULL;
	buf[len - 1] = '\0';	/* the newline */
	return json_loads(buf, 0, NULL);
}

pv_status
pv_audit_for_patient(struct pv_audit *a, const char *patient,
    bool (*cb)(void *arg, json_t *entry), void *arg)
{
	struct audit_pindex *pi;
	pv_status st = PV_OK;
	size_t i;

	pthread_rwlock_rdlock(&a->tree_lock);
	if (!a->keep_index) {
		pthread_rwlock_unlock(&a->tree_lock);
		return PV_EINVAL;
	}
	pi = pidx_find(a, patient, false);
	for (i = 0; pi != NULL && i < pi->n; i++) {
		json_t *e = read_entry(a, pi->seqs[i]);
		bool more;

		if (e == NULL) {
			st = PV_EIO;
			break;
		}
		more = cb(arg, e);
		json_decref(e);
		if (!more)
			break;
	}
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}

void
pv_audit_recent_nonces(struct pv_audit *a, int64_t since,
    void (*cb)(void *arg, int64_t ts, const char *nonce), void *arg)
{
	size_t i;

	pthread_rwlock_rdlock(&a->tree_lock);
	for (i = 0; i < a->nonces_n; i++)
		if (a->nonces[i].ts >= since)
			cb(arg, a->nonces[i].ts, a->nonces[i].nonce);
	pthread_rwlock_unlock(&a->tree_lock);
}
