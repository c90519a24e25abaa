/*
 * deid.c — de-identification state: the export key and keyed pseudonyms,
 * the quasi-identifier (QI) table of pass 1, k-anonymity suppression and
 * its independent check, and the de-identified Patient. The per-type
 * whitelist for the other resources is in deid_rules.c (applied by
 * deid_reduce.c), CSV in deid_csv.c.
 *
 * Implements HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i), for the Patient
 * demographics:
 *  (A) names, (D-H) telecom, (I-R) identifiers, photos, links: dropped;
 *  (B) geography below a state: only the first three ZIP digits of one
 *      US address are kept, and "000" replaces the ZIP3s whose area had
 *      20,000 people or fewer in the 2000 Census (HHS guidance list);
 *  (C) the birth date keeps its year, unless that year means an age of
 *      90 or more, when it becomes the single category "90+".
 * On top of Safe Harbor, every patient whose released tuple (birth year,
 * sex, ZIP3: whichever are configured) is shared by fewer than k
 * patients is suppressed with all their resources (k-anonymity).
 *
 * Pseudonyms (164.514(c)): ids are replaced by a truncated HMAC-SHA-256
 * under a per-export key the vault keeps; without that key a pseudonym
 * cannot be translated back or linked to the vault's ids.
 *
 * Performance: pass 1 appends to an array; finishing sorts it twice
 * (by pid for pass-2 look-ups, by tuple for groups), O(n log n); each
 * pass-2 call is a binary search plus work linear in the resource.
 */
#include "deid/deid_int.h"

#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEID_PSEUDONYM_LABEL "phivault-deid-v1"
#define DEID_PSEUDONYM_MAC_BYTES 16
#define DEID_YEAR_MIN_NOW 1900
#define DEID_YEAR_MAX_NOW 9999
#define DEID_90PLUS_URL "urn:phivault:deid:age-90-or-older"

_Static_assert(PV_DEID_PSEUDONYM_LEN == 2 + 2 * DEID_PSEUDONYM_MAC_BYTES,
    "pseudonym length");
_Static_assert(PV_DEID_KEY_BYTES == PV_KEY_BYTES, "HMAC key length");

struct pv_deid {
	unsigned char *key; /* guarded memory, PV_DEID_KEY_BYTES */
	int64_t k;
	int now_year;
	bool has_birth_year; /* the configured quasi-identifiers */
	bool has_sex;
	bool has_zip3;
	bool is_finished; /* pass 1 over, pat sorted by pid */
	struct deid_patient *pat; /* pass-1 table */
	size_t pat_n;
	size_t pat_cap;
};

/*
 * ZIP3 areas of 20,000 people or fewer (US Census 2000), which Safe
 * Harbor requires to be released as "000". Source: HHS OCR, "Guidance
 * Regarding Methods for De-identification of Protected Health
 * Information" (2012), Safe Harbor section on ZIP codes.
 */
static const int16_t restricted_zip3[] = {
	36,
	59,
	63,
	102,
	203,
	556,
	692,
	790,
	821,
	823,
	830,
	831,
	878,
	879,
	884,
	890,
	893,
};

static const char *const sex_codes[] = {
	[DEID_SEX_UNKNOWN] = NULL,
	[DEID_SEX_MALE] = "male",
	[DEID_SEX_FEMALE] = "female",
	[DEID_SEX_OTHER] = "other",
	[DEID_SEX_UNKNOWN_CODE] = "unknown",
};

bool
deid_parse_year(const char *s, int *year)
{
	int y = 0;
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		y = y * 10 + (s[i] - '0');
	}
	if (s[4] != '\0' && s[4] != '-')
		return false;
	if (y == 0)
		return false;
	*year = y;
	return true;
}

const char *
deid_sex_code(uint8_t sex)
{
	if (sex >= PV_ARRAY_LEN(sex_codes))
		return NULL;
	return sex_codes[sex];
}

static pv_status
parse_quasi(struct pv_deid *d, const char *quasi)
{
	const char *p = quasi, *end;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return PV_OK; /* no quasi-identifier is released */
	for (;;) {
		bool *flag;

		while (*p == ' ' || *p == '\t')
			p++;
		end = p;
		while (
		    *end != '\0' && *end != ',' && *end != ' ' && *end != '\t')
			end++;
		n = (size_t)(end - p);
		if (n == 10 && memcmp(p, "birth_year", n) == 0)
			flag = &d->has_birth_year;
		else if (n == 3 && memcmp(p, "sex", n) == 0)
			flag = &d->has_sex;
		else if (n == 4 && memcmp(p, "zip3", n) == 0)
			flag = &d->has_zip3;
		else
			return PV_EINVAL;
		if (*flag)
			return PV_EINVAL; /* repeated: likely a typo */
		*flag = true;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return PV_OK;
		if (*p != ',')
			return PV_EINVAL;
		p++;
	}
}

