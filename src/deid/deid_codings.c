/*
 * deid_codings.c — the terminology systems whose codings the
 * de-identified export may release, each with the grammar of its codes
 * (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(A), (G) to (K), (N), (R)).
 *
 * Threat (outside review, issue 13, finding 6): Coding.system and
 * Coding.code are strings a sender fills in. A system such as
 * "http://jane-doe.example/ssn" and a code such as "123-45-6789" or
 * "JaneDoe-1961-04-12" passed the old checks (any http URI, any token of
 * 64 characters) and came out of the export verbatim.
 *
 * Guarantee: deid_coding_is_released() is true only when the system is
 * one of the exact URIs below and the code matches that system's
 * grammar:
 *   LOINC          NNNNN-N, its last digit the LOINC mod-10 check digit;
 *                  answer and part codes LA/LP/LG/LL NNNNN-N
 *   SNOMED CT      a concept id: 6-18 digits, the Verhoeff check digit,
 *                  partition 00 or 10 (concept, short or long form)
 *   ICD-10         A00, A00.0, A00.01
 *   ICD-10-CM      A00, A0A, A00.0, ..., S72.001A (up to 4 after the dot)
 *   RxNorm         an RxCUI of 1-7 digits
 *   CVX            1-3 digits
 *   UCUM           a unit expression from deid_ucum.c's tables
 *   HL7 code systems (http://terminology.hl7.org/CodeSystem/...): only
 *                  the systems listed, only their listed codes (the value
 *                  sets the exported elements are bound to in FHIR R4)
 * Anything else is dropped by the caller, never pseudonymised: a code
 * that is an identifier would stay one after keyed hashing (a stable
 * per-person value derived from the identifier, which 164.514(c)(1) does
 * not allow), and a recipient cannot use an unknown local code anyway.
 * docs/DEID.md lists these systems; change both together.
 *
 * Not guaranteed: a grammar bounds what a code can say, it does not prove
 * the code exists. A syntactically valid but unassigned SNOMED or ICD
 * code still passes. It can carry a few digits chosen by a sender, never
 * a name, a URL or a whole SSN or date; see "What a compliance officer
 * still has to do" in docs/DEID.md.
 */
#include "deid/deid_int.h"

#include <ctype.h>
#include <string.h>

#define HL7_CS "http://terminology.hl7.org/CodeSystem/"

/* ---- grammars ---- */

static bool
all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strspn(s, "0123456789");

	return s[n] == '\0' && n >= min && n <= max;
}

/*
 * LOINC's mod-10 check digit (LOINC Users' Guide, "Calculating Mod 10
 * Check Digits"): the same sum as Luhn's, over the digits before the
 * hyphen, doubling every other digit from the rightmost one.
 */
static bool
loinc_ok(const char *s)
{
	size_t i, n, sum = 0;
	bool is_doubled = true;
	unsigned d;

	if (strncmp(s, "LA", 2) == 0 || strncmp(s, "LP", 2) == 0 ||
	    strncmp(s, "LG", 2) == 0 || strncmp(s, "LL", 2) == 0) {
		/* answer/part/group codes: no published check, syntax only */
		n = strspn(s + 2, "0123456789");
		return n >= 1 && n <= 6 && s[2 + n] == '-' &&
		    all_digits(s + 3 + n, 1, 1);
	}
	n = strspn(s, "0123456789");
	if (n < 1 || n > 7 || s[n] != '-' || !all_digits(s + n + 1, 1, 1))
		return false;
	for (i = n; i-- > 0; is_doubled = !is_doubled) {
		d = (unsigned)(s[i] - '0');
		if (is_doubled)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return (unsigned)(s[n + 1] - '0') == (10 - sum % 10) % 10;
}

/* Verhoeff's dihedral check (SNOMED CT Technical Implementation Guide). */
static bool
verhoeff_ok(const char *s, size_t n)
{
	static const unsigned char d[10][10] = {
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 },
		{ 1, 2, 3, 4, 0, 6, 7, 8, 9, 5 },
		{ 2, 3, 4, 0, 1, 7, 8, 9, 5, 6 },
		{ 3, 4, 0, 1, 2, 8, 9, 5, 6, 7 },
		{ 4, 0, 1, 2, 3, 9, 5, 6, 7, 8 },
		{ 5, 9, 8, 7, 6, 0, 4, 3, 2, 1 },
		{ 6, 5, 9, 8, 7, 1, 0, 4, 3, 2 },
		{ 7, 6, 5, 9, 8, 2, 1, 0, 4, 3 },
		{ 8, 7, 6, 5, 9, 3, 2, 1, 0, 4 },
		{ 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
	};
	static const unsigned char p[8][10] = {
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 },
		{ 1, 5, 7, 6, 2, 8, 3, 0, 9, 4 },
		{ 5, 8, 0, 3, 7, 9, 6, 1, 4, 2 },
		{ 8, 9, 1, 6, 0, 4, 3, 5, 2, 7 },
		{ 9, 4, 5, 3, 1, 2, 6, 8, 7, 0 },
		{ 4, 2, 8, 6, 5, 7, 3, 9, 0, 1 },
		{ 2, 7, 9, 3, 8, 0, 6, 4, 1, 5 },
		{ 7, 0, 4, 6, 9, 1, 3, 2, 5, 8 },
	};
	unsigned c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c = d[c][p[i % 8][s[n - 1 - i] - '0']];
	return c == 0;
}

