/*
 * resource.c — what a stored resource must look like.
 *
 * Guarantees: a resource is accepted only when its resourceType matches
 * the endpoint, its id (if any) has FHIR id syntax, its JSON nests no
 * deeper than PV_FHIR_MAX_DEPTH, and — for every type but Patient — it
 * names exactly one patient as {"reference": "Patient/{id}"} in subject
 * or patient (seed: "Validate all user inputs"). Anything else is refused
 * with a sentence the client can act on, and nothing is stored.
 *
 * Also here: the security-label classification used by authorization,
 * data minimisation on write, per-role field filters on read, and the
 * wiping allocator that jansson (and so every decrypted resource) uses.
 */
#include "fhir/fhir.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* ---- wiping allocator for jansson ------------------------------------ */

/*
 * jansson holds every decrypted resource as its own strings; freeing them
 * through this wipes them first. Plain malloc underneath (no header), so
 * memory jansson hands out (json_dumps) may still be released with free().
 */
static void
wipe_free(void *ptr)
{
	if (ptr == NULL)
		return;
	sodium_memzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

void
pv_fhir_json_init(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

/* ---- types ------------------------------------------------------------ */

bool
pv_fhir_type_is_compartment(const char *type)
{
	return pv_fhir_type_is_known(type) && strcmp(type, "Patient") != 0;
}

/* ---- validation -------------------------------------------------------- */

/* Iterative depth check: no recursion on attacker-shaped input. */
static bool
depth_ok(const json_t *root)
{
	struct frame {
		const json_t *v;
		size_t i;
		void *iter;
	} st[PV_FHIR_MAX_DEPTH + 1];
	size_t top = 0;

	st[0] = (struct frame){ root, 0, NULL };
	if (json_is_object(root))
		st[0].iter = json_object_iter((json_t *)root);
	for (;;) {
		struct frame *f = &st[top];
		const json_t *child = NULL;

		if (json_is_object(f->v)) {
			if (f->iter != NULL) {
				child = json_object_iter_value(f->iter);
				f->iter = json_object_iter_next((json_t *)f->v,
				    f->iter);
			}
		} else if (json_is_array(f->v) &&
		    f->i < json_array_size(f->v)) {
			child = json_array_get(f->v, f->i++);
		}
		if (child == NULL) {
			if (top == 0)
				return true;
			top--;
			continue;
		}
		if (!json_is_object(child) && !json_is_array(child))
			continue;
		if (top + 1 > PV_FHIR_MAX_DEPTH)
			return false;
		st[++top] = (struct frame){ child, 0,
			json_is_object(child)
			    ? json_object_iter((json_t *)child)
			    : NULL };
	}
}

/* "Patient/{id}" -> id. */
static bool
patient_ref(const json_t *ref, char *out, size_t outsz)
{
	const char *s = json_string_value(json_object_get(ref, "reference"));

	if (!json_is_object(ref) || s == NULL || strncmp(s, "Patient/", 8) != 0)
		return false;
	s += 8;
	return pv_fhir_id_is_valid(s) && pv_strlcpy(out, s, outsz) == PV_OK;
}

pv_status
pv_fhir_check(const json_t *res, const char *type, char *patient,
    size_t patientsz, const char **why)
{
	const char *rt, *id;
	const json_t *subj, *pat;
	char a[PV_PATIENT_ID_MAX + 1], b[PV_PATIENT_ID_MAX + 1];

	*why = "invalid resource";
	if (!json_is_object(res)) {
		*why = "the body must be a FHIR resource (a JSON object)";
		return PV_EINVAL;
	}
	rt = json_string_value(json_object_get(res, "resourceType"));
	if (rt == NULL || strcmp(rt, type) != 0) {
		*why = "resourceType must match the type in the URL";
		return PV_EINVAL;
	}
	if (json_object_get(res, "id") != NULL) {
		id = json_string_value(json_object_get(res, "id"));
		if (id == NULL || !pv_fhir_id_is_valid(id)) {
			*why = "id must be 1-64 characters of A-Z a-z 0-9 - .";
			return PV_EINVAL;
		}
	}
	if (!depth_ok(res)) {
		*why = "the resource nests too deeply";
		return PV_EINVAL;
	}
	if (json_object_get(res, "meta") != NULL &&
	    !json_is_object(json_object_get(res, "meta"))) {
		*why = "meta must be an object";
		return PV_EINVAL;
	}
	if (!pv_fhir_type_is_compartment(type))
		return PV_OK;
	subj = json_object_get(res, "subject");
	pat = json_object_get(res, "patient");
	if ((subj != NULL && !patient_ref(subj, a, sizeof(a))) ||
	    (pat != NULL && !patient_ref(pat, b, sizeof(b))) ||
	    (subj == NULL && pat == NULL)) {
		*why =
		    "the resource must name its patient as "
		    "{\"reference\": \"Patient/{id}\"} in subject or patient";
		return PV_EINVAL;
	}
	if (subj != NULL && pat != NULL && strcmp(a, b) != 0) {
		*why = "subject and patient name different patients";
		return PV_EINVAL;
	}
	return pv_strlcpy(patient, subj != NULL ? a : b, patientsz);
}

/* ---- classification ----------------------------------------------------- */

/*
 * HL7 v3 ActCode information-sensitivity codes (and confidentiality R/V)
 * that mark data needing more than care-team membership: behavioural and
 * mental health, HIV/AIDS, substance use, sexual and domestic violence,
 * sexual health, genetic disease, sickle cell, military sexual trauma.
 */
static const char *const restricted_codes[] = { "PSY", "PSYTHPN", "BH", "MH",
	"HIV", "ETH", "SUD", "ETHUD", "SDV", "SEX", "STD", "GDIS", "SICKLE",
	"SCA", "MST", "TBOO", "R", "V" };

pv_fhir_class
pv_fhir_classify(const json_t *res)
{
	const json_t *sec =
	    json_object_get(json_object_get(res, "meta"), "security");
	size_t i, k;

	if (!json_is_array(sec))
		return PV_FHIR_NORMAL;
	for (i = 0; i < json_array_size(sec); i++) {
		const char *code = json_string_value(
		    json_object_get(json_array_get(sec, i), "code"));

		for (k = 0; code != NULL && k < PV_ARRAY_LEN(restricted_codes);
		     k++)
			if (strcmp(code, restricted_codes[k]) == 0)
				return PV_FHIR_RESTRICTED;
	}
	return PV_FHIR_NORMAL;
}

/* ---- minimisation and filters ----------------------------------------------
 */

size_t
pv_fhir_minimize(json_t *res, const char *type, const char *csv,
    char (*dropped)[PV_FHIR_FIELD_MAX], size_t max)
{
	const char *p = csv;
	size_t n = 0, tlen = strlen(type);

	while (*p != '\0') {
		char field[64];
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		/* "Type.field" for this type; the field is top-level. */
		if (len > tlen + 1 && len - tlen - 1 < sizeof(field) &&
		    strncmp(p, type, tlen) == 0 && p[tlen] == '.') {
			memcpy(field, p + tlen + 1, len - tlen - 1);
			field[len - tlen - 1] = '\0';
			if (json_object_get(res, field) != NULL &&
			    json_object_del(res, field) == 0 && n < max &&
			    pv_snprintf(dropped[n], PV_FHIR_FIELD_MAX, "%s.%s",
				type, field) == PV_OK)
				n++;
		}
		p += strcspn(p, ",");
	}
	return n;
}

void
pv_fhir_remove_fields(json_t *res, const char *const *fields, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_object_del(res, fields[i]);
}
