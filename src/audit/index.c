/*
 * index.c — the in-memory tree state over the audit log, kept up as each
 * durable line is absorbed: the compact Merkle range and the chain (every
 * writer), and with keep_index (the server) every leaf and line offset
 * (proofs, pages), the Merkle subtree cache, and two indexes: for each
 * patient, the list of entries about them (GET /fhir/AuditEvent pages),
 * and the replay nonces of the last hour (the signature verifier's
 * replay cache is reloaded from them at start-up). Lines reach it parsed
 * (entry.h): it reads no line itself except a page's.
 *
 * Guarantees: a page of a patient's entries costs O(page size) whatever
 * its offset — the positions of the page's lines are copied from the
 * index under the tree read lock, which is released before any line is
 * read or parsed, so paging never holds up the audit writer (who needs
 * the lock for writing after every group commit) for longer than that
 * copy. This is safe because a line the index knows of never changes:
 * the log is only ever appended to, and what is cut off (a failed batch,
 * an unsigned tail) was never absorbed. The total is the index's length.
 *
 * Memory: 8 bytes per indexed entry plus a slot per patient ever seen;
 * patient ids are random pseudonyms, so the table's hash (FNV-1a) is not
 * exposed to chosen keys. Only with keep_index (the server).
 */
#include "audit/log_int.h"
#include "common/log.h"
#include "common/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer than the largest replay window plus future skew (config.c). */
#define NONCE_KEEP_SECONDS 3700

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

/*
 * Adds entry seq to the per-patient index and the recent nonces. Caller
 * holds tree_lock for writing.
 */
static pv_status
index_entry(struct pv_audit *a, const struct audit_entry *e, uint64_t seq)
{
	if (e->patient[0] != '\0') {
		struct audit_pindex *pi = pidx_find(a, e->patient, true);

		/* Most patients have few entries: start small (a 1024-slot
		 * start cost ~8 KiB per patient ever seen). */
		if (pi == NULL ||
		    !audit_grow((void **)&pi->seqs, &pi->cap, pi->n + 1,
			sizeof(uint64_t), 8))
			return PV_ENOMEM;
		pi->seqs[pi->n++] = seq;
	}
	if (e->nonce[0] != '\0' && e->ts[0] != '\0') {
		int64_t t = parse_ts_seconds(e->ts);

		if (t >= pv_now() - NONCE_KEEP_SECONDS &&
		    audit_grow((void **)&a->nonces, &a->nonces_cap,
			a->nonces_n + 1, sizeof(struct audit_nonce), 1024)) {
			a->nonces[a->nonces_n].ts = t;
			PV_IGNORE(pv_strlcpy(a->nonces[a->nonces_n].nonce,
			    e->nonce, sizeof(a->nonces[0].nonce)));
			a->nonces_n++;
		}
	}
	return PV_OK;
}

pv_status
audit_absorb(struct pv_audit *a, const char *line, size_t len, off_t offset,
    const struct audit_entry *e)
{
	pv_mhash leaf;
	pv_status st;

	pv_merkle_leaf_hash(line, len, leaf);
	pv_merkle_compact_append(&a->compact, leaf);
	pv_audit_chain_next(a->chain, leaf);
	if (a->keep_index) {
		if (a->size + 1 > a->idx_cap) {
			size_t ncap = a->idx_cap ? a->idx_cap * 2 : 1024;
			pv_mhash *nl;
			off_t *no;

			if (ncap > SIZE_MAX / sizeof(pv_mhash))
				return PV_ENOMEM;
			nl = realloc(a->leaves, ncap * sizeof(pv_mhash));
			if (nl == NULL)
				return PV_ENOMEM;
			a->leaves = nl;
			no = realloc(a->offsets, ncap * sizeof(off_t));
			if (no == NULL)
				return PV_ENOMEM;
			a->offsets = no;
			a->idx_cap = ncap;
		}
		memcpy(a->leaves[a->size], leaf, sizeof(pv_mhash));
		a->offsets[a->size] = offset;
		if ((st = index_entry(a, e, a->size)) != PV_OK)
			return st;
	}
	a->size++;
	a->end = offset + (off_t)len + 1;
	/* Each full chunk of leaves adds its subtree hashes. Out of memory,
	 * the cache stays behind (proofs only cost more) and catches up at
	 * the next chunk. */
	if (a->keep_index &&
	    a->size % ((uint64_t)1 << PV_MERKLE_CACHE_SHIFT) == 0)
		PV_IGNORE(pv_merkle_cache_extend(&a->mcache,
		    (const pv_mhash *)a->leaves, (size_t)a->size));
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

void
audit_tree_reset(struct pv_audit *a)
{
	audit_index_free(a);
	pv_merkle_cache_free(&a->mcache);
	a->size = 0;
	a->end = 0;
	memset(a->chain, 0, sizeof(a->chain));
	pv_merkle_compact_init(&a->compact);
	a->needs_reload = false;
	pv_log(PV_LOG_WARN, "audit_state_rebuilt", NULL, (const char *)NULL);
}

/* Where one line lies in the log (its bytes, newline included). */
struct line_span {
	off_t start;
	size_t len;
};

pv_status
pv_audit_patient_page(struct pv_audit *a, const char *patient, uint64_t offset,
    size_t count, bool (*cb)(void *arg, json_t *entry), void *arg,
    uint64_t *total)
{
	struct line_span *spans = NULL;
	struct audit_pindex *pi;
	char buf[AUDIT_LINE_MAX + 1];
	size_t n = 0, i;
	pv_status st = PV_OK;

	*total = 0;
	if (count > SIZE_MAX / sizeof(*spans))
		return PV_EINVAL;
	pthread_rwlock_rdlock(&a->tree_lock);
	if (!a->keep_index) {
		pthread_rwlock_unlock(&a->tree_lock);
		return PV_EINVAL;
	}
	if ((pi = pidx_find(a, patient, false)) != NULL) {
		*total = pi->n;
		if (offset < pi->n)
			n = pi->n - offset < count ? (size_t)(pi->n - offset)
						   : count;
	}
	if (n > 0 && (spans = malloc(n * sizeof(*spans))) == NULL) {
		pthread_rwlock_unlock(&a->tree_lock);
		return PV_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		uint64_t seq = pi->seqs[offset + i];
		off_t stop = seq + 1 < a->size ? a->offsets[seq + 1] : a->end;

		spans[i].start = a->offsets[seq];
		spans[i].len = (size_t)(stop - spans[i].start);
	}
	pthread_rwlock_unlock(&a->tree_lock);

	/* The lock is released: read and parse only this page's lines. */
	for (i = 0; i < n; i++) {
		struct audit_entry ent;
		json_t *e;
		bool more;

		if (spans[i].len == 0 || spans[i].len > AUDIT_LINE_MAX ||
		    a->m->fn->read(a->m, buf, spans[i].len, spans[i].start) !=
			PV_OK) {
			st = PV_EIO;
			break;
		}
		buf[spans[i].len - 1] = '\0'; /* the newline */
		pv_metric_inc(PV_M_AUDIT_PAGE_LINES);
		if (!audit_entry_parse(buf, &ent, &e)) {
			st = PV_EIO;
			break;
		}
		more = cb(arg, e);
		json_decref(e);
		if (!more)
			break;
	}
	free(spans);
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
