/*
 * route_admin.c — admin endpoints: care-team membership.
 *
 * Same functions as `phivault careteam add|remove`; allowed to the admin
 * role by the policy (PV_ACT_ADMIN), audited like every admin change.
 */
#include "http/internal.h"
#include "lifecycle/lifecycle.h"

#include <stdlib.h>
#include <string.h>

struct team_job {
	char user[PV_USERNAME_MAX + 1];
	char patient[PV_PATIENT_ID_MAX + 1];
	bool is_add;
};

static void
careteam_work(struct pv_req *r)
{
	struct team_job *j = r->job;
	pv_status st = j->is_add ? pv_careteam_add(r->srv->vault, j->user,
	    j->patient) : pv_careteam_remove(r->srv->vault, j->user, j->patient);

	if (st == PV_ENOTFOUND)
		pv_reply_error(r, 404, "not-found", j->is_add ?
		    "no such user or patient" : "no such user or membership");
	else if (st == PV_EINVAL)
		pv_reply_error(r, 422, "processing", "care teams take clinicians, "
		    "nurses and service clients, and a valid patient id");
	else if (st != PV_OK)
		pv_reply_error(r, 500, "exception", "care team change failed");
	else
		pv_reply_json(r, 200, json_pack("{s:s}", "status", j->is_add ?
		    "added" : "removed"));
}

static void
careteam(struct pv_req *r, bool add)
{
	const char *user, *patient;
	struct team_job *j;
	json_t *in;

	if ((in = pv_req_json_object(r)) == NULL)
		return;
	user = pv_json_str(in, "user", PV_USERNAME_MAX);
	patient = pv_json_str(in, "patient", PV_PATIENT_ID_MAX);
	pv_req_audit_subject(r, "CareTeam", NULL, patient);
	if (user == NULL || patient == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(in);
		pv_reply_error(r, 400, "invalid",
		    "send {\"user\": NAME, \"patient\": ID}");
		return;
	}
	PV_IGNORE(pv_strlcpy(j->user, user, sizeof(j->user)));
	PV_IGNORE(pv_strlcpy(j->patient, patient, sizeof(j->patient)));
	j->is_add = add;
	r->job = j;
	r->job_free = free;
	json_decref(in);
	if (!pv_http_authorize(r, PV_ACT_ADMIN, "CareTeam", NULL,
	    PV_CLASS_NORMAL, NULL))
		return;
	/* A membership grants access: it is on record before it exists. */
	pv_req_write(r, careteam_work);
}

void
route_admin_careteam_add(struct pv_req *r)
{
	careteam(r, true);
}

void
route_admin_careteam_remove(struct pv_req *r)
{
	careteam(r, false);
}

/* POST /admin/erase {"patient"}: erasure on request (crypto-shredding),
 * audited before the key is destroyed (pv_req_write). */
static void
erase_work(struct pv_req *r)
{
	switch (pv_erase_patient(r->srv->vault, r->ev.patient)) {
	case PV_OK:
		pv_reply_json(r, 200, json_pack("{s:s}", "status",
		    "erased: the patient's data key was destroyed"));
		break;
	case PV_EDENIED:
		pv_req_audit_outcome(r, "denied", "legal_hold");
		pv_reply_error_detail(r, 409, "conflict", "legal_hold",
		    "the patient is under legal hold; erasure is refused");
		break;
	case PV_ENOTFOUND:
		pv_req_audit_outcome(r, "failed", "not_found");
		pv_reply_error(r, 404, "not-found", "no such patient");
		break;
	default:
		pv_reply_error(r, 500, "exception", "erasure failed");
		break;
	}
}

void
route_admin_erase(struct pv_req *r)
{
	const char *patient;
	json_t *in;

	if ((in = pv_req_json_object(r)) == NULL)
		return;
	patient = pv_json_str(in, "patient", PV_PATIENT_ID_MAX);
	if (patient == NULL || !pv_fhir_id_is_valid(patient)) {
		json_decref(in);
		pv_reply_error(r, 400, "invalid", "send {\"patient\": ID}");
		return;
	}
	pv_req_audit_subject(r, "Patient", patient, patient);
	json_decref(in);
	if (!pv_http_authorize(r, PV_ACT_ADMIN, "Patient", NULL,
	    PV_CLASS_NORMAL, NULL))
		return;
	pv_req_write(r, erase_work);
}
