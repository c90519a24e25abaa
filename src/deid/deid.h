/*
 * deid.h — the de-identification core behind `phivault deid export`:
 * HIPAA Safe Harbor (45 CFR 164.514(b)(2)) plus k-anonymity over the
 * released quasi-identifiers, with keyed pseudonyms in place of ids.
 *
 * The engine (deid*.c) is pure: it knows neither the store nor HTTP.
 * The exporter (export.c, pv_deid_export at the end of this header)
 * decrypts FHIR R4 resources, hands them in as jansson values, and writes
 * what comes out. The engine works in two passes over the data:
 *
 *   pv_deid_new(key, k, quasi, now_year)
 *   pass 1: pv_deid_add_patient() for every Patient
 *           pv_deid_finish_groups()   groups < k are suppressed
 *   pass 2: pv_deid_resource() for every resource, Patients included;
 *           it returns NULL for a suppressed patient's resources
 *           pv_deid_check_k()         before the file is published
 *   pv_deid_free()
 *
 * Guarantees:
 *  - Whitelist, never blacklist: an output resource holds only the
 *    elements listed per type in deid_rules.c (and docs/DEID.md); all
 *    narrative, notes, free text, displays, identifiers, extensions,
 *    names, telecom, addresses (but the ZIP3) and foreign references are
 *    dropped because they are not listed, not because they are known.
 *  - Dates keep their year only; a birth year implying an age of 90 or
 *    more becomes the single category "90+"; ages (quantities in time
 *    units) of 90 years or more are folded to ">= 90 a", and an
 *    Observation value that could be an age is dropped when the
 *    patient's birth year is not released.
 *  - Codes keep system and code only (no display, no text); status-like
 *    codes must be in their FHIR value set.
 *  - Ids become "d-" + 32 hex of HMAC-SHA-256(export key, kind, id):
 *    stable under one key, unlinkable without it.
 *  - A Patient's released demographics are exactly its quasi-identifier
 *    tuple recorded in pass 1 (pass 2 re-reads nothing from the Patient),
 *    and only the configured quasi-identifiers are released at all, so
 *    k-anonymity over that tuple covers every released demographic.
 *
 * Not thread-safe: one struct pv_deid per export, used by one thread.
 * Nothing here logs; no function writes PHI anywhere but into its result.
 */
#ifndef PV_DEID_DEID_H
#define PV_DEID_DEID_H

#include "common/pv.h"
#include "crypto/crypto.h" /* PV_KEY_BYTES */

#include <jansson.h>
#include <stdio.h>

#define PV_DEID_KEY_BYTES 32 /* export (pseudonym) key */
#define PV_DEID_PSEUDONYM_LEN 34 /* "d-" + 32 hex (128-bit HMAC) */
#define PV_DEID_K_MIN 2
#define PV_DEID_K_MAX 100000
#define PV_DEID_KIND_MAX 64 /* pseudonym kind: letters only */
#define PV_DEID_PATIENTS_MAX 50000000 /* pass-1 table limit */

struct pv_deid; /* opaque: key, settings, QI table */

struct pv_deid_report {
	size_t patients; /* Patients fed in pass 1 */
	size_t groups; /* distinct quasi-identifier tuples */
	size_t groups_released; /* tuples with >= k patients */
	size_t patients_released;
	size_t patients_suppressed; /* in tuples with < k patients */
	size_t smallest_released_group; /* 0 when nothing is released */
};

/*
 * Creates a de-identifier (calling pv_crypto_init, which is idempotent).
 * key (PV_DEID_KEY_BYTES, borrowed) is copied into guarded memory and
 * wiped by pv_deid_free. k is in [PV_DEID_K_MIN, PV_DEID_K_MAX]; the
 * config's [deid] k fits. quasi is the comma list of released
 * quasi-identifiers, each of "birth_year", "sex", "zip3" (spaces around
 * names allowed, no repeats; "" releases none of them): a demographic
 * not listed is not exported. now_year (e.g. 2025) decides who is 90+.
 * Returns PV_EINVAL on a bad argument. *out is the caller's, released
 * with pv_deid_free.
 */
PV_MUST_CHECK pv_status pv_deid_new(const unsigned char key[PV_DEID_KEY_BYTES],
    int64_t k, const char *quasi, int64_t now_year, struct pv_deid **out);
/* Wipes the key and the recorded tuples and frees d; NULL-safe. */
void pv_deid_free(struct pv_deid *d);

