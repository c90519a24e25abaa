/*
 * route_fhir.c — the FHIR REST endpoints: read, vread, create, update,
 * delete, history, compartment search, break-glass, metadata.
 *
 * Every handler has the same shape: parse and validate the request, find
 * the patient the resource belongs to (from the stored row, never from
 * the client, except for a create), ask pv_authz_decide, run the record
 * operation (one transaction), note the subject and reason for the audit
 * entry, reply. The response is released only after the audit entry is
 * durable (server.c). Errors never echo stored data or internals.
 */
#include "http/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FILTERS_MAX 16

/* ---- helpers ---------------------------------------------------------------- */

bool
pv_http_authorize(struct pv_req *r, pv_action action, const char *type,
    const char *patient, pv_data_class cls, int64_t *grant)
{
	struct pv_authz_request rq = { &r->who, action, type, patient, cls,
		pv_now() };
	struct pv_authz_decision d;

	pv_authz_decide(&r->srv->policy, r->srv->vault, &rq, &d);
	if (grant != NULL)
		*grant = d.grant_id;
	if (d.grant_id > 0)
		r->ev.grant = d.grant_id;
	if (!d.is_allowed) {
		pv_metric_inc(PV_M_AUTHZ_DENIED);
		pv_req_audit_outcome(r, "denied", d.reason);
		pv_reply_error_detail(r, 403, "forbidden", d.reason,
		    "you are not allowed to do this for this patient");
		return false;
	}
	pv_req_audit_outcome(r, "allowed", d.reason);
	/* Snooping detection: staff and services reaching many patients. */
	if (patient != NULL && (action == PV_ACT_READ ||
	    action == PV_ACT_SEARCH) && strcmp(r->who.role, "patient") != 0)
		pv_detect_patient_access(r->srv->detect, r->who.user_id, patient,
		    rq.now, r->rid);
	return true;
}

void
pv_http_base(struct pv_req *r, char *out, size_t outsz)
{
	const char *host = pv_req_header(r, MHD_HTTP_HEADER_HOST);
	const char *p;

	if (host != NULL && strlen(host) < 256) {
		for (p = host; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != ':' && *p != '[' && *p != ']')
				break;
		if (*p == '\0' && pv_snprintf(out, outsz, "https://%s", host) ==
		    PV_OK)
			return;
	}
	PV_IGNORE(pv_snprintf(out, outsz, "https://127.0.0.1:%u",
	    r->srv->port));
}

static bool
need_type(struct pv_req *r, const char *type)
{
	if (pv_fhir_type_is_known(type))
		return true;
	pv_reply_error(r, 404, "not-supported",
	    "unknown resource type (see GET /fhir/metadata)");
	return false;
}

/* Maps a record-service status to the reply; true when it was an error. */
static bool
record_error(struct pv_req *r, pv_status st)
{
	switch (st) {
	case PV_OK:
		return false;
	case PV_ENOTFOUND:
		pv_reply_error(r, 404, "not-found", "no such resource");
		break;
	case PV_EGONE:
		pv_reply_error_detail(r, 410, "deleted", "gone",
		    "this resource was deleted or its patient's data erased");
		break;
	case PV_ECONFLICT:
		pv_reply_error_detail(r, 412, "conflict", "version_conflict",
		    "the resource changed: If-Match does not name the current "
		    "version; read it again and retry");
		break;
	case PV_ECRYPTO:
		/* Fail closed and say nothing about the row. */
		pv_metric_inc(PV_M_DECRYPT_FAILURES);
		pv_log(PV_LOG_ERROR, "integrity_failure", r->rid,
		    (const char *)NULL);
		pv_alert(r->srv->alerts, "decrypt_failure", "critical", r->rid,
		    json_pack("{s:s, s:I}", "route", r->route->pattern,
		    "actor", (json_int_t)r->who.user_id));
		pv_reply_error(r, 500, "exception",
		    "the record failed an integrity check");
		break;
	case PV_EBUSY:
		r->retry_after = 1;
		pv_reply_error(r, 503, "transient", "the store is busy; retry");
		break;
	default:
		pv_log(PV_LOG_ERROR, "record_error", r->rid, "status",
		    pv_status_name(st), (const char *)NULL);
		pv_reply_error(r, 500, "exception", "the operation failed");
		break;
	}
	pv_req_audit_outcome(r, r->status >= 500 ? "error" : "failed",
	    pv_status_name(st));
	return true;
}

