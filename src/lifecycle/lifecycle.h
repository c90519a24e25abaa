/*
 * lifecycle.h — what happens to data over time and on its way out:
 * AuditEvent views of the trail, de-identified export (deid.h),
 * retention and purge, erasure.
 */
#ifndef PV_LIFECYCLE_LIFECYCLE_H
#define PV_LIFECYCLE_LIFECYCLE_H

#include "core/vault.h"

#include <jansson.h>

/* Per-caller memo of the last actor id -> username lookup. */
struct pv_auditevent_cache {
	int64_t actor;
	char name[PV_USERNAME_MAX + 1];
};

/*
 * Builds a FHIR AuditEvent from one audit entry (borrowed). Returns a
 * new reference the caller decrefs, or NULL for a malformed entry.
 */
json_t *pv_auditevent_from_entry(struct pv_vault *v,
    struct pv_auditevent_cache *c, json_t *entry);

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

/*
 * Access review (seed: "Regular access reviews"): every account with its
 * role, status, care-team size, last activity (login or audited request),
 * the permissions its role grants that it has not used in the last 90
 * days (from the audit trail), whether it is dormant past [authz]
 * dormant_days; and every break-glass grant awaiting review. Returns a
 * new JSON object {"accounts":[...],"break_glass_pending":[...]}.
 * With apply, dormant active accounts are disabled (sessions revoked)
 * and listed under "disabled".
 */
struct pv_policy;
PV_MUST_CHECK pv_status pv_access_review(struct pv_vault *v,
    const struct pv_policy *policy, int64_t now, bool apply, json_t **out);

/*
 * Incident report (breach notification): from the audit trail, every
 * patient whose data actor touched in [since, until] — first and last
 * access, number of allowed accesses, actions used, attempts denied.
 * Returns {"actor","since","until","patients":[...],"entries":N}.
 */
PV_MUST_CHECK pv_status pv_incident_report(struct pv_vault *v, int64_t actor,
    int64_t since, int64_t until, json_t **out);

/* "2026-11-25", "2026-11-25T10:00:00Z" or epoch seconds -> seconds. */
PV_MUST_CHECK pv_status pv_parse_time(const char *s, int64_t *out);

#endif
