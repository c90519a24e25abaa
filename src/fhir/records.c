/*
 * records.c — FHIR resources sealed under per-patient data keys.
 *
 * Each version is stored as AEAD(DEK_patient, resource JSON, ad) with
 *   ad = "phivault-res-v1|<type>|<id>|<version>|<patient>"
 * so a ciphertext copied to another row — another resource, version or
 * patient — fails to open (seed: "AES-256 for data at rest"). Only the
 * row's routing columns are in clear (type, random id, version, random
 * patient id, deleted flag, last-update time); names, identifiers and
 * every clinical value are inside the ciphertext. Patient identifiers
 * are findable through a keyed blind index (HMAC-SHA-256 under a vault
 * subkey), never in plain text.
 *
 * Guarantees: a version is written in one transaction with its index
 * rows; opening returns the resource only when its tag verifies and the
 * opened JSON is the same type and id as the row; every failure to open
 * is PV_ECRYPTO (or PV_EGONE after crypto-shredding), never data.
 */
#include "fhir/fhir.h"
#include "fhir/records_int.h"

#include <stdlib.h>
#include <string.h>

void
pv_record_clear(struct pv_record *r)
{
	json_decref(r->res);
	r->res = NULL;
	free(r->sealed);
	r->sealed = NULL;
	r->sealed_len = 0;
	if (r->text != NULL) {
		sodium_memzero(r->text, r->text_len);
		free(r->text);
	}
	r->text = NULL;
	r->text_len = 0;
}

static void fill_out(struct pv_record *out, const struct pv_resource *row,
    json_t *res);

static pv_status
make_ad(char *ad, size_t adsz, const char *type, const char *id,
    int64_t version, const char *patient)
{
	return pv_snprintf(ad, adsz, "phivault-res-v1|%s|%s|%lld|%s", type, id,
	    (long long)version, patient);
}

/* Stamps id and meta.versionId / meta.lastUpdated (keeps meta.security). */
static pv_status
stamp(json_t *res, const char *id, int64_t version, int64_t now)
{
	json_t *meta = json_object_get(res, "meta");
	char v[24], ts[32];

	if (meta == NULL) {
		meta = json_object();
		if (meta == NULL || json_object_set_new(res, "meta", meta) != 0)
			return PV_ENOMEM;
	}
	PV_IGNORE(pv_snprintf(v, sizeof(v), "%lld", (long long)version));
	pv_iso8601(now, ts);
	if (json_object_set_new(res, "id", json_string(id)) != 0 ||
	    json_object_set_new(meta, "versionId", json_string(v)) != 0 ||
	    json_object_set_new(meta, "lastUpdated", json_string(ts)) != 0)
		return PV_ENOMEM;
	return PV_OK;
}

/* Seals res into row->sealed (malloc'd) under the patient's existing
 * key. */
