/*
 * fhir.h — FHIR R4 resources: validation, classification, and the
 * encrypted record service on top of the store.
 *
 * resource.c knows what a resource must look like (type, id, the patient
 * it belongs to, its security labels, which fields policy drops or hides).
 * records.c seals every version under the patient's data key with
 * additional data binding it to (type, id, version, patient), keeps
 * versions, and opens them again — failing closed on any tag mismatch.
 *
 * Both the HTTP handlers and the CLI jobs (de-identified export, purge,
 * erasure) use this one service, so there is one code path to PHI.
 */
#ifndef PV_FHIR_FHIR_H
#define PV_FHIR_FHIR_H

#include "core/vault.h"
#include "common/domain.h"

#include <jansson.h>

#define PV_FHIR_MAX_DEPTH 64		/* nesting of a resource's JSON */
#define PV_FHIR_PAGE_DEFAULT 50
#define PV_FHIR_PAGE_MAX 200

/* Routes JSON memory through a wiping allocator (decrypted PHI lives in
 * jansson strings); call once before any JSON is made. */
void pv_fhir_json_init(void);

/* pv_fhir_types and pv_fhir_type_is_known: common/domain.h. */
/* Every known type but Patient belongs to a patient's compartment. */
bool pv_fhir_type_is_compartment(const char *type);

/*
 * Checks res for a write to type: an object, resourceType == type,
 * nesting <= PV_FHIR_MAX_DEPTH, optional id of FHIR syntax, and for a
 * compartment type a subject or patient reference "Patient/{id}" whose id
 * goes to patient (patient is untouched for Patient). *why gets a
 * constant sentence for the OperationOutcome.
 */
PV_MUST_CHECK pv_status pv_fhir_check(const json_t *res, const char *type,
    char *patient, size_t patientsz, const char **why);

typedef enum { PV_FHIR_NORMAL = 0, PV_FHIR_RESTRICTED } pv_fhir_class;
/* Restricted when meta.security carries a sensitive code (v3 ActCode
 * PSY, HIV, ETH, SUD, ... or confidentiality R/V). */
pv_fhir_class pv_fhir_classify(const json_t *res);

/*
 * Data minimisation on write: removes every "Type.field" of csv that
 * applies to type; names of removed fields go to dropped (up to max).
 */
#define PV_FHIR_FIELD_MAX 100
size_t pv_fhir_minimize(json_t *res, const char *type, const char *csv,
    char (*dropped)[PV_FHIR_FIELD_MAX], size_t max);
/* Removes the given top-level fields (per-role filters on read). */
void pv_fhir_remove_fields(json_t *res, const char *const *fields, size_t n);

/* ---- encrypted records (records.c) ---- */

struct pv_record {
	char type[PV_TYPE_MAX + 1];
	char id[PV_RES_ID_MAX + 1];
	char patient[PV_PATIENT_ID_MAX + 1];
	int64_t version;
	int64_t updated_at;
	bool is_deleted;
	json_t *res;		/* owned; NULL when deleted or not opened */
	unsigned char *sealed;	/* owned; pv_record_fetch's ciphertext */
	size_t sealed_len;
	char *text;		/* owned, NUL-terminated; the plaintext JSON
				 * of pv_record_unseal(parse = false) */
	size_t text_len;
};

/* Releases res, sealed and text (text is wiped); the metadata stays. */
void pv_record_clear(struct pv_record *r);

/*
 * Creates version 1 of a new resource with id (NULL: a random one;
 * Patient: it becomes the patient id), sets meta.versionId/lastUpdated,
 * seals under the patient's DEK (made for a new Patient when called
 * outside a transaction; inside one, pv_record_prepare_patients must have
 * made it) and stores it; Patient
 * identifiers go to the blind index. res is borrowed and modified (id,
 * meta). If creator_id > 0 the creator joins the new Patient's care team
 * in the same transaction. PV_ENOTFOUND when a compartment resource's
 * patient does not exist; PV_EGONE when it was erased.
 */