pv_status
pv_deid_new(const unsigned char key[PV_DEID_KEY_BYTES], int64_t k,
    const char *quasi, int64_t now_year, struct pv_deid **out)
{
	struct pv_deid *d = NULL;
	pv_status st;

	if (out == NULL)
		return PV_EINVAL;
	*out = NULL;
	if (key == NULL || quasi == NULL || k < PV_DEID_K_MIN ||
	    k > PV_DEID_K_MAX || now_year < DEID_YEAR_MIN_NOW ||
	    now_year > DEID_YEAR_MAX_NOW)
		return PV_EINVAL;
	/*
	 * sodium_malloc aborts before sodium_init; pv_crypto_init is
	 * idempotent (pv_vault_open calls it too), so make sure here.
	 */
	if ((st = pv_crypto_init()) != PV_OK)
		return st;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return PV_ENOMEM;
	d->k = k;
	d->now_year = (int)now_year;
	if ((st = parse_quasi(d, quasi)) != PV_OK)
		goto fail;
	if ((d->key = pv_secret_alloc(PV_DEID_KEY_BYTES)) == NULL) {
		st = PV_ENOMEM;
		goto fail;
	}
	memcpy(d->key, key, PV_DEID_KEY_BYTES);
	*out = d;
	return PV_OK;
fail:
	pv_deid_free(d);
	return st;
}

void
pv_deid_free(struct pv_deid *d)
{
	if (d == NULL)
		return;
	pv_secret_free(d->key, PV_DEID_KEY_BYTES);
	if (d->pat != NULL) {
		explicit_bzero(d->pat, d->pat_cap * sizeof(*d->pat));
		free(d->pat);
	}
	free(d);
}

static bool
kind_is_valid(const char *kind)
{
	size_t i;

	for (i = 0; kind[i] != '\0'; i++) {
		if (i >= PV_DEID_KIND_MAX)
			return false;
		if (!((kind[i] >= 'A' && kind[i] <= 'Z') ||
			(kind[i] >= 'a' && kind[i] <= 'z')))
			return false;
	}
	return i > 0;
}

pv_status
pv_deid_pseudonym(const struct pv_deid *d, const char *kind, const char *id,
    char out[PV_DEID_PSEUDONYM_LEN + 1])
{
	/* label NUL kind NUL id: unambiguous, as neither part holds a NUL */
	unsigned char msg[sizeof(DEID_PSEUDONYM_LABEL) + PV_DEID_KIND_MAX + 1 +
	    DEID_ID_MAX];
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[PV_HASH_BYTES];
	size_t i, kn, in, n = 0;

	out[0] = '\0';
	if (d == NULL || kind == NULL || id == NULL || !kind_is_valid(kind) ||
	    !pv_fhir_id_is_valid(id))
		return PV_EINVAL;
	kn = strlen(kind);
	in = strlen(id);
	memcpy(msg, DEID_PSEUDONYM_LABEL, sizeof(DEID_PSEUDONYM_LABEL));
	n = sizeof(DEID_PSEUDONYM_LABEL);
	memcpy(msg + n, kind, kn);
	n += kn;
	msg[n++] = '\0';
	memcpy(msg + n, id, in);
	n += in;
	pv_hmac_sha256(mac, d->key, msg, n);
	out[0] = 'd';
	out[1] = '-';
	for (i = 0; i < DEID_PSEUDONYM_MAC_BYTES; i++) {
		out[2 + 2 * i] = hex[mac[i] >> 4];
		out[3 + 2 * i] = hex[mac[i] & 0xf];
	}
	out[2 + 2 * DEID_PSEUDONYM_MAC_BYTES] = '\0';
	explicit_bzero(mac, sizeof(mac));
	return PV_OK;
}

/* ---- pass 1: quasi-identifiers ---- */

static int16_t
birth_year_of(const struct pv_deid *d, const json_t *patient)
{
	int y;

	if (!deid_parse_year(json_string_value(
				 json_object_get(patient, "birthDate")),
		&y))
		return DEID_YEAR_UNKNOWN;
	if (y > d->now_year)
		return DEID_YEAR_UNKNOWN; /* nonsense: release nothing */
	/*
	 * Born in now_year - 90 means 89 or 90 today: "indicative of such
	 * age" (164.514(b)(2)(i)(C)), so it is folded too.
	 */
	if (d->now_year - y >= DEID_AGE_LIMIT_YEARS)
		return DEID_YEAR_90PLUS;
	return (int16_t)y;
}

