/*
 * route_fhir_common.c — what the FHIR handlers share: the authorization
 * step every route takes (pv_authz_decide, snooping detection, the audit
 * outcome), the mapping of record-service statuses to replies, ETags,
 * per-role field filters, paging and Bundles.
 *
 * Guarantees: a denial is a 403 with the policy's reason in the audit
 * entry and nothing else; an integrity failure (PV_ECRYPTO) is a 500
 * that names nothing about the row, raises a critical alert and counts;
 * a Bundle entry the caller may not see (restricted class) is withheld
 * silently.
 */
#include "http/route_fhir.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ----------------------------------------------------------------
 */

bool
pv_http_authorize(const struct pv_hreq *q, struct pv_reply *p, pv_action action,
    const char *type, const char *patient, pv_data_class cls, int64_t *grant)
{
	struct pv_authz_request rq = { q->who, action, type, patient, cls,
		pv_now() };
	struct pv_authz_decision d;

	pv_authz_decide(q->svc->policy, q->svc->vault, &rq, &d);
	if (grant != NULL)
		*grant = d.grant_id;
	if (d.grant_id > 0)
		pv_note_grant(p, d.grant_id);
	if (!d.is_allowed) {
		pv_metric_inc(PV_M_AUTHZ_DENIED);
		pv_note_outcome(p, "denied", d.reason);
		pv_reply_error_detail(p, 403, "forbidden", d.reason,
		    "you are not allowed to do this for this patient");
		return false;
	}
	pv_note_outcome(p, "allowed", d.reason);
	/* Snooping detection: staff and services reaching many patients. */
	if (patient != NULL &&
	    (action == PV_ACT_READ || action == PV_ACT_SEARCH) &&
	    strcmp(q->who->role, "patient") != 0)
		pv_detect_patient_access(q->svc->detect, q->who->user_id,
		    patient, rq.now, q->rid);
	return true;
}

void
pv_http_base(const struct pv_hreq *q, char *out, size_t outsz)
{
	const char *host = pv_hreq_header(q, "Host");
	const char *p;

	if (host != NULL && strlen(host) < 256) {
		for (p = host; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != ':' && *p != '[' && *p != ']')
				break;
		if (*p == '\0' &&
		    pv_snprintf(out, outsz, "https://%s", host) == PV_OK)
			return;
	}
	PV_IGNORE(
	    pv_snprintf(out, outsz, "https://127.0.0.1:%u", q->svc->port));
}

bool
pv_route_need_type(struct pv_reply *p, const char *type)
{
	if (pv_fhir_type_is_known(type))
		return true;
	pv_reply_error(p, 404, "not-supported",
	    "unknown resource type (see GET /fhir/metadata)");
	return false;
}

/* Maps a record-service status to the reply; true when it was an error. */
bool
pv_route_record_error(const struct pv_hreq *q, struct pv_reply *p, pv_status st)
{
	switch (st) {
	case PV_OK:
		return false;
	case PV_ENOTFOUND:
		pv_reply_error(p, 404, "not-found", "no such resource");
		break;
	case PV_EGONE:
		pv_reply_error_detail(p, 410, "deleted", "gone",
		    "this resource was deleted or its patient's data erased");
		break;
	case PV_ECONFLICT:
		pv_reply_error_detail(p, 412, "conflict", "version_conflict",
		    "the resource changed: If-Match does not name the current "
		    "version; read it again and retry");
		break;
	case PV_ECRYPTO:
		/* Fail closed and say nothing about the row. */
		pv_metric_inc(PV_M_DECRYPT_FAILURES);
		pv_log(PV_LOG_ERROR, "integrity_failure", q->rid,
		    (const char *)NULL);
		pv_alert(q->svc->alerts, "decrypt_failure", "critical", q->rid,
		    json_pack("{s:s, s:I}", "route", q->route, "actor",
			(json_int_t)q->who->user_id));
		pv_reply_error(p, 500, "exception",
		    "the record failed an integrity check");
		break;
	case PV_EBUSY:
		p->retry_after = 1;
		pv_reply_error(p, 503, "transient", "the store is busy; retry");
		break;
	case PV_EUNAVAIL: /* e.g. the database connection was lost */
		p->retry_after = 2;
		pv_reply_error_detail(p, 503, "transient", "store_unavailable",
		    "the store did not answer; retry");
		break;
	default:
		pv_log(PV_LOG_ERROR, "record_error", q->rid, "status",
		    pv_status_name(st), (const char *)NULL);
		pv_reply_error(p, 500, "exception", "the operation failed");
		break;
	}
	pv_note_outcome(p, p->status >= 500 ? "error" : "failed",
	    pv_status_name(st));
	return true;
}