static pv_status
seal(struct pv_vault *v, const json_t *res, struct pv_resource *row)
{
	unsigned char *dek = NULL;
	char *text = NULL, ad[256];
	size_t tlen = 0, clen = 0;
	pv_status st;

	dek = pv_secret_key_scratch();
	text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (dek == NULL || text == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	tlen = strlen(text);
	row->sealed = malloc(tlen + PV_AEAD_OVERHEAD);
	if (row->sealed == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	if ((st = make_ad(ad, sizeof(ad), row->type, row->id, row->version,
		 row->patient_id)) != PV_OK ||
	    (st = pv_dek_get(v, row->patient_id, false, dek)) != PV_OK ||
	    (st = pv_aead_seal(row->sealed, &clen, (unsigned char *)text, tlen,
		 (unsigned char *)ad, strlen(ad), dek)) != PV_OK)
		goto done;
	row->sealed_len = clen;
done:
	if (st != PV_OK) {
		free(row->sealed);
		row->sealed = NULL;
	}
	if (text != NULL) {
		sodium_memzero(text, tlen);
		free(text);
	}
	if (dek != NULL)
		sodium_memzero(dek, PV_DEK_BYTES);
	return st;
}

/* Decrypts row's sealed bytes into *pt (malloc'd, NUL-terminated, the
 * caller wipes and frees it). */
static pv_status
decrypt_row(struct pv_vault *v, const struct pv_resource *row, char **pt,
    size_t *plen)
{
	unsigned char *dek, *buf;
	char ad[256];
	pv_status st;

	*pt = NULL;
	*plen = 0;
	if (row->sealed == NULL)
		return PV_ECRYPTO;
	dek = pv_secret_key_scratch();
	buf = malloc(row->sealed_len + 1);
	if (dek == NULL || buf == NULL) {
		free(buf);
		return PV_ENOMEM;
	}
	if ((st = make_ad(ad, sizeof(ad), row->type, row->id, row->version,
		 row->patient_id)) == PV_OK) {
		st = pv_dek_get(v, row->patient_id, false, dek);
		if (st == PV_ENOTFOUND)
			st = PV_ECRYPTO; /* a sealed row without a key */
	}
	if (st == PV_OK) /* a failure is counted where it is reported */
		st = pv_aead_open(buf, plen, row->sealed, row->sealed_len,
		    (unsigned char *)ad, strlen(ad), dek);
	sodium_memzero(dek, PV_DEK_BYTES);
	if (st != PV_OK) {
		sodium_memzero(buf, row->sealed_len + 1);
		free(buf);
		return st;
	}
	buf[*plen] = '\0';
	*pt = (char *)buf;
	return PV_OK;
}

/* Parses opened text; the JSON must be this type and id. */
static pv_status
parse_text(const char *type, const char *id, const char *pt, size_t plen,
    json_t **out)
{
	json_t *res = json_loadb(pt, plen, 0, NULL);
	const char *rt =
	    json_string_value(json_object_get(res, "resourceType"));
	const char *rid = json_string_value(json_object_get(res, "id"));

	if (res == NULL || rt == NULL || rid == NULL || strcmp(rt, type) != 0 ||
	    strcmp(rid, id) != 0) {
		json_decref(res);
		return PV_ECRYPTO;
	}
	*out = res;
	return PV_OK;
}

/* Opens row into out->res (parse) or out->text. */
static pv_status
open_row(struct pv_vault *v, const struct pv_resource *row,
    struct pv_record *out, bool parse)
{
	char *pt;
	size_t plen;
	pv_status st;

	fill_out(out, row, NULL);
	if (row->is_deleted)
		return PV_OK;
	if ((st = decrypt_row(v, row, &pt, &plen)) != PV_OK)
		return st;
	if (!parse) {
		/* The AEAD's associated data binds type, id, version and
		 * patient, and only this vault seals (after stamping the
		 * id), so the text is this row's resource without parsing. */
		out->text = pt;
		out->text_len = plen;
		return PV_OK;
	}
	st = parse_text(row->type, row->id, pt, plen, &out->res);
	sodium_memzero(pt, plen);
	free(pt);
	return st;
}

/* ---- blind index ----------------------------------------------------------
 */

#define MAX_IDENTIFIERS 16

static void
blind(struct pv_vault *v, const char *s, unsigned char out[PV_HASH_BYTES])
{
	unsigned char key[PV_KEY_BYTES];

	pv_vault_subkey(v, "blindidx", 1, key);
	pv_hmac_sha256(out, key, s, strlen(s));
	sodium_memzero(key, sizeof(key));
}

/* Digests of "system|value" and "|value" for each identifier. */
static size_t
identifier_digests(struct pv_vault *v, const json_t *res,
    unsigned char (*out)[PV_HASH_BYTES], size_t max)
{
	const json_t *ids = json_object_get(res, "identifier");
	size_t i, n = 0;
	char buf[512];

	for (i = 0;
	     json_is_array(ids) && i < json_array_size(ids) && n + 2 <= max;
	     i++) {
		const json_t *id = json_array_get(ids, i);
		const char *sys =
		    json_string_value(json_object_get(id, "system"));
		const char *val =
		    json_string_value(json_object_get(id, "value"));

		if (val == NULL)
			continue;
		if (pv_snprintf(buf, sizeof(buf), "%s|%s", sys ? sys : "",
			val) == PV_OK)
			blind(v, buf, out[n++]);
		if (sys != NULL &&
		    pv_snprintf(buf, sizeof(buf), "|%s", val) == PV_OK)
			blind(v, buf, out[n++]);
	}
	sodium_memzero(buf, sizeof(buf));
	return n;
}

/* ---- writes -----------------------------------------------------------------
 */

static pv_status
write_version(struct pv_vault *v, struct pv_resource *row, const json_t *res,
    int64_t creator_id)
{
	struct pv_store *s = v->store;
	unsigned char digests[MAX_IDENTIFIERS * 2][PV_HASH_BYTES];
	size_t nd = 0;
	pv_status st;

	/* Always inside the caller's transaction (pv_record_apply), and the
	 * key already exists: a record and its new key are never committed
	 * in one transaction across the two databases. */
	if (res != NULL && (st = seal(v, res, row)) != PV_OK)
		return st;
	if (res != NULL && strcmp(row->type, "Patient") == 0)
		nd = identifier_digests(v, res, digests, PV_ARRAY_LEN(digests));
	if ((st = pv_store_resource_put(s, row)) == PV_OK &&
	    strcmp(row->type, "Patient") == 0)
		st = pv_store_index_replace(s, row->type, row->id,
		    (const unsigned char(*)[PV_HASH_BYTES])digests, nd);
	if (st == PV_OK && creator_id > 0)
		st = pv_store_careteam_add(s, creator_id, row->patient_id);
	pv_resource_clear(row);
	return st;
}

static void
fill_out(struct pv_record *out, const struct pv_resource *row, json_t *res)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->type, row->type, sizeof(out->type));
	memcpy(out->id, row->id, sizeof(out->id));
	memcpy(out->patient, row->patient_id, sizeof(out->patient));
	out->version = row->version;
	out->updated_at = row->updated_at;
	out->is_deleted = row->is_deleted;
	out->res = res != NULL ? json_incref(res) : NULL;
}

