/*
 * route_fhir_write.c — POST /fhir/{type}, PUT and DELETE /fhir/{type}/{id}.
 *
 * The handler validates the body, finds the patient (the stored row for
 * an update or delete, the body for a create), authorizes, answers a
 * stale If-Match at once, applies data minimisation, and hands the change
 * to the write service (pv_reply_apply: the batcher calls pv_record_apply
 * with this request's audit entry as the change's intent). The finish
 * step builds the reply from the change's status.
 */
#include "http/route_fhir.h"

#include <stdlib.h>
#include <string.h>

/* ---- create ----------------------------------------------------------------
 */

/* 201 body: the resource, or an OperationOutcome of warnings when data
 * minimisation dropped fields. */
static void
reply_created(const struct pv_hreq *q, struct pv_reply *p,
    struct pv_record *rec, char (*dropped)[PV_FHIR_FIELD_MAX], size_t ndropped)
{
	char loc[256];
	json_t *oo, *issues;
	size_t i;

	PV_IGNORE(pv_snprintf(loc, sizeof(loc), "/fhir/%s/%s/_history/%lld",
	    rec->type, rec->id, (long long)rec->version));
	pv_reply_header(p, "Location", loc);
	pv_route_set_etag(p, rec);
	if (ndropped == 0) {
		pv_route_filter(q, rec->res, rec->type);
		pv_reply_json(p, 201, json_incref(rec->res));
		return;
	}
	issues = json_array();
	for (i = 0; i < ndropped; i++) {
		char msg[200];

		PV_IGNORE(pv_snprintf(msg, sizeof(msg),
		    "%s was not stored "
		    "(data minimisation policy)",
		    dropped[i]));
		json_array_append_new(issues,
		    json_pack("{s:s, s:s, s:s, s:[s]}", "severity", "warning",
			"code", "informational", "diagnostics", msg,
			"expression", dropped[i]));
	}
	oo = json_pack("{s:s, s:o}", "resourceType", "OperationOutcome",
	    "issue", issues);
	pv_reply_json(p, 201, oo);
}

/*
 * The change goes to the write service (pv_reply_apply: the batcher calls
 * pv_record_apply, whose intent is this request's audit entry): no
 * change is ever in the store without its entry in the trail, many
 * changes share one audit fsync and one store commit, and a change that
 * fails after its intent leaves a follow-up entry. The job owns the body
 * and remembers what data minimisation dropped.
 */
struct write_job {
	json_t *res; /* owned; NULL for a delete */
	char dropped[8][PV_FHIR_FIELD_MAX];
	size_t ndropped;
};

static void
write_job_free(void *arg)
{
	struct write_job *j = arg;

	if (j == NULL)
		return;
	json_decref(j->res);
	free(j);
}

/* Fills p->change for (kind, type, id, patient) and a job owning res;
 * false (503, res released) out of memory. */
static bool
write_begin(struct pv_reply *p, enum pv_change_kind kind, const char *type,
    const char *id, const char *patient, json_t *res)
{
	struct pv_change *c = &p->change;
	struct write_job *j = calloc(1, sizeof(*j));

	memset(c, 0, sizeof(*c));
	if (j == NULL || pv_strlcpy(c->type, type, sizeof(c->type)) != PV_OK ||
	    pv_strlcpy(c->id, id, sizeof(c->id)) != PV_OK ||
	    pv_strlcpy(c->patient, patient, sizeof(c->patient)) != PV_OK) {
		free(j);
		json_decref(res);
		pv_reply_error(p, 503, "transient", "out of memory");
		return false;
	}
	c->kind = kind;
	c->res = res;
	j->res = res;
	p->job = j;
	p->job_free = write_job_free;
	return true;
}

/* After pv_record_apply, on the batcher's thread: the reply. */
static void
create_finish(const struct pv_hreq *q, struct pv_reply *p)
{
	struct write_job *j = p->job;
	pv_status st = p->change.status;

	if (pv_route_record_error(q, p, st)) {
		if (st == PV_ENOTFOUND)
			pv_reply_error(p, 422, "processing",
			    "the referenced patient does not exist");
		return;
	}
	reply_created(q, p, &p->change.rec, j->dropped, j->ndropped);
}

void
route_fhir_create(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *type = q->params[0], *why;
	char patient[PV_PATIENT_ID_MAX + 1] = "", id[PV_ID_HEX_LEN + 1];
	bool is_patient = strcmp(type, "Patient") == 0;
	struct write_job *j;
	json_t *res;

	if (!pv_route_need_type(p, type))
		return;
	pv_note_subject(p, type, NULL, NULL);
	if ((res = pv_hreq_json_object(q, p)) == NULL)
		return;
	if (pv_fhir_check(res, type, patient, sizeof(patient), &why) != PV_OK) {
		json_decref(res);
		pv_reply_error(p, 400, "invalid", why);
		return;
	}
	pv_note_subject(p, type, NULL, is_patient ? NULL : patient);
	if (!pv_http_authorize(q, p, PV_ACT_CREATE, type,
		is_patient ? NULL : patient,
		pv_fhir_classify(res) == PV_FHIR_RESTRICTED
		    ? PV_CLASS_RESTRICTED
		    : PV_CLASS_NORMAL,
		NULL)) {
		json_decref(res);
		return;
	}
	/* The id is chosen now so the (write-ahead) audit entry names it. */
	pv_random_id(id);
	if (is_patient)
		memcpy(patient, id, sizeof(id));
	pv_note_subject(p, type, id, patient);
	if (!write_begin(p, PV_CHANGE_CREATE, type, id, patient, res))
		return;
	j = p->job;
	j->ndropped =
	    pv_fhir_minimize(res, type, q->svc->vault->cfg.drop_fields,
		j->dropped, PV_ARRAY_LEN(j->dropped));
	/* "A clinician who creates a Patient joins that patient's care
	 * team" (SPEC.md); so does a service client. */
	if (is_patient && pv_role_joins_on_create(q->who->role))
		p->change.creator_id = q->who->user_id;
	pv_reply_apply(p, create_finish);
}