void
pv_route_set_etag(struct pv_reply *p, const struct pv_record *rec)
{
	char etag[40], lm[40];
	time_t t = (time_t)rec->updated_at;
	struct tm tm;

	PV_IGNORE(pv_snprintf(etag, sizeof(etag), "W/\"%lld\"",
	    (long long)rec->version));
	pv_reply_header(p, "ETag", etag);
	gmtime_r(&t, &tm);
	if (strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		pv_reply_header(p, "Last-Modified", lm);
}

/* Applies the role's field filters (data minimisation on read). */
void
pv_route_filter(const struct pv_hreq *q, json_t *res, const char *type)
{
	const char *fields[PV_FILTERS_MAX];
	size_t n = pv_authz_filters(q->svc->policy, q->who->role, type, fields,
	    PV_FILTERS_MAX);

	pv_fhir_remove_fields(res, fields, n);
}

/* Checks the restricted class of an opened resource. */
bool
pv_route_may_see(const struct pv_hreq *q, struct pv_reply *p, pv_action action,
    const struct pv_record *rec)
{
	if (rec->res == NULL || pv_fhir_classify(rec->res) == PV_FHIR_NORMAL)
		return true;
	return pv_http_authorize(q, p, action, rec->type, rec->patient,
	    PV_CLASS_RESTRICTED, NULL);
}

/* W/"3", "3" or 3 -> 3; absent -> 0; malformed -> -1. */
int64_t
pv_route_if_match(const struct pv_hreq *q)
{
	const char *h = pv_hreq_header(q, "If-Match");
	char *end;
	long long v;

	if (h == NULL)
		return 0;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	if (*h == '"')
		h++;
	errno = 0;
	v = strtoll(h, &end, 10);
	if (errno != 0 || end == h || v <= 0 || (*end != '"' && *end != '\0'))
		return -1;
	return v;
}

/* ---- read / vread ----------------------------------------------------------
 */

/* A resource of an erased patient answers 410 before authorization:
 * erasure also removed the care-team links, which would make it a 403. */
bool
pv_route_erased(const struct pv_hreq *q, struct pv_reply *p,
    const struct pv_record *meta)
{
	bool gone = false;

	if (!meta->is_deleted ||
	    pv_patient_is_erased(q->svc->vault, meta->patient, &gone) !=
		PV_OK ||
	    !gone)
		return false;
	(void)pv_route_record_error(q, p, PV_EGONE);
	return true;
}

bool
pv_bundle_add(void *arg, struct pv_record *rec, pv_status st)
{
	struct pv_bundle_ctx *b = arg;
	char url[512];
	json_t *e;

	if (st != PV_OK) {
		b->failure = st;
		return false;
	}
	if (rec->res != NULL &&
	    pv_fhir_classify(rec->res) == PV_FHIR_RESTRICTED) {
		struct pv_authz_request rq = { b->q->who, PV_ACT_READ,
			rec->type, rec->patient, PV_CLASS_RESTRICTED,
			pv_now() };
		struct pv_authz_decision d;

		pv_authz_decide(b->q->svc->policy, b->q->svc->vault, &rq, &d);
		if (!d.is_allowed) {
			b->withheld++; /* silently: not even a count leaks */
			return true;
		}
	}
	PV_IGNORE(pv_snprintf(url, sizeof(url), "%s/fhir/%s/%s", b->base,
	    rec->type, rec->id));
	e = json_pack("{s:s}", "fullUrl", url);
	if (rec->res != NULL) {
		pv_route_filter(b->q, rec->res, rec->type);
		json_object_set(e, "resource", rec->res);
	}
	if (b->is_history) {
		char ts[32], v[24];

		pv_iso8601(rec->updated_at, ts);
		PV_IGNORE(pv_snprintf(v, sizeof(v), "W/\"%lld\"",
		    (long long)rec->version));
		json_object_set_new(e, "request",
		    json_pack("{s:s, s:s}", "method",
			rec->is_deleted         ? "DELETE"
			    : rec->version == 1 ? "POST"
						: "PUT",
			"url", url + strlen(b->base) + 1));
		json_object_set_new(e, "response",
		    json_pack("{s:s, s:s}", "status",
			rec->is_deleted ? "204" : "200", "etag", v));
		(void)ts;
	} else {
		json_object_set_new(e, "search",
		    json_pack("{s:s}", "mode", "match"));
	}
	json_array_append_new(b->entries, e);
	return true;
}

json_t *
pv_bundle_new(const char *type, json_t *entries)
{
	char ts[32];

	pv_iso8601(pv_now(), ts);
	return json_pack("{s:s, s:s, s:s, s:{s:s}, s:o}", "resourceType",
	    "Bundle", "type", type, "id", "", "meta", "lastUpdated", ts,
	    "entry", entries);
}

/* A decimal query argument within [lo, hi]; absent leaves *out alone. */
static bool
query_number(const struct pv_hreq *q, const char *name, int64_t lo, int64_t hi,
    int64_t *out)
{
	const char *v = pv_hreq_query(q, name);
	char *end;
	long long n;

	if (v == NULL)
		return true;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

bool
pv_http_paging(const struct pv_hreq *q, struct pv_reply *p, int64_t def,
    int64_t max, int64_t *count, int64_t *offset)
{
	*count = def;
	*offset = 0;
	if (!query_number(q, "_count", 1, max, count)) {
		pv_reply_error(p, 400, "invalid",
		    "_count must be between 1 and "
		    "the page limit (see docs/API.md)");
		return false;
	}
	if (!query_number(q, "_offset", 0, 100000000, offset)) {
		pv_reply_error(p, 400, "invalid",
		    "_offset must be a non-negative number");
		return false;
	}
	return true;
}
