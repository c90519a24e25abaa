/*
 * deid_reduce.c — applies the whitelist of deid_rules.c to a compartment
 * resource: copies each listed element, reduced by its kind, into the
 * output, and drops everything else (HIPAA Safe Harbor, 45 CFR
 * 164.514(b)(2)).
 *
 * Guarantee: nothing reaches the output but what a kind below lets
 * through; an element of the wrong JSON type, or with nothing left after
 * reduction, is dropped, never copied as is. The one element that cannot
 * be dropped silently is the patient reference: a resource that names no
 * patient, or another one, is refused (PV_EINVAL).
 *
 * Kinds (what survives of a listed element):
 *   CODE      a FHIR code from the element's value set in deid_rules.c
 *             (an element without one releases nothing)
 *   BOOL, NUM a JSON boolean / number, as is
 *   YEAR      date, dateTime or instant -> "YYYY" (164.514(b)(2)(i)(C))
 *   PERIOD    {start, end} -> years
 *   CODING    {system, code}, only when deid_codings.c knows the system
 *             and the code matches its grammar; otherwise the coding is
 *             dropped. Nothing else of a Coding is ever copied: display,
 *             version, userSelected, id and extension are free text or
 *             can carry it (a recipient can look displays up)
 *   CC        CodeableConcept -> {coding: [CODING...]}; text dropped
 *   QTY       Quantity {value, comparator, unit, system, code}: system
 *             only UCUM, code and unit only UCUM expressions from
 *             deid_ucum.c's tables (a unit is sender-typed text); a time
 *             quantity of 90 years or more becomes {>= 90 a} (ages over
 *             89, 164.514(b)(2)(i)(C))
 *   AGEQTY    QTY that may be the patient's age (Observation values):
 *             also dropped when in calendar units (a, mo, wk, d) and the
 *             patient's birth year is not released, since age + event
 *             year would reveal the birth year of a 90+ patient, and
 *             dropped when it has no unit at all (it could be an age)
 *   RANGE     {low, high} QTYs
 *   PATIENT   the subject/patient Reference: must be "Patient/{pid}" of
 *             the patient being exported; becomes Patient/{pseudonym}
 *   ENCOUNTER a Reference "Encounter/{id}" -> Encounter/{pseudonym},
 *             so research can join a resource to its encounter
 *   OBJ       a backbone element, itself whitelisted
 */
#include "deid/deid_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define UCUM DEID_UCUM_SYSTEM

struct ctx {
	const struct pv_deid *d;
	const struct deid_patient *p;
	bool has_patient_ref;
};

static pv_status apply(struct ctx *, const struct deid_rule *, const json_t *,
    json_t *);

/* ---- value checks ---- */

static bool
in_value_set(const char *s, const char *const *vs)
{
	if (s == NULL)
		return false;
	for (; *vs != NULL; vs++)
		if (strcmp(s, *vs) == 0)
			return true;
	return false;
}

/*
 * Units are human-readable strings a sender types, so a unit is released
 * only when it is a UCUM expression of deid_ucum.c's atoms ("mg",
 * "mm[Hg]", "10*3/uL", "{beats}/min", "%"); on top, the older checks:
 * printable, no '@', not spreadsheet-formula-like, no run of 4 digits.
 */
static bool
unit_is_ok(const char *s)
{
	size_t i, digits = 0;

	if (s == NULL || s[0] == '\0' || strchr("=+-@ ", s[0]) != NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= DEID_UNIT_MAX || s[i] < ' ' || s[i] > '~' ||
		    strchr("\"\\@,;", s[i]) != NULL)
			return false;
		digits = isdigit((unsigned char)s[i]) ? digits + 1 : 0;
		if (digits >= 4)
			return false;
	}
	return deid_ucum_is_valid(s);
}

/*
 * Years per unit when s names a time unit (UCUM code or common word),
 * else 0. *is_calendar is set for a, mo, wk and d (what ages use).
 */
