/*
 * lifecycle.h — what happens to patient data over time and at its end:
 * retention and purge (retention.c), erasure on request with secure
 * disposal by crypto-shredding, and legal holds (erase.c). The CLI
 * (`phivault purge`, `erase`, `hold`) and the server (the periodic purge
 * job, the admin erasure endpoint) call the same functions.
 *
 * Ownership: struct pv_vault, struct pv_audit and the strings are
 * borrowed for the call; struct pv_purge_report is the caller's, filled
 * in. Nothing returned needs freeing.
 */
#ifndef PV_LIFECYCLE_LIFECYCLE_H
#define PV_LIFECYCLE_LIFECYCLE_H

#include "core/vault.h"

/* ---- erasure and legal holds (erase.c) ---- */

/*
 * Erasure on request (GDPR art. 17): refuses while the patient is under
 * legal hold (PV_EDENIED); otherwise crypto-shreds the patient's data key
 * first (every version, in this database and in every backup, becomes
 * undecryptable), then deletes the patient's rows, care-team entries,
 * blind-index entries and break-glass reasons, and disables patient
 * accounts linked to the id. The audit trail keeps only the random,
 * pseudonymous ids it always had. PV_ENOTFOUND for an unknown patient.
 */
PV_MUST_CHECK pv_status pv_erase_patient(struct pv_vault *v,
    const char *patient);

/* Legal hold: while set, neither erasure nor retention touches the patient. */
PV_MUST_CHECK pv_status pv_hold_set(struct pv_vault *v, const char *patient,
    bool on);

/* ---- retention (retention.c) ---- */

struct pv_audit;

struct pv_purge_report {
	size_t resources_purged; /* every version deleted */
	size_t patients_shredded; /* whole patient: DEK destroyed */
	size_t held_skipped; /* under legal hold */
	size_t examined;
};

/*
 * Applies [retention]: a resource whose last update is older than its
 * type's rule ("*" for all; no rule = kept) is deleted, every version.
 * A patient whose Patient resource and whole compartment have expired is
 * crypto-shredded (pv_erase_patient). Legal holds are skipped. With
 * dry_run nothing changes and the report says what would. Each purge is
 * audited through audit (may be NULL only for dry runs); cb (may be NULL)
 * sees each decision (type, id, patient, what).
 */
PV_MUST_CHECK pv_status pv_retention_purge(struct pv_vault *v,
    struct pv_audit *audit, int64_t now, bool dry_run,
    void (*cb)(void *arg, const char *type, const char *id, const char *patient,
	const char *what),
    void *arg, struct pv_purge_report *rep);

#endif
