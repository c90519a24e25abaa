/*
 * test_deid.c — the de-identification core (src/deid/deid*.c):
 * one test per Safe Harbor rule (dates, 90+, ZIP3, identifiers, free
 * text, references), the whitelist as a whole, pseudonyms (known answer,
 * stable per key, different across keys), k-anonymity suppression and its
 * independent check, CSV quoting, and a 100,000-resource run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "deid/deid.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 2025
#define HL7CS "http://terminology.hl7.org/CodeSystem/"
#define RXNORM "http://www.nlm.nih.gov/research/umls/rxnorm"

static const unsigned char key1[PV_DEID_KEY_BYTES] = {
	1,
	2,
	3,
	4,
	5,
	6,
	7,
	8,
	9,
	10,
	11,
	12,
	13,
	14,
	15,
	16,
	17,
	18,
	19,
	20,
	21,
	22,
	23,
	24,
	25,
	26,
	27,
	28,
	29,
	30,
	31,
	32,
};
static const unsigned char key2[PV_DEID_KEY_BYTES] = { 0xaa };

/* JSON from text with ' for " (keeps the fixtures readable). */
static json_t *
J(const char *text)
{
	char *s = strdup(text), *p;
	json_error_t err;
	json_t *v;

	assert_non_null(s);
	for (p = s; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(s, 0, &err);
	if (v == NULL)
		fail_msg("fixture: %s at %d: %s", err.text, err.position, s);
	free(s);
	return v;
}

static struct pv_deid *
new_deid(const unsigned char *key, int64_t k, const char *quasi)
{
	struct pv_deid *d = NULL;

	assert_int_equal(pv_deid_new(key, k, quasi, NOW, &d), PV_OK);
	assert_non_null(d);
	return d;
}

static void
add(struct pv_deid *d, const char *pid, const char *patient_json)
{
	json_t *p = J(patient_json);

	assert_int_equal(pv_deid_add_patient(d, pid, p), PV_OK);
	json_decref(p);
}

/* Patient JSON with the given demographics (NULL: absent). */
static void
add_demo(struct pv_deid *d, const char *pid, const char *birth,
    const char *gender, const char *zip)
{
	json_t *p =
	    json_pack("{s:s, s:s}", "resourceType", "Patient", "id", pid);

	if (birth != NULL)
		json_object_set_new(p, "birthDate", json_string(birth));
	if (gender != NULL)
		json_object_set_new(p, "gender", json_string(gender));
	if (zip != NULL)
		json_object_set_new(p, "address",
		    json_pack("[{s:s, s:s}]", "use", "home", "postalCode",
			zip));
	assert_int_equal(pv_deid_add_patient(d, pid, p), PV_OK);
	json_decref(p);
}

static void
finish(struct pv_deid *d, struct pv_deid_report *rep)
{
	assert_int_equal(pv_deid_finish_groups(d, rep), PV_OK);
}

/* De-identifies res_json for pid; fails the test unless released. */
static json_t *
deid(struct pv_deid *d, const char *pid, const char *res_json)
{
	json_t *res = J(res_json), *out = NULL;
	bool sup = true;

	assert_int_equal(pv_deid_resource(d, pid, res, &out, &sup), PV_OK);
	assert_false(sup);
	assert_non_null(out);
	json_decref(res);
	return out;
}

static pv_status
deid_status(struct pv_deid *d, const char *pid, const char *res_json)
{
	json_t *res = J(res_json), *out = NULL;
	bool sup = false;
	pv_status st;

	st = pv_deid_resource(d, pid, res, &out, &sup);
	if (st != PV_OK)
		assert_null(out);
	json_decref(out);
	json_decref(res);
	return st;
}

static char *
dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);

	assert_non_null(s);
	return s;
}

static const char *
str_at(const json_t *v, const char *path)
{
	char buf[256], *p, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = strtok_r(buf, ".", &save); p != NULL && v != NULL;
	     p = strtok_r(NULL, ".", &save)) {
		if (*p >= '0' && *p <= '9')
			v = json_array_get(v, (size_t)atoi(p));
		else
			v = json_object_get(v, p);
	}
	return json_string_value(v);
}

static void
assert_absent(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("'%s' leaked into %s", needle, hay);
}

static void
pseud(struct pv_deid *d, const char *kind, const char *id,
    char out[PV_DEID_PSEUDONYM_LEN + 1])
{
	assert_int_equal(pv_deid_pseudonym(d, kind, id, out), PV_OK);
}

/* ---- construction ---- */

static void
test_new_arguments(void **state)
{
	struct pv_deid *d = NULL;
	static const char *const bad_quasi[] = {
		"birth_year,foo",
		"sex,sex",
		"sex,,zip3",
		",",
		"sex zip3",
		"Sex",
		"zip5",
	};
	static const char *const good_quasi[] = {
		"birth_year,sex,zip3",
		" sex , zip3 ",
		"",
		"zip3",
		"  ",
	};
	size_t i;

	(void)state;
	assert_int_equal(pv_deid_new(key1, 1, "sex", NOW, &d), PV_EINVAL);
	assert_null(d);
	assert_int_equal(pv_deid_new(key1, PV_DEID_K_MAX + 1, "sex", NOW, &d),
	    PV_EINVAL);
	assert_int_equal(pv_deid_new(key1, 5, "sex", 1800, &d), PV_EINVAL);
	assert_int_equal(pv_deid_new(NULL, 5, "sex", NOW, &d), PV_EINVAL);
	assert_int_equal(pv_deid_new(key1, 5, NULL, NOW, &d), PV_EINVAL);
	for (i = 0; i < sizeof(bad_quasi) / sizeof(bad_quasi[0]); i++) {
		assert_int_equal(pv_deid_new(key1, 5, bad_quasi[i], NOW, &d),
		    PV_EINVAL);
		assert_null(d);
	}
	for (i = 0; i < sizeof(good_quasi) / sizeof(good_quasi[0]); i++) {
		assert_int_equal(pv_deid_new(key1, 5, good_quasi[i], NOW, &d),
		    PV_OK);
		pv_deid_free(d);
		d = NULL;
	}
	pv_deid_free(NULL);
}

/* ---- pseudonyms ---- */

static void
test_pseudonym_known_answer(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "sex");
	char p[PV_DEID_PSEUDONYM_LEN + 1];

	(void)state;
	/* HMAC-SHA-256(key1, "phivault-deid-v1\0Patient\0abc")[0:16] */
	pseud(d, "Patient", "abc", p);
	assert_string_equal(p, "d-2256e05ffe59086dbb382602ce11f2d8");
	pseud(d, "Observation", "obs-1", p);
	assert_string_equal(p, "d-753c63b2cc232b7e10cbe0f23e5dc6a7");
	assert_int_equal(strlen(p), PV_DEID_PSEUDONYM_LEN);
	assert_true(pv_fhir_id_is_valid(p));
	pv_deid_free(d);
}