static double
time_unit_years(const char *s, bool *is_calendar)
{
	static const struct {
		const char *name;
		double years;
		bool is_calendar;
	} units[] = {
		{ "a", 1.0, true },
		{ "a_j", 1.0, true },
		{ "a_g", 1.0, true },
		{ "a_t", 1.0, true },
		{ "ANN", 1.0, true },
		{ "mo", 1.0 / 12, true },
		{ "mo_j", 1.0 / 12, true },
		{ "mo_g", 1.0 / 12, true },
		{ "mo_s", 1.0 / 12, true },
		{ "wk", 7 / 365.25, true },
		{ "d", 1 / 365.25, true },
		{ "h", 1 / 8766.0, false },
		{ "min", 1 / 525960.0, false },
		{ "s", 1 / 31557600.0, false },
	};
	static const struct {
		const char *name;
		double years;
		bool is_calendar;
	} words[] = {
		{ "y", 1.0, true },
		{ "yr", 1.0, true },
		{ "yrs", 1.0, true },
		{ "year", 1.0, true },
		{ "years", 1.0, true },
		{ "month", 1.0 / 12, true },
		{ "months", 1.0 / 12, true },
		{ "week", 7 / 365.25, true },
		{ "weeks", 7 / 365.25, true },
		{ "day", 1 / 365.25, true },
		{ "days", 1 / 365.25, true },
		{ "hr", 1 / 8766.0, false },
		{ "hour", 1 / 8766.0, false },
		{ "hours", 1 / 8766.0, false },
		{ "minute", 1 / 525960.0, false },
		{ "minutes", 1 / 525960.0, false },
		{ "sec", 1 / 31557600.0, false },
		{ "second", 1 / 31557600.0, false },
		{ "seconds", 1 / 31557600.0, false },
	};
	size_t i;

	*is_calendar = false;
	if (s == NULL)
		return 0;
	for (i = 0; i < PV_ARRAY_LEN(units); i++)
		if (strcmp(s, units[i].name) == 0) {
			*is_calendar = units[i].is_calendar;
			return units[i].years;
		}
	for (i = 0; i < PV_ARRAY_LEN(words); i++)
		if (strcasecmp(s, words[i].name) == 0) {
			*is_calendar = words[i].is_calendar;
			return words[i].years;
		}
	return 0;
}

/* ---- kinds ---- */

static pv_status
set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0 ? PV_OK : PV_ENOMEM;
}

/* *out is o when it gained members, else NULL (and o is released). */
static void
keep_if_nonempty(json_t *o, json_t **out)
{
	if (json_object_size(o) > 0) {
		*out = o;
		return;
	}
	json_decref(o);
	*out = NULL;
}

static pv_status
year(const json_t *in, json_t **out)
{
	char buf[8];
	int y;

	*out = NULL;
	if (!deid_parse_year(json_string_value(in), &y))
		return PV_OK;
	PV_IGNORE(pv_snprintf(buf, sizeof(buf), "%04d", y));
	return (*out = json_string(buf)) == NULL ? PV_ENOMEM : PV_OK;
}

static pv_status
period(const json_t *in, json_t **out)
{
	static const char *const keys[] = { "start", "end" };
	json_t *o, *v;
	size_t i;
	pv_status st = PV_OK;

	*out = NULL;
	if (!json_is_object(in))
		return PV_OK;
	if ((o = json_object()) == NULL)
		return PV_ENOMEM;
	for (i = 0; i < PV_ARRAY_LEN(keys) && st == PV_OK; i++) {
		if ((st = year(json_object_get(in, keys[i]), &v)) == PV_OK &&
		    v != NULL)
			st = set(o, keys[i], v);
	}
	if (st != PV_OK) {
		json_decref(o);
		return st;
	}
	keep_if_nonempty(o, out);
	return PV_OK;
}

static pv_status
coding(const json_t *in, json_t **out)
{
	const char *system, *code;

	*out = NULL;
	if (!json_is_object(in))
		return PV_OK;
	code = json_string_value(json_object_get(in, "code"));
	system = json_string_value(json_object_get(in, "system"));
	/*
	 * No system, an unknown one, or a code outside its grammar: drop.
	 * (No released code starts with = + - @: CSV-safe as it stands.)
	 */
	if (!deid_coding_is_released(system, code))
		return PV_OK;
	*out = json_pack("{s:s, s:s}", "system", system, "code", code);
	return *out == NULL ? PV_ENOMEM : PV_OK;
}

