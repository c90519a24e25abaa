/*
 * careteam.c — care-team membership, the relationship that lets a
 * clinician, nurse or patient/-scoped service reach a patient.
 *
 * Shared by `phivault careteam add|remove` and POST/DELETE /admin/careteam
 * so both validate the same way: the user must exist and be staff (or a
 * service client), the patient id must be a valid FHIR id.
 */
#include "authz/authz.h"

#include <string.h>

static pv_status
member_user(struct pv_vault *v, const char *user, const char *patient,
    struct pv_user *u)
{
	pv_status st;

	if (!pv_fhir_id_is_valid(patient) || !pv_username_is_valid(user))
		return PV_EINVAL;
	if ((st = pv_store_user_get_by_name(v->store, user, u)) != PV_OK)
		return st;
	/* Care teams are for staff and services; patients have their link. */
	if (!pv_role_may_join_careteam(u->role))
		return PV_EINVAL;
	return PV_OK;
}

pv_status
pv_careteam_add(struct pv_vault *v, const char *user, const char *patient)
{
	struct pv_user u;
	pv_status st;

	/* A care team is for an existing, not deleted, Patient. */
	if ((st = member_user(v, user, patient, &u)) != PV_OK ||
	    (st = pv_patient_require_live(v, patient)) != PV_OK)
		return st == PV_EGONE ? PV_ENOTFOUND : st;
	return pv_store_careteam_add(v->store, u.id, patient);
}

pv_status
pv_careteam_remove(struct pv_vault *v, const char *user, const char *patient)
{
	struct pv_user u;
	pv_status st;

	if ((st = member_user(v, user, patient, &u)) != PV_OK)
		return st;
	return pv_store_careteam_remove(v->store, u.id, patient);
}