pv_status
pv_record_create_tx(struct pv_vault *v, const char *type, const char *patient,
    const char *id, json_t *res, int64_t creator_id, struct pv_record *out)
{
	struct pv_resource row;
	bool is_patient = strcmp(type, "Patient") == 0;
	pv_status st;

	memset(&row, 0, sizeof(row));
	memset(out, 0, sizeof(*out));
	if (!pv_fhir_type_is_known(type))
		return PV_EINVAL;
	PV_IGNORE(pv_strlcpy(row.type, type, sizeof(row.type)));
	if (id == NULL)
		pv_random_id(row.id);
	else if (!pv_fhir_id_is_valid(id) ||
	    pv_strlcpy(row.id, id, sizeof(row.id)) != PV_OK)
		return PV_EINVAL;
	if (is_patient)
		memcpy(row.patient_id, row.id, sizeof(row.id));
	else if (pv_strlcpy(row.patient_id, patient, sizeof(row.patient_id)) !=
	    PV_OK)
		return PV_EINVAL;
	else if ((st = pv_patient_require_live(v, patient)) != PV_OK)
		return st;
	row.version = 1;
	row.updated_at = pv_now();
	if ((st = stamp(res, row.id, 1, row.updated_at)) != PV_OK)
		return st;
	fill_out(out, &row, res);
	st = write_version(v, &row, res, is_patient ? creator_id : 0);
	if (st != PV_OK)
		pv_record_clear(out);
	return st;
}

/* Loads the current row for a change and checks If-Match. */
static pv_status
current_for_change(struct pv_vault *v, const char *type, const char *id,
    int64_t if_match, struct pv_resource *cur)
{
	pv_status st = pv_store_resource_get(v->store, type, id, 0, cur);

	if (st != PV_OK)
		return st;
	pv_resource_clear(cur);
	if (if_match > 0 && if_match != cur->version)
		return PV_ECONFLICT;
	return PV_OK;
}