/*
 * Writes the pseudonym of (kind, id) to out: "d-" and the first 16 bytes
 * of HMAC-SHA-256(key, "phivault-deid-v1" 0x00 kind 0x00 id) in lowercase
 * hex, NUL-terminated. kind is 1..PV_DEID_KIND_MAX ASCII letters (the
 * resource type, "Patient" for patients); id is a FHIR id. PV_EINVAL
 * otherwise (out is then ""). Same key => same pseudonym.
 */
PV_MUST_CHECK pv_status pv_deid_pseudonym(const struct pv_deid *d,
    const char *kind, const char *id, char out[PV_DEID_PSEUDONYM_LEN + 1]);

/*
 * Pass 1. Records the quasi-identifier tuple of patient pid (borrowed;
 * patient is borrowed and not kept): birth year or "90+", gender, ZIP3
 * of the preferred US address with the restricted ZIP3s mapped to "000",
 * each "unknown" when absent or malformed. patient must be a Patient
 * whose id, if present, equals pid. PV_EINVAL on a bad argument or after
 * pv_deid_finish_groups, PV_ETOOBIG past PV_DEID_PATIENTS_MAX,
 * PV_ENOMEM.
 */
PV_MUST_CHECK pv_status pv_deid_add_patient(struct pv_deid *d, const char *pid,
    const json_t *patient);

/*
 * Ends pass 1: groups patients by tuple (sorting, O(n log n)) and
 * suppresses every patient whose group has fewer than k members. Fills
 * *rep (may be NULL) with counts only, no PHI. PV_EEXISTS when a pid was
 * fed twice, PV_EINVAL when called twice, PV_ENOMEM.
 */
PV_MUST_CHECK pv_status pv_deid_finish_groups(struct pv_deid *d,
    struct pv_deid_report *rep);

/* True when pv_deid_resource accepts resources of this resourceType. */
bool pv_deid_type_is_supported(const char *type);

/*
 * Pass 2. De-identifies res (borrowed), a resource of patient pid: the
 * Patient itself (id must equal pid) or a compartment resource whose
 * subject/patient reference is exactly "Patient/{pid}". On success either
 * *out is a NEW object the caller releases with json_decref and
 * *suppressed is false, or, when the patient is suppressed, *out is NULL
 * and *suppressed is true. Errors (*out NULL): PV_EINVAL before
 * pv_deid_finish_groups, for an unsupported type, a missing or invalid
 * id, a missing patient reference or one naming another patient;
 * PV_ENOTFOUND when pid was not fed in pass 1; PV_ENOMEM.
 */
PV_MUST_CHECK pv_status pv_deid_resource(struct pv_deid *d, const char *pid,
    const json_t *res, json_t **out, bool *suppressed);

/*
 * Verifies k-anonymity of what is being released, independently of how
 * pv_deid_finish_groups decided it: for every quasi-identifier group,
 * the patients not suppressed number 0 or >= k, and so do the patients
 * whose Patient resource pv_deid_resource has returned (so a Patient the
 * exporter failed to write cannot leave a group of fewer than k). Before
 * pv_deid_finish_groups nobody is suppressed, so any small group fails.
 * PV_OK when it holds, PV_EDENIED when it does not (the export must not
 * be published), PV_ENOMEM.
 */
PV_MUST_CHECK pv_status pv_deid_check_k(const struct pv_deid *d);

/*
 * CSV (RFC 4180, CRLF line ends). pv_deid_csv_header returns the static
 * header line, "\r\n" included. pv_deid_csv_row formats one resource
 * returned by pv_deid_resource (borrowed) as a row ending in "\r\n",
 * quoting fields as RFC 4180 requires; *row is a new string the caller
 * frees with free. PV_EINVAL when deid is not such a resource, PV_ENOMEM.
 */
const char *pv_deid_csv_header(void);
PV_MUST_CHECK pv_status pv_deid_csv_row(const json_t *deid, char **row);

/* ---- de-identified export (export.c) ---- */

struct pv_vault;

/*
 * Writes every resource, de-identified per HIPAA Safe Harbor with keyed
 * pseudonyms (key: PV_KEY_BYTES), as NDJSON or CSV to out, but only when
 * the released set is k-anonymous over [deid] quasi_identifiers: the
 * export is built in tmp (an open, empty, unlinked-or-private file) and
 * copied to out after the check, so a violating file is never produced.
 * v, key, tmp and out are borrowed (neither file is closed); *rep (may be
 * NULL) and *written are the caller's, filled in.
 */
PV_MUST_CHECK pv_status pv_deid_export(struct pv_vault *v,
    const unsigned char key[PV_KEY_BYTES], bool csv, FILE *tmp, FILE *out,
    struct pv_deid_report *rep, size_t *written,
    void (*progress)(void *arg, size_t records), void *arg);

#endif