/* A concept id: digits, partition 00 (short) or 10 (long), Verhoeff. */
static bool
snomed_ok(const char *s)
{
	size_t n = strlen(s);

	if (!all_digits(s, 6, 18) || s[0] == '0')
		return false;
	if ((s[n - 3] != '0' && s[n - 3] != '1') || s[n - 2] != '0')
		return false;
	return verhoeff_ok(s, n);
}

static bool
upper_or_digit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'A' && s[i] <= 'Z'))
			return false;
	return true;
}

/* ICD-10 (WHO): a letter, two digits, optionally '.' and 1-2 digits. */
static bool
icd10_ok(const char *s)
{
	if (!(s[0] >= 'A' && s[0] <= 'Z') || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]))
		return false;
	if (s[3] == '\0')
		return true;
	return s[3] == '.' && all_digits(s + 4, 1, 2);
}

/* ICD-10-CM: a letter, a digit, a digit or letter; '.' and 1-4 more. */
static bool
icd10cm_ok(const char *s)
{
	size_t n;

	if (!(s[0] >= 'A' && s[0] <= 'Z') || !isdigit((unsigned char)s[1]) ||
	    !upper_or_digit(s + 2, 1))
		return false;
	if (s[3] == '\0')
		return true;
	n = strlen(s + 4);
	return s[3] == '.' && n >= 1 && n <= 4 && upper_or_digit(s + 4, n);
}

static bool
rxnorm_ok(const char *s)
{
	return s[0] != '0' && all_digits(s, 1, 7);
}

static bool
cvx_ok(const char *s)
{
	return all_digits(s, 1, 3);
}

/* ---- HL7 code systems: the codes of their FHIR R4 value sets ---- */

static const char *const hl7_observation_category[] = { "social-history",
	"vital-signs", "imaging", "laboratory", "procedure", "survey", "exam",
	"therapy", "activity", NULL };
static const char *const hl7_interpretation[] = { "A", "AA", "AC", "B", "CAR",
	"Carrier", "D", "DET", "E", "EX", "EXP", "H", "HH", "HM", "HU", "HX",
	"I", "IE", "IND", "L", "LL", "LU", "LX", "MS", "N", "NCL", "ND", "NEG",
	"NR", "NS", "OBX", "POS", "QCF", "R", "RR", "S", "SDD", "SYN-R",
	"SYN-S", "TOX", "U", "UNE", "VS", "W", "WR", NULL };
static const char *const hl7_data_absent[] = { "unknown", "asked-unknown",
	"temp-unknown", "not-asked", "asked-declined", "masked",
	"not-applicable", "unsupported", "as-text", "error", "not-a-number",
	"negative-infinity", "positive-infinity", "not-performed",
	"not-permitted", NULL };
static const char *const hl7_null_flavor[] = { "NI", "INV", "DER", "OTH",
	"NINF", "PINF", "UNC", "MSK", "NA", "UNK", "ASKU", "NAV", "NASK",
	"NAVU", "QS", "TRC", "NP", NULL };
static const char *const hl7_condition_clinical[] = { "active", "recurrence",
	"relapse", "inactive", "remission", "resolved", NULL };
static const char *const hl7_condition_ver[] = { "unconfirmed", "provisional",
	"differential", "confirmed", "refuted", "entered-in-error", NULL };
static const char *const hl7_condition_category[] = { "problem-list-item",
	"encounter-diagnosis", NULL };
static const char *const hl7_act_encounter_class[] = { "AMB", "EMER", "FLD",
	"HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR", NULL };
static const char *const hl7_act_priority[] = { "A", "CR", "CS", "CSP", "CSR",
	"EL", "EM", "P", "PRN", "R", "RR", "S", "T", "UD", "UR", NULL };
static const char *const hl7_admit_source[] = { "hosp-trans", "emd", "outp",
	"born", "gp", "mp", "nursing", "psych", "rehab", "other", NULL };
static const char *const hl7_discharge[] = { "home", "alt-home", "other-hcf",
	"hosp", "long", "aadvice", "exp", "psy", "rehab", "snf", "oth", NULL };
static const char *const hl7_mr_category[] = { "inpatient", "outpatient",
	"community", "discharge", NULL };