static void
test_pseudonym_stable_and_keyed(void **state)
{
	struct pv_deid *a = new_deid(key1, 2, "sex");
	struct pv_deid *a2 = new_deid(key1, 7, "zip3");
	struct pv_deid *b = new_deid(key2, 2, "sex");
	char pa[PV_DEID_PSEUDONYM_LEN + 1], pa2[PV_DEID_PSEUDONYM_LEN + 1];
	char pb[PV_DEID_PSEUDONYM_LEN + 1], pk[PV_DEID_PSEUDONYM_LEN + 1];

	(void)state;
	pseud(a, "Patient", "p1", pa);
	pseud(a2, "Patient", "p1", pa2);
	pseud(b, "Patient", "p1", pb);
	pseud(a, "Encounter", "p1", pk);
	assert_string_equal(pa, pa2); /* same key: same */
	assert_string_not_equal(pa, pb); /* other key: other */
	assert_string_not_equal(pa, pk); /* other kind: other */
	pseud(a, "Patient", "p2", pk);
	assert_string_not_equal(pa, pk);

	assert_int_equal(pv_deid_pseudonym(a, "Patient", "bad id", pk),
	    PV_EINVAL);
	assert_string_equal(pk, "");
	assert_int_equal(pv_deid_pseudonym(a, "Pat|ient", "p1", pk), PV_EINVAL);
	assert_int_equal(pv_deid_pseudonym(a, "", "p1", pk), PV_EINVAL);
	pv_deid_free(a);
	pv_deid_free(a2);
	pv_deid_free(b);
}

/* ---- Safe Harbor rules ---- */

static void
test_dates_keep_year_only(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "birth_year,sex,zip3");
	json_t *o;
	char *s;

	(void)state;
	add_demo(d, "p1", "1970-05-17", "female", "02139");
	add_demo(d, "p2", "1970-05-18", "female", "02138");
	finish(d, NULL);

	o = deid(d, "p1",
	    "{'resourceType':'Observation','id':'o1',"
	    "'status':'final','subject':{'reference':'Patient/p1'},"
	    "'effectiveDateTime':'2021-03-04T10:11:12+01:00',"
	    "'issued':'2021-03-04T10:11:12.123Z',"
	    "'code':{'coding':[{'system':'http://loinc.org',"
	    "'code':'8867-4'}]}}");
	assert_string_equal(str_at(o, "effectiveDateTime"), "2021");
	assert_null(json_object_get(o, "issued"));
	s = dump(o);
	assert_absent(s, "03-04");
	assert_absent(s, "10:11");
	free(s);
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'Condition','id':'c1',"
	    "'subject':{'reference':'Patient/p1'},"
	    "'onsetDateTime':'2019-12-31','abatementPeriod':"
	    "{'start':'2020-01-02','end':'2020-02'},"
	    "'recordedDate':'2020-01-05T00:00:00Z','onsetAge':"
	    "{'value':49,'unit':'a'}}");
	assert_string_equal(str_at(o, "onsetDateTime"), "2019");
	assert_string_equal(str_at(o, "abatementPeriod.start"), "2020");
	assert_string_equal(str_at(o, "abatementPeriod.end"), "2020");
	assert_string_equal(str_at(o, "recordedDate"), "2020");
	assert_null(json_object_get(o, "onsetAge"));
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'Encounter','id':'e1',"
	    "'status':'finished','subject':{'reference':'Patient/p1'},"
	    "'period':{'start':'2022-06-01T08:00:00Z',"
	    "'end':'2022-06-03T17:00:00Z'}}");
	assert_string_equal(str_at(o, "period.start"), "2022");
	assert_string_equal(str_at(o, "period.end"), "2022");
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'MedicationRequest','id':'m1',"
	    "'status':'active','intent':'order',"
	    "'subject':{'reference':'Patient/p1'},"
	    "'authoredOn':'2023-07-08','dosageInstruction':[{'timing':"
	    "{'event':['2023-07-09'],'repeat':{'frequency':2,'period':1,"
	    "'periodUnit':'d','boundsPeriod':{'start':'2023-07-09'}}}}]}");
	assert_string_equal(str_at(o, "authoredOn"), "2023");
	s = dump(o);
	assert_absent(s, "07-0");
	free(s);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(
		    json_object_get(json_array_get(json_object_get(o,
						       "dosageInstruction"),
					0),
			"timing"),
		    "repeat"),
		"frequency")),
	    2);
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'DocumentReference','id':'d1',"
	    "'status':'current','subject':{'reference':'Patient/p1'},"
	    "'date':'2024-02-29T12:00:00Z','context':{'period':"
	    "{'start':'2024-02-28'}}}");
	assert_string_equal(str_at(o, "date"), "2024");
	assert_string_equal(str_at(o, "context.period.start"), "2024");
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'AllergyIntolerance','id':'a1',"
	    "'patient':{'reference':'Patient/p1'},"
	    "'recordedDate':'2018-04-04','lastOccurrence':'2019-09-09',"
	    "'reaction':[{'onset':'2018-04-01','severity':'mild'}]}");
	assert_string_equal(str_at(o, "recordedDate"), "2018");
	assert_string_equal(str_at(o, "lastOccurrence"), "2019");
	assert_string_equal(str_at(o, "reaction.0.onset"), "2018");
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'Communication','id':'m2',"
	    "'status':'completed','subject':{'reference':'Patient/p1'},"
	    "'sent':'2021-11-11T11:11:11Z','received':'bogus'}");
	assert_string_equal(str_at(o, "sent"), "2021");
	assert_null(json_object_get(o, "received"));
	json_decref(o);
	pv_deid_free(d);
}

static void
test_birth_year_and_90_plus(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "birth_year");
	json_t *o;
	char *s;

	(void)state;
	add_demo(d, "old1", "1935-12-31", NULL, NULL); /* 89 or 90 */
	add_demo(d, "old2", "1901-01-01", NULL, NULL);
	add_demo(d, "y1", "1936-01-01", NULL, NULL); /* at most 89 */
	add_demo(d, "y2", "1936", NULL, NULL);
	add_demo(d, "u1", "2031-01-01", NULL, NULL); /* future */
	add_demo(d, "u2", "garbage", NULL, NULL);
	finish(d, NULL);

	o = deid(d, "old1",
	    "{'resourceType':'Patient','id':'old1',"
	    "'birthDate':'1935-12-31'}");
	assert_null(json_object_get(o, "birthDate"));
	assert_string_equal(str_at(o, "extension.0.url"),
	    "urn:phivault:deid:age-90-or-older");
	s = dump(o);
	assert_absent(s, "1935");
	free(s);
	json_decref(o);

	o = deid(d, "y1", "{'resourceType':'Patient','id':'y1'}");
	assert_string_equal(str_at(o, "birthDate"), "1936");
	assert_null(json_object_get(o, "extension"));
	json_decref(o);

	o = deid(d, "u1", "{'resourceType':'Patient','id':'u1'}");
	assert_null(json_object_get(o, "birthDate"));
	assert_null(json_object_get(o, "extension"));
	json_decref(o);

	/* An age of 90+ is folded; an age of a 90+ patient is withheld. */
	o = deid(d, "y1",
	    "{'resourceType':'Observation','id':'o1',"
	    "'subject':{'reference':'Patient/y1'},'valueQuantity':"
	    "{'value':95,'unit':'years','system':"
	    "'http://unitsofmeasure.org','code':'a'}}");
	assert_string_equal(str_at(o, "valueQuantity.comparator"), ">=");
	assert_int_equal(json_integer_value(
			     json_object_get(json_object_get(o,
						 "valueQuantity"),
				 "value")),
	    90);
	json_decref(o);
	o = deid(d, "y1",
	    "{'resourceType':'Observation','id':'o2',"
	    "'subject':{'reference':'Patient/y1'},'valueQuantity':"
	    "{'value':33000,'unit':'d'}}");
	assert_string_equal(str_at(o, "valueQuantity.code"), "a");
	json_decref(o);
	o = deid(d, "y1",
	    "{'resourceType':'Observation','id':'o3',"
	    "'subject':{'reference':'Patient/y1'},'valueQuantity':"
	    "{'value':95,'comparator':'<','unit':'a'}}");
	assert_null(json_object_get(o, "valueQuantity"));
	json_decref(o);
	/* a bare number could be an age */
	o = deid(d, "y1",
	    "{'resourceType':'Observation','id':'o6',"
	    "'subject':{'reference':'Patient/y1'},'valueQuantity':"
	    "{'value':93},'component':[{'valueQuantity':{'value':93,"
	    "'unit':'{score}'}}]}");
	assert_null(json_object_get(o, "valueQuantity"));
	assert_string_equal(str_at(o, "component.0.valueQuantity.unit"),
	    "{score}");
	json_decref(o);
	o = deid(d, "y1",
	    "{'resourceType':'Observation','id':'o4',"
	    "'subject':{'reference':'Patient/y1'},'valueQuantity':"
	    "{'value':64,'unit':'a'}}");
	assert_int_equal(json_integer_value(
			     json_object_get(json_object_get(o,
						 "valueQuantity"),
				 "value")),
	    64);
	json_decref(o);
	o = deid(d, "old2",
	    "{'resourceType':'Observation','id':'o5',"
	    "'subject':{'reference':'Patient/old2'},'valueQuantity':"
	    "{'value':85,'system':'http://unitsofmeasure.org','code':'a'},"
	    "'component':[{'valueQuantity':{'value':1000,'code':'mo'}},"
	    "{'valueQuantity':{'value':120,'code':'mm[Hg]'}}]}");
	assert_null(json_object_get(o, "valueQuantity"));
	s = dump(o);
	assert_absent(s, "\"value\":1000");
	assert_absent(s, "\"value\":85");
	free(s);
	assert_int_equal(json_array_size(json_object_get(o, "component")), 1);
	json_decref(o);
	/* Durations that are not ages are kept, long ones folded. */
	o = deid(d, "old2",
	    "{'resourceType':'MedicationRequest','id':'m1',"
	    "'subject':{'reference':'Patient/old2'},'dispenseRequest':"
	    "{'expectedSupplyDuration':{'value':30,'unit':'days',"
	    "'system':'http://unitsofmeasure.org','code':'d'}}}");
	assert_int_equal(json_integer_value(
			     json_object_get(json_object_get(json_object_get(o,
								 "dispenseReque"
								 "st"),
						 "expectedSupplyDuration"),
				 "value")),
	    30);
	json_decref(o);
	pv_deid_free(d);
}

