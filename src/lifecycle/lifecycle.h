/*
 * lifecycle.h — what happens to data over time and on its way out:
 * AuditEvent views of the trail, de-identified export (deid.h),
 * retention and purge, erasure.
 */
#ifndef PV_LIFECYCLE_LIFECYCLE_H
#define PV_LIFECYCLE_LIFECYCLE_H

#include "core/vault.h"

#include <jansson.h>
#include <stdio.h>

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

/* ---- retention (retention.c) ---- */

struct pv_audit;

struct pv_purge_report {
	size_t resources_purged;	/* every version deleted */
	size_t patients_shredded;	/* whole patient: DEK destroyed */
	size_t held_skipped;		/* under legal hold */
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
    void (*cb)(void *arg, const char *type, const char *id,
    const char *patient, const char *what), void *arg,
    struct pv_purge_report *rep);

/* ---- de-identified export (export.c) ---- */

struct pv_deid_report;

/*
 * Writes every resource, de-identified per HIPAA Safe Harbor with keyed
 * pseudonyms (key: PV_KEY_BYTES), as NDJSON or CSV to out, but only when
 * the released set is k-anonymous over [deid] quasi_identifiers: the
 * export is built in tmp (an open, empty, unlinked-or-private file) and
 * copied to out after the check, so a violating file is never produced.
 */
PV_MUST_CHECK pv_status pv_deid_export(struct pv_vault *v,
    const unsigned char key[PV_KEY_BYTES], bool csv, FILE *tmp, FILE *out,
    struct pv_deid_report *rep, size_t *written,
    void (*progress)(void *arg, size_t records), void *arg);

/* ---- compliance checks (compliance.c) ---- */

/*
 * Automated compliance monitoring (seed): one pass over the vault's
 * controls — audit trail integrity, MFA coverage of the roles that need
 * it, key hygiene, TLS certificate lifetime, security settings against
 * their safe defaults, dormant accounts, pending break-glass reviews,
 * retention backlog, legal holds. Returns {"checks":[{"check","status",
 * "detail"}],"failed":N,"warnings":M}; status is pass, warn, fail or
 * info. policy may be NULL (the built-in one).
 */
PV_MUST_CHECK pv_status pv_compliance_report(struct pv_vault *v,
    const struct pv_policy *policy, json_t **out);

#endif
