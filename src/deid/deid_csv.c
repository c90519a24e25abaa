/*
 * deid_csv.c — the CSV form of the de-identified export: one flat row per
 * resource that pv_deid_resource returned, RFC 4180 (CRLF line ends, a
 * field holding a comma, quote, CR or LF is quoted and its quotes
 * doubled).
 *
 * Guarantee: a row is built only from a de-identified resource, so it
 * can hold nothing the whitelist in deid_rules.c did not keep; it reads a
 * fixed handful of elements and ignores the rest. Because codes, systems
 * and units were restricted to token characters when they were kept, no
 * text field of a row can start with '=', '+', '-' or '@' (spreadsheet
 * formula injection); only a negative number can start with '-'.
 *
 * Columns: resource_type, id, patient (pseudonyms), birth_year, sex, zip3
 * (Patient rows), status, category, code, value, unit, year. Codings are
 * written "system|code", several separated by a space.
 */
#include "deid/deid_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_HEADER                                                             \
	"resource_type,id,patient,birth_year,sex,zip3,"                        \
	"status,category,code,value,unit,year\r\n"

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool is_oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	size_t cap;
	char *np;

	if (b->is_oom)
		return;
	if (n > SIZE_MAX - b->len - 1) {
		b->is_oom = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 256 : b->cap;
		while (cap < b->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->is_oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Appends field s, quoted when RFC 4180 requires it. */
static void
sb_field(struct sbuf *b, const char *s)
{
	const char *q;

	if (strpbrk(s, ",\"\r\n") == NULL) {
		sb_str(b, s);
		return;
	}
	sb_add(b, "\"", 1);
	while ((q = strchr(s, '"')) != NULL) {
		sb_add(b, s, (size_t)(q - s) + 1);
		sb_add(b, "\"", 1);
		s = q + 1;
	}
	sb_str(b, s);
	sb_add(b, "\"", 1);
}

/*
 * Comparator (may be NULL) and number v as text: the shortest decimal that
 * reads back as the same double. "" when v is no number.
 */
static void
fmt_number(const char *cmp, const json_t *v, char *buf, size_t sz)
{
	double x;
	int prec;

	buf[0] = '\0';
	if (cmp == NULL)
		cmp = "";
	if (json_is_integer(v)) {
		PV_IGNORE(pv_snprintf(buf, sz, "%s%" JSON_INTEGER_FORMAT, cmp,
		    json_integer_value(v)));
		return;
	}
	if (!json_is_real(v))
		return;
	x = json_real_value(v);
	for (prec = 15; prec <= 17; prec++) {
		if (pv_snprintf(buf, sz, "%s%.*g", cmp, prec, x) != PV_OK)
			break;
		if (strtod(buf + strlen(cmp), NULL) == x)
			return;
	}
}

/*
 * Appends, space-separated, the codes held by v: a code string, a Coding
 * ("system|code"), a CodeableConcept, or an array of any of these.
 */
static void
sb_codes(struct sbuf *b, const json_t *v, bool *first)
{
	const char *sys, *code;
	size_t i;

	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			sb_codes(b, json_array_get(v, i), first);
		return;
	}
	if (json_is_string(v)) {
		if (!*first)
			sb_add(b, " ", 1);
		sb_str(b, json_string_value(v));
		*first = false;
		return;
	}
	if (!json_is_object(v))
		return;
	if (json_object_get(v, "coding") != NULL) {
		sb_codes(b, json_object_get(v, "coding"), first);
		return;
	}
	if ((code = json_string_value(json_object_get(v, "code"))) == NULL)
		return;
	if (!*first)
		sb_add(b, " ", 1);
	if ((sys = json_string_value(json_object_get(v, "system"))) != NULL) {
		sb_str(b, sys);
		sb_add(b, "|", 1);
	}
	sb_str(b, code);
	*first = false;
}

/* Field of codes: the first of names that the resource has. */
static void
sb_codes_field(struct sbuf *b, const json_t *r, const char *const *names)
{
	struct sbuf f = { NULL, 0, 0, false };
	const json_t *v;
	bool first = true;

	for (; *names != NULL; names++)
		if ((v = json_object_get(r, *names)) != NULL) {
			sb_codes(&f, v, &first);
			break;
		}
	if (f.is_oom)
		b->is_oom = true;
	sb_field(b, f.p != NULL ? f.p : "");
	free(f.p);
}

/* The first present of paths "a" or "a.b" (objects only). */
static const json_t *
first_path(const json_t *r, const char *const *paths)
{
	char head[64];
	const char *dot;
	const json_t *v;

	for (; *paths != NULL; paths++) {
		if ((dot = strchr(*paths, '.')) == NULL) {
			v = json_object_get(r, *paths);
		} else {
			if (pv_snprintf(head, sizeof(head), "%.*s",
				(int)(dot - *paths), *paths) != PV_OK)
				continue;
			v = json_object_get(json_object_get(r, head), dot + 1);
		}
		if (v != NULL)
			return v;
	}
	return NULL;
}

/* The value[x] of an Observation, or the first dose of a prescription. */
static const json_t *
main_value(const json_t *r)
{
	static const char *const values[] = {
		"valueQuantity",
		"valueCodeableConcept",
		"valueBoolean",
		NULL,
	};
	const json_t *v, *dose;

	if ((v = first_path(r, values)) != NULL)
		return v;
	dose = json_array_get(json_object_get(r, "dosageInstruction"), 0);
	dose = json_array_get(json_object_get(dose, "doseAndRate"), 0);
	return json_object_get(dose, "doseQuantity");
}

const char *
pv_deid_csv_header(void)
{
	return CSV_HEADER;
}

pv_status
pv_deid_csv_row(const json_t *r, char **row)
{
	static const char *const status[] = { "status", "clinicalStatus",
		NULL };
	static const char *const category[] = { "category", "class", NULL };
	static const char *const code[] = { "code", "medicationCodeableConcept",
		"type", "topic", NULL };
	static const char *const years[] = { "effectiveDateTime",
		"effectiveInstant", "effectivePeriod.start", "onsetDateTime",
		"onsetPeriod.start", "recordedDate", "period.start",
		"authoredOn", "date", "context.period.start", "sent",
		"received", NULL };
	struct sbuf b = { NULL, 0, 0, false };
	const json_t *v, *unit;
	const char *type, *id, *s;
	char num[64];
	bool is_patient;

	if (row == NULL)
		return PV_EINVAL;
	*row = NULL;
	type = json_string_value(json_object_get(r, "resourceType"));
	id = json_string_value(json_object_get(r, "id"));
	if (type == NULL || id == NULL || !pv_deid_type_is_supported(type))
		return PV_EINVAL;
	is_patient = strcmp(type, "Patient") == 0;

	sb_field(&b, type);
	sb_add(&b, ",", 1);
	sb_field(&b, id);
	sb_add(&b, ",", 1);
	if (is_patient)
		s = id;
	else {
		v = json_object_get(r, "subject");
		if (v == NULL)
			v = json_object_get(r, "patient");
		s = json_string_value(json_object_get(v, "reference"));
		if (s != NULL && strncmp(s, "Patient/", 8) == 0)
			s += 8;
	}
	sb_field(&b, s != NULL ? s : "");
	sb_add(&b, ",", 1);

	/* birth_year, sex, zip3 */
	s = json_string_value(json_object_get(r, "birthDate"));
	if (is_patient && s == NULL && json_object_get(r, "extension") != NULL)
		s = "90+"; /* the only extension deid.c writes */
	sb_field(&b, is_patient && s != NULL ? s : "");
	sb_add(&b, ",", 1);
	s = json_string_value(json_object_get(r, "gender"));
	sb_field(&b, is_patient && s != NULL ? s : "");
	sb_add(&b, ",", 1);
	s = json_string_value(
	    json_object_get(json_array_get(json_object_get(r, "address"), 0),
		"postalCode"));
	sb_field(&b, is_patient && s != NULL ? s : "");
	sb_add(&b, ",", 1);

	if (!is_patient) {
		sb_codes_field(&b, r, status);
		sb_add(&b, ",", 1);
		sb_codes_field(&b, r, category);
		sb_add(&b, ",", 1);
		sb_codes_field(&b, r, code);
		sb_add(&b, ",", 1);
		/* value, unit */
		v = main_value(r);
		unit = NULL;
		num[0] = '\0';
		if (json_is_boolean(v)) {
			sb_field(&b, json_is_true(v) ? "true" : "false");
		} else if (json_is_object(v) &&
		    json_object_get(v, "coding") != NULL) {
			static const char *const cc[] = { "coding", NULL };

			sb_codes_field(&b, v, cc);
		} else if (json_is_object(v)) {
			s = json_string_value(json_object_get(v, "comparator"));
			fmt_number(s, json_object_get(v, "value"), num,
			    sizeof(num));
			sb_field(&b, num);
			unit = json_object_get(v, "code");
			if (unit == NULL)
				unit = json_object_get(v, "unit");
		}
		sb_add(&b, ",", 1);
		s = json_string_value(unit);
		sb_field(&b, s != NULL ? s : "");
		sb_add(&b, ",", 1);
		s = json_string_value(first_path(r, years));
		sb_field(&b, s != NULL ? s : "");
	} else
		sb_str(&b, ",,,,,");
	sb_add(&b, "\r\n", 2);
	if (b.is_oom) {
		free(b.p);
		return PV_ENOMEM;
	}
	*row = b.p;
	return PV_OK;
}