static void
test_zip3(void **state)
{
	static const char *const restricted[] = {
		"036",
		"059",
		"063",
		"102",
		"203",
		"556",
		"692",
		"790",
		"821",
		"823",
		"830",
		"831",
		"878",
		"879",
		"884",
		"890",
		"893",
	};
	static const struct {
		const char *zip, *want;
	} cases[] = {
		{ "02139", "021" },
		{ "02139-4307", "021" },
		{ "021394307", "021" },
		{ "99501", "995" },
		{ "00501", "005" },
		{ "2139", NULL },
		{ "021 39", NULL },
		{ "0213A", NULL },
		{ "SW1A 1AA", NULL },
		{ "", NULL },
		{ "03701", "037" },
		{ "05801", "058" },
	};
	struct pv_deid *d = new_deid(key1, 2, "zip3");
	char pid[32], zip[16];
	json_t *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(restricted) / sizeof(restricted[0]); i++) {
		snprintf(pid, sizeof(pid), "r%zu", i);
		snprintf(zip, sizeof(zip), "%s42", restricted[i]);
		add_demo(d, pid, NULL, NULL, zip);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* twice each, so that no group is below k = 2 */
		snprintf(pid, sizeof(pid), "c%zu", i);
		add_demo(d, pid, NULL, NULL, cases[i].zip);
		snprintf(pid, sizeof(pid), "c%zu-twin", i);
		add_demo(d, pid, NULL, NULL, cases[i].zip);
	}
	add(d, "pref",
	    "{'resourceType':'Patient','address':["
	    "{'use':'old','postalCode':'10001'},"
	    "{'use':'work','postalCode':'94105'},"
	    "{'use':'home','postalCode':'60601','country':'USA'},"
	    "{'postalCode':'73301'}]}");
	add_demo(d, "pref-twin", NULL, NULL, "60614");
	add(d, "nohome",
	    "{'resourceType':'Patient','address':["
	    "{'use':'old','postalCode':'10001'},"
	    "{'use':'work','postalCode':'94105'},"
	    "{'postalCode':'73301','country':'US'}]}");
	add_demo(d, "nohome-twin", NULL, NULL, "73344");
	add(d, "foreign",
	    "{'resourceType':'Patient','address':["
	    "{'use':'home','postalCode':'75001','country':'France'}]}");
	add(d, "onlyold",
	    "{'resourceType':'Patient','address':["
	    "{'use':'old','postalCode':'10001'}]}");
	finish(d, NULL);

	for (i = 0; i < sizeof(restricted) / sizeof(restricted[0]); i++) {
		char res[128];

		snprintf(pid, sizeof(pid), "r%zu", i);
		snprintf(res, sizeof(res),
		    "{'resourceType':'Patient',"
		    "'id':'%s'}",
		    pid);
		o = deid(d, pid, res);
		assert_string_equal(str_at(o, "address.0.postalCode"), "000");
		json_decref(o);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char res[128];
		const char *got;

		snprintf(pid, sizeof(pid), "c%zu", i);
		snprintf(res, sizeof(res),
		    "{'resourceType':'Patient',"
		    "'id':'%s'}",
		    pid);
		o = deid(d, pid, res);
		got = str_at(o, "address.0.postalCode");
		if (cases[i].want == NULL) {
			assert_null(json_object_get(o, "address"));
		} else {
			assert_non_null(got);
			assert_string_equal(got, cases[i].want);
		}
		json_decref(o);
	}
	o = deid(d, "pref", "{'resourceType':'Patient','id':'pref'}");
	assert_string_equal(str_at(o, "address.0.postalCode"), "606");
	assert_int_equal(json_array_size(json_object_get(o, "address")), 1);
	json_decref(o);
	o = deid(d, "nohome", "{'resourceType':'Patient','id':'nohome'}");
	assert_string_equal(str_at(o, "address.0.postalCode"), "733");
	json_decref(o);
	o = deid(d, "foreign", "{'resourceType':'Patient','id':'foreign'}");
	assert_null(json_object_get(o, "address"));
	json_decref(o);
	o = deid(d, "onlyold", "{'resourceType':'Patient','id':'onlyold'}");
	assert_null(json_object_get(o, "address"));
	json_decref(o);
	pv_deid_free(d);
}

static const char rich_patient[] =
    "{'resourceType':'Patient','id':'p1',"
    "'meta':{'versionId':'7','lastUpdated':'2024-01-01T00:00:00Z',"
    "'source':'https://ehr.example.org/src'},"
    "'text':{'status':'generated','div':'<div>Jane Q Doe</div>'},"
    "'identifier':[{'system':'http://hl7.org/fhir/sid/us-ssn',"
    "'value':'123-45-6789'},{'type':{'text':'MRN'},'value':'MRN0042'}],"
    "'active':true,"
    "'name':[{'family':'Doe','given':['Jane','Quincy'],"
    "'text':'Jane Q Doe'}],"
    "'telecom':[{'system':'phone','value':'(617) 555-0134'},"
    "{'system':'fax','value':'617-555-0199'},"
    "{'system':'email','value':'jane.doe@example.org'}],"
    "'gender':'female','birthDate':'1970-05-17',"
    "'deceasedDateTime':'2024-05-05',"
    "'address':[{'use':'home','line':['12 Elm Street','Apt 3'],"
    "'city':'Cambridge','district':'Middlesex','state':'MA',"
    "'postalCode':'02139','country':'US'}],"
    "'maritalStatus':{'coding':[{'code':'M'}]},"
    "'photo':[{'url':'https://ehr.example.org/photo/42.jpg'}],"
    "'contact':[{'name':{'text':'John Doe'},'telecom':"
    "[{'value':'617-555-0111'}]}],"
    "'generalPractitioner':[{'reference':'Practitioner/dr7',"
    "'display':'Dr Alice Smith'}],"
    "'extension':[{'url':'http://example.org/ip','valueString':"
    "'192.168.7.42'}],"
    "'link':[{'other':{'reference':'Patient/p9'}}]}";

