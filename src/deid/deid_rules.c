/*
 * deid_rules.c — the whitelist of the de-identified export (HIPAA Safe
 * Harbor, 45 CFR 164.514(b)(2)): for each compartment type, the only
 * elements that may leave the vault, each with the kind that says what
 * survives of it (kinds are defined and applied in deid_reduce.c). The
 * Patient is built in deid.c from its quasi-identifier tuple alone.
 *
 * Guarantee: an output resource holds resourceType, the pseudonymised
 * id, and the elements listed here. Everything else in the input
 * (text/div narrative, note, identifier, extension, modifierExtension,
 * contained, meta, display strings, CodeableConcept.text, free-text
 * dosage, payloads, attachments' url/data/title/hash, performers,
 * authors, locations and every other reference) is dropped because it is
 * not listed; there is no list of "bad" fields to keep up to date. Coded
 * values are whitelisted too: a code element only from its value set
 * below, a Coding only from a terminology system of deid_codings.c.
 * docs/DEID.md mirrors these tables for compliance review: change both
 * together. Age[x] elements (onsetAge, abatementAge) are deliberately
 * absent: age at onset plus the onset year would give the birth year.
 */
#include "deid/deid_int.h"

#include <string.h>

#define ONE(n, k)                                                              \
	{                                                                      \
		n, k, false, NULL, NULL                                        \
	}
#define MANY(n, k)                                                             \
	{                                                                      \
		n, k, true, NULL, NULL                                         \
	}
#define CODE(n, v)                                                             \
	{                                                                      \
		n, R_CODE, false, NULL, v                                      \
	}
#define CODES(n, v)                                                            \
	{                                                                      \
		n, R_CODE, true, NULL, v                                       \
	}
#define OBJ(n, t)                                                              \
	{                                                                      \
		n, R_OBJ, false, t, NULL                                       \
	}
#define OBJS(n, t)                                                             \
	{                                                                      \
		n, R_OBJ, true, t, NULL                                        \
	}
#define END                                                                    \
	{                                                                      \
		NULL, R_CODE, false, NULL, NULL                                \
	}

/*
 * Required value sets of the code elements (FHIR R4): a single word that
 * is not one of these, say a name typed into a status, is dropped.
 */
static const char *const vs_obs_status[] = { "registered", "preliminary",
	"final", "amended", "corrected", "cancelled", "entered-in-error",
	"unknown", NULL };
static const char *const vs_enc_status[] = { "planned", "arrived", "triaged",
	"in-progress", "onleave", "finished", "cancelled", "entered-in-error",
	"unknown", NULL };
static const char *const vs_mr_status[] = { "active", "on-hold", "cancelled",
	"completed", "entered-in-error", "stopped", "draft", "unknown", NULL };
static const char *const vs_mr_intent[] = { "proposal", "plan", "order",
	"original-order", "reflex-order", "filler-order", "instance-order",
	"option", NULL };
static const char *const vs_priority[] = { "routine", "urgent", "asap", "stat",
	NULL };
static const char *const vs_time_unit[] = { "s", "min", "h", "d", "wk", "mo",
	"a", NULL };
static const char *const vs_day[] = { "mon", "tue", "wed", "thu", "fri", "sat",
	"sun", NULL };
static const char *const vs_when[] = { "MORN", "MORN.early", "MORN.late",
	"NOON", "AFT", "AFT.early", "AFT.late", "EVE", "EVE.early", "EVE.late",
	"NIGHT", "PHS", "HS", "WAKE", "C", "CM", "CD", "CV", "AC", "ACM", "ACD",
	"ACV", "PC", "PCM", "PCD", "PCV", NULL };
static const char *const vs_ai_type[] = { "allergy", "intolerance", NULL };
static const char *const vs_ai_category[] = { "food", "medication",
	"environment", "biologic", NULL };
static const char *const vs_ai_criticality[] = { "low", "high",
	"unable-to-assess", NULL };
static const char *const vs_severity[] = { "mild", "moderate", "severe", NULL };
static const char *const vs_dr_status[] = { "current", "superseded",
	"entered-in-error", NULL };
static const char *const vs_dr_doc_status[] = { "preliminary", "final",
	"amended", "entered-in-error", NULL };
static const char *const vs_event_status[] = { "preparation", "in-progress",
	"not-done", "on-hold", "stopped", "completed", "entered-in-error",
	"unknown", NULL };
/*
 * contentType and language have no required value set in FHIR, so they
 * get ours: a free-form token ("JaneDoe/1961") could carry a name or a
 * date. The MIME types of clinical documents, and FHIR's "common
 * languages" (http://hl7.org/fhir/ValueSet/languages).
 */