static const char *const hl7_mr_status_reason[] = { "altchoice", "clarif",
	"drughigh", "hospadm", "labint", "non-avail", "preg", "salg", "sddi",
	"sdupther", "sintol", "surg", "washout", NULL };
static const char *const hl7_mr_course[] = { "continuous", "acute", "seasonal",
	NULL };
static const char *const hl7_dose_rate_type[] = { "calculated", "ordered",
	NULL };
static const char *const hl7_substitution_reason[] = { "CT", "FP", "OS", "RR",
	NULL };
static const char *const hl7_timing_abbreviation[] = { "BID", "TID", "QID",
	"AM", "PM", "QD", "QOD", "Q1H", "Q2H", "Q3H", "Q4H", "Q6H", "Q8H",
	"BED", "WK", "MO", NULL };
static const char *const hl7_ai_clinical[] = { "active", "inactive", "resolved",
	NULL };
static const char *const hl7_ai_verification[] = { "unconfirmed", "confirmed",
	"refuted", "entered-in-error", NULL };
static const char *const hl7_communication_category[] = { "alert",
	"notification", "reminder", "instruction", NULL };
static const char *const hl7_communication_not_done[] = { "unknown",
	"system-error", "invalid-phone-number", "recipient-unavailable",
	"family-objection", "patient-objection", NULL };
static const char *const hl7_participation_mode[] = { "ELECTRONIC", "PHYSICAL",
	"REMOTE", "VERBAL", "DICTATE", "FACE", "PHONE", "VIDEOCONF", "WRITTEN",
	"FAXWRIT", "HANDWRIT", "MAILWRIT", "ONLINEWRIT", "EMAILWRIT",
	"TYPEWRIT", NULL };

/* ---- the table ---- */

static const struct {
	const char *system;
	bool (*is_valid)(const char *code); /* a grammar, or */
	const char *const *codes; /* the system's codes */
} systems[] = {
	{ "http://loinc.org", loinc_ok, NULL },
	{ "http://snomed.info/sct", snomed_ok, NULL },
	{ "http://hl7.org/fhir/sid/icd-10", icd10_ok, NULL },
	{ "http://hl7.org/fhir/sid/icd-10-cm", icd10cm_ok, NULL },
	{ "http://www.nlm.nih.gov/research/umls/rxnorm", rxnorm_ok, NULL },
	{ "http://hl7.org/fhir/sid/cvx", cvx_ok, NULL },
	{ DEID_UCUM_SYSTEM, deid_ucum_is_valid, NULL },
	{ HL7_CS "observation-category", NULL, hl7_observation_category },
	{ HL7_CS "v3-ObservationInterpretation", NULL, hl7_interpretation },
	{ HL7_CS "data-absent-reason", NULL, hl7_data_absent },
	{ HL7_CS "v3-NullFlavor", NULL, hl7_null_flavor },
	{ HL7_CS "condition-clinical", NULL, hl7_condition_clinical },
	{ HL7_CS "condition-ver-status", NULL, hl7_condition_ver },
	{ HL7_CS "condition-category", NULL, hl7_condition_category },
	{ HL7_CS "v3-ActCode", NULL, hl7_act_encounter_class },
	{ HL7_CS "v3-ActPriority", NULL, hl7_act_priority },
	{ HL7_CS "admit-source", NULL, hl7_admit_source },
	{ HL7_CS "discharge-disposition", NULL, hl7_discharge },
	{ HL7_CS "medicationrequest-category", NULL, hl7_mr_category },
	{ HL7_CS "medicationrequest-status-reason", NULL,
	    hl7_mr_status_reason },
	{ HL7_CS "medicationrequest-course-of-therapy", NULL, hl7_mr_course },
	{ HL7_CS "dose-rate-type", NULL, hl7_dose_rate_type },
	{ HL7_CS "v3-ActReason", NULL, hl7_substitution_reason },
	{ HL7_CS "v3-GTSAbbreviation", NULL, hl7_timing_abbreviation },
	{ HL7_CS "allergyintolerance-clinical", NULL, hl7_ai_clinical },
	{ HL7_CS "allergyintolerance-verification", NULL, hl7_ai_verification },
	{ HL7_CS "communication-category", NULL, hl7_communication_category },
	{ HL7_CS "communication-not-done-reason", NULL,
	    hl7_communication_not_done },
	{ HL7_CS "v3-ParticipationMode", NULL, hl7_participation_mode },
};

bool
deid_coding_is_released(const char *system, const char *code)
{
	const char *const *c;
	size_t i;

	if (system == NULL || code == NULL || code[0] == '\0')
		return false;
	for (i = 0; i < PV_ARRAY_LEN(systems); i++) {
		if (strcmp(system, systems[i].system) != 0)
			continue;
		if (systems[i].is_valid != NULL)
			return systems[i].is_valid(code);
		for (c = systems[i].codes; *c != NULL; c++)
			if (strcmp(code, *c) == 0)
				return true;
		return false;
	}
	return false;
}