static void
test_patient_identifiers_gone(void **state)
{
	static const char *const leaks[] = {
		"Jane",
		"Doe",
		"Quincy",
		"123-45-6789",
		"MRN",
		"555-01",
		"jane.doe",
		"example.org",
		"Elm",
		"Apt",
		"Cambridge",
		"Middlesex",
		"\"MA\"",
		"02139",
		"1970-",
		"05-17",
		"2024",
		"photo",
		"Alice",
		"Smith",
		"192.168",
		"p9",
		"\"p1\"",
		"Practitioner",
		"div",
		"versionId",
		"maritalStatus",
	};
	struct pv_deid *d = new_deid(key1, 2, "birth_year,sex,zip3");
	char want[PV_DEID_PSEUDONYM_LEN + 1];
	json_t *o;
	char *s;
	size_t i;

	(void)state;
	add(d, "p1", rich_patient);
	add_demo(d, "p2", "1970-12-12", "female", "02199"); /* same tuple */
	finish(d, NULL);
	o = deid(d, "p1", rich_patient);
	s = dump(o);
	for (i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
		assert_absent(s, leaks[i]);
	pseud(d, "Patient", "p1", want);
	assert_string_equal(str_at(o, "id"), want);
	/* exactly these elements and no others */
	assert_int_equal(json_object_size(o), 5);
	assert_string_equal(str_at(o, "resourceType"), "Patient");
	assert_string_equal(str_at(o, "gender"), "female");
	assert_string_equal(str_at(o, "birthDate"), "1970");
	assert_string_equal(str_at(o, "address.0.postalCode"), "021");
	assert_int_equal(json_object_size(
			     json_array_get(json_object_get(o, "address"), 0)),
	    1);
	free(s);
	json_decref(o);
	pv_deid_free(d);
}

static void
test_patient_add_validation(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "sex");
	json_t *p;

	(void)state;
	p = J("{'resourceType':'Patient','id':'other'}");
	assert_int_equal(pv_deid_add_patient(d, "p1", p), PV_EINVAL);
	assert_int_equal(pv_deid_add_patient(d, "bad id", p), PV_EINVAL);
	json_decref(p);
	p = J("{'resourceType':'Observation','id':'p1'}");
	assert_int_equal(pv_deid_add_patient(d, "p1", p), PV_EINVAL);
	json_decref(p);
	p = J("{'resourceType':'Patient','id':7}");
	assert_int_equal(pv_deid_add_patient(d, "p1", p), PV_EINVAL);
	json_decref(p);
	pv_deid_free(d);
}

/* Every key anywhere in v must be one the whitelist can produce. */
static void
assert_keys_allowed(const json_t *v)
{
	static const char *const forbidden[] = {
		"text",
		"div",
		"note",
		"display",
		"identifier",
		"extension",
		"modifierExtension",
		"contained",
		"meta",
		"url",
		"data",
		"title",
		"payload",
		"performer",
		"requester",
		"recorder",
		"asserter",
		"author",
		"location",
		"participant",
		"sender",
		"recipient",
		"patientInstruction",
		"description",
		"hash",
		"size",
		"creation",
		"userSelected",
		"version",
		"basedOn",
		"partOf",
		"serviceProvider",
		"custodian",
		"authenticator",
		"masterIdentifier",
		"relatesTo",
		"securityLabel",
		"issued",
		"referenceRange",
		"valueString",
		"onsetString",
		"onsetAge",
		"medicationReference",
		"timeOfDay",
		"event",
		"boundsPeriod",
	};
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x) assert_keys_allowed(x);
		return;
	}
	if (!json_is_object(v))
		return;
	json_object_foreach((json_t *)v, k, x)
	{
		for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
			if (strcmp(k, forbidden[i]) == 0 &&
			    !(strcmp(k, "event") == 0 && json_is_array(x) &&
				json_object_get(json_array_get(x, 0),
				    "coding")))
				fail_msg("element '%s' was kept", k);
		assert_keys_allowed(x);
	}
}