static void
set_etag(struct pv_req *r, const struct pv_record *rec)
{
	char etag[40], lm[40];
	time_t t = (time_t)rec->updated_at;
	struct tm tm;

	PV_IGNORE(pv_snprintf(etag, sizeof(etag), "W/\"%lld\"",
	    (long long)rec->version));
	pv_reply_header(r, "ETag", etag);
	gmtime_r(&t, &tm);
	if (strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		pv_reply_header(r, "Last-Modified", lm);
}

/* Applies the role's field filters (data minimisation on read). */
static void
filter_for_role(struct pv_req *r, json_t *res, const char *type)
{
	const char *fields[FILTERS_MAX];
	size_t n = pv_authz_filters(&r->srv->policy, r->who.role, type, fields,
	    FILTERS_MAX);

	pv_fhir_remove_fields(res, fields, n);
}

/* Checks the restricted class of an opened resource. */
static bool
may_see(struct pv_req *r, pv_action action, const struct pv_record *rec)
{
	if (rec->res == NULL || pv_fhir_classify(rec->res) == PV_FHIR_NORMAL)
		return true;
	return pv_http_authorize(r, action, rec->type, rec->patient,
	    PV_CLASS_RESTRICTED, NULL);
}

/* W/"3", "3" or 3 -> 3; absent -> 0; malformed -> -1. */
static int64_t
if_match(struct pv_req *r)
{
	const char *h = pv_req_header(r, MHD_HTTP_HEADER_IF_MATCH);
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

/* ---- read / vread ---------------------------------------------------------- */

/* A resource of an erased patient answers 410 before authorization:
 * erasure also removed the care-team links, which would make it a 403. */
static bool
erased(struct pv_req *r, const struct pv_record *meta)
{
	bool gone = false;

	if (!meta->is_deleted || pv_dek_is_shredded(r->srv->vault,
	    meta->patient, &gone) != PV_OK || !gone)
		return false;
	(void)record_error(r, PV_EGONE);
	return true;
}

/*
 * The stored JSON can go out as it is when the role filters no field of
 * this type and the resource has no security labels to check. Stored text
 * is jansson's output, which never escapes a plain ASCII key, so a label
 * always shows as the literal key "security"; a false alarm (the word in
 * a value) only costs the parse.
 */
static bool
needs_parse(struct pv_req *r, const struct pv_record *rec)
{
	const char *fields[FILTERS_MAX];

	return pv_authz_filters(&r->srv->policy, r->who.role, rec->type,
	    fields, FILTERS_MAX) > 0 ||
	    memmem(rec->text, rec->text_len, "\"security\"", 10) != NULL;
}

static void
read_version(struct pv_req *r, int64_t version)
{
	const char *type = r->params[0], *id = r->params[1];
	struct pv_record rec;

	if (!need_type(r, type))
		return;
	pv_req_audit_subject(r, type, id, NULL);
	if (record_error(r, pv_record_fetch(r->srv->vault, type, id, version,
	    &rec)))
		return;
	pv_req_audit_subject(r, type, id, rec.patient);
	if (erased(r, &rec) || !pv_http_authorize(r, PV_ACT_READ, type,
	    rec.patient, PV_CLASS_NORMAL, NULL))
		goto done;
	if (rec.is_deleted) {
		pv_reply_error_detail(r, 410, "deleted", "gone",
		    "this resource was deleted");
		pv_req_audit_outcome(r, "failed", "deleted");
		goto done;
	}
	if (record_error(r, pv_record_unseal(r->srv->vault, &rec, false)))
		goto done;
	if (!needs_parse(r, &rec)) {
		set_etag(r, &rec);
		pv_reply_raw(r, 200, "application/fhir+json", rec.text,
		    rec.text_len);
		rec.text = NULL;	/* the reply owns (and wipes) it */
		goto done;
	}
	if (record_error(r, pv_record_parse(&rec)) ||
	    !may_see(r, PV_ACT_READ, &rec))
		goto done;
	filter_for_role(r, rec.res, type);
	set_etag(r, &rec);
	pv_reply_json(r, 200, json_incref(rec.res));
done:
	pv_record_clear(&rec);
}

void
route_fhir_read(struct pv_req *r)
{
	read_version(r, 0);
}

void
route_fhir_vread(struct pv_req *r)
{
	char *end;
	long long v = strtoll(r->params[2], &end, 10);

	if (*end != '\0' || v <= 0) {
		pv_reply_error(r, 400, "invalid", "the version id is a number");
		return;
	}
	read_version(r, v);
}

/* ---- create ---------------------------------------------------------------- */

/* 201 body: the resource, or an OperationOutcome of warnings when data
 * minimisation dropped fields. */
static void
reply_created(struct pv_req *r, struct pv_record *rec,
    char (*dropped)[PV_FHIR_FIELD_MAX], size_t ndropped)
{
	char loc[256];
	json_t *oo, *issues;
	size_t i;

	PV_IGNORE(pv_snprintf(loc, sizeof(loc), "/fhir/%s/%s/_history/%lld",
	    rec->type, rec->id, (long long)rec->version));
	pv_reply_header(r, "Location", loc);
	set_etag(r, rec);
	if (ndropped == 0) {
		filter_for_role(r, rec->res, rec->type);
		pv_reply_json(r, 201, json_incref(rec->res));
		return;
	}
	issues = json_array();
	for (i = 0; i < ndropped; i++) {
		char msg[200];

		PV_IGNORE(pv_snprintf(msg, sizeof(msg), "%s was not stored "
		    "(data minimisation policy)", dropped[i]));
		json_array_append_new(issues, json_pack("{s:s, s:s, s:s, s:[s]}",
		    "severity", "warning", "code", "informational", "diagnostics",
		    msg, "expression", dropped[i]));
	}
	oo = json_pack("{s:s, s:o}", "resourceType", "OperationOutcome",
	    "issue", issues);
	pv_reply_json(r, 201, oo);
}

/*
 * Writes run on the write batcher (pv_req_write_batched, batch.c): the
 * audit entry of the change is made durable first, then the change is
 * made; a change that then fails leaves a second entry saying so. So no
 * change is ever in the store without its entry in the trail (fail
 * closed on audit loss). Many changes share one audit fsync and one
 * store commit.
 */
struct write_job {
	char type[PV_TYPE_MAX + 1];
	char id[PV_RES_ID_MAX + 1];
	char patient[PV_PATIENT_ID_MAX + 1];
	json_t *res;
	int64_t match;
	int64_t creator;
	char dropped[8][PV_FHIR_FIELD_MAX];
	size_t ndropped;
};

static void
write_job_free(void *p)
{
	struct write_job *j = p;

	if (j == NULL)
		return;
	json_decref(j->res);
	free(j);
}

static struct write_job *
write_job_new(struct pv_req *r, const char *type, const char *id,
    const char *patient, json_t *res)
{
	struct write_job *j = calloc(1, sizeof(*j));

	if (j == NULL || pv_strlcpy(j->type, type, sizeof(j->type)) != PV_OK ||
	    pv_strlcpy(j->id, id, sizeof(j->id)) != PV_OK ||
	    pv_strlcpy(j->patient, patient, sizeof(j->patient)) != PV_OK) {
		free(j);
		json_decref(res);
		pv_reply_error(r, 503, "transient", "out of memory");
		return NULL;
	}
	j->res = res;
	r->job = j;
	r->job_free = write_job_free;
	return j;
}

static void
create_work(struct pv_req *r)
{
	struct write_job *j = r->job;
	struct pv_record rec;

	if (record_error(r, pv_record_create(r->srv->vault, j->type,
	    j->patient, j->id, j->res, j->creator, &rec))) {
		if (r->status == 404)
			pv_reply_error(r, 422, "processing",
			    "the referenced patient does not exist");
		return;
	}
	reply_created(r, &rec, j->dropped, j->ndropped);
	pv_record_clear(&rec);
}

/* Outside the batch's transaction: the new patient's key, committed
 * before the record (see pv_record_prepare_patients). */
static void
create_prepare(struct pv_req *r)
{
	struct write_job *j = r->job;
	const char *ids[1] = { j->patient };

	(void)record_error(r, pv_record_prepare_patients(r->srv->vault, ids,
	    1));
}

void
route_fhir_create(struct pv_req *r)
{
	const char *type = r->params[0], *why;
	char patient[PV_PATIENT_ID_MAX + 1] = "", id[PV_ID_HEX_LEN + 1];
	bool is_patient = strcmp(type, "Patient") == 0;
	struct write_job *j;
	json_t *res;

	if (!need_type(r, type))
		return;
	pv_req_audit_subject(r, type, NULL, NULL);
	if ((res = pv_req_json_object(r)) == NULL)
		return;
	if (pv_fhir_check(res, type, patient, sizeof(patient), &why) != PV_OK) {
		json_decref(res);
		pv_reply_error(r, 400, "invalid", why);
		return;
	}
	pv_req_audit_subject(r, type, NULL, is_patient ? NULL : patient);
	if (!pv_http_authorize(r, PV_ACT_CREATE, type,
	    is_patient ? NULL : patient,
	    pv_fhir_classify(res) == PV_FHIR_RESTRICTED ? PV_CLASS_RESTRICTED :
	    PV_CLASS_NORMAL, NULL)) {
		json_decref(res);
		return;
	}
	/* The id is chosen now so the (write-ahead) audit entry names it. */
	pv_random_id(id);
	if (is_patient)
		memcpy(patient, id, sizeof(id));
	pv_req_audit_subject(r, type, id, patient);
	if ((j = write_job_new(r, type, id, patient, res)) == NULL)
		return;
	j->ndropped = pv_fhir_minimize(res, type,
	    r->srv->vault->cfg.drop_fields, j->dropped, PV_ARRAY_LEN(j->dropped));
	/* "A clinician who creates a Patient joins that patient's care
	 * team" (SPEC.md); so does a service client. */
	if (is_patient && (strcmp(r->who.role, "clinician") == 0 ||
	    strcmp(r->who.role, "service") == 0))
		j->creator = r->who.user_id;
	if (is_patient)
		r->prepare_fn = create_prepare;
	pv_req_write_batched(r, create_work);
}

/* ---- update / delete ------------------------------------------------------- */

static void
update_work(struct pv_req *r)
{
	struct write_job *j = r->job;
	struct pv_record rec;

	if (record_error(r, pv_record_update(r->srv->vault, j->type, j->id,
	    j->match, j->res, &rec)))
		return;
	set_etag(r, &rec);
	if (j->ndropped > 0) {
		reply_created(r, &rec, j->dropped, j->ndropped);
		r->status = 200;
	} else {
		filter_for_role(r, rec.res, j->type);
		pv_reply_json(r, 200, json_incref(rec.res));
	}
	pv_record_clear(&rec);
}

void
route_fhir_update(struct pv_req *r)
{
	const char *type = r->params[0], *id = r->params[1], *why, *bid;
	char patient[PV_PATIENT_ID_MAX + 1] = "";
	struct pv_record cur;
	struct write_job *j;
	pv_data_class cls;
	int64_t match = if_match(r);
	json_t *res;

	if (!need_type(r, type))
		return;
	pv_req_audit_subject(r, type, id, NULL);
	if (match < 0) {
		pv_reply_error(r, 400, "invalid",
		    "If-Match must be an ETag such as W/\"3\"");
		return;
	}
	if ((res = pv_req_json_object(r)) == NULL)
		return;
	bid = json_string_value(json_object_get(res, "id"));
	if (pv_fhir_check(res, type, patient, sizeof(patient), &why) != PV_OK ||
	    bid == NULL || strcmp(bid, id) != 0) {
		/* bid lives in res: decide the message before freeing it. */
		if (bid == NULL || strcmp(bid, id) != 0)
			why = "the body's id must equal the id in the URL";
		json_decref(res);
		pv_reply_error(r, 400, "invalid", why);
		return;
	}
	/* The stored row says whose data this is, not the body. */
	if (record_error(r, pv_record_open(r->srv->vault, type, id, 0, &cur))) {
		json_decref(res);
		return;
	}
	pv_req_audit_subject(r, type, id, cur.patient);
	cls = (cur.res != NULL && pv_fhir_classify(cur.res) ==
	    PV_FHIR_RESTRICTED) || pv_fhir_classify(res) ==
	    PV_FHIR_RESTRICTED ? PV_CLASS_RESTRICTED : PV_CLASS_NORMAL;
	pv_record_clear(&cur);
	if (!pv_http_authorize(r, PV_ACT_UPDATE, type, cur.patient, cls,
	    NULL)) {
		json_decref(res);
		return;
	}
	if (pv_fhir_type_is_compartment(type) &&
	    strcmp(patient, cur.patient) != 0) {
		json_decref(res);
		pv_reply_error(r, 422, "processing",
		    "a resource cannot move to another patient");
		return;
	}
	/* A stale If-Match is answered now, not after an audit entry. */
	if (match > 0 && match != cur.version) {
		json_decref(res);
		record_error(r, PV_ECONFLICT);
		return;
	}
	if ((j = write_job_new(r, type, id, cur.patient, res)) == NULL)
		return;
	j->match = match;
	j->ndropped = pv_fhir_minimize(res, type,
	    r->srv->vault->cfg.drop_fields, j->dropped, PV_ARRAY_LEN(j->dropped));
	pv_req_write_batched(r, update_work);
}

static void
delete_work(struct pv_req *r)
{
	struct write_job *j = r->job;
	struct pv_record rec;
	char *empty;

	if (record_error(r, pv_record_delete(r->srv->vault, j->type, j->id,
	    j->match, &rec)))
		return;
	set_etag(r, &rec);
	empty = strdup("");
	pv_reply_raw(r, 204, NULL, empty, 0);
}

void
route_fhir_delete(struct pv_req *r)
{
	const char *type = r->params[0], *id = r->params[1];
	struct pv_record cur;
	struct write_job *j;
	pv_data_class cls;
	int64_t match = if_match(r);

	if (!need_type(r, type))
		return;
	pv_req_audit_subject(r, type, id, NULL);
	if (match < 0) {
		pv_reply_error(r, 400, "invalid",
		    "If-Match must be an ETag such as W/\"3\"");
		return;
	}
	if (record_error(r, pv_record_open(r->srv->vault, type, id, 0, &cur)))
		return;
	pv_req_audit_subject(r, type, id, cur.patient);
	cls = cur.res != NULL && pv_fhir_classify(cur.res) ==
	    PV_FHIR_RESTRICTED ? PV_CLASS_RESTRICTED : PV_CLASS_NORMAL;
	pv_record_clear(&cur);
	if (!pv_http_authorize(r, PV_ACT_DELETE, type, cur.patient, cls, NULL))
		return;
	if (match > 0 && match != cur.version) {
		record_error(r, PV_ECONFLICT);
		return;
	}
	if ((j = write_job_new(r, type, id, cur.patient, NULL)) == NULL)
		return;
	j->match = match;
	pv_req_write_batched(r, delete_work);
}

/* ---- bundles: history and search ------------------------------------------- */

struct bundle_ctx {
	struct pv_req *r;
	json_t *entries;
	char base[300];
	bool is_history;
	pv_status failure;
	int64_t withheld;
};

static bool
add_entry(void *arg, struct pv_record *rec, pv_status st)
{
	struct bundle_ctx *b = arg;
	char url[512];
	json_t *e;

	if (st != PV_OK) {
		b->failure = st;
		return false;
	}
	if (rec->res != NULL && pv_fhir_classify(rec->res) ==
	    PV_FHIR_RESTRICTED) {
		struct pv_authz_request rq = { &b->r->who, PV_ACT_READ,
			rec->type, rec->patient, PV_CLASS_RESTRICTED, pv_now() };
		struct pv_authz_decision d;

		pv_authz_decide(&b->r->srv->policy, b->r->srv->vault, &rq, &d);
		if (!d.is_allowed) {
			b->withheld++;	/* silently: not even a count leaks */
			return true;
		}
	}
	PV_IGNORE(pv_snprintf(url, sizeof(url), "%s/fhir/%s/%s", b->base,
	    rec->type, rec->id));
	e = json_pack("{s:s}", "fullUrl", url);
	if (rec->res != NULL) {
		filter_for_role(b->r, rec->res, rec->type);
		json_object_set(e, "resource", rec->res);
	}
	if (b->is_history) {
		char ts[32], v[24];

		pv_iso8601(rec->updated_at, ts);
		PV_IGNORE(pv_snprintf(v, sizeof(v), "W/\"%lld\"",
		    (long long)rec->version));
		json_object_set_new(e, "request", json_pack("{s:s, s:s}",
		    "method", rec->is_deleted ? "DELETE" : rec->version == 1 ?
		    "POST" : "PUT", "url", url + strlen(b->base) + 1));
		json_object_set_new(e, "response", json_pack("{s:s, s:s}",
		    "status", rec->is_deleted ? "204" : "200", "etag", v));
		(void)ts;
	} else {
		json_object_set_new(e, "search", json_pack("{s:s}", "mode",
		    "match"));
	}
	json_array_append_new(b->entries, e);
	return true;
}

static json_t *
bundle(const char *type, json_t *entries)
{
	char ts[32];

	pv_iso8601(pv_now(), ts);
	return json_pack("{s:s, s:s, s:s, s:{s:s}, s:o}", "resourceType",
	    "Bundle", "type", type, "id", "", "meta", "lastUpdated", ts,
	    "entry", entries);
}

/* History is a read: a restricted resource (by its latest version) needs
 * what reading it needs, as read and vread do; older restricted versions
 * are withheld entry by entry (add_entry). */
static bool
history_may_see(struct pv_req *r, const char *type, const char *id)
{
	struct pv_record cur;
	bool ok;

	if (record_error(r, pv_record_open(r->srv->vault, type, id, 0, &cur)))
		return false;
	ok = may_see(r, PV_ACT_READ, &cur);
	pv_record_clear(&cur);
	return ok;
}

void
route_fhir_history(struct pv_req *r)
{
	const char *type = r->params[0], *id = r->params[1];
	struct bundle_ctx b = { r, json_array(), "", true, PV_OK, 0 };
	struct pv_record meta;
	char bid[PV_ID_HEX_LEN + 1];
	json_t *out;

	if (!need_type(r, type)) {
		json_decref(b.entries);
		return;
	}
	pv_req_audit_subject(r, type, id, NULL);
	if (record_error(r, pv_record_meta(r->srv->vault, type, id, 0, &meta)) ||
	    (pv_req_audit_subject(r, type, id, meta.patient),
	    erased(r, &meta)) ||
	    !pv_http_authorize(r, PV_ACT_READ, type, meta.patient,
	    PV_CLASS_NORMAL, NULL) || !history_may_see(r, type, id)) {
		json_decref(b.entries);
		return;
	}
	pv_http_base(r, b.base, sizeof(b.base));
	if (record_error(r, pv_record_history(r->srv->vault, type, id,
	    add_entry, &b)) || record_error(r, b.failure)) {
		json_decref(b.entries);
		return;
	}
	out = bundle("history", b.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	json_object_set_new(out, "total", json_integer(
	    (json_int_t)json_array_size(json_object_get(out, "entry"))));
	pv_reply_json(r, 200, out);
}

/* A decimal query argument within [lo, hi]; absent leaves *out alone. */
static bool
query_number(struct pv_req *r, const char *name, int64_t lo, int64_t hi,
    int64_t *out)
{
	const char *v = pv_req_query(r, name);
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
pv_http_paging(struct pv_req *r, int64_t def, int64_t max, int64_t *count,
    int64_t *offset)
{
	*count = def;
	*offset = 0;
	if (!query_number(r, "_count", 1, max, count)) {
		pv_reply_error(r, 400, "invalid", "_count must be between 1 and "
		    "the page limit (see docs/API.md)");
		return false;
	}
	if (!query_number(r, "_offset", 0, 100000000, offset)) {
		pv_reply_error(r, 400, "invalid",
		    "_offset must be a non-negative number");
		return false;
	}
	return true;
}

static void
add_link(json_t *links, const char *rel, const char *base, const char *path,
    const char *query, int64_t count, int64_t offset)
{
	char url[700];

	if (pv_snprintf(url, sizeof(url), "%s%s?%s%s_count=%lld&_offset=%lld",
	    base, path, query, query[0] ? "&" : "", (long long)count,
	    (long long)offset) == PV_OK)
		json_array_append_new(links, json_pack("{s:s, s:s}", "relation",
		    rel, "url", url));
}

/*
 * A paging link: base + path, then "query&" when the search has a query
 * of its own (e.g. "patient=ID"), then _count and _offset.
 */
static void
compartment_search(struct pv_req *r, const char *type, const char *pid,
    const char *path, const char *param)
{
	struct bundle_ctx b = { r, json_array(), "", false, PV_OK, 0 };
	int64_t count, offset;
	bool more = false;
	json_t *out, *links;
	char bid[PV_ID_HEX_LEN + 1], query[PV_PATIENT_ID_MAX + 16] = "";

	pv_req_audit_subject(r, type, NULL, pid);
	if (!pv_http_paging(r, PV_FHIR_PAGE_DEFAULT, PV_FHIR_PAGE_MAX, &count,
	    &offset) ||
	    !pv_http_authorize(r, PV_ACT_SEARCH, type, pid, PV_CLASS_NORMAL,
	    NULL)) {
		json_decref(b.entries);
		return;
	}
	pv_http_base(r, b.base, sizeof(b.base));
	if (strcmp(type, "Patient") == 0) {
		/* A Patient's compartment of type Patient is the Patient. */
		struct pv_record rec;
		pv_status st = pv_record_open(r->srv->vault, "Patient", pid, 0,
		    &rec);

		if (st == PV_OK && !rec.is_deleted && offset == 0)
			add_entry(&b, &rec, PV_OK);
		else if (st != PV_OK && st != PV_ENOTFOUND)
			b.failure = st;
		pv_record_clear(&rec);
	} else if (record_error(r, pv_record_search(r->srv->vault, pid, type,
	    count, offset, add_entry, &b, &more))) {
		json_decref(b.entries);
		return;
	}
	if (record_error(r, b.failure)) {
		json_decref(b.entries);
		return;
	}
	out = bundle("searchset", b.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	links = json_array();
	if (param[0] != '\0')
		PV_IGNORE(pv_snprintf(query, sizeof(query), "%s%s", param, pid));
	add_link(links, "self", b.base, path, query, count, offset);
	if (more)
		add_link(links, "next", b.base, path, query, count,
		    offset + count);
	if (offset > 0)
		add_link(links, "previous", b.base, path, query, count,
		    offset > count ? offset - count : 0);
	json_object_set_new(out, "link", links);
	pv_reply_json(r, 200, out);
}

/*
 * Patient?identifier=system|value: the blind index.
 *
 * Outside review, findings 4 and 8. Every Patient returned is named in an
 * audit entry of its own (the first in the request's entry, the others
 * through pv_req_audit_also), so it shows in that patient's access log,
 * incident reports and snooping detection like a read. And a role whose
 * responses have `identifier` filtered out may not search by it either:
 * matching is itself an oracle (guess values until one matches).
 */
#define PV_IDENT_MATCH_MAX 20

struct ident_ctx {
	struct bundle_ctx b;
	size_t n;
};

static bool
add_patient_match(void *arg, struct pv_record *rec, pv_status st)
{
	struct ident_ctx *c = arg;
	struct pv_req *r = c->b.r;
	struct pv_authz_request rq = { &r->who, PV_ACT_SEARCH, "Patient",
		rec->patient, PV_CLASS_NORMAL, pv_now() };
	struct pv_authz_decision d;

	if (st != PV_OK) {
		c->b.failure = st;
		return false;
	}
	pv_authz_decide(&r->srv->policy, r->srv->vault, &rq, &d);
	if (!d.is_allowed)
		return true;	/* only patients this caller may see */
	if (c->n >= PV_IDENT_MATCH_MAX) {
		c->b.failure = PV_ETOOBIG;
		return false;
	}
	if (c->n == 0) {
		pv_req_audit_subject(r, "Patient", rec->id, rec->patient);
		r->ev.grant = d.grant_id;
	} else if (!pv_req_audit_also(r, "Patient", rec->id, rec->patient,
	    d.grant_id)) {
		c->b.failure = PV_ENOMEM;
		return false;
	}
	c->n++;
	if (strcmp(r->who.role, "patient") != 0)
		pv_detect_patient_access(r->srv->detect, r->who.user_id,
		    rec->patient, rq.now, r->rid);
	return add_entry(&c->b, rec, st);
}

/* True when the caller's role sees Patient.identifier in responses. */
static bool
may_see_identifier(struct pv_req *r)
{
	const char *fields[PV_POLICY_FILTERS_MAX];
	size_t i, n = pv_authz_filters(&r->srv->policy, r->who.role, "Patient",
	    fields, PV_ARRAY_LEN(fields));

	for (i = 0; i < n; i++)
		if (strcmp(fields[i], "identifier") == 0)
			return false;
	return true;
}

static void
identifier_search(struct pv_req *r, const char *token)
{
	struct ident_ctx c = { { r, json_array(), "", false, PV_OK, 0 }, 0 };
	char bid[PV_ID_HEX_LEN + 1];
	json_t *out;
	pv_status st;

	pv_req_audit_subject(r, "Patient", NULL, NULL);
	pv_http_base(r, c.b.base, sizeof(c.b.base));
	if (strlen(token) > 256 || !pv_utf8_is_valid(token, strlen(token))) {
		json_decref(c.b.entries);
		pv_reply_error(r, 400, "invalid", "identifier is too long");
		return;
	}
	if (!may_see_identifier(r)) {
		json_decref(c.b.entries);
		pv_metric_inc(PV_M_AUTHZ_DENIED);
		pv_req_audit_outcome(r, "denied", "identifier_filtered");
		pv_reply_error_detail(r, 403, "forbidden", "identifier_filtered",
		    "your role does not see patient identifiers, so it may not "
		    "search by them");
		return;
	}
	st = pv_record_find_identifier(r->srv->vault, token, add_patient_match,
	    &c);
	if (st == PV_OK && c.b.failure == PV_ETOOBIG) {
		json_decref(c.b.entries);
		pv_reply_error(r, 400, "too-costly", "more than 20 patients "
		    "match this identifier; search with system|value");
		return;
	}
	if (record_error(r, st) || record_error(r, c.b.failure)) {
		json_decref(c.b.entries);
		return;
	}
	pv_req_audit_outcome(r, "allowed", c.n > 0 ?
	    "identifier_match" : "identifier_no_match");
	out = bundle("searchset", c.b.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	pv_reply_json(r, 200, out);
}

/* patient=X, patient=Patient/X, subject=Patient/X */
static const char *
patient_param(struct pv_req *r)
{
	const char *p = pv_req_query(r, "patient");

	if (p == NULL) {
		p = pv_req_query(r, "subject");
		if (p != NULL && strncmp(p, "Patient/", 8) != 0)
			return "";
	}
	if (p != NULL && strncmp(p, "Patient/", 8) == 0)
		p += 8;
	return p;
}

void
route_fhir_search(struct pv_req *r)
{
	const char *type = r->params[0], *pid, *ident;
	char path[80];

	if (strcmp(type, "AuditEvent") == 0) {
		route_fhir_audit_events(r);
		return;
	}
	if (!need_type(r, type))
		return;
	pv_req_audit_subject(r, type, NULL, NULL);
	ident = pv_req_query(r, "identifier");
	if (strcmp(type, "Patient") == 0 && ident != NULL) {
		identifier_search(r, ident);
		return;
	}
	pid = patient_param(r);
	if (pid == NULL || !pv_fhir_id_is_valid(pid)) {
		pv_reply_error(r, 400, "invalid",
		    "search a patient's compartment: ?patient={id} (or, for "
		    "Patient, ?identifier=system|value)");
		return;
	}
	PV_IGNORE(pv_snprintf(path, sizeof(path), "/fhir/%s", type));
	compartment_search(r, type, pid, path, "patient=");
}

void
route_fhir_compartment(struct pv_req *r)
{
	const char *pid = r->params[0], *type = r->params[1];
	char path[200];

	if (!need_type(r, type))
		return;
	if (!pv_fhir_id_is_valid(pid)) {
		pv_reply_error(r, 400, "invalid", "invalid patient id");
		return;
	}
	PV_IGNORE(pv_snprintf(path, sizeof(path), "/fhir/Patient/%s/%s", pid,
	    type));
	compartment_search(r, type, pid, path, "");
}

/* ---- break-glass ------------------------------------------------------------- */

/*
 * A grant may be opened only on a Patient that exists and is not deleted
 * (410) or erased (410): a grant on a record that is gone would reach
 * whatever is later written under that id (outside review, finding 12).
 * Sets the reply and returns false otherwise.
 */
static bool
patient_is_open(struct pv_req *r, const char *pid)
{
	struct pv_record meta;
	bool is_deleted;

	if (record_error(r, pv_record_meta(r->srv->vault, "Patient", pid, 0,
	    &meta)))
		return false;
	is_deleted = meta.is_deleted;
	pv_record_clear(&meta);
	if (is_deleted) {
		pv_req_audit_outcome(r, "failed", "patient_deleted");
		pv_reply_error(r, 410, "deleted",
		    "this Patient was deleted; break-glass needs a live record");
		return false;
	}
	return true;
}

static void
break_glass_work(struct pv_req *r)
{
	struct write_job *j = r->job;
	const char *reason = json_string_value(json_object_get(j->res,
	    "reason"));
	struct pv_grant g;
	char ts[32];
	pv_status st;

	/* Checked again here, after the intent entry: the Patient may have
	 * been deleted or erased since the handler looked. */
	if (!patient_is_open(r, j->patient))
		return;
	st = pv_breakglass_open(r->srv->vault, &r->who, j->patient, reason,
	    r->ev.grant, &g);
	if (st == PV_EINVAL) {
		pv_req_audit_outcome(r, "failed", "bad_reason");
		pv_reply_error(r, 400, "invalid",
		    "reason must be 1-500 characters of text");
		return;
	}
	if (st == PV_ECONFLICT) {	/* role, permissions or active changed */
		pv_req_audit_outcome(r, "denied", "account_changed");
		pv_reply_error_detail(r, 401, "login", "invalid_token",
		    "your account changed while this request was made; log in "
		    "again");
		return;
	}
	if (record_error(r, st))
		return;
	pv_metric_inc(PV_M_BREAK_GLASS);
	pv_alert(r->srv->alerts, "break_glass", "high", r->rid,
	    json_pack("{s:I, s:I, s:I}", "actor", (json_int_t)r->who.user_id,
	    "grant", (json_int_t)g.id, "expires_at", (json_int_t)g.expires_at));
	pv_iso8601(g.expires_at, ts);
	pv_reply_json(r, 201, json_pack("{s:I, s:s, s:s}", "grant",
	    (json_int_t)g.id, "patient", j->patient, "expires_at", ts));
}

void
route_fhir_break_glass(struct pv_req *r)
{
	const char *pid = r->params[0], *reason;
	struct write_job *j;
	json_t *in;

	pv_req_audit_subject(r, "Patient", pid, pid);
	if ((in = pv_req_json_object(r)) == NULL)
		return;
	reason = pv_json_str(in, "reason", PV_BREAK_GLASS_REASON_MAX * 4);
	if (reason == NULL ||
	    pv_utf8_word_chars(reason) < PV_BREAK_GLASS_REASON_MIN_WORD) {
		json_decref(in);
		pv_req_audit_outcome(r, "failed", "no_reason");
		pv_reply_error_detail(r, 400, "required", "reason_required",
		    "break-glass needs a \"reason\" with at least 3 letters "
		    "or digits");
		return;
	}
	if (!patient_is_open(r, pid) || !pv_http_authorize(r,
	    PV_ACT_BREAK_GLASS, "Patient", pid, PV_CLASS_NORMAL, NULL)) {
		json_decref(in);
		return;
	}
	pv_req_audit_outcome(r, "allowed", "break_glass_opened");
	r->ev.grant = pv_breakglass_new_id();
	if ((j = write_job_new(r, "Patient", pid, pid, in)) == NULL)
		return;
	pv_req_write(r, break_glass_work);
}

/* ---- metadata ---------------------------------------------------------------- */

json_t *
pv_http_capability_statement(void)
{
	static const char *const interactions[] = { "read", "vread", "update",
		"delete", "history-instance", "create", "search-type" };
	json_t *resources = json_array(), *security, *rest;
	size_t i, k;
	char ts[32];

	for (i = 0; pv_fhir_types[i] != NULL; i++) {
		json_t *inter = json_array(), *params = json_array();

		for (k = 0; k < PV_ARRAY_LEN(interactions); k++)
			json_array_append_new(inter, json_pack("{s:s}", "code",
			    interactions[k]));
		if (strcmp(pv_fhir_types[i], "Patient") == 0)
			json_array_append_new(params, json_pack("{s:s, s:s}",
			    "name", "identifier", "type", "token"));
		json_array_append_new(params, json_pack("{s:s, s:s}", "name",
		    "patient", "type", "reference"));
		json_array_append_new(params, json_pack("{s:s, s:s}", "name",
		    "_count", "type", "number"));
		json_array_append_new(resources, json_pack(
		    "{s:s, s:o, s:s, s:b, s:o}", "type", pv_fhir_types[i],
		    "interaction", inter, "versioning", "versioned",
		    "readHistory", 1, "searchParam", params));
	}
	json_array_append_new(resources, json_pack(
	    "{s:s, s:[{s:s}], s:[{s:s, s:s}]}", "type", "AuditEvent",
	    "interaction", "code", "search-type", "searchParam", "name",
	    "patient", "type", "reference"));
	security = json_pack("{s:[{s:[{s:s, s:s}]}], s:s}", "service", "coding",
	    "system",
	    "http://terminology.hl7.org/CodeSystem/restful-security-service",
	    "code", "OAuth", "description",
	    "Bearer session tokens (POST /auth/login, TOTP MFA) or RFC 9421 "
	    "HTTP Message Signatures (Ed25519) for service clients");
	rest = json_pack("{s:s, s:o, s:o}", "mode", "server", "security",
	    security, "resource", resources);
	pv_iso8601(pv_now(), ts);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:[s], s:[o]}",
	    "resourceType", "CapabilityStatement", "status", "active", "date",
	    ts, "kind", "instance", "fhirVersion", "4.0.1", "software", "name",
	    "phivault", "version", "0.1.0", "format", "json", "rest", rest);
}

void
route_fhir_metadata(struct pv_req *r)
{
	pv_reply_json(r, 200, json_incref(r->srv->capability));
}