static const char *const vs_mime[] = { "application/pdf", "application/dicom",
	"application/json", "application/xml", "application/fhir+json",
	"application/fhir+xml", "application/hl7-v2", "application/hl7-v2+er7",
	"application/msword", "application/rtf",
	"application/vnd.openxmlformats-officedocument.wordprocessingml."
	"document",
	"audio/mpeg", "audio/wav", "image/gif", "image/jpeg", "image/png",
	"image/tiff", "text/csv", "text/html", "text/plain", "text/rtf",
	"text/xml", "video/mp4", "video/mpeg", NULL };
static const char *const vs_language[] = { "ar", "bn", "cs", "da", "de",
	"de-AT", "de-CH", "de-DE", "el", "en", "en-AU", "en-CA", "en-GB",
	"en-IN", "en-NZ", "en-SG", "en-US", "es", "es-AR", "es-ES", "es-UY",
	"fi", "fr", "fr-BE", "fr-CH", "fr-FR", "fy", "fy-NL", "hi", "hr", "it",
	"it-CH", "it-IT", "ja", "ko", "nl", "nl-BE", "nl-NL", "no", "no-NO",
	"pa", "pl", "pt", "pt-BR", "ru", "ru-RU", "sr", "sr-RS", "sv", "sv-SE",
	"te", "zh", "zh-CN", "zh-HK", "zh-SG", "zh-TW", NULL };

/* ---- Observation ---- */
static const struct deid_rule obs_component[] = { ONE("code", R_CC),
	ONE("valueQuantity", R_AGEQTY), ONE("valueCodeableConcept", R_CC),
	ONE("valueBoolean", R_BOOL), ONE("dataAbsentReason", R_CC),
	MANY("interpretation", R_CC), END };
static const struct deid_rule observation[] = { CODE("status", vs_obs_status),
	MANY("category", R_CC), ONE("code", R_CC), ONE("subject", R_PATIENT),
	ONE("encounter", R_ENCOUNTER), ONE("effectiveDateTime", R_YEAR),
	ONE("effectivePeriod", R_PERIOD), ONE("effectiveInstant", R_YEAR),
	ONE("valueQuantity", R_AGEQTY), ONE("valueCodeableConcept", R_CC),
	ONE("valueBoolean", R_BOOL), ONE("dataAbsentReason", R_CC),
	MANY("interpretation", R_CC), ONE("bodySite", R_CC),
	ONE("method", R_CC), OBJS("component", obs_component), END };

/* ---- Condition ---- */
static const struct deid_rule condition[] = { ONE("clinicalStatus", R_CC),
	ONE("verificationStatus", R_CC), MANY("category", R_CC),
	ONE("severity", R_CC), ONE("code", R_CC), MANY("bodySite", R_CC),
	ONE("subject", R_PATIENT), ONE("encounter", R_ENCOUNTER),
	ONE("onsetDateTime", R_YEAR), ONE("onsetPeriod", R_PERIOD),
	ONE("abatementDateTime", R_YEAR), ONE("abatementPeriod", R_PERIOD),
	ONE("recordedDate", R_YEAR), END };

/* ---- Encounter ---- */
static const struct deid_rule enc_hospitalization[] = {
	ONE("admitSource", R_CC), ONE("dischargeDisposition", R_CC), END
};
static const struct deid_rule encounter[] = { CODE("status", vs_enc_status),
	ONE("class", R_CODING), MANY("type", R_CC), ONE("serviceType", R_CC),
	ONE("priority", R_CC), ONE("subject", R_PATIENT),
	ONE("period", R_PERIOD), ONE("length", R_QTY), MANY("reasonCode", R_CC),
	OBJ("hospitalization", enc_hospitalization), END };

/* ---- MedicationRequest ---- */
static const struct deid_rule mr_repeat[] = { ONE("count", R_NUM),
	ONE("countMax", R_NUM), ONE("duration", R_NUM),
	ONE("durationMax", R_NUM), CODE("durationUnit", vs_time_unit),
	ONE("frequency", R_NUM), ONE("frequencyMax", R_NUM),
	ONE("period", R_NUM), ONE("periodMax", R_NUM),
	CODE("periodUnit", vs_time_unit), CODES("dayOfWeek", vs_day),
	CODES("when", vs_when), END };
static const struct deid_rule mr_timing[] = { OBJ("repeat", mr_repeat),
	ONE("code", R_CC), END };
static const struct deid_rule mr_dose_rate[] = { ONE("type", R_CC),
	ONE("doseQuantity", R_QTY), ONE("doseRange", R_RANGE),
	ONE("rateQuantity", R_QTY), ONE("rateRange", R_RANGE), END };