static void
test_free_text_and_identifiers_gone(void **state)
{
	static const char *const resources[] = {
		"{'resourceType':'Observation','id':'o1','status':'final',"
		"'text':{'div':'<div>Jane Doe BP</div>'},"
		"'identifier':[{'value':'LAB-998877'}],"
		"'category':[{'coding':[{'system':"
		"'http://terminology.hl7.org/CodeSystem/observation-category',"
		"'code':'vital-signs','display':'Vital Signs of Jane'}],"
		"'text':'vitals for Jane'}],"
		"'code':{'coding':[{'system':'http://"
		"loinc.org','code':'85354-9',"
		"'display':'Blood pressure','userSelected':true}],"
		"'text':'BP taken by Dr Smith'},"
		"'subject':{'reference':'Patient/p1','display':'Jane Doe'},"
		"'encounter':{'reference':'Encounter/e1'},"
		"'performer':[{'reference':'Practitioner/x','display':'Dr "
		"Smith'}],"
		"'effectiveDateTime':'2021-03-04',"
		"'note':[{'text':'Jane said call 617-555-0134'}],"
		"'referenceRange':[{'text':'normal'}],"
		"'component':[{'code':{'coding':[{'system':'http://loinc.org',"
		"'code':'8480-6'}]},'valueQuantity':{'value':120.5,"
		"'unit':'mmHg','system':'http://unitsofmeasure.org',"
		"'code':'mm[Hg]'}},{'code':{'text':'free text only'},"
		"'valueString':'Jane felt dizzy'}],"
		"'extension':[{'url':'http://x','valueString':'Jane'}],"
		"'modifierExtension':[{'url':'http://y','valueBoolean':true}]}",

		"{'resourceType':'Condition','id':'c1',"
		"'clinicalStatus':{'coding':[{'system':"
		"'http://terminology.hl7.org/CodeSystem/condition-clinical',"
		"'code':'active'}]},'code':{'coding':[{'system':"
		"'http://snomed.info/sct','code':'44054006',"
		"'display':'Diabetes'}],'text':'Jane diabetes'},"
		"'subject':{'reference':'Patient/p1'},"
		"'onsetString':'since Jane was 12',"
		"'asserter':{'reference':'Practitioner/y'},"
		"'evidence':[{'detail':[{'display':'Jane lab'}]}],"
		"'note':[{'authorString':'Dr Smith','text':'Jane Doe, "
		"MRN0042'}]}",

		"{'resourceType':'MedicationRequest','id':'m1',"
		"'status':'active','intent':'order',"
		"'medicationCodeableConcept':{'coding':[{'system':"
		"'http://www.nlm.nih.gov/research/umls/rxnorm','code':'860975',"
		"'display':'metformin'}],'text':'Jane metformin'},"
		"'subject':{'reference':'Patient/p1'},"
		"'requester':{'display':'Dr Smith'},"
		"'dosageInstruction':[{'text':'Jane: take 1 tab twice daily',"
		"'patientInstruction':'call 617-555-0134',"
		"'additionalInstruction':[{'text':'with food, Jane'}],"
		"'timing':{'repeat':{'frequency':2,'period':1,'periodUnit':'d',"
		"'timeOfDay':['08:00:00']}},"
		"'route':{'coding':[{'system':'http://snomed.info/sct',"
		"'code':'26643006'}]},'doseAndRate':[{'doseQuantity':"
		"{'value':500,'unit':'mg','system':'http://unitsofmeasure.org',"
		"'code':'mg'}}]}],"
		"'note':[{'text':'Jane'}]}",

		"{'resourceType':'DocumentReference','id':'d1',"
		"'masterIdentifier':{'value':'DOC-5566'},"
		"'status':'current','type':{'coding':[{'system':"
		"'http://loinc.org','code':'34133-9'}]},"
		"'subject':{'reference':'Patient/p1'},"
		"'description':'Discharge summary for Jane Doe',"
		"'author':[{'display':'Dr Smith'}],"
		"'content':[{'attachment':{'contentType':'application/pdf',"
		"'language':'en-US','url':'https://ehr.example.org/doc/55.pdf',"
		"'data':'SmFuZSBEb2U=','title':'Jane Doe summary',"
		"'hash':'2jmj7l5rSw0yVb/vlWAYkK/YBwk=','size':1234,"
		"'creation':'2024-02-02'}}],"
		"'context':{'encounter':[{'reference':'Encounter/e1'}],"
		"'sourcePatientInfo':{'reference':'Patient/p1'},"
		"'event':[{'coding':[{'system':'http://snomed.info/sct',"
		"'code':'73761001'}]}]}}",

		"{'resourceType':'Communication','id':'cm1',"
		"'status':'completed','subject':{'reference':'Patient/p1'},"
		"'priority':'Jane','sender':{'display':'Jane Doe'},"
		"'recipient':[{'display':'Dr Smith'}],"
		"'payload':[{'contentString':'Call me at 617-555-0134, Jane'},"
		"{'contentAttachment':{'url':'https://ehr.example.org/a'}}],"
		"'topic':{'text':'Jane question'},"
		"'sent':'2022-01-01T09:00:00Z'}",

		"{'resourceType':'Encounter','id':'e1','status':'finished',"
		"'class':{'system':"
		"'http://terminology.hl7.org/CodeSystem/v3-ActCode',"
		"'code':'AMB','display':'ambulatory'},"
		"'subject':{'reference':'Patient/p1'},"
		"'participant':[{'individual':{'display':'Dr Smith'}}],"
		"'location':[{'location':{'display':'Room 12, Cambridge'}}],"
		"'serviceProvider':{'display':'Cambridge Hospital'},"
		"'hospitalization':{'preAdmissionIdentifier':{'value':'PA-1'},"
		"'dischargeDisposition':{'coding':[{'system':"
		"'http://terminology.hl7.org/CodeSystem/discharge-disposition',"
		"'code':'home'}]}},"
		"'period':{'start':'2022-01-01'}}",

		"{'resourceType':'AllergyIntolerance','id':'a1',"
		"'patient':{'reference':'Patient/p1'},"
		"'code':{'coding':[{'system':'http://snomed.info/sct',"
		"'code':'91936005'}],'text':'Jane penicillin'},"
		"'category':['medication','Jane','Doe'],'type':'Doe',"
		"'recorder':{'display':'Dr Smith'},"
		"'note':[{'text':'Jane'}],"
		"'reaction':[{'description':'Jane got hives',"
		"'manifestation':[{'coding':[{'system':'http://snomed.info/"
		"sct',"
		"'code':'247472004'}],'text':'hives on Jane'}]}]}",
	};
	static const char *const leaks[] = {
		"Jane",
		"Doe",
		"Smith",
		"617-555",
		"MRN",
		"LAB-",
		"DOC-",
		"PA-1",
		"example.org",
		"Cambridge",
		"Room",
		"dizzy",
		"tab",
		"food",
		"SmFu",
		"2jmj",
		":1234",
		"\"o1\"",
		"\"c1\"",
		"\"e1\"",
		"Practitioner",
		"Blood",
		"metformin",
		"hives",
		"ambulatory",
		"08:00",
	};
	struct pv_deid *d = new_deid(key1, 2, "sex");
	json_t *o;
	char *s;
	size_t i, j;

	(void)state;
	add_demo(d, "p1", NULL, "female", NULL);
	add_demo(d, "p2", NULL, "female", NULL);
	finish(d, NULL);
	for (i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
		o = deid(d, "p1", resources[i]);
		assert_keys_allowed(o);
		s = dump(o);
		for (j = 0; j < sizeof(leaks) / sizeof(leaks[0]); j++)
			assert_absent(s, leaks[j]);
		/* what must survive: the codes */
		if (i == 0) {
			assert_string_equal(str_at(o, "code.coding.0.code"),
			    "85354-9");
			assert_string_equal(str_at(o,
						"component.0.valueQuantity."
						"code"),
			    "mm[Hg]");
			assert_int_equal(json_array_size(
					     json_object_get(o, "component")),
			    1);
			assert_null(json_object_get(json_object_get(o, "code"),
			    "text"));
		} else if (i == 2) {
			assert_string_equal(str_at(o,
						"medicationCodeableConcept."
						"coding.0.code"),
			    "860975");
			assert_string_equal(str_at(o,
						"dosageInstruction.0."
						"doseAndRate.0.doseQuantity."
						"unit"),
			    "mg");
		} else if (i == 3) {
			assert_string_equal(str_at(o,
						"content.0.attachment."
						"contentType"),
			    "application/pdf");
		} else if (i == 6) {
			assert_int_equal(json_array_size(
					     json_object_get(o, "category")),
			    1);
			assert_string_equal(str_at(o,
						"reaction.0."
						"manifestation.0.coding.0."
						"code"),
			    "247472004");
		}
		free(s);
		json_decref(o);
	}
	pv_deid_free(d);
}

/*
 * Outside review (issue 13), finding 6: a coding's system and code are
 * sender-typed strings. The reviewer's case, a URL and codes carrying a
 * name, an SSN and a birth date, must not come out; nor may a Quantity's
 * unit/system/code or an attachment's contentType/language carry them;
 * real LOINC, SNOMED CT, ICD-10(-CM), RxNorm, CVX, HL7 and UCUM codes
 * still do.
 */
