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

#endif
