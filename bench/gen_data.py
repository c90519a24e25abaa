#!/usr/bin/env python3
"""bench/gen_data.py -- deterministic benchmark population, ~1 KiB per resource.

usage: gen_data.py N [--per-patient M] [--size BYTES] [--seed S]
                     [--write-template FILE] > population.ndjson

Writes NDJSON for `phivault import` on stdout: for each of N patients a
Patient followed by M compartment resources that name it in subject (or
patient, for AllergyIntolerance) as {"reference": "Patient/<id in file>"}.
With the default M = 10 each patient has 4 Observations, 2 Conditions and
one Encounter, MedicationRequest, AllergyIntolerance and Communication.

Every resource is padded (a FHIR narrative, text.div) so that what the
server *returns* for it is about --size bytes (default 1024): the server
replaces the 32-hex id and patient reference by its own 32-hex ids (same
length) and adds meta.versionId/meta.lastUpdated (59 bytes), so each line
here is --size - 59 bytes long. Uniform sizes make "the same JSON bytes"
served statically by nginx a fair stand-in for any read.

--write-template FILE also writes one Observation (no id) for the write
benchmark (POST /fhir/Observation), with the literal text PATIENT_ID where
the patient's 32-hex id goes; after substitution it is --size - 99 bytes,
so the 201 response (the stored resource, with the id and meta the server
adds) is about --size bytes too.

Synthetic data only: no real names, SSN-like or phone numbers. Standard
library only; about 3 s per 10,000 patients (110,000 lines).
"""
import argparse
import json
import random
import sys

META_BYTES = 59     # ,"meta":{"versionId":"1","lastUpdated":"2026-01-01T00:00:00Z"}
WORDS = ("patient reports feeling well today no acute distress vitals "
         "within normal limits follow up in three months continue current "
         "plan reviewed medication list and allergies discussed diet and "
         "exercise denies chest pain shortness of breath or dizziness").split()
VITALS = [("8867-4", "Heart rate", "/min", 48, 120),
          ("8480-6", "Systolic blood pressure", "mm[Hg]", 95, 175),
          ("29463-7", "Body weight", "kg", 40, 130),
          ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 65, 240)]
CONDITIONS = [("44054006", "Diabetes mellitus type 2"),
              ("38341003", "Hypertensive disorder"),
              ("195967001", "Asthma")]
MEDS = [("860975", "metformin 500 MG Oral Tablet"),
        ("314076", "lisinopril 10 MG Oral Tablet")]
# The compartment resources of one patient, in order (cycled if M > 10).
KINDS = ["Observation", "Condition", "Observation", "Encounter",
         "Observation", "MedicationRequest", "Condition", "Observation",
         "AllergyIntolerance", "Communication"]


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def filler_text(rng, n=65536):
    """A long run of words that pad() takes slices of."""
    words, size = [], 0
    while size < n:
        w = rng.choice(WORDS)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)