static void
test_codings_only_known_systems(void **state)
{
	static const char *const leaks[] = {
		"Jane",
		"Doe",
		"jane",
		"123-45-6789",
		"123456789",
		"1961",
		"04-12",
		"0412",
		"example",
		"ssn",
		"8867-5",
		"22298007",
		"private",
		"\"x\"",
		"version",
		"display",
		"userSelected",
		"extension",
		"\"id\"",
	};
	static const char *const kept[][2] = {
		{ "http://loinc.org", "8867-4" },
		{ "http://loinc.org", "85354-9" },
		{ "http://loinc.org", "LA6576-8" },
		{ "http://snomed.info/sct", "22298006" },
		{ "http://snomed.info/sct", "44054006" },
		{ "http://hl7.org/fhir/sid/icd-10", "I21.0" },
		{ "http://hl7.org/fhir/sid/icd-10-cm", "E11.9" },
		{ "http://hl7.org/fhir/sid/icd-10-cm", "S72.001A" },
		{ RXNORM, "860975" },
		{ "http://hl7.org/fhir/sid/cvx", "140" },
		{ "http://unitsofmeasure.org", "mm[Hg]" },
		{ HL7CS "observation-category", "vital-signs" },
		{ HL7CS "v3-ObservationInterpretation", "H" },
	};
	static const char *const dropped[][2] = {
		/* the reviewer's case */
		{ "http://jane-doe.example.org/ssn/123-45-6789", "1961-04-12" },
		{ "http://loinc.org", "JaneDoe-123-45-6789" },
		{ "http://snomed.info/sct", "123456789" }, /* SSN digits */
		{ "http://snomed.info/sct", "19610412" }, /* birth date */
		{ "http://hl7.org/fhir/sid/icd-10-cm", "Jane.Doe" },
		{ RXNORM, "123456789" },
		{ HL7CS "jane-doe", "active" }, /* not a known system */
		{ HL7CS "observation-category", "JaneDoe" }, /* not its code */
		/* a wrong check digit, an unknown or absent system */
		{ "http://loinc.org", "8867-5" },
		{ "http://snomed.info/sct", "22298007" },
		{ "urn:oid:1.2.3.4", "private" },
		{ NULL, "x" },
	};
	struct pv_deid *d = new_deid(key1, 2, "sex");
	json_t *res, *codings, *c, *o;
	char *s, *row;
	const char *tail;
	size_t i;

	(void)state;
	add_demo(d, "p1", NULL, "female", NULL);
	add_demo(d, "p2", NULL, "female", NULL);
	finish(d, NULL);

	/* one Observation whose code holds every coding, plus free text in
	 * every other member of a Coding and a Quantity */
	res =
	    J("{'resourceType':'Observation','id':'o1','status':'final',"
	      "'subject':{'reference':'Patient/p1'},'valueQuantity':"
	      "{'value':1,'unit':'JaneDoe','system':'http://jane.example.org',"
	      "'code':'123-45-6789'},'component':[{'valueQuantity':{'value':2,"
	      "'unit':'{Jane Doe}','system':'http://unitsofmeasure.org',"
	      "'code':'{JaneDoe}'}},{'valueQuantity':{'value':120,"
	      "'unit':'mmHg','system':'http://unitsofmeasure.org',"
	      "'code':'mm[Hg]'}}]}");
	assert_non_null(codings = json_array());
	for (i = 0; i < PV_ARRAY_LEN(kept); i++) {
		c = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:[{s:s,s:s}]}",
		    "system", kept[i][0], "code", kept[i][1], "display",
		    "Jane Doe 123-45-6789", "version", "jane-1961-04-12",
		    "userSelected", 1, "id", "Jane", "extension", "url",
		    "http://jane.example.org", "valueString", "Doe");
		assert_int_equal(json_array_append_new(codings, c), 0);
	}
	for (i = 0; i < PV_ARRAY_LEN(dropped); i++) {
		c = json_pack("{s:s}", "code", dropped[i][1]);
		if (dropped[i][0] != NULL)
			json_object_set_new(c, "system",
			    json_string(dropped[i][0]));
		assert_int_equal(json_array_append_new(codings, c), 0);
	}
	json_object_set_new(res, "code",
	    json_pack("{s:o, s:s}", "coding", codings, "text",
		"Jane Doe, SSN 123-45-6789, born 1961-04-12"));
	assert_int_equal(pv_deid_resource(d, "p1", res, &o, &(bool){ true }),
	    PV_OK);
	json_decref(res);
	assert_non_null(o);

	/* and nothing of the person, in JSON or CSV (ids are pseudonyms:
	 * leave them out of the search, their hex could hold "0412") */
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	for (tail = row, i = 0; i < 3; i++) /* type,id,patient, */
		assert_non_null(tail = strchr(tail, ',') + 1);
	json_object_del(o, "id");
	json_object_del(o, "subject");
	s = dump(o);
	for (i = 0; i < PV_ARRAY_LEN(leaks); i++) {
		assert_absent(s, leaks[i]);
		if (i < 12)
			assert_absent(tail, leaks[i]);
	}
	/* the real codes come out, with system and code only */
	codings = json_object_get(json_object_get(o, "code"), "coding");
	assert_int_equal(json_array_size(codings), PV_ARRAY_LEN(kept));
	for (i = 0; i < PV_ARRAY_LEN(kept); i++) {
		c = json_array_get(codings, i);
		assert_int_equal(json_object_size(c), 2);
		assert_string_equal(str_at(c, "system"), kept[i][0]);
		assert_string_equal(str_at(c, "code"), kept[i][1]);
	}
	assert_null(json_object_get(json_object_get(o, "code"), "text"));
	/* a Quantity keeps a UCUM unit and code, nothing sender-typed */
	assert_null(
	    json_object_get(json_object_get(o, "valueQuantity"), "unit"));
	assert_null(
	    json_object_get(json_object_get(o, "valueQuantity"), "system"));
	assert_int_equal(json_array_size(json_object_get(o, "component")), 1);
	assert_string_equal(str_at(o, "component.0.valueQuantity.code"),
	    "mm[Hg]");
	assert_null(
	    json_object_get(json_object_get(json_array_get(json_object_get(o,
							       "component"),
						0),
				"valueQuantity"),
		"unit"));
	assert_non_null(strstr(tail, "http://loinc.org|8867-4 "));
	free(row);
	free(s);
	json_decref(o);

	/* attachment metadata: only listed MIME types and languages */
	o = deid(d, "p1",
	    "{'resourceType':'DocumentReference','id':'d1',"
	    "'status':'current','subject':{'reference':'Patient/p1'},"
	    "'content':[{'attachment':{'contentType':'JaneDoe/1961-04-12',"
	    "'language':'Jane'}},{'attachment':{'contentType':"
	    "'application/pdf','language':'en-US'}}]}");
	s = dump(o);
	assert_absent(s, "Jane");
	assert_absent(s, "1961");
	assert_string_equal(str_at(o, "content.0.attachment.contentType"),
	    "application/pdf");
	assert_string_equal(str_at(o, "content.0.attachment.language"),
	    "en-US");
	free(s);
	json_decref(o);
	pv_deid_free(d);
}

static void
test_references_pseudonymised(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "sex");
	char pp[PV_DEID_PSEUDONYM_LEN + 1], pe[PV_DEID_PSEUDONYM_LEN + 1];
	char po[PV_DEID_PSEUDONYM_LEN + 1], want[128];
	json_t *o, *enc;

	(void)state;
	add_demo(d, "p1", NULL, "male", NULL);
	add_demo(d, "p2", NULL, "male", NULL);
	finish(d, NULL);
	pseud(d, "Patient", "p1", pp);
	pseud(d, "Encounter", "e1", pe);
	pseud(d, "Observation", "o1", po);

	o = deid(d, "p1",
	    "{'resourceType':'Observation','id':'o1',"
	    "'subject':{'reference':'Patient/p1','display':'x'},"
	    "'encounter':{'reference':'Encounter/e1'},"
	    "'hasMember':[{'reference':'Observation/o2'}]}");
	assert_string_equal(str_at(o, "id"), po);
	snprintf(want, sizeof(want), "Patient/%s", pp);
	assert_string_equal(str_at(o, "subject.reference"), want);
	assert_int_equal(json_object_size(json_object_get(o, "subject")), 1);
	snprintf(want, sizeof(want), "Encounter/%s", pe);
	assert_string_equal(str_at(o, "encounter.reference"), want);
	assert_null(json_object_get(o, "hasMember"));
	json_decref(o);

	/* the Encounter's own id pseudonym matches references to it */
	enc = deid(d, "p1",
	    "{'resourceType':'Encounter','id':'e1',"
	    "'subject':{'reference':'Patient/p1'}}");
	assert_string_equal(str_at(enc, "id"), pe);
	json_decref(enc);

	/* an encounter reference that is not Encounter/{id} is dropped */
	o = deid(d, "p1",
	    "{'resourceType':'Condition','id':'c1',"
	    "'subject':{'reference':'Patient/p1'},"
	    "'encounter':{'reference':'https://x.example/Encounter/e1'}}");
	assert_null(json_object_get(o, "encounter"));
	json_decref(o);

	/* the patient reference must name this patient, exactly */
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Condition',"
			     "'id':'c1','subject':{'reference':'Patient/p2'}}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Condition',"
			     "'id':'c1','subject':{'reference':'Patient/p1/"
			     "_history/1'}}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Condition',"
			     "'id':'c1'}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':"
			     "'AllergyIntolerance','id':'a1','subject':"
			     "{'reference':'Patient/p1'}}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Condition',"
			     "'subject':{'reference':'Patient/p1'}}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Condition',"
			     "'id':'bad "
			     "id!','subject':{'reference':'Patient/p1'}}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Patient',"
			     "'id':'p2'}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "p1",
			     "{'resourceType':'Procedure',"
			     "'id':'x','subject':{'reference':'Patient/p1'}}"),
	    PV_EINVAL);
	assert_int_equal(deid_status(d, "nobody",
			     "{'resourceType':"
			     "'Condition','id':'c1','subject':{'reference':"
			     "'Patient/nobody'}}"),
	    PV_ENOTFOUND);
	assert_true(pv_deid_type_is_supported("DocumentReference"));
	assert_false(pv_deid_type_is_supported("Practitioner"));
	assert_false(pv_deid_type_is_supported(NULL));
	pv_deid_free(d);
}