static uint8_t
sex_of(const json_t *patient)
{
	const char *g = json_string_value(json_object_get(patient, "gender"));
	uint8_t i;

	if (g == NULL)
		return DEID_SEX_UNKNOWN;
	for (i = 1; i < PV_ARRAY_LEN(sex_codes); i++)
		if (strcmp(g, sex_codes[i]) == 0)
			return i;
	return DEID_SEX_UNKNOWN;
}

static bool
is_us(const char *country)
{
	static const char *const us[] = {
		"US",
		"USA",
		"United States",
		"United States of America",
	};
	size_t i;

	if (country == NULL)
		return true; /* ZIP-shaped code, no country: US */
	for (i = 0; i < PV_ARRAY_LEN(us); i++)
		if (strcasecmp(country, us[i]) == 0)
			return true;
	return false;
}

/* ZIP3 of a "NNNNN", "NNNNN-NNNN" or "NNNNNNNNN" ZIP code, or -1. */
static int
zip3_of_code(const char *zip)
{
	size_t i, n;

	if (zip == NULL)
		return DEID_ZIP3_UNKNOWN;
	n = strlen(zip);
	if (n != 5 && n != 9 && n != 10)
		return DEID_ZIP3_UNKNOWN;
	for (i = 0; i < n; i++) {
		if (n == 10 && i == 5) {
			if (zip[i] != '-')
				return DEID_ZIP3_UNKNOWN;
		} else if (zip[i] < '0' || zip[i] > '9')
			return DEID_ZIP3_UNKNOWN;
	}
	return (zip[0] - '0') * 100 + (zip[1] - '0') * 10 + (zip[2] - '0');
}

/*
 * The ZIP3 of the patient's preferred US address: the first "home"
 * address, else the first without a use, else the first "work", "temp"
 * or "billing" one; an "old" address is never used.
 */
static int16_t
zip3_of(const json_t *patient)
{
	const json_t *addrs = json_object_get(patient, "address");
	int best = DEID_ZIP3_UNKNOWN, best_rank = 3, rank, z;
	size_t i, j;

	if (!json_is_array(addrs))
		return DEID_ZIP3_UNKNOWN;
	for (i = 0; i < json_array_size(addrs) && best_rank > 0; i++) {
		const json_t *a = json_array_get(addrs, i);
		const char *use = json_string_value(json_object_get(a, "use"));

		if (!json_is_object(a))
			continue;
		if (use == NULL)
			rank = 1;
		else if (strcmp(use, "home") == 0)
			rank = 0;
		else if (strcmp(use, "old") == 0)
			continue;
		else
			rank = 2;
		if (rank >= best_rank && best != DEID_ZIP3_UNKNOWN)
			continue;
		if (!is_us(json_string_value(json_object_get(a, "country"))))
			continue;
		z = zip3_of_code(
		    json_string_value(json_object_get(a, "postalCode")));
		if (z == DEID_ZIP3_UNKNOWN)
			continue;
		best = z;
		best_rank = rank;
	}
	if (best == DEID_ZIP3_UNKNOWN)
		return DEID_ZIP3_UNKNOWN;
	for (j = 0; j < PV_ARRAY_LEN(restricted_zip3); j++)
		if (restricted_zip3[j] == best)
			return 0;
	return (int16_t)best;
}

