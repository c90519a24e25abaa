/*
 * erase.c — erasure on request and legal holds.
 *
 * Secure disposal (seed: "Secure data disposal procedures"): the data key
 * is destroyed before anything else, so from that instant every version
 * of every resource of the patient — here, in the WAL, in any backup of
 * phivault.db — is ciphertext without a key. The rows are deleted after
 * (SQLite secure_delete overwrites freed pages) and the WALs truncated.
 *
 * Idempotent: a key is shredded once. Erasing a patient whose tombstone
 * is already in keys.db does not shred again (which would flush every
 * thread's key cache for nothing); it only repeats step 2, which finishes
 * an erasure that stopped between the key and the rows.
 */
#include "lifecycle/lifecycle.h"
#include "auth/auth.h"

#include <string.h>

struct unlink_ctx {
	struct pv_vault *v;
	const char *patient;
	pv_status st;
};

static void
disable_linked(void *arg, const struct pv_user *u)
{
	struct unlink_ctx *c = arg;

	if (strcmp(u->role, "patient") == 0 &&
	    strcmp(u->patient_id, c->patient) == 0 &&
	    pv_account_disable_by_id(c->v, u->id) != PV_OK)
		c->st = PV_EIO;
}

pv_status
pv_erase_patient(struct pv_vault *v, const char *patient)
{
	struct pv_store *s = v->store;
	struct unlink_ctx c = { v, patient, PV_OK };
	struct pv_resource row;
	bool held = false, gone = false, is_missing;
	pv_status st;

	if (!pv_fhir_id_is_valid(patient))
		return PV_EINVAL;
	if ((st = pv_store_hold_has(s, patient, &held)) != PV_OK)
		return st;
	if (held)
		return PV_EDENIED;
	st = pv_store_resource_get(s, "Patient", patient, 0, &row);
	if (st == PV_OK)
		pv_resource_clear(&row);
	else if (st != PV_ENOTFOUND)
		return st;
	is_missing = st == PV_ENOTFOUND;
	if ((st = pv_patient_is_erased(v, patient, &gone)) != PV_OK)
		return st;
	if (is_missing) /* already erased: idempotent */
		return gone ? PV_OK : PV_ENOTFOUND;
	/* 1. The key, once: from here on the data is unrecoverable. */
	if (!gone && (st = pv_dek_shred(v, patient)) != PV_OK)
		return st;
	/* 2. The rows and every link to the patient. */
	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	if ((st = pv_store_patient_purge(s, patient)) != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	if ((st = pv_store_commit(s)) != PV_OK)
		return st;
	if ((st = pv_store_user_list(s, disable_linked, &c)) != PV_OK)
		return st;
	PV_IGNORE(pv_store_compact(s));
	return c.st;
}

pv_status
pv_hold_set(struct pv_vault *v, const char *patient, bool on)
{
	struct pv_resource row;
	pv_status st;

	if (!pv_fhir_id_is_valid(patient))
		return PV_EINVAL;
	if (on) { /* a hold names a patient that exists */
		st = pv_store_resource_get(v->store, "Patient", patient, 0,
		    &row);
		if (st != PV_OK)
			return st;
		pv_resource_clear(&row);
	}
	return pv_store_hold_set(v->store, patient, on);
}