static void
test_quasi_subset_limits_release(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "sex");
	json_t *o;

	(void)state;
	add_demo(d, "p1", "1970-01-01", "female", "02139");
	add_demo(d, "p2", "1999-01-01", "female", "94105");
	finish(d, NULL);
	o = deid(d, "p1",
	    "{'resourceType':'Patient','id':'p1',"
	    "'birthDate':'1970-01-01','gender':'female'}");
	assert_string_equal(str_at(o, "gender"), "female");
	assert_null(json_object_get(o, "birthDate"));
	assert_null(json_object_get(o, "address"));
	assert_int_equal(json_object_size(o), 3);
	json_decref(o);
	pv_deid_free(d);
}

/* ---- k-anonymity ---- */

static void
test_k_anonymity_suppression(void **state)
{
	struct pv_deid *d = new_deid(key1, 3, "birth_year,sex,zip3");
	struct pv_deid_report rep;
	char pid[16], res[160];
	json_t *in, *out;
	bool sup;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) { /* group A: 5 */
		snprintf(pid, sizeof(pid), "a%d", i);
		add_demo(d, pid, "1980-01-01", "female", "02139");
	}
	for (i = 0; i < 3; i++) { /* group B: 3 (1980 = 1980) */
		snprintf(pid, sizeof(pid), "b%d", i);
		add_demo(d, pid, i == 0 ? "1980" : "1980-12-31", "male",
		    "02141");
	}
	for (i = 0; i < 2; i++) { /* group C: 2 */
		snprintf(pid, sizeof(pid), "c%d", i);
		add_demo(d, pid, "1950-06-06", "male", "02139");
	}
	add_demo(d, "d0", "1990-01-01", "other", "10001"); /* D: 1 */
	/* before finishing, nothing is suppressed: k fails */
	assert_int_equal(pv_deid_check_k(d), PV_EDENIED);
	assert_int_equal(deid_status(d, "a0",
			     "{'resourceType':'Patient',"
			     "'id':'a0'}"),
	    PV_EINVAL);
	finish(d, &rep);
	assert_int_equal(rep.patients, 11);
	assert_int_equal(rep.groups, 4);
	assert_int_equal(rep.groups_released, 2);
	assert_int_equal(rep.patients_released, 8);
	assert_int_equal(rep.patients_suppressed, 3);
	assert_int_equal(rep.smallest_released_group, 3);
	assert_int_equal(pv_deid_check_k(d), PV_OK);
	assert_int_equal(pv_deid_finish_groups(d, &rep), PV_EINVAL);
	assert_int_equal(pv_deid_add_patient(d, "z", NULL), PV_EINVAL);

	/* a suppressed patient's resources are withheld, all of them */
	in = J("{'resourceType':'Observation','id':'o1','subject':"
	       "{'reference':'Patient/c1'}}");
	out = (json_t *)1;
	sup = false;
	assert_int_equal(pv_deid_resource(d, "c1", in, &out, &sup), PV_OK);
	assert_true(sup);
	assert_null(out);
	json_decref(in);
	in = J("{'resourceType':'Patient','id':'d0'}");
	assert_int_equal(pv_deid_resource(d, "d0", in, &out, &sup), PV_OK);
	assert_true(sup);
	assert_null(out);
	json_decref(in);

	/* emitting only part of a group fails the check, all of it passes */
	for (i = 0; i < 3; i++) {
		snprintf(pid, sizeof(pid), "b%d", i);
		snprintf(res, sizeof(res),
		    "{'resourceType':'Patient',"
		    "'id':'%s'}",
		    pid);
		out = deid(d, pid, res);
		assert_string_equal(str_at(out, "birthDate"), "1980");
		json_decref(out);
		assert_int_equal(pv_deid_check_k(d),
		    i < 2 ? PV_EDENIED : PV_OK);
	}
	for (i = 0; i < 5; i++) {
		snprintf(pid, sizeof(pid), "a%d", i);
		snprintf(res, sizeof(res),
		    "{'resourceType':'Patient',"
		    "'id':'%s'}",
		    pid);
		json_decref(deid(d, pid, res));
	}
	assert_int_equal(pv_deid_check_k(d), PV_OK);
	pv_deid_free(d);
}

static void
test_k_check_without_suppression(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "sex");
	struct pv_deid_report rep;

	(void)state;
	/* bypassing finish: passes only when every group is already >= k */
	add_demo(d, "p1", NULL, "female", NULL);
	add_demo(d, "p2", NULL, "female", NULL);
	assert_int_equal(pv_deid_check_k(d), PV_OK);
	add_demo(d, "p3", NULL, "male", NULL);
	assert_int_equal(pv_deid_check_k(d), PV_EDENIED);
	add_demo(d, "p3", NULL, "male", NULL); /* duplicate pid */
	assert_int_equal(pv_deid_finish_groups(d, &rep), PV_EEXISTS);
	pv_deid_free(d);

	/* an empty export: nothing released, nothing violated */
	d = new_deid(key1, 2, "sex");
	finish(d, &rep);
	assert_int_equal(rep.groups, 0);
	assert_int_equal(rep.smallest_released_group, 0);
	assert_int_equal(pv_deid_check_k(d), PV_OK);
	pv_deid_free(d);

	/* everyone suppressed */
	d = new_deid(key1, 5, "sex");
	add_demo(d, "p1", NULL, "female", NULL);
	add_demo(d, "p2", NULL, "male", NULL);
	finish(d, &rep);
	assert_int_equal(rep.patients_suppressed, 2);
	assert_int_equal(rep.patients_released, 0);
	assert_int_equal(rep.smallest_released_group, 0);
	assert_int_equal(pv_deid_check_k(d), PV_OK);
	pv_deid_free(d);
}

/* ---- CSV ---- */

