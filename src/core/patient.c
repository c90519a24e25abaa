/*
 * patient.c — the one rule for whether a patient is there: its Patient
 * row (live or a deleted tombstone) and its key (present, or shredded by
 * an erasure, which leaves a tombstone in the key store).
 *
 * Guarantees: a patient with no row whose key was shredded is ERASED,
 * never NONE; a Patient row is LIVE or DELETED without a key lookup, so an
 * erased patient's tombstone (erasure leaves one) is DELETED, as the
 * record service, care teams and break-glass treated it before issue 14
 * (a write for it is 404/422, break-glass 410 "patient_deleted"; reads
 * answer 410 through pv_patient_is_erased); a restored backup may hold
 * live rows of a shredded key: sealing or opening them then answers
 * PV_EGONE; errors reading either store are returned, never read as
 * "there".
 */
#include "core/vault.h"

pv_status
pv_patient_is_erased(struct pv_vault *v, const char *patient, bool *out)
{
	/* Erasure shreds the patient's key and leaves its tombstone. */
	return pv_dek_is_shredded(v, patient, out);
}

pv_status
pv_patient_state(struct pv_vault *v, const char *patient,
    enum pv_patient_state *out)
{
	struct pv_resource row;
	bool is_shredded = false, is_deleted;
	pv_status st;

	st = pv_store_resource_get(v->store, "Patient", patient, 0, &row);
	if (st != PV_OK && st != PV_ENOTFOUND)
		return st;
	is_deleted = st == PV_OK && row.is_deleted;
	if (st == PV_OK)
		pv_resource_clear(&row);
	if (st == PV_ENOTFOUND) {
		pv_status sst = pv_patient_is_erased(v, patient, &is_shredded);

		if (sst != PV_OK)
			return sst;
	}
	if (is_shredded)
		*out = PV_PATIENT_ERASED;
	else if (st == PV_ENOTFOUND)
		*out = PV_PATIENT_NONE;
	else
		*out = is_deleted ? PV_PATIENT_DELETED : PV_PATIENT_LIVE;
	return PV_OK;
}

pv_status
pv_patient_require_live(struct pv_vault *v, const char *patient)
{
	enum pv_patient_state ps;
	pv_status st;

	if ((st = pv_patient_state(v, patient, &ps)) != PV_OK)
		return st;
	switch (ps) {
	case PV_PATIENT_LIVE:
		return PV_OK;
	case PV_PATIENT_ERASED:
		return PV_EGONE;
	case PV_PATIENT_NONE:
	case PV_PATIENT_DELETED:
		break;
	}
	return PV_ENOTFOUND;
}
