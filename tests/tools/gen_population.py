#!/usr/bin/env python3
"""gen_population.py -- a deterministic synthetic FHIR R4 population.

Writes NDJSON on stdout, one resource per line: for each of N patients a
Patient (names, addresses, birth date, phones, fax, email, SSN- and
MRN-like identifiers, photo URL, a relative as contact) followed by M
compartment resources (Observation, Condition, Encounter,
MedicationRequest, AllergyIntolerance, Communication, DocumentReference)
that name the patient in `subject` or `patient` and are salted with the
patient's identifiers in free text, displays, identifiers and URLs, and
in codings: each Observation's code also carries a local code system
whose URL names the patient, with the SSN as its code, and the SSN and
the full birth date as codes of LOINC and SNOMED CT (the outside
review's case, issue 13).

With --identifiers FILE it also writes every identifying string that
occurs in the output (names, street lines, cities, full ZIP codes,
phones, emails, SSNs, MRNs, URLs, full birth dates, the original resource
ids, ...), one per line, so a test can check that a de-identified export
contains none of them:

    gen_population.py 500 --identifiers ids.txt > pop.ndjson
    ... export ... > out.ndjson
    grep -wF -f ids.txt out.ndjson && echo LEAK

Use whole-word matching (grep -w): pseudonyms are long hex strings that
may contain a short digit string such as a ZIP code inside a word.

Some patients live in the restricted ZIP3 areas (036, 059, 063, 102, 203,
556, 692, 790, 821, 823, 830, 831, 878, 879, 884, 890, 893) and some are
aged 90 or more relative to --ref-year. The same arguments always give
the same bytes. Standard library only. SSNs use area numbers 900-999,
which are never issued; phone numbers use the 555-01xx fictional range.
"""

import argparse
import base64
import json
import random
import sys

GIVEN_F = ["Olivia", "Emma", "Amelia", "Sophia", "Charlotte", "Isabella",
           "Margaret", "Evelyn", "Harriet", "Beatrice", "Rosalind",
           "Imogen", "Priya", "Mei", "Aaliyah", "Ximena", "Ingrid",
           "Dolores", "Winifred", "Tamsin"]
GIVEN_M = ["Liam", "Noah", "Oliver", "Elijah", "Theodore", "Mateo",
           "Henry", "Lucas", "Ezekiel", "Augustin", "Rajesh", "Kenji",
           "Tobias", "Leopold", "Cornelius", "Desmond", "Florian",
           "Ignatius", "Bartholomew", "Wendell"]
FAMILY = ["Okonkwo", "Fitzgerald", "Nakamura", "Castellanos", "Lindqvist",
          "Abernathy", "Worthington", "Kowalczyk", "Papadopoulos",
          "Oyelaran", "Thistlewood", "Ravensworth", "Delacroix",
          "Haverford", "Quintanilla", "Bergstrom", "Marchetti",
          "Szymanski", "Vanderbilt", "Achterberg", "Montgomery",
          "Trevelyan", "Blackwood", "Gallagher", "Hernandez"]
STREETS = ["Maple Avenue", "Elm Street", "Juniper Lane", "Harbor View Road",
           "Old Mill Road", "Chestnut Court", "Wexford Drive",
           "Larkspur Way", "Prospect Hill Road", "Quarry Lane",
           "Birchwood Terrace", "Cobblestone Row"]
# (city, state, ZIP3, area code); the first block holds most patients.
PLACES = [
    ("Somerville", "MA", "021", "617"),
    ("Brookline", "MA", "024", "617"),
    ("Worcester", "MA", "016", "508"),
    ("Providence", "RI", "029", "401"),
    ("Hartford", "CT", "061", "860"),
    ("Albany", "NY", "122", "518"),
]
RESTRICTED = [
    ("Claremont", "NH", "036", "603"),
    ("Island Pond", "VT", "059", "802"),
    ("Fishers Island", "NY", "063", "631"),
    ("Grand Marais", "MN", "556", "218"),
    ("Valentine", "NE", "692", "402"),
    ("Canadian", "TX", "790", "806"),
    ("Rawlins", "WY", "823", "307"),
    ("Jackson", "WY", "830", "307"),
    ("Socorro", "NM", "878", "575"),
    ("Tucumcari", "NM", "884", "575"),
    ("Ely", "NV", "893", "775"),
]
HOSPITALS = ["Riverside Memorial Hospital", "St. Brigid Medical Center",
             "Northgate Community Clinic"]