PV_MUST_CHECK pv_status pv_record_create(struct pv_vault *v, const char *type,
    const char *patient, const char *id, json_t *res, int64_t creator_id,
    struct pv_record *out);
/*
 * Makes the DEKs of n new patients (random ids) and commits them on
 * their own, in one keys.db transaction. Must run outside any store
 * transaction: keys.db is a second SQLite database, and SQLite does not
 * commit two WAL databases atomically, so a Patient created inside a
 * caller's transaction (the write batcher, bulk import) needs its key
 * made durable first; pv_record_create there only finds it, never
 * creates it. PV_EINTERNAL inside a transaction. ids are borrowed.
 */
PV_MUST_CHECK pv_status pv_record_prepare_patients(struct pv_vault *v,
    const char *const *ids, size_t n);

/*
 * New version of (type, id). if_match > 0 must equal the current version
 * (PV_ECONFLICT otherwise). The patient of a compartment resource cannot
 * change (PV_EINVAL). res is borrowed and modified.
 */
PV_MUST_CHECK pv_status pv_record_update(struct pv_vault *v, const char *type,
    const char *id, int64_t if_match, json_t *res, struct pv_record *out);

/* Marks (type, id) deleted with a new, empty version. */
PV_MUST_CHECK pv_status pv_record_delete(struct pv_vault *v, const char *type,
    const char *id, int64_t if_match, struct pv_record *out);

/* Metadata of a version (0 = current) without decrypting. */
PV_MUST_CHECK pv_status pv_record_meta(struct pv_vault *v, const char *type,
    const char *id, int64_t version, struct pv_record *out);

/*
 * Metadata and ciphertext of a version (0 = current), not decrypted:
 * authorize on the metadata, then pv_record_unseal — one row read.
 */
PV_MUST_CHECK pv_status pv_record_fetch(struct pv_vault *v, const char *type,
    const char *id, int64_t version, struct pv_record *out);

/*
 * Decrypts a fetched record (statuses as pv_record_open). parse: into
 * rec->res; else into rec->text, the stored JSON bytes unparsed (for
 * answering them as they are). The ciphertext is released either way.
 */
PV_MUST_CHECK pv_status pv_record_unseal(struct pv_vault *v,
    struct pv_record *rec, bool parse);

/* Parses rec->text into rec->res (and wipes the text); PV_ECRYPTO if it
 * is not this record's type and id. */
PV_MUST_CHECK pv_status pv_record_parse(struct pv_record *rec);

/*
 * Opens a version (0 = current). PV_ENOTFOUND, PV_EGONE (patient erased),
 * PV_ECRYPTO (the ciphertext does not authenticate for this row: moved,
 * swapped or altered — never returned as data). A deleted version opens
 * with is_deleted set and res NULL.
 */
PV_MUST_CHECK pv_status pv_record_open(struct pv_vault *v, const char *type,
    const char *id, int64_t version, struct pv_record *out);

typedef bool (*pv_record_cb)(void *arg, struct pv_record *rec, pv_status st);

/* Every version, newest first; rec is opened (st says if that failed). */
PV_MUST_CHECK pv_status pv_record_history(struct pv_vault *v,
    const char *type, const char *id, pv_record_cb cb, void *arg);

/*
 * Current, not deleted resources of patient's compartment (type NULL =
 * all), ordered by type and id, one page; *has_more when another page
 * follows.
 */
PV_MUST_CHECK pv_status pv_record_search(struct pv_vault *v,
    const char *patient, const char *type, int64_t count, int64_t offset,
    pv_record_cb cb, void *arg, bool *has_more);

/* Patients whose identifier matches ("system|value" or "value"). */
PV_MUST_CHECK pv_status pv_record_find_identifier(struct pv_vault *v,
    const char *token, pv_record_cb cb, void *arg);

/* Every current resource of every patient, by patient; rows are opened
 * unless open is false (then rec->res is NULL). */
PV_MUST_CHECK pv_status pv_record_scan(struct pv_vault *v, bool open,
    pv_record_cb cb, void *arg);

#endif
