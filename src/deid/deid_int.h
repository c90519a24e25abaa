/*
 * deid_int.h — what deid.c (keys, quasi-identifiers, k-anonymity),
 * deid_rules.c (the per-type whitelist), deid_reduce.c (applying it),
 * deid_codings.c (the terminology systems), deid_ucum.c (units) and
 * deid_csv.c share. Not an API: nothing outside src/deid/deid*.c
 * includes it.
 */
#ifndef PV_DEID_DEID_INT_H
#define PV_DEID_DEID_INT_H

#include "deid/deid.h"

#define DEID_ID_MAX 64 /* FHIR id */
#define DEID_YEAR_UNKNOWN 0 /* birth_year: absent or not released */
#define DEID_YEAR_90PLUS (-1) /* birth_year: age 90 or older */
#define DEID_ZIP3_UNKNOWN (-1)
#define DEID_AGE_LIMIT_YEARS 90 /* 164.514(b)(2)(i)(C) */
#define DEID_UNIT_MAX 32 /* a released unit string */
#define DEID_UCUM_SYSTEM "http://unitsofmeasure.org"

enum deid_sex {
	DEID_SEX_UNKNOWN = 0, /* absent, malformed or not released */
	DEID_SEX_MALE,
	DEID_SEX_FEMALE,
	DEID_SEX_OTHER,
	DEID_SEX_UNKNOWN_CODE /* FHIR gender code "unknown" */
};

/* One Patient's quasi-identifier tuple, as it will be released. */
struct deid_patient {
	char pid[DEID_ID_MAX + 1];
	int16_t birth_year; /* year, or a DEID_YEAR_* value */
	int16_t zip3; /* 0..999 or DEID_ZIP3_UNKNOWN */
	uint8_t sex; /* enum deid_sex */
	bool is_suppressed; /* its group has fewer than k */
	bool is_emitted; /* its Patient resource was returned */
};

/*
 * Parses the year of a FHIR date, dateTime or instant ("YYYY", "YYYY-MM",
 * ...): 1..9999 into *year, or false when s is no such value.
 */
bool deid_parse_year(const char *s, int *year);

/* Formats the FHIR gender code of sex, or NULL for DEID_SEX_UNKNOWN. */
const char *deid_sex_code(uint8_t sex);

/* The kinds of whitelisted element; deid_reduce.c defines each. */
enum deid_rule_kind {
	R_CODE,
	R_BOOL,
	R_NUM,
	R_YEAR,
	R_PERIOD,
	R_CODING,
	R_CC,
	R_QTY,
	R_AGEQTY,
	R_RANGE,
	R_PATIENT,
	R_ENCOUNTER,
	R_OBJ
};

/* One whitelisted element; a table ends with a NULL name. */
struct deid_rule {
	const char *name;
	enum deid_rule_kind kind;
	bool is_array; /* element is 0..* */
	const struct deid_rule *sub; /* R_OBJ: its table */
	const char *const *vs; /* R_CODE: allowed codes, or NULL */
};

/*
 * deid_codings.c: true when a Coding with this system and code may be
 * released: the system is one of the known terminology URIs and the code
 * matches that system's grammar (check digits included). NULL-safe.
 */
bool deid_coding_is_released(const char *system, const char *code);

/*
 * deid_ucum.c: true when s is a UCUM unit expression (at most
 * DEID_UNIT_MAX chars) built only from the atoms, prefixes and
 * annotations deid_ucum.c lists. NULL-safe.
 */
bool deid_ucum_is_valid(const char *s);

/* deid_rules.c: the whitelist of a compartment type, NULL if none. */
const struct deid_rule *deid_rules_for(const char *type);

/*
 * deid_reduce.c: applies the whitelist of res's type (not Patient) for
 * patient p into out, a new object that already holds resourceType and
 * id. PV_EINVAL for a type without a whitelist, or when res names
 * another patient or none; PV_ENOMEM.
 */
PV_MUST_CHECK pv_status deid_rules_apply(const struct pv_deid *d,
    const struct deid_patient *p, const char *type, const json_t *res,
    json_t *out);

#endif
