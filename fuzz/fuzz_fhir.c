/*
 * fuzz_fhir.c — libFuzzer harness for request-body handling: strict JSON
 * parsing (as pv_req_json_object does it) followed by the FHIR resource
 * checks, classification and minimisation (src/fhir/resource.c), linked
 * as is.
 */
#include "fhir/fhir.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const types[] = { "Patient", "Observation",
		"Communication" };
	char patient[PV_PATIENT_ID_MAX + 1];
	char dropped[4][PV_FHIR_FIELD_MAX];
	const char *why;
	json_t *j;
	size_t i;

	if (!pv_utf8_is_valid((const char *)data, size))
		return 0;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return 0;
	for (i = 0; i < PV_ARRAY_LEN(types); i++) {
		if (pv_fhir_check(j, types[i], patient, sizeof(patient),
			&why) == PV_OK &&
		    strcmp(types[i], "Patient") != 0 &&
		    !pv_fhir_id_is_valid(patient))
			__builtin_trap(); /* a bad patient id slipped by */
		(void)pv_fhir_classify(j);
	}
	(void)pv_fhir_minimize(j, "Patient", "Patient.photo, Patient.note",
	    dropped, 4);
	json_decref(j);
	return 0;
}
