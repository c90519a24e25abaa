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
#include "audit/audit.h"
#include "common/domain.h"

#include <jansson.h>

#define PV_FHIR_MAX_DEPTH 64 /* nesting of a resource's JSON */
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
	json_t *res; /* owned; NULL when deleted or not opened */
	unsigned char *sealed; /* owned; pv_record_fetch's ciphertext */
	size_t sealed_len;
	char *text; /* owned, NUL-terminated; the plaintext JSON
		     * of pv_record_unseal(parse = false) */
	size_t text_len;
};

/* Releases res, sealed and text (text is wiped); the metadata stays. */
void pv_record_clear(struct pv_record *r);

/* ---- the write service (apply.c) ---- */

/*
 * Every change to records goes through pv_record_apply, from every front
 * end: the HTTP write batcher (http/batch.c) and `phivault import`
 * (cli/cmd_import.c) call it with a batch, tests with one change.
 */
enum pv_change_kind {
	PV_CHANGE_CREATE = 1, /* version 1 of (type, id) */
	PV_CHANGE_UPDATE, /* a new version of (type, id) */
	PV_CHANGE_DELETE /* a deleted (empty) version of (type, id) */
};

struct pv_change {
	/* in */
	enum pv_change_kind kind;
	char type[PV_TYPE_MAX + 1];
	char id[PV_RES_ID_MAX + 1]; /* create: the new id, chosen by the
				     * caller so its intent names it; a
				     * Patient's id is its patient id */
	char patient[PV_PATIENT_ID_MAX + 1]; /* create of a compartment
					      * resource: whose */
	json_t *res; /* borrowed, stamped (id, meta); NULL: delete */
	int64_t if_match; /* update, delete: the current version, or 0 */
	int64_t creator_id; /* create of a Patient, > 0: this account
			     * joins the new patient's care team */
	const struct pv_audit_event *intent; /* borrowed; NULL when the
					      * caller audited the whole
					      * run (import) */
	/* out */
	pv_status status; /* PV_OK: stored and durable; else why not:
			   * PV_ENOTFOUND (no such resource, or a
			   * compartment resource's patient does not
			   * exist), PV_EGONE (erased), PV_ECONFLICT
			   * (If-Match), PV_EIO, ... */
	bool is_unaudited; /* its intent could not be written: nothing
			    * was tried (status PV_EUNAVAIL) */
	bool is_lost; /* the batch's transaction was lost: nothing
		       * of it is stored, retry (status PV_EIO) */
	struct pv_record rec; /* on PV_OK: the stored version (res shared
			       * with the change); pv_record_clear it */
};

/*
 * Applies n changes, in order, with the write guarantees:
 *  1. the intents (those not NULL) are made durable first, in one group
 *     commit of the trail; a change whose intent failed is not tried
 *     (is_unaudited);
 *  2. the keys of new patients are committed next, on their own (keys
 *     and records live in two databases that do not commit together; a
 *     record must never be durable without its key, an orphan key is
 *     harmless);
 *  3. the changes run in ONE store transaction, each in its own
 *     savepoint: a refused change is undone alone, and later changes see
 *     earlier ones (If-Match behaves as if they ran one by one); one
 *     commit for the batch. If the transaction is lost midway or the
 *     commit fails, it is rolled back and every change not already
 *     refused is marked is_lost;
 *  4. each change with a durable intent that did not happen gets a
 *     follow-up entry (outcome "failed" for a refusal the caller caused,
 *     "error" otherwise; reason its status, or "write_failed" for a lost
 *     batch).
 * Must not be called inside a store transaction (PV_EIO for all then).
 * audit may be NULL when no change has an intent. Returns PV_OK, or
 * PV_EIO when the batch was lost (import stops there); each change's own
 * result is in its status.
 */
PV_MUST_CHECK pv_status pv_record_apply(struct pv_vault *v,
    struct pv_audit *audit, struct pv_change *changes, size_t n);

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
PV_MUST_CHECK pv_status pv_record_history(struct pv_vault *v, const char *type,
    const char *id, pv_record_cb cb, void *arg);

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
