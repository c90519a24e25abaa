/*
 * route_audit.c — GET /audit/checkpoint, /audit/proof/inclusion,
 * /audit/proof/consistency, and GET /fhir/AuditEvent?patient=.
 *
 * Checkpoints and proofs expose no PHI (hashes, sizes, a signature) and
 * are what lets a client or an auditor hold the vault to its log: any
 * authenticated principal may fetch them. Proofs cost O(n) hashing, so
 * they are bounded by the rate limiter like any request.
 *
 * AuditEvent: who accessed a patient's data, when and why, as FHIR
 * AuditEvent resources. Allowed (policy) for the patient themself and for
 * auditors; agent.who names the actor's username, resolved at read time
 * (the log itself stores only account ids). A break-glass reason is
 * decrypted from the grant, under the patient's key.
 */
#include "http/routes.h"
#include "report/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool
query_u64(const struct pv_hreq *q, const char *name, uint64_t *out)
{
	const char *v = pv_hreq_query(q, name);
	char *end;

	if (v == NULL || *v == '\0' || *v == '-')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0';
}

void
route_audit_checkpoint(const struct pv_hreq *q, struct pv_reply *p)
{
	struct pv_checkpoint c;

	if (pv_audit_checkpoint(q->svc->audit, &c) != PV_OK) {
		pv_reply_error(p, 500, "exception", "cannot sign a checkpoint");
		return;
	}
	pv_reply_json(p, 200, pv_checkpoint_json(&c));
}

static void
reply_proof(struct pv_reply *p, pv_status st,
    unsigned char (*proof)[PV_AUDIT_HASH_BYTES], size_t n, json_t *extra)
{
	json_t *arr;
	size_t i;

	if (st != PV_OK) {
		json_decref(extra);
		pv_reply_error(p, 400, "invalid",
		    "indexes out of range for the "
		    "log (see GET /audit/checkpoint for its size)");
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		char b64[64];

		if (pv_b64_encode(proof[i], PV_AUDIT_HASH_BYTES, b64,
			sizeof(b64)) == PV_OK)
			json_array_append_new(arr, json_string(b64));
	}
	json_object_set_new(extra, "proof", arr);
	pv_reply_json(p, 200, extra);
}

/*
 * Both proof endpoints: two unsigned query arguments, a proof function,
 * the proof as base64 hashes. Rate-limited per address: a proof re-hashes
 * up to the whole log.
 */
static void
proof(const struct pv_hreq *q, struct pv_reply *p, const char *a_name,
    const char *b_name,
    pv_status (*fn)(struct pv_audit *, uint64_t, uint64_t,
	unsigned char (*)[PV_AUDIT_HASH_BYTES], size_t *))
{
	unsigned char pf[PV_AUDIT_MAX_PROOF][PV_AUDIT_HASH_BYTES];
	uint64_t a, b;
	size_t n = 0;
	char usage[64];
	pv_status st;

	if (pv_http_rate_limited(q, p, "proof", q->ip,
		(double)q->svc->vault->cfg.rl_proof_rate,
		(double)q->svc->vault->cfg.rl_proof_burst))
		return;
	if (!query_u64(q, a_name, &a) || !query_u64(q, b_name, &b)) {
		PV_IGNORE(pv_snprintf(usage, sizeof(usage), "send ?%s=N&%s=M",
		    a_name, b_name));
		pv_reply_error(p, 400, "invalid", usage);
		return;
	}
	st = fn(q->svc->audit, a, b, pf, &n);
	reply_proof(p, st, pf, n,
	    json_pack("{s:I, s:I}", a_name, (json_int_t)a, b_name,
		(json_int_t)b));
}

void
route_audit_inclusion(const struct pv_hreq *q, struct pv_reply *p)
{
	proof(q, p, "index", "size", pv_audit_inclusion);
}

void
route_audit_consistency(const struct pv_hreq *q, struct pv_reply *p)
{
	proof(q, p, "from", "to", pv_audit_consistency);
}

/* ---- AuditEvent
 * ---------------------------------------------------------------- */

struct ae_ctx {
	const struct pv_hreq *q;
	json_t *entries;
	struct pv_auditevent_cache cache;
};

static bool
add_event(void *arg, json_t *e)
{
	struct ae_ctx *c = arg;
	json_t *ev;

	ev = pv_auditevent_from_entry(c->q->svc->vault, &c->cache, e);
	if (ev != NULL)
		json_array_append_new(c->entries,
		    json_pack("{s:o, s:{s:s}}", "resource", ev, "search",
			"mode", "match"));
	return true;
}

/*
 * The page comes from the audit log's per-patient index: only the page's
 * own lines are read and parsed, off the tree lock (pv_audit_patient_page),
 * so a deep _offset costs what the first page does; the total is the
 * index's length.
 */
void
route_fhir_audit_events(const struct pv_hreq *q, struct pv_reply *p)
{
	struct ae_ctx c;
	const char *pid = pv_hreq_query(q, "patient");
	char bid[PV_ID_HEX_LEN + 1];
	int64_t count, skip;
	uint64_t total;
	json_t *out;

	memset(&c, 0, sizeof(c));
	c.q = q;
	if (pid != NULL && strncmp(pid, "Patient/", 8) == 0)
		pid += 8;
	pv_note_subject(p, "AuditEvent", NULL, pid);
	if (pid == NULL || !pv_fhir_id_is_valid(pid)) {
		pv_reply_error(p, 400, "invalid",
		    "send ?patient={id}: whose access log to show");
		return;
	}
	if (!pv_http_paging(q, p, PV_FHIR_PAGE_DEFAULT * 2,
		PV_FHIR_PAGE_MAX * 5, &count, &skip))
		return;
	if (!pv_http_authorize(q, p, PV_ACT_SEARCH, "AuditEvent", pid,
		PV_CLASS_NORMAL, NULL))
		return;
	c.entries = json_array();
	if (pv_audit_patient_page(q->svc->audit, pid, (uint64_t)skip,
		(size_t)count, add_event, &c, &total) != PV_OK) {
		json_decref(c.entries);
		pv_reply_error(p, 500, "exception",
		    "cannot read the audit trail");
		return;
	}
	out =
	    json_pack("{s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type",
		"searchset", "total", (json_int_t)total, "entry", c.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	if ((uint64_t)skip + (uint64_t)count < total) {
		char base[300], url[600];

		pv_http_base(q, base, sizeof(base));
		if (pv_snprintf(url, sizeof(url),
			"%s/fhir/AuditEvent?patient=%s"
			"&_count=%lld&_offset=%lld",
			base, pid, (long long)count,
			(long long)(skip + count)) == PV_OK)
			json_object_set_new(out, "link",
			    json_pack("[{s:s, s:s}]", "relation", "next", "url",
				url));
	}
	pv_reply_json(p, 200, out);
}
