/*
 * retention_job.h — the periodic retention job of a running server
 * ([retention] purge_interval): the same purge as `phivault purge`
 * (pv_retention_purge), on a thread of its own, audited through the
 * server's trail.
 *
 * Ownership: the job borrows v and audit until pv_retention_stop.
 */
#ifndef PV_LIFECYCLE_RETENTION_JOB_H
#define PV_LIFECYCLE_RETENTION_JOB_H

#include "core/vault.h"
#include "audit/audit.h"

struct pv_retention;

/* Starts the job when retention rules are configured; *out is NULL (and
 * PV_OK) when there are none. */
PV_MUST_CHECK pv_status pv_retention_start(struct pv_vault *v,
    struct pv_audit *audit, struct pv_retention **out);
/* Wakes the job, waits for a purge in progress to end, frees; NULL-safe. */
void pv_retention_stop(struct pv_retention *j);

#endif