pv_status
pv_deid_add_patient(struct pv_deid *d, const char *pid, const json_t *patient)
{
	struct deid_patient *p;
	const json_t *id;
	const char *type;

	if (d == NULL || d->is_finished || pid == NULL ||
	    !pv_fhir_id_is_valid(pid) || !json_is_object(patient))
		return PV_EINVAL;
	type = json_string_value(json_object_get(patient, "resourceType"));
	if (type == NULL || strcmp(type, "Patient") != 0)
		return PV_EINVAL;
	id = json_object_get(patient, "id");
	if (id != NULL &&
	    (!json_is_string(id) || strcmp(json_string_value(id), pid) != 0))
		return PV_EINVAL;
	if (d->pat_n == d->pat_cap) {
		size_t cap = d->pat_cap == 0 ? 1024 : d->pat_cap * 2;
		struct deid_patient *np;

		if (d->pat_n >= PV_DEID_PATIENTS_MAX)
			return PV_ETOOBIG;
		if (cap > PV_DEID_PATIENTS_MAX)
			cap = PV_DEID_PATIENTS_MAX;
		if (cap > SIZE_MAX / sizeof(*np))
			return PV_ENOMEM;
		if ((np = calloc(cap, sizeof(*np))) == NULL)
			return PV_ENOMEM;
		/* copy and wipe rather than realloc: no stray PHI left */
		if (d->pat != NULL) {
			memcpy(np, d->pat, d->pat_n * sizeof(*np));
			explicit_bzero(d->pat, d->pat_cap * sizeof(*np));
			free(d->pat);
		}
		d->pat = np;
		d->pat_cap = cap;
	}
	p = &d->pat[d->pat_n];
	memset(p, 0, sizeof(*p));
	PV_IGNORE(pv_strlcpy(p->pid, pid, sizeof(p->pid))); /* valid id */
	p->birth_year =
	    d->has_birth_year ? birth_year_of(d, patient) : DEID_YEAR_UNKNOWN;
	p->sex = d->has_sex ? sex_of(patient) : DEID_SEX_UNKNOWN;
	p->zip3 = d->has_zip3 ? zip3_of(patient) : DEID_ZIP3_UNKNOWN;
	d->pat_n++;
	return PV_OK;
}

/* ---- groups ---- */

static int
cmp_pid(const void *a, const void *b)
{
	return strcmp(((const struct deid_patient *)a)->pid,
	    ((const struct deid_patient *)b)->pid);
}

static int
cmp_tuple(const struct deid_patient *a, const struct deid_patient *b)
{
	if (a->birth_year != b->birth_year)
		return a->birth_year < b->birth_year ? -1 : 1;
	if (a->sex != b->sex)
		return a->sex < b->sex ? -1 : 1;
	if (a->zip3 != b->zip3)
		return a->zip3 < b->zip3 ? -1 : 1;
	return 0;
}

static int
cmp_tuple_ptr(const void *a, const void *b)
{
	return cmp_tuple(*(struct deid_patient *const *)a,
	    *(struct deid_patient *const *)b);
}

/* A new array of pointers to d's patients, sorted by tuple. */
static pv_status
sort_by_tuple(const struct pv_deid *d, struct deid_patient ***out)
{
	struct deid_patient **v;
	size_t i;

	*out = NULL;
	if (d->pat_n == 0)
		return PV_OK;
	if (d->pat_n > SIZE_MAX / sizeof(*v))
		return PV_ENOMEM;
	if ((v = malloc(d->pat_n * sizeof(*v))) == NULL)
		return PV_ENOMEM;
	for (i = 0; i < d->pat_n; i++)
		v[i] = &d->pat[i];
	qsort(v, d->pat_n, sizeof(*v), cmp_tuple_ptr);
	*out = v;
	return PV_OK;
}

pv_status
pv_deid_finish_groups(struct pv_deid *d, struct pv_deid_report *rep)
{
	struct pv_deid_report r;
	struct deid_patient **v = NULL;
	size_t i, j, n;
	pv_status st;

	if (d == NULL || d->is_finished)
		return PV_EINVAL;
	memset(&r, 0, sizeof(r));
	if (d->pat_n > 0)
		qsort(d->pat, d->pat_n, sizeof(*d->pat), cmp_pid);
	for (i = 1; i < d->pat_n; i++)
		if (strcmp(d->pat[i - 1].pid, d->pat[i].pid) == 0)
			return PV_EEXISTS;
	if ((st = sort_by_tuple(d, &v)) != PV_OK)
		return st;
	for (i = 0; i < d->pat_n; i = j) {
		for (j = i + 1; j < d->pat_n && cmp_tuple(v[i], v[j]) == 0; j++)
			;
		n = j - i;
		r.groups++;
		if ((int64_t)n < d->k) {
			for (; i < j; i++)
				v[i]->is_suppressed = true;
			r.patients_suppressed += n;
			continue;
		}
		r.groups_released++;
		r.patients_released += n;
		if (r.smallest_released_group == 0 ||
		    n < r.smallest_released_group)
			r.smallest_released_group = n;
	}
	free(v);
	r.patients = d->pat_n;
	d->is_finished = true;
	if (rep != NULL)
		*rep = r;
	return PV_OK;
}