pv_status
pv_record_update_tx(struct pv_vault *v, const char *type, const char *id,
    int64_t if_match, json_t *res, struct pv_record *out)
{
	struct pv_resource cur, row;
	char patient[PV_PATIENT_ID_MAX + 1];
	const char *why;
	pv_status st;

	memset(out, 0, sizeof(*out));
	if ((st = current_for_change(v, type, id, if_match, &cur)) != PV_OK)
		return st;
	if (strcmp(type, "Patient") != 0) {
		if ((st = pv_fhir_check(res, type, patient, sizeof(patient),
			 &why)) != PV_OK)
			return st;
		if (strcmp(patient, cur.patient_id) != 0)
			return PV_EINVAL; /* a resource cannot move */
	}
	memset(&row, 0, sizeof(row));
	row = cur;
	row.sealed = NULL;
	row.version = cur.version + 1;
	row.is_deleted = false;
	row.updated_at = pv_now();
	if ((st = stamp(res, id, row.version, row.updated_at)) != PV_OK)
		return st;
	fill_out(out, &row, res);
	/* resource_put refuses the version if someone else got there
	 * first (version must be max + 1): a lost update becomes 412. */
	st = write_version(v, &row, res, 0);
	if (st != PV_OK)
		pv_record_clear(out);
	return st;
}

pv_status
pv_record_delete_tx(struct pv_vault *v, const char *type, const char *id,
    int64_t if_match, struct pv_record *out)
{
	struct pv_resource cur, row;
	pv_status st;

	memset(out, 0, sizeof(*out));
	if ((st = current_for_change(v, type, id, if_match, &cur)) != PV_OK)
		return st;
	row = cur;
	row.sealed = NULL;
	row.sealed_len = 0;
	fill_out(out, &cur, NULL);
	if (cur.is_deleted)
		return PV_OK; /* idempotent */
	row.version = cur.version + 1;
	row.is_deleted = true;
	row.updated_at = pv_now();
	fill_out(out, &row, NULL);
	return write_version(v, &row, NULL, 0);
}

/* ---- reads ------------------------------------------------------------------
 */

/* The stored row of (type, id, version); an unknown type or bad id is
 * simply not found. */
static pv_status
get_row(struct pv_vault *v, const char *type, const char *id, int64_t version,
    struct pv_resource *row, struct pv_record *out)
{
	memset(out, 0, sizeof(*out));
	if (!pv_fhir_type_is_known(type) || !pv_fhir_id_is_valid(id))
		return PV_ENOTFOUND;
	return pv_store_resource_get(v->store, type, id, version, row);
}

pv_status
pv_record_meta(struct pv_vault *v, const char *type, const char *id,
    int64_t version, struct pv_record *out)
{
	struct pv_resource row;
	pv_status st;

	if ((st = get_row(v, type, id, version, &row, out)) != PV_OK)
		return st;
	fill_out(out, &row, NULL);
	pv_resource_clear(&row);
	return PV_OK;
}

static pv_status
open_checked(struct pv_vault *v, const struct pv_resource *row,
    struct pv_record *out, bool parse)
{
	bool gone = false;
	pv_status st = open_row(v, row, out, parse);

	/* A shredded key: report the patient's data as gone, not broken. */
	if (st != PV_OK && st != PV_ENOMEM &&
	    pv_patient_is_erased(v, row->patient_id, &gone) == PV_OK && gone)
		st = PV_EGONE;
	return st;
}

pv_status
pv_record_open(struct pv_vault *v, const char *type, const char *id,
    int64_t version, struct pv_record *out)
{
	struct pv_resource row;
	pv_status st;

	if ((st = get_row(v, type, id, version, &row, out)) != PV_OK)
		return st;
	st = open_checked(v, &row, out, true);
	pv_resource_clear(&row);
	return st;
}

pv_status
pv_record_fetch(struct pv_vault *v, const char *type, const char *id,
    int64_t version, struct pv_record *out)
{
	struct pv_resource row;
	pv_status st;

	if ((st = get_row(v, type, id, version, &row, out)) != PV_OK)
		return st;
	fill_out(out, &row, NULL);
	out->sealed = row.sealed; /* ownership moves */
	out->sealed_len = row.sealed_len;
	return PV_OK;
}

