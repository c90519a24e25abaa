/*
 * records_int.h — the single-change writes of records.c, for apply.c only.
 *
 * Each runs inside the caller's store transaction (pv_record_apply opens
 * it and a savepoint around each change) and never begins, commits or
 * rolls back one itself; the patient's key must already exist. res is
 * borrowed and modified (id, meta); out is filled on success and owned by
 * the caller (pv_record_clear).
 */
#ifndef PV_FHIR_RECORDS_INT_H
#define PV_FHIR_RECORDS_INT_H

#include "fhir/fhir.h"

/* Version 1 of (type, id); a Patient's id is its patient id. If
 * creator_id > 0 the creator joins the new Patient's care team.
 * PV_ENOTFOUND when a compartment resource's patient does not exist,
 * PV_EGONE when it was erased. */
PV_MUST_CHECK pv_status pv_record_create_tx(struct pv_vault *v,
    const char *type, const char *patient, const char *id, json_t *res,
    int64_t creator_id, struct pv_record *out);
/* A new version; if_match > 0 must equal the current version
 * (PV_ECONFLICT); a compartment resource cannot change patient
 * (PV_EINVAL). */
PV_MUST_CHECK pv_status pv_record_update_tx(struct pv_vault *v,
    const char *type, const char *id, int64_t if_match, json_t *res,
    struct pv_record *out);
/* A deleted, empty version (idempotent on a deleted resource). */
PV_MUST_CHECK pv_status pv_record_delete_tx(struct pv_vault *v,
    const char *type, const char *id, int64_t if_match, struct pv_record *out);

#endif