static pv_status
codeable_concept(const json_t *in, json_t **out)
{
	const json_t *codings;
	json_t *arr, *c;
	size_t i;
	pv_status st = PV_OK;

	*out = NULL;
	codings = json_object_get(in, "coding");
	if (!json_is_array(codings))
		return PV_OK;
	if ((arr = json_array()) == NULL)
		return PV_ENOMEM;
	for (i = 0; i < json_array_size(codings) && st == PV_OK; i++) {
		if ((st = coding(json_array_get(codings, i), &c)) == PV_OK &&
		    c != NULL && json_array_append_new(arr, c) != 0)
			st = PV_ENOMEM;
	}
	if (st != PV_OK || json_array_size(arr) == 0) {
		json_decref(arr);
		return st;
	}
	if ((*out = json_object()) == NULL) {
		json_decref(arr);
		return PV_ENOMEM;
	}
	if ((st = set(*out, "coding", arr)) != PV_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return st;
}

static pv_status
quantity(const struct ctx *c, const json_t *in, bool may_be_age, json_t **out)
{
	const json_t *value;
	const char *cmp, *unit, *system, *code;
	double years, v;
	bool is_calendar = false, is_ucum;
	json_t *o;
	pv_status st = PV_OK;

	*out = NULL;
	value = json_object_get(in, "value");
	if (!json_is_number(value))
		return PV_OK;
	cmp = json_string_value(json_object_get(in, "comparator"));
	if (cmp != NULL && strcmp(cmp, "<") != 0 && strcmp(cmp, "<=") != 0 &&
	    strcmp(cmp, ">=") != 0 && strcmp(cmp, ">") != 0)
		cmp = NULL;
	unit = json_string_value(json_object_get(in, "unit"));
	system = json_string_value(json_object_get(in, "system"));
	code = json_string_value(json_object_get(in, "code"));
	is_ucum = system == NULL || strcmp(system, UCUM) == 0;

	/* Ages are recognised from what was sent, released or not. */
	years = 0;
	if (code != NULL && is_ucum)
		years = time_unit_years(code, &is_calendar);
	if (years == 0 && unit != NULL)
		years = time_unit_years(unit, &is_calendar);
	/* What may be released: UCUM only, from deid_ucum.c's tables. */
	unit = unit_is_ok(unit) ? unit : NULL;
	code = is_ucum && unit_is_ok(code) ? code : NULL;
	system = code != NULL ? system : NULL;

	/* a bare number in an Observation value could be an age */
	if (may_be_age && unit == NULL && code == NULL)
		return PV_OK;
	if (years > 0) {
		/*
		 * Age + event year = birth year: not for a patient whose
		 * birth year is withheld (90+, or not a released QI).
		 */
		if (may_be_age && is_calendar && c->p->birth_year <= 0)
			return PV_OK;
		v = json_number_value(value) * years;
		if (v >= DEID_AGE_LIMIT_YEARS - 1e-9) {
			/* "< 95 a" would say more than "90+": drop it */
			if (cmp != NULL && cmp[0] == '<')
				return PV_OK;
			*out = json_pack("{s:i, s:s, s:s, s:s, s:s}", "value",
			    DEID_AGE_LIMIT_YEARS, "comparator", ">=", "unit",
			    "a", "system", UCUM, "code", "a");
			return *out == NULL ? PV_ENOMEM : PV_OK;
		}
	}
	if ((o = json_object()) == NULL)
		return PV_ENOMEM;
	st = set(o, "value",
	    json_is_integer(value) ? json_integer(json_integer_value(value))
				   : json_real(json_real_value(value)));
	if (st == PV_OK && cmp != NULL)
		st = set(o, "comparator", json_string(cmp));
	if (st == PV_OK && unit != NULL)
		st = set(o, "unit", json_string(unit));
	if (st == PV_OK && system != NULL)
		st = set(o, "system", json_string(system));
	if (st == PV_OK && code != NULL)
		st = set(o, "code", json_string(code));
	if (st != PV_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return PV_OK;
}

static pv_status
range(const struct ctx *c, const json_t *in, json_t **out)
{
	static const char *const keys[] = { "low", "high" };
	json_t *o, *v;
	size_t i;
	pv_status st = PV_OK;

	*out = NULL;
	if (!json_is_object(in))
		return PV_OK;
	if ((o = json_object()) == NULL)
		return PV_ENOMEM;
	for (i = 0; i < PV_ARRAY_LEN(keys) && st == PV_OK; i++) {
		const json_t *q = json_object_get(in, keys[i]);

		if (!json_is_object(q))
			continue;
		if ((st = quantity(c, q, false, &v)) == PV_OK && v != NULL)
			st = set(o, keys[i], v);
	}
	if (st != PV_OK) {
		json_decref(o);
		return st;
	}
	keep_if_nonempty(o, out);
	return PV_OK;
}

/* "Type/{pseudonym of id}" as a Reference object. */
static pv_status
reference(const struct ctx *c, const char *type, const char *id, json_t **out)
{
	char pseud[PV_DEID_PSEUDONYM_LEN + 1];
	char ref[PV_DEID_KIND_MAX + 1 + PV_DEID_PSEUDONYM_LEN + 1];
	pv_status st;

	if ((st = pv_deid_pseudonym(c->d, type, id, pseud)) != PV_OK)
		return st;
	if ((st = pv_snprintf(ref, sizeof(ref), "%s/%s", type, pseud)) != PV_OK)
		return st;
	*out = json_pack("{s:s}", "reference", ref);
	return *out == NULL ? PV_ENOMEM : PV_OK;
}

/*
 * The one reference that may not be dropped silently: it must name the
 * patient being exported, or the caller mixed up compartments.
 */
static pv_status
patient_ref(struct ctx *c, const json_t *in, json_t **out)
{
	const char *ref = json_string_value(json_object_get(in, "reference"));

	*out = NULL;
	if (ref == NULL || strncmp(ref, "Patient/", 8) != 0 ||
	    strcmp(ref + 8, c->p->pid) != 0)
		return PV_EINVAL;
	c->has_patient_ref = true;
	return reference(c, "Patient", c->p->pid, out);
}

static pv_status
encounter_ref(const struct ctx *c, const json_t *in, json_t **out)
{
	const char *ref = json_string_value(json_object_get(in, "reference"));

	*out = NULL;
	if (ref == NULL || strncmp(ref, "Encounter/", 10) != 0 ||
	    !pv_fhir_id_is_valid(ref + 10))
		return PV_OK;
	return reference(c, "Encounter", ref + 10, out);
}

/* One value of rule r from in into *out (NULL: nothing kept). */
static pv_status
reduce(struct ctx *c, const struct deid_rule *r, const json_t *in, json_t **out)
{
	json_t *o;
	pv_status st;

	*out = NULL;
	switch (r->kind) {
	case R_CODE:
		if (r->vs != NULL && in_value_set(json_string_value(in), r->vs))
			*out = json_string(json_string_value(in));
		else
			return PV_OK;
		break;
	case R_BOOL:
		if (json_is_boolean(in))
			*out = json_boolean(json_is_true(in));
		else
			return PV_OK;
		break;
	case R_NUM:
		if (json_is_integer(in))
			*out = json_integer(json_integer_value(in));
		else if (json_is_real(in))
			*out = json_real(json_real_value(in));
		else
			return PV_OK;
		break;
	case R_YEAR:
		return year(in, out);
	case R_PERIOD:
		return period(in, out);
	case R_CODING:
		return coding(in, out);
	case R_CC:
		return codeable_concept(in, out);
	case R_QTY:
	case R_AGEQTY:
		if (!json_is_object(in))
			return PV_OK;
		return quantity(c, in, r->kind == R_AGEQTY, out);
	case R_RANGE:
		return range(c, in, out);
	case R_PATIENT:
		return patient_ref(c, in, out);
	case R_ENCOUNTER:
		return encounter_ref(c, in, out);
	case R_OBJ:
		if (!json_is_object(in))
			return PV_OK;
		if ((o = json_object()) == NULL)
			return PV_ENOMEM;
		if ((st = apply(c, r->sub, in, o)) != PV_OK) {
			json_decref(o);
			return st;
		}
		keep_if_nonempty(o, out);
		return PV_OK;
	}
	return *out == NULL ? PV_ENOMEM : PV_OK;
}

/* Copies into out what rules keep of object in. */
static pv_status
apply(struct ctx *c, const struct deid_rule *rules, const json_t *in,
    json_t *out)
{
	const struct deid_rule *r;
	const json_t *v;
	json_t *arr, *x;
	size_t i;
	pv_status st = PV_OK;

	for (r = rules; r->name != NULL && st == PV_OK; r++) {
		if ((v = json_object_get(in, r->name)) == NULL)
			continue;
		if (!r->is_array) {
			if ((st = reduce(c, r, v, &x)) == PV_OK && x != NULL)
				st = set(out, r->name, x);
			continue;
		}
		if (!json_is_array(v))
			continue;
		if ((arr = json_array()) == NULL)
			return PV_ENOMEM;
		for (i = 0; i < json_array_size(v) && st == PV_OK; i++) {
			if ((st = reduce(c, r, json_array_get(v, i), &x)) ==
				PV_OK &&
			    x != NULL && json_array_append_new(arr, x) != 0)
				st = PV_ENOMEM;
		}
		if (st == PV_OK && json_array_size(arr) > 0)
			st = set(out, r->name, arr);
		else
			json_decref(arr);
	}
	return st;
}

pv_status
deid_rules_apply(const struct pv_deid *d, const struct deid_patient *p,
    const char *type, const json_t *res, json_t *out)
{
	const struct deid_rule *rules = deid_rules_for(type);
	struct ctx c = { d, p, false };
	pv_status st;

	if (rules == NULL)
		return PV_EINVAL;
	if ((st = apply(&c, rules, res, out)) != PV_OK)
		return st;
	/* every compartment resource names its patient */
	return c.has_patient_ref ? PV_OK : PV_EINVAL;
}