pv_status
pv_record_parse(struct pv_record *rec)
{
	pv_status st;

	if (rec->res != NULL || rec->text == NULL)
		return rec->res != NULL || rec->is_deleted ? PV_OK : PV_EINVAL;
	st =
	    parse_text(rec->type, rec->id, rec->text, rec->text_len, &rec->res);
	sodium_memzero(rec->text, rec->text_len);
	free(rec->text);
	rec->text = NULL;
	rec->text_len = 0;
	return st;
}

pv_status
pv_record_unseal(struct pv_vault *v, struct pv_record *rec, bool parse)
{
	struct pv_resource row;
	pv_status st;

	memset(&row, 0, sizeof(row));
	memcpy(row.type, rec->type, sizeof(row.type));
	memcpy(row.id, rec->id, sizeof(row.id));
	memcpy(row.patient_id, rec->patient, sizeof(row.patient_id));
	row.version = rec->version;
	row.updated_at = rec->updated_at;
	row.is_deleted = rec->is_deleted;
	row.sealed = rec->sealed; /* ownership moves */
	row.sealed_len = rec->sealed_len;
	rec->sealed = NULL;
	rec->sealed_len = 0;
	pv_record_clear(rec);
	st = open_checked(v, &row, rec, parse);
	pv_resource_clear(&row);
	return st;
}

struct iter {
	struct pv_vault *v;
	pv_record_cb cb;
	void *arg;
	bool open;
	int64_t seen;
	int64_t limit; /* rows to hand on (search); 0 = all */
};

static bool
each_row(void *arg, const struct pv_resource *row)
{
	struct iter *it = arg;
	struct pv_record rec;
	pv_status st = PV_OK;
	bool more;

	it->seen++;
	if (it->limit > 0 && it->seen > it->limit)
		return false; /* the look-ahead row: only counted */
	if (it->open)
		st = open_checked(it->v, row, &rec, true);
	else
		fill_out(&rec, row, NULL);
	more = it->cb(it->arg, &rec, st);
	pv_record_clear(&rec);
	return more;
}

pv_status
pv_record_history(struct pv_vault *v, const char *type, const char *id,
    pv_record_cb cb, void *arg)
{
	struct iter it = { v, cb, arg, true, 0, 0 };

	return pv_store_resource_history(v->store, type, id, each_row, &it);
}

pv_status
pv_record_search(struct pv_vault *v, const char *patient, const char *type,
    int64_t count, int64_t offset, pv_record_cb cb, void *arg, bool *has_more)
{
	struct iter it = { v, cb, arg, true, 0, count };
	int64_t total = 0;
	pv_status st;

	/* One extra row tells whether another page exists. */
	st = pv_store_resource_search(v->store, patient, type, count + 1,
	    offset, each_row, &it, &total);
	*has_more = it.seen > count;
	return st;
}

pv_status
pv_record_find_identifier(struct pv_vault *v, const char *token,
    pv_record_cb cb, void *arg)
{
	struct iter it = { v, cb, arg, true, 0, 0 };
	unsigned char d[PV_HASH_BYTES];
	char buf[512];

	if (strchr(token, '|') != NULL) {
		if (pv_strlcpy(buf, token, sizeof(buf)) != PV_OK)
			return PV_EINVAL;
	} else if (pv_snprintf(buf, sizeof(buf), "|%s", token) != PV_OK) {
		return PV_EINVAL;
	}
	blind(v, buf, d);
	sodium_memzero(buf, sizeof(buf));
	return pv_store_index_find(v->store, "Patient", d, each_row, &it);
}

pv_status
pv_record_scan(struct pv_vault *v, bool open, pv_record_cb cb, void *arg)
{
	struct iter it = { v, cb, arg, open, 0, 0 };

	return pv_store_resource_scan(v->store, each_row, &it);
}