static const struct deid_rule mr_dosage[] = { ONE("sequence", R_NUM),
	OBJ("timing", mr_timing), ONE("asNeededBoolean", R_BOOL),
	ONE("asNeededCodeableConcept", R_CC), ONE("site", R_CC),
	ONE("route", R_CC), ONE("method", R_CC),
	OBJS("doseAndRate", mr_dose_rate),
	ONE("maxDosePerAdministration", R_QTY),
	ONE("maxDosePerLifetime", R_QTY), END };
static const struct deid_rule mr_dispense[] = { ONE("numberOfRepeatsAllowed",
						    R_NUM),
	ONE("quantity", R_QTY), ONE("expectedSupplyDuration", R_QTY), END };
static const struct deid_rule mr_substitution[] = {
	ONE("allowedBoolean", R_BOOL), ONE("reason", R_CC), END
};
static const struct deid_rule medication_request[] = { CODE("status",
							   vs_mr_status),
	ONE("statusReason", R_CC), CODE("intent", vs_mr_intent),
	MANY("category", R_CC), CODE("priority", vs_priority),
	ONE("doNotPerform", R_BOOL), ONE("medicationCodeableConcept", R_CC),
	ONE("subject", R_PATIENT), ONE("encounter", R_ENCOUNTER),
	ONE("authoredOn", R_YEAR), MANY("reasonCode", R_CC),
	ONE("courseOfTherapyType", R_CC), OBJS("dosageInstruction", mr_dosage),
	OBJ("dispenseRequest", mr_dispense),
	OBJ("substitution", mr_substitution), END };

/* ---- AllergyIntolerance ---- */
static const struct deid_rule ai_reaction[] = { ONE("substance", R_CC),
	MANY("manifestation", R_CC), ONE("onset", R_YEAR),
	CODE("severity", vs_severity), ONE("exposureRoute", R_CC), END };
static const struct deid_rule allergy_intolerance[] = {
	ONE("clinicalStatus", R_CC), ONE("verificationStatus", R_CC),
	CODE("type", vs_ai_type), CODES("category", vs_ai_category),
	CODE("criticality", vs_ai_criticality), ONE("code", R_CC),
	ONE("patient", R_PATIENT), ONE("encounter", R_ENCOUNTER),
	ONE("onsetDateTime", R_YEAR), ONE("onsetPeriod", R_PERIOD),
	ONE("recordedDate", R_YEAR), ONE("lastOccurrence", R_YEAR),
	OBJS("reaction", ai_reaction), END
};

/* ---- DocumentReference: metadata only, never the document ---- */
static const struct deid_rule dr_attachment[] = { CODE("contentType", vs_mime),
	CODE("language", vs_language), END };
static const struct deid_rule dr_content[] = { OBJ("attachment", dr_attachment),
	ONE("format", R_CODING), END };
static const struct deid_rule dr_context[] = { MANY("event", R_CC),
	ONE("period", R_PERIOD), ONE("facilityType", R_CC),
	ONE("practiceSetting", R_CC), END };
static const struct deid_rule document_reference[] = { CODE("status",
							   vs_dr_status),
	CODE("docStatus", vs_dr_doc_status), ONE("type", R_CC),
	MANY("category", R_CC), ONE("subject", R_PATIENT), ONE("date", R_YEAR),
	OBJS("content", dr_content), OBJ("context", dr_context), END };

/* ---- Communication: metadata only, never the payload ---- */
static const struct deid_rule communication[] = {
	CODE("status", vs_event_status), ONE("statusReason", R_CC),
	MANY("category", R_CC), CODE("priority", vs_priority),
	MANY("medium", R_CC), ONE("subject", R_PATIENT), ONE("topic", R_CC),
	ONE("encounter", R_ENCOUNTER), ONE("sent", R_YEAR),
	ONE("received", R_YEAR), MANY("reasonCode", R_CC), END
};

static const struct {
	const char *type;
	const struct deid_rule *rules;
} types[] = {
	{ "Observation", observation },
	{ "Condition", condition },
	{ "Encounter", encounter },
	{ "MedicationRequest", medication_request },
	{ "AllergyIntolerance", allergy_intolerance },
	{ "DocumentReference", document_reference },
	{ "Communication", communication },
};

const struct deid_rule *
deid_rules_for(const char *type)
{
	size_t i;

	if (type == NULL)
		return NULL;
	for (i = 0; i < PV_ARRAY_LEN(types); i++)
		if (strcmp(type, types[i].type) == 0)
			return types[i].rules;
	return NULL;
}