/* ---- update / delete -------------------------------------------------------
 */

static void
update_finish(const struct pv_hreq *q, struct pv_reply *p)
{
	struct write_job *j = p->job;
	struct pv_record *rec = &p->change.rec;

	if (pv_route_record_error(q, p, p->change.status))
		return;
	pv_route_set_etag(p, rec);
	if (j->ndropped > 0) {
		reply_created(q, p, rec, j->dropped, j->ndropped);
		p->status = 200;
	} else {
		pv_route_filter(q, rec->res, rec->type);
		pv_reply_json(p, 200, json_incref(rec->res));
	}
}

void
route_fhir_update(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *type = q->params[0], *id = q->params[1], *why, *bid;
	char patient[PV_PATIENT_ID_MAX + 1] = "";
	struct pv_record cur;
	struct write_job *j;
	pv_data_class cls;
	int64_t match = pv_route_if_match(q);
	json_t *res;

	if (!pv_route_need_type(p, type))
		return;
	pv_note_subject(p, type, id, NULL);
	if (match < 0) {
		pv_reply_error(p, 400, "invalid",
		    "If-Match must be an ETag such as W/\"3\"");
		return;
	}
	if ((res = pv_hreq_json_object(q, p)) == NULL)
		return;
	bid = json_string_value(json_object_get(res, "id"));
	if (pv_fhir_check(res, type, patient, sizeof(patient), &why) != PV_OK ||
	    bid == NULL || strcmp(bid, id) != 0) {
		/* bid lives in res: decide the message before freeing it. */
		if (bid == NULL || strcmp(bid, id) != 0)
			why = "the body's id must equal the id in the URL";
		json_decref(res);
		pv_reply_error(p, 400, "invalid", why);
		return;
	}
	/* The stored row says whose data this is, not the body. */
	if (pv_route_record_error(q, p,
		pv_record_open(q->svc->vault, type, id, 0, &cur))) {
		json_decref(res);
		return;
	}
	pv_note_subject(p, type, id, cur.patient);
	cls = (cur.res != NULL &&
		  pv_fhir_classify(cur.res) == PV_FHIR_RESTRICTED) ||
		pv_fhir_classify(res) == PV_FHIR_RESTRICTED
	    ? PV_CLASS_RESTRICTED
	    : PV_CLASS_NORMAL;
	pv_record_clear(&cur);
	if (!pv_http_authorize(q, p, PV_ACT_UPDATE, type, cur.patient, cls,
		NULL)) {
		json_decref(res);
		return;
	}
	if (pv_fhir_type_is_compartment(type) &&
	    strcmp(patient, cur.patient) != 0) {
		json_decref(res);
		pv_reply_error(p, 422, "processing",
		    "a resource cannot move to another patient");
		return;
	}
	/* A stale If-Match is answered now, not after an audit entry. */
	if (match > 0 && match != cur.version) {
		json_decref(res);
		pv_route_record_error(q, p, PV_ECONFLICT);
		return;
	}
	if (!write_begin(p, PV_CHANGE_UPDATE, type, id, cur.patient, res))
		return;
	j = p->job;
	p->change.if_match = match;
	j->ndropped =
	    pv_fhir_minimize(res, type, q->svc->vault->cfg.drop_fields,
		j->dropped, PV_ARRAY_LEN(j->dropped));
	pv_reply_apply(p, update_finish);
}

static void
delete_finish(const struct pv_hreq *q, struct pv_reply *p)
{
	char *empty;

	if (pv_route_record_error(q, p, p->change.status))
		return;
	pv_route_set_etag(p, &p->change.rec);
	empty = strdup("");
	pv_reply_raw(p, 204, NULL, empty, 0);
}

void
route_fhir_delete(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *type = q->params[0], *id = q->params[1];
	struct pv_record cur;
	pv_data_class cls;
	int64_t match = pv_route_if_match(q);

	if (!pv_route_need_type(p, type))
		return;
	pv_note_subject(p, type, id, NULL);
	if (match < 0) {
		pv_reply_error(p, 400, "invalid",
		    "If-Match must be an ETag such as W/\"3\"");
		return;
	}
	if (pv_route_record_error(q, p,
		pv_record_open(q->svc->vault, type, id, 0, &cur)))
		return;
	pv_note_subject(p, type, id, cur.patient);
	cls = cur.res != NULL && pv_fhir_classify(cur.res) == PV_FHIR_RESTRICTED
	    ? PV_CLASS_RESTRICTED
	    : PV_CLASS_NORMAL;
	pv_record_clear(&cur);
	if (!pv_http_authorize(q, p, PV_ACT_DELETE, type, cur.patient, cls,
		NULL))
		return;
	if (match > 0 && match != cur.version) {
		pv_route_record_error(q, p, PV_ECONFLICT);
		return;
	}
	if (!write_begin(p, PV_CHANGE_DELETE, type, id, cur.patient, NULL))
		return;
	p->change.if_match = match;
	pv_reply_apply(p, delete_finish);
}
