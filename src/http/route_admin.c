/*
 * route_admin.c — admin endpoints: care-team membership.
 *
 * Same functions as `phivault careteam add|remove`; allowed to the admin
 * role by the policy (PV_ACT_ADMIN), audited like every admin change.
 */
#include "http/routes.h"
#include "lifecycle/lifecycle.h"

#include <stdlib.h>
#include <string.h>

struct team_job {
	char user[PV_USERNAME_MAX + 1];
	char patient[PV_PATIENT_ID_MAX + 1];
	bool is_add;
};

static void
careteam_work(const struct pv_hreq *q, struct pv_reply *p)
{
	struct team_job *j = p->job;
	pv_status st = j->is_add
	    ? pv_careteam_add(q->svc->vault, j->user, j->patient)
	    : pv_careteam_remove(q->svc->vault, j->user, j->patient);

	if (st == PV_ENOTFOUND)
		pv_reply_error(p, 404, "not-found",
		    j->is_add ? "no such user or patient"
			      : "no such user or membership");
	else if (st == PV_EINVAL)
		pv_reply_error(p, 422, "processing",
		    "care teams take clinicians, "
		    "nurses and service clients, and a valid patient id");
	else if (st != PV_OK)
		pv_reply_error(p, 500, "exception", "care team change failed");
	else
		pv_reply_json(p, 200,
		    json_pack("{s:s}", "status",
			j->is_add ? "added" : "removed"));
}

static void
careteam(const struct pv_hreq *q, struct pv_reply *p, bool add)
{
	const char *user, *patient;
	struct team_job *j;
	json_t *in;

	if ((in = pv_hreq_json_object(q, p)) == NULL)
		return;
	user = pv_json_str(in, "user", PV_USERNAME_MAX);
	patient = pv_json_str(in, "patient", PV_PATIENT_ID_MAX);
	pv_note_subject(p, "CareTeam", NULL, patient);
	if (user == NULL || patient == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(in);
		pv_reply_error(p, 400, "invalid",
		    "send {\"user\": NAME, \"patient\": ID}");
		return;
	}
	PV_IGNORE(pv_strlcpy(j->user, user, sizeof(j->user)));
	PV_IGNORE(pv_strlcpy(j->patient, patient, sizeof(j->patient)));
	j->is_add = add;
	p->job = j;
	p->job_free = free;
	json_decref(in);
	if (!pv_http_authorize(q, p, PV_ACT_ADMIN, "CareTeam", NULL,
		PV_CLASS_NORMAL, NULL))
		return;
	/* A membership grants access: it is on record before it exists. */
	pv_reply_continue(p, PV_NEXT_WRITE, careteam_work);
}

void
route_admin_careteam_add(const struct pv_hreq *q, struct pv_reply *p)
{
	careteam(q, p, true);
}

void
route_admin_careteam_remove(const struct pv_hreq *q, struct pv_reply *p)
{
	careteam(q, p, false);
}

/* POST /admin/erase {"patient"}: erasure on request (crypto-shredding),
 * audited before the key is destroyed (PV_NEXT_WRITE). */
static void
erase_work(const struct pv_hreq *q, struct pv_reply *p)
{
	switch (pv_erase_patient(q->svc->vault, p->note.patient)) {
	case PV_OK:
		pv_reply_json(p, 200,
		    json_pack("{s:s}", "status",
			"erased: the patient's data key was destroyed"));
		break;
	case PV_EDENIED:
		pv_note_outcome(p, "denied", "legal_hold");
		pv_reply_error_detail(p, 409, "conflict", "legal_hold",
		    "the patient is under legal hold; erasure is refused");
		break;
	case PV_ENOTFOUND:
		pv_note_outcome(p, "failed", "not_found");
		pv_reply_error(p, 404, "not-found", "no such patient");
		break;
	default:
		pv_reply_error(p, 500, "exception", "erasure failed");
		break;
	}
}

void
route_admin_erase(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *patient;
	json_t *in;

	if ((in = pv_hreq_json_object(q, p)) == NULL)
		return;
	patient = pv_json_str(in, "patient", PV_PATIENT_ID_MAX);
	if (patient == NULL || !pv_fhir_id_is_valid(patient)) {
		json_decref(in);
		pv_reply_error(p, 400, "invalid", "send {\"patient\": ID}");
		return;
	}
	pv_note_subject(p, "Patient", patient, patient);
	json_decref(in);
	if (!pv_http_authorize(q, p, PV_ACT_ADMIN, "Patient", NULL,
		PV_CLASS_NORMAL, NULL))
		return;
	pv_reply_continue(p, PV_NEXT_WRITE, erase_work);
}