DOCTORS = ["Dr. Evangeline Harcourt", "Dr. Silas Pemberton",
           "Dr. Anjali Ramaswamy", "Dr. Constance Whitfield"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
VITALS = [  # code, display, unit, low, high, decimals
    ("8867-4", "Heart rate", "/min", 48, 120, 0),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 95, 175, 0),
    ("29463-7", "Body weight", "kg", 40, 130, 1),
    ("8310-5", "Body temperature", "Cel", 35.5, 39.5, 1),
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 65, 240, 0),
]
CONDITIONS = [("44054006", "Diabetes mellitus type 2"),
              ("38341003", "Hypertensive disorder"),
              ("195967001", "Asthma"),
              ("13645005", "Chronic obstructive lung disease"),
              ("35489007", "Depressive disorder")]
MEDS = [("860975", "metformin 500 MG Oral Tablet"),
        ("314076", "lisinopril 10 MG Oral Tablet"),
        ("745679", "albuterol 90 MCG Inhaler"),
        ("197361", "amlodipine 5 MG Oral Tablet")]
ALLERGENS = [("91936005", "Allergy to penicillin"),
             ("300913006", "Shellfish allergy"),
             ("91935009", "Allergy to peanuts")]


class Population:
    def __init__(self, rng, ref_year, per_patient):
        self.rng = rng
        self.ref_year = ref_year
        self.per_patient = per_patient
        self.identifiers = []
        self._seen = set()
        for s in DOCTORS + HOSPITALS:   # providers: displays only
            self.ident(s)

    def ident(self, s):
        """Records an identifying string; returns it."""
        if s not in self._seen:
            self._seen.add(s)
            self.identifiers.append(s)
        return s

    def rid(self):
        return self.ident("%032x" % self.rng.getrandbits(128))

    def phone(self, area):
        return self.ident("(%s) 555-01%02d" % (area, self.rng.randrange(100))
                          if self.rng.random() < 0.5 else
                          "%s-555-01%02d" % (area, self.rng.randrange(100)))

    def date(self, year):
        return "%04d-%02d-%02d" % (year, self.rng.randint(1, 12),
                                   self.rng.randint(1, 28))

    def instant(self, year):
        return "%sT%02d:%02d:%02dZ" % (self.date(year),
                                       self.rng.randrange(24),
                                       self.rng.randrange(60),
                                       self.rng.randrange(60))

    def place(self):
        if self.rng.random() < 0.12:
            return self.rng.choice(RESTRICTED)
        return self.rng.choice(PLACES)

    def patient(self):
        rng = self.rng
        pid = self.rid()
        sex = rng.choice(["female", "male", "female", "male", "other",
                          "unknown"])
        given_pool = GIVEN_F if sex == "female" else GIVEN_M
        given = rng.choice(given_pool)
        middle = rng.choice(given_pool)
        family = rng.choice(FAMILY)
        for s in (given, middle, family, "%s %s" % (given, family)):
            self.ident(s)
        if rng.random() < 0.06:         # aged 90 or more
            birth_year = self.ref_year - 90 - rng.randrange(16)
        else:
            birth_year = rng.randint(self.ref_year - 89, self.ref_year - 1)
        birth = self.ident(self.date(birth_year))
        city, state, zip3, area = self.place()
        self.ident(city)
        zipcode = self.ident("%s%02d" % (zip3, rng.randrange(100)))
        zip4 = self.ident("%s-%04d" % (zipcode, rng.randrange(10000)))
        line1 = self.ident("%d %s" % (rng.randint(1, 9999),
                                      rng.choice(STREETS)))
        line2 = self.ident("Apt %d%s" % (rng.randint(1, 40),
                                         rng.choice("ABCD")))
        old_line = self.ident("%d %s" % (rng.randint(1, 9999),
                                         rng.choice(STREETS)))
        ocity, ostate, ozip3, _ = self.place()
        self.ident(ocity)
        ozip = self.ident("%s%02d" % (ozip3, rng.randrange(100)))
        home, mobile, fax = self.phone(area), self.phone(area), \
            self.phone(area)
        email = self.ident("%s.%s%d@mailbox-example.net" % (
            given.lower(), family.lower(), rng.randrange(100)))
        ssn = self.ident("9%02d-%02d-%04d" % (rng.randrange(100),
                                              rng.randint(1, 99),
                                              rng.randint(1, 9999)))
        mrn = self.ident("MRN%08d" % rng.randrange(10 ** 8))
        plan = self.ident("HP-%010d" % rng.randrange(10 ** 10))
        photo = self.ident("https://photos.hospital-example.org/p/%s.jpg"
                           % mrn)
        rel_given = rng.choice(GIVEN_F + GIVEN_M)
        self.ident(rel_given)
        relative = self.ident("%s %s" % (rel_given, family))
        rel_phone = self.phone(area)
        ip = self.ident("10.%d.%d.%d" % (rng.randrange(256),
                                         rng.randrange(256),
                                         rng.randint(1, 254)))
        full = "%s %s %s" % (given, middle, family)
        self.ident(full)
        res = {
            "resourceType": "Patient",
            "id": pid,
            "meta": {"versionId": "1",
                     "lastUpdated": self.instant(self.ref_year - 1)},
            "text": {"status": "generated",
                     "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">"
                            "%s, born %s, %s</div>" % (full, birth, mrn)},
            "identifier": [
                {"use": "usual", "type": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                    "code": "MR"}], "text": "Medical record number"},
                 "system": "urn:oid:2.16.840.1.113883.19.5", "value": mrn},
                {"system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn},
                {"type": {"text": "Health plan"}, "value": plan},
            ],
            "active": True,
            "name": [{"use": "official", "family": family,
                      "given": [given, middle], "text": full}],
            "telecom": [
                {"system": "phone", "value": home, "use": "home"},
                {"system": "phone", "value": mobile, "use": "mobile"},
                {"system": "fax", "value": fax},
                {"system": "email", "value": email},
            ],
            "gender": sex,
            "birthDate": birth,
            "address": [
                {"use": "home", "line": [line1, line2], "city": city,
                 "state": state,
                 "postalCode": zip4 if rng.random() < 0.3 else zipcode,
                 "country": "US"},
                {"use": "old", "line": [old_line], "city": ocity,
                 "state": ostate, "postalCode": ozip},
            ],
            "photo": [{"contentType": "image/jpeg", "url": photo}],
            "contact": [{
                "relationship": [{"text": "next of kin"}],
                "name": {"text": relative},
                "telecom": [{"system": "phone", "value": rel_phone}],
            }],
            "extension": [{
                "url": "http://hospital-example.org/fhir/last-login-ip",
                "valueString": ip}],
            "generalPractitioner": [{"display": rng.choice(DOCTORS)}],
        }
        person = {"pid": pid, "given": given, "family": family,
                  "full": full, "phone": home, "mrn": mrn, "city": city,
                  "birth_year": birth_year, "email": email, "ssn": ssn,
                  "birth": birth}
        return res, person

    def subject(self, p):
        return {"reference": "Patient/" + p["pid"],
                "display": p["full"]}

    def observation(self, p, year, enc):
        rng = self.rng
        code, disp, unit, lo, hi, dec = rng.choice(VITALS)
        value = round(rng.uniform(lo, hi), dec)
        if dec == 0:
            value = int(value)
        return {
            "resourceType": "Observation", "id": self.rid(),
            "identifier": [{"value": self.ident(
                "LAB-%s-%06d" % (p["mrn"], rng.randrange(10 ** 6)))}],
            "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/"
                          "observation-category",
                "code": "vital-signs", "display": "Vital Signs"}]}],
            "code": {"coding": [
                {"system": LOINC, "code": code, "display": disp},
                # codings that carry the person (no randomness drawn,
                # so the rest of the population is unchanged)
                {"system": self.ident(
                    "http://records.hospital-example.org/%s/%s"
                    % (p["family"], p["given"])), "code": p["ssn"]},
                {"system": LOINC, "code": p["birth"]},
                {"system": SNOMED,
                 "code": self.ident(p["ssn"].replace("-", ""))},
            ], "text": disp},
            "subject": self.subject(p),
            "encounter": {"reference": "Encounter/" + enc},
            "effectiveDateTime": self.instant(year),
            "issued": self.instant(year),
            "performer": [{"display": rng.choice(DOCTORS)}],
            "valueQuantity": {"value": value, "unit": unit,
                              "system": UCUM, "code": unit},
            "note": [{"text": "Taken by %s at home; %s says she feels ok."
                      % (rng.choice(DOCTORS), p["given"])}],
        }

    def condition(self, p, year, enc):
        rng = self.rng
        code, disp = rng.choice(CONDITIONS)
        return {
            "resourceType": "Condition", "id": self.rid(),
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/"
                          "condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/"
                          "condition-ver-status", "code": "confirmed"}]},
            "code": {"coding": [{"system": SNOMED, "code": code,
                                 "display": disp}],
                     "text": "%s (%s)" % (disp, p["full"])},
            "subject": self.subject(p),
            "encounter": {"reference": "Encounter/" + enc},
            "onsetDateTime": self.date(year),
            "recordedDate": self.instant(year),
            "asserter": {"display": rng.choice(DOCTORS)},
            "note": [{"text": "%s (MRN %s) first noticed symptoms while "
                      "living in %s." % (p["full"], p["mrn"], p["city"])}],
        }

    def encounter(self, p, year, eid):
        rng = self.rng
        start = self.instant(year)
        return {
            "resourceType": "Encounter", "id": eid,
            "identifier": [{"value": self.ident(
                "VN%09d" % rng.randrange(10 ** 9))}],
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/"
                                "v3-ActCode",
                      "code": rng.choice(["AMB", "IMP", "EMER"])},
            "type": [{"coding": [{"system": SNOMED, "code": "185349003",
                                  "display": "Encounter for check up"}]}],
            "subject": self.subject(p),
            "participant": [{"individual": {
                "display": rng.choice(DOCTORS)}}],
            "period": {"start": start, "end": start},
            "location": [{"location": {
                "display": "%s, room %d" % (rng.choice(HOSPITALS),
                                            rng.randint(100, 999))}}],
            "serviceProvider": {"display": rng.choice(HOSPITALS)},
        }

    def medication_request(self, p, year, enc):
        rng = self.rng
        code, disp = rng.choice(MEDS)
        return {
            "resourceType": "MedicationRequest", "id": self.rid(),
            "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{
                "system": RXNORM, "code": code, "display": disp}]},
            "subject": self.subject(p),
            "encounter": {"reference": "Encounter/" + enc},
            "authoredOn": self.date(year),
            "requester": {"display": rng.choice(DOCTORS)},
            "dosageInstruction": [{
                "sequence": 1,
                "text": "%s: take one tablet by mouth twice daily; "
                        "questions? call %s" % (p["full"], p["phone"]),
                "patientInstruction": "Reminder texts go to " + p["email"],
                "timing": {"repeat": {"frequency": 2, "period": 1,
                                      "periodUnit": "d"}},
                "route": {"coding": [{"system": SNOMED,
                                      "code": "26643006"}]},
                "doseAndRate": [{"doseQuantity": {
                    "value": 1, "unit": "tablet", "system": UCUM,
                    "code": "{tbl}"}}],
            }],
            "note": [{"text": "Discussed with %s's daughter." % p["given"]}],
        }

    def allergy(self, p, year, enc):
        rng = self.rng
        code, disp = rng.choice(ALLERGENS)
        return {
            "resourceType": "AllergyIntolerance", "id": self.rid(),
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/"
                          "allergyintolerance-clinical",
                "code": "active"}]},
            "type": "allergy", "category": ["medication"],
            "criticality": "high",
            "code": {"coding": [{"system": SNOMED, "code": code,
                                 "display": disp}]},
            "patient": self.subject(p),
            "recordedDate": self.instant(year),
            "recorder": {"display": rng.choice(DOCTORS)},
            "reaction": [{"description": "%s developed hives" % p["given"],
                          "manifestation": [{"coding": [{
                              "system": SNOMED, "code": "247472004"}],
                              "text": "hives"}],
                          "severity": "moderate"}],
        }

    def communication(self, p, year, enc):
        rng = self.rng
        return {
            "resourceType": "Communication", "id": self.rid(),
            "status": "completed",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/"
                          "communication-category",
                "code": "notification"}]}],
            "subject": self.subject(p),
            "sent": self.instant(year),
            "received": self.instant(year),
            "sender": {"display": rng.choice(DOCTORS)},
            "recipient": [{"display": p["full"]}],
            "payload": [
                {"contentString": "Hi %s, your results are ready. Call us "
                                  "at %s or reply to %s." % (
                                      p["given"], p["phone"], p["email"])},
                {"contentString": "Callback number on file: %s" %
                                  p["phone"]},
            ],
        }

    def document(self, p, year, enc):
        rng = self.rng
        url = self.ident("https://ehr.hospital-example.org/documents/%s.pdf"
                         % ("%032x" % rng.getrandbits(128)))
        body = "Discharge summary\nPatient: %s\nMRN: %s\nDOB year: %d\n" % (
            p["full"], p["mrn"], p["birth_year"])
        data = self.ident(base64.b64encode(body.encode()).decode())
        return {
            "resourceType": "DocumentReference", "id": self.rid(),
            "masterIdentifier": {"value": self.ident(
                "DOC-%08d" % rng.randrange(10 ** 8))},
            "status": "current", "docStatus": "final",
            "type": {"coding": [{"system": LOINC, "code": "18842-5",
                                 "display": "Discharge summary"}]},
            "subject": self.subject(p),
            "date": self.instant(year),
            "author": [{"display": rng.choice(DOCTORS)}],
            "description": "Discharge summary for " + p["full"],
            "content": [{"attachment": {
                "contentType": "text/plain", "language": "en-US",
                "url": url, "data": data,
                "title": "Summary - %s" % p["full"],
                "creation": self.instant(year)}}],
            "context": {"encounter": [{"reference": "Encounter/" + enc}],
                        "period": {"start": self.instant(year)}},
        }

    def resources(self, p):
        rng = self.rng
        first = max(p["birth_year"] + 1, self.ref_year - 10)
        eid = self.rid()
        kinds = [self.observation, self.condition, self.medication_request,
                 self.allergy, self.communication, self.document]
        out = []
        for i in range(self.per_patient):
            year = rng.randint(first, self.ref_year)
            if i % 7 == 0:
                eid = self.rid()
                out.append(self.encounter(p, year, eid))
            else:
                out.append(kinds[(i - 1 - i // 7) % len(kinds)](p, year,
                                                                 eid))
        return out


def main():
    ap = argparse.ArgumentParser(
        description="Deterministic synthetic FHIR R4 population (NDJSON).")
    ap.add_argument("patients", type=int, help="number of patients")
    ap.add_argument("--per-patient", type=int, default=8, metavar="M",
                    help="compartment resources per patient (default 8)")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed")
    ap.add_argument("--ref-year", type=int, default=2025,
                    help="year ages are counted from (default 2025)")
    ap.add_argument("--identifiers", metavar="FILE",
                    help="write every identifying string here")
    args = ap.parse_args()
    if args.patients < 0 or args.per_patient < 0:
        ap.error("counts must not be negative")

    pop = Population(random.Random(args.seed), args.ref_year,
                     args.per_patient)
    out = sys.stdout
    for _ in range(args.patients):
        patient, person = pop.patient()
        out.write(json.dumps(patient, separators=(",", ":")) + "\n")
        for r in pop.resources(person):
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
    if args.identifiers:
        with open(args.identifiers, "w", encoding="utf-8") as f:
            for s in pop.identifiers:
                f.write(s + "\n")


if __name__ == "__main__":
    main()