def pad(res, target, rng, filler):
    """Returns the JSON text of res with a narrative (text.div) of plain
    words (nothing to escape) that makes it exactly `target` bytes long
    (or as short as possible when res is already larger)."""
    res["text"] = {"status": "generated",
                   "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"></div>"}
    text = dumps(res)
    need = target - len(text)
    if need <= 0:
        return text
    off = rng.randrange(len(filler) - need)
    cut = text.rindex("</div>")
    return text[:cut] + filler[off:off + need] + text[cut:]


class Gen:
    def __init__(self, seed, size):
        self.rng = random.Random(seed)
        self.line = size - META_BYTES
        self.filler = filler_text(self.rng)

    def rid(self):
        return "%032x" % self.rng.getrandbits(128)

    def date(self):
        r = self.rng
        return "20%02d-%02d-%02dT%02d:%02d:00Z" % (
            r.randint(15, 25), r.randint(1, 12), r.randint(1, 28),
            r.randrange(24), r.randrange(60))

    def patient(self):
        r = self.rng
        pid = self.rid()
        res = {"resourceType": "Patient", "id": pid, "active": True,
               "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5",
                               "value": "BENCH%09d" % r.randrange(10 ** 9)}],
               "name": [{"use": "official", "family": "Synthetic%04d"
                         % r.randrange(10000),
                         "given": ["Bench%04d" % r.randrange(10000)]}],
               "gender": r.choice(["female", "male", "other", "unknown"]),
               "birthDate": "19%02d-%02d-%02d" % (
                   r.randint(30, 99), r.randint(1, 12), r.randint(1, 28)),
               "address": [{"use": "home", "city": "Testville",
                            "state": "ZZ", "country": "US"}]}
        return pid, pad(res, self.line, r, self.filler)

    def compartment(self, kind, pid, rid=None):
        r = self.rng
        subj = {"reference": "Patient/" + pid}
        res = {"resourceType": kind}
        if rid is not None:
            res["id"] = rid
        if kind == "Observation":
            code, disp, unit, lo, hi = r.choice(VITALS)
            res.update({
                "status": "final",
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/"
                              "observation-category",
                    "code": "vital-signs"}]}],
                "code": {"coding": [{"system": "http://loinc.org",
                                     "code": code, "display": disp}]},
                "subject": subj, "effectiveDateTime": self.date(),
                "valueQuantity": {"value": r.randint(lo, hi), "unit": unit,
                                  "system": "http://unitsofmeasure.org",
                                  "code": unit}})
        elif kind == "Condition":
            code, disp = r.choice(CONDITIONS)
            res.update({
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct",
                                     "code": code, "display": disp}]},
                "subject": subj, "recordedDate": self.date()})
        elif kind == "Encounter":
            res.update({"status": "finished",
                        "class": {"code": r.choice(["AMB", "IMP", "EMER"])},
                        "subject": subj,
                        "period": {"start": self.date()}})
        elif kind == "MedicationRequest":
            code, disp = r.choice(MEDS)
            res.update({"status": "active", "intent": "order",
                        "medicationCodeableConcept": {"coding": [{
                            "system": "http://www.nlm.nih.gov/research/"
                                      "umls/rxnorm",
                            "code": code, "display": disp}]},
                        "subject": subj, "authoredOn": self.date()})
        elif kind == "AllergyIntolerance":
            res.update({"type": "allergy", "criticality": "low",
                        "code": {"text": "Allergy to penicillin"},
                        "patient": subj, "recordedDate": self.date()})
        else:  # Communication
            res.update({"status": "completed", "subject": subj,
                        "sent": self.date(),
                        "payload": [{"contentString": "Your results are "
                                     "ready."}]})
        return pad(res, self.line, r, self.filler)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patients", type=int)
    ap.add_argument("--per-patient", type=int, default=10, metavar="M")
    ap.add_argument("--size", type=int, default=1024,
                    help="bytes the server returns per resource")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--write-template", metavar="FILE")
    a = ap.parse_args()
    if a.patients < 0 or a.per_patient < 0 or a.size < 400:
        ap.error("counts must be >= 0 and --size >= 400")
    g = Gen(a.seed, a.size)
    out = sys.stdout
    buf = []
    for _ in range(a.patients):
        pid, p = g.patient()
        buf.append(p)
        for i in range(a.per_patient):
            buf.append(g.compartment(KINDS[i % len(KINDS)], pid, g.rid()))
        if len(buf) >= 10000:
            out.write("\n".join(buf) + "\n")
            buf = []
    if buf:
        out.write("\n".join(buf) + "\n")
    if a.write_template:
        # 32 hex characters will replace the 10-character placeholder,
        # and the server adds "id":"<32 hex>", (40 bytes) besides meta.
        t = Gen(a.seed + 1, a.size - 40 - 32 + len("PATIENT_ID"))
        obs = t.compartment("Observation", "PATIENT_ID")
        with open(a.write_template, "w", encoding="utf-8") as f:
            f.write(obs)


if __name__ == "__main__":
    main()