static void
test_csv(void **state)
{
	struct pv_deid *d = new_deid(key1, 2, "birth_year,sex,zip3");
	char pp[PV_DEID_PSEUDONYM_LEN + 1], po[PV_DEID_PSEUDONYM_LEN + 1];
	char want[512], *row = NULL;
	json_t *o;

	(void)state;
	assert_string_equal(pv_deid_csv_header(),
	    "resource_type,id,patient,"
	    "birth_year,sex,zip3,status,category,code,value,unit,year\r\n");
	add_demo(d, "p1", "1970-05-17", "female", "03601");
	add_demo(d, "p2", "1970-01-01", "female", "03699");
	add_demo(d, "q1", "1920-01-01", "male", NULL);
	add_demo(d, "q2", "1930-01-01", "male", NULL);
	finish(d, NULL);
	pseud(d, "Patient", "p1", pp);

	o = deid(d, "p1", "{'resourceType':'Patient','id':'p1'}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	snprintf(want, sizeof(want),
	    "Patient,%s,%s,1970,female,000,,,,,,"
	    "\r\n",
	    pp, pp);
	assert_string_equal(row, want);
	free(row);
	json_decref(o);

	o = deid(d, "q1", "{'resourceType':'Patient','id':'q1'}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	assert_non_null(strstr(row, ",90+,male,,"));
	free(row);
	json_decref(o);

	pseud(d, "Observation", "o1", po);
	o = deid(d, "p1",
	    "{'resourceType':'Observation','id':'o1',"
	    "'status':'final','category':[{'coding':[{'system':'" HL7CS
	    "observation-category','code':'vital-signs'},{'system':"
	    "'" HL7CS "observation-category','code':'exam'}]}],"
	    "'code':{'coding':[{"
	    "'system':'http://loinc.org','code':'8310-5'}]},"
	    "'subject':{'reference':'Patient/p1'},"
	    "'effectiveDateTime':'2021-03-04','valueQuantity':"
	    "{'value':37.1,'unit':'C','system':'http://unitsofmeasure.org',"
	    "'code':'Cel'}}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	snprintf(want, sizeof(want),
	    "Observation,%s,%s,,,,final," HL7CS
	    "observation-category|vital-signs " HL7CS
	    "observation-category|exam,http://loinc.org|8310-5,37.1,Cel,2021"
	    "\r\n",
	    po, pp);
	assert_string_equal(row, want);
	free(row);
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'Observation','id':'o2',"
	    "'subject':{'reference':'Patient/p1'},'valueQuantity':"
	    "{'value':95,'code':'a'}}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	assert_non_null(strstr(row, ",>=90,a,"));
	free(row);
	json_decref(o);

	o = deid(d, "p1",
	    "{'resourceType':'MedicationRequest','id':'m1',"
	    "'status':'active','subject':{'reference':'Patient/p1'},"
	    "'medicationCodeableConcept':{'coding':[{'system':'" RXNORM "',"
	    "'code':'860975'}]},'authoredOn':'2020-02-02',"
	    "'dosageInstruction':[{'doseAndRate':[{'doseQuantity':"
	    "{'value':500,'code':'mg'}}]}]}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	assert_non_null(strstr(row,
	    ",active,," RXNORM "|860975,500,mg,2020"
	    "\r\n"));
	free(row);
	json_decref(o);

	/* RFC 4180 quoting, on a hand-made row */
	o = J("{'resourceType':'Condition','id':'a,b','subject':"
	      "{'reference':'Patient/say \\'hi\\''},'clinicalStatus':"
	      "{'coding':[{'code':'line1\\nline2'}]},'code':{'coding':"
	      "[{'code':'cr\\rhere'}]},'valueBoolean':true}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_OK);
	assert_string_equal(row,
	    "Condition,\"a,b\",\"say \"\"hi\"\"\",,,,"
	    "\"line1\nline2\",,\"cr\rhere\",true,,\r\n");
	free(row);
	json_decref(o);

	o = J("{'resourceType':'Nope','id':'x'}");
	assert_int_equal(pv_deid_csv_row(o, &row), PV_EINVAL);
	assert_null(row);
	json_decref(o);
	assert_int_equal(pv_deid_csv_row(NULL, &row), PV_EINVAL);
	pv_deid_free(d);
}

/* ---- scale: 20,000 patients, 100,000 resources ---- */

static void
test_scale(void **state)
{
	struct pv_deid *d = new_deid(key1, 5, "birth_year,sex,zip3");
	struct pv_deid_report rep;
	static const char *const sexes[] = { "male", "female" };
	char pid[32], zip[8], birth[16];
	json_t *pat, *obs, *out;
	struct timespec t0, t1;
	size_t released = 0, suppressed = 0;
	bool sup;
	int i, j;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pat = J("{'resourceType':'Patient'}");
	for (i = 0; i < 20000; i++) {
		snprintf(pid, sizeof(pid), "pat%06d", (i * 7919) % 20000);
		snprintf(birth, sizeof(birth), "%d-02-03", 1930 + i % 80);
		if (i % 1000 == 0) /* a ZIP3 of its own: suppressed */
			snprintf(zip, sizeof(zip), "%03d12", 500 + i / 1000);
		else
			snprintf(zip, sizeof(zip), "%03d12",
			    10 + (i * 31) % 400);
		json_object_set_new(pat, "birthDate", json_string(birth));
		json_object_set_new(pat, "gender", json_string(sexes[i % 2]));
		json_object_set_new(pat, "address",
		    json_pack("[{s:s}]", "postalCode", zip));
		json_object_del(pat, "id");
		assert_int_equal(pv_deid_add_patient(d, pid, pat), PV_OK);
	}
	json_decref(pat);
	finish(d, &rep);
	assert_int_equal(rep.patients, 20000);
	assert_int_equal(rep.patients_released + rep.patients_suppressed,
	    20000);
	obs = J("{'resourceType':'Observation','status':'final',"
		"'code':{'coding':[{'system':'http://loinc.org',"
		"'code':'8867-4'}]},'effectiveDateTime':'2021-03-04T10:00:00Z',"
		"'valueQuantity':{'value':72,'unit':'/min','system':"
		"'http://unitsofmeasure.org','code':'/min'}}");
	for (i = 0; i < 20000; i++) {
		snprintf(pid, sizeof(pid), "pat%06d", i);
		json_object_set_new(obs, "subject",
		    json_pack("{s:s+}", "reference", "Patient/", pid));
		for (j = 0; j < 5; j++) {
			char id[48], *row;

			snprintf(id, sizeof(id), "obs-%d-%d", i, j);
			json_object_set_new(obs, "id", json_string(id));
			assert_int_equal(pv_deid_resource(d, pid, obs, &out,
					     &sup),
			    PV_OK);
			if (sup) {
				suppressed++;
				continue;
			}
			assert_int_equal(pv_deid_csv_row(out, &row), PV_OK);
			free(row);
			json_decref(out);
			released++;
		}
	}
	json_decref(obs);
	assert_int_equal(released + suppressed, 100000);
	assert_int_equal(released, rep.patients_released * 5);
	assert_int_equal(pv_deid_check_k(d), PV_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("    100,000 resources in %.2f s (%zu groups)\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    rep.groups);
	pv_deid_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_arguments),
		cmocka_unit_test(test_pseudonym_known_answer),
		cmocka_unit_test(test_pseudonym_stable_and_keyed),
		cmocka_unit_test(test_dates_keep_year_only),
		cmocka_unit_test(test_birth_year_and_90_plus),
		cmocka_unit_test(test_zip3),
		cmocka_unit_test(test_patient_identifiers_gone),
		cmocka_unit_test(test_patient_add_validation),
		cmocka_unit_test(test_free_text_and_identifiers_gone),
		cmocka_unit_test(test_codings_only_known_systems),
		cmocka_unit_test(test_references_pseudonymised),
		cmocka_unit_test(test_quasi_subset_limits_release),
		cmocka_unit_test(test_k_anonymity_suppression),
		cmocka_unit_test(test_k_check_without_suppression),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_scale),
	};

	if (pv_crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