pv_status
pv_deid_check_k(const struct pv_deid *d)
{
	struct deid_patient **v = NULL;
	size_t i, j, kept, emitted;
	pv_status st;

	if (d == NULL)
		return PV_EINVAL;
	if ((st = sort_by_tuple(d, &v)) != PV_OK)
		return st;
	st = PV_OK;
	for (i = 0; i < d->pat_n && st == PV_OK; i = j) {
		kept = emitted = 0;
		for (j = i; j < d->pat_n && cmp_tuple(v[i], v[j]) == 0; j++) {
			kept += v[j]->is_suppressed ? 0 : 1;
			emitted += v[j]->is_emitted ? 1 : 0;
		}
		if ((kept > 0 && (int64_t)kept < d->k) ||
		    (emitted > 0 && (int64_t)emitted < d->k))
			st = PV_EDENIED;
	}
	free(v);
	return st;
}

/* ---- pass 2 ---- */

bool
pv_deid_type_is_supported(const char *type)
{
	return type != NULL &&
	    (strcmp(type, "Patient") == 0 || deid_rules_for(type) != NULL);
}

static struct deid_patient *
find_patient(const struct pv_deid *d, const char *pid)
{
	struct deid_patient key;

	if (d->pat_n == 0)
		return NULL;
	if (pv_strlcpy(key.pid, pid, sizeof(key.pid)) != PV_OK)
		return NULL;
	return bsearch(&key, d->pat, d->pat_n, sizeof(*d->pat), cmp_pid);
}

/* The Patient is rebuilt from its recorded tuple, nothing else. */
static pv_status
patient_out(const struct deid_patient *p, json_t *o)
{
	const char *sex = deid_sex_code(p->sex);
	char buf[8];

	if (sex != NULL &&
	    json_object_set_new(o, "gender", json_string(sex)) != 0)
		return PV_ENOMEM;
	if (p->birth_year > 0) {
		PV_IGNORE(
		    pv_snprintf(buf, sizeof(buf), "%04d", (int)p->birth_year));
		if (json_object_set_new(o, "birthDate", json_string(buf)) != 0)
			return PV_ENOMEM;
	} else if (p->birth_year == DEID_YEAR_90PLUS) {
		if (json_object_set_new(o, "extension",
			json_pack("[{s:s, s:b}]", "url", DEID_90PLUS_URL,
			    "valueBoolean", 1)) != 0)
			return PV_ENOMEM;
	}
	if (p->zip3 != DEID_ZIP3_UNKNOWN) {
		PV_IGNORE(pv_snprintf(buf, sizeof(buf), "%03d", (int)p->zip3));
		if (json_object_set_new(o, "address",
			json_pack("[{s:s}]", "postalCode", buf)) != 0)
			return PV_ENOMEM;
	}
	return PV_OK;
}

pv_status
pv_deid_resource(struct pv_deid *d, const char *pid, const json_t *res,
    json_t **out, bool *suppressed)
{
	char pseud[PV_DEID_PSEUDONYM_LEN + 1];
	struct deid_patient *p;
	const char *type, *id;
	bool is_patient;
	json_t *o = NULL;
	pv_status st;

	if (out == NULL || suppressed == NULL)
		return PV_EINVAL;
	*out = NULL;
	*suppressed = false;
	if (d == NULL || !d->is_finished || pid == NULL ||
	    !pv_fhir_id_is_valid(pid) || !json_is_object(res))
		return PV_EINVAL;
	type = json_string_value(json_object_get(res, "resourceType"));
	if (!pv_deid_type_is_supported(type))
		return PV_EINVAL;
	is_patient = strcmp(type, "Patient") == 0;
	id = json_string_value(json_object_get(res, "id"));
	if (id == NULL || (is_patient && strcmp(id, pid) != 0))
		return PV_EINVAL;
	if ((p = find_patient(d, pid)) == NULL)
		return PV_ENOTFOUND;
	if (p->is_suppressed) {
		*suppressed = true;
		return PV_OK;
	}
	if ((st = pv_deid_pseudonym(d, type, id, pseud)) != PV_OK)
		return st;
	if ((o = json_object()) == NULL)
		return PV_ENOMEM;
	if (json_object_set_new(o, "resourceType", json_string(type)) != 0 ||
	    json_object_set_new(o, "id", json_string(pseud)) != 0) {
		st = PV_ENOMEM;
		goto done;
	}
	if (is_patient)
		st = patient_out(p, o);
	else
		st = deid_rules_apply(d, p, type, res, o);
	if (st != PV_OK)
		goto done;
	if (is_patient)
		p->is_emitted = true;
	*out = o;
	o = NULL;
done:
	json_decref(o);
	return st;
}
