/*
 * report.h — reports over the audit trail and the vault's state, for the
 * people who answer for them: FHIR AuditEvent views of the trail
 * (auditevent.c), the access review (review.c), the incident report for
 * breach notification (incident.c) and the compliance report
 * (compliance.c). The AuditEvent view serves both GET /fhir/AuditEvent
 * and `phivault audit export --format fhir`; the others back CLI
 * subcommands.
 *
 * Reports read; the one exception is the access review with apply,
 * which disables dormant accounts through auth/
 * (pv_account_disable_by_id). The compliance report's retention check
 * is a dry run of lifecycle/'s purge. Nothing here keeps data of its
 * own.
 *
 * Ownership: struct pv_vault, policies and audit entries are borrowed
 * for the call. A json_t ** out-parameter receives, on PV_OK, a new
 * object the caller releases with json_decref, and NULL otherwise.
 * Structs (the AuditEvent cache) are the caller's.
 */
#ifndef PV_REPORT_REPORT_H
#define PV_REPORT_REPORT_H

#include "core/vault.h"

#include <jansson.h>

struct pv_policy;

/* ---- AuditEvent views of the trail (auditevent.c) ---- */

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

/* ---- access review (review.c) ---- */

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
PV_MUST_CHECK pv_status pv_access_review(struct pv_vault *v,
    const struct pv_policy *policy, int64_t now, bool apply, json_t **out);

/* ---- incident report (incident.c) ---- */

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
