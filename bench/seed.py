#!/usr/bin/env python3
"""bench/seed.py — seed a benchmark vault over its HTTPS API.

usage: seed.py BASE_URL CAFILE TOKEN NPATIENTS NOBS OUTDIR [OBS_BYTES]

As a clinician (bearer TOKEN; a clinician who creates a Patient joins its
care team): NPATIENTS Patients, NOBS Observations of about OBS_BYTES
(default 1024) bytes each, over one keep-alive TLS connection. Writes
OUTDIR/patients.txt and OUTDIR/observations.txt (new ids, one per line)
and OUTDIR/obs.json (an Observation body for the first patient, for write
benchmarks). Every request has a 30 s timeout. Standard library only.
"""
import http.client
import json
import os
import ssl
import sys
import urllib.parse


def observation(pid, size):
    obs = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/"
                      "observation-category",
            "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4",
                             "display": "Heart rate"}], "text": "Heart rate"},
        "subject": {"reference": "Patient/" + pid},
        "effectiveDateTime": "2026-11-24T08:30:00Z",
        "valueQuantity": {"value": 72, "unit": "/min",
                          "system": "http://unitsofmeasure.org",
                          "code": "/min"},
        "note": [{"text": ""}],
    }
    # The server adds id and meta (about 110 bytes) to what it stores.
    base = len(json.dumps(obs, separators=(",", ":"))) + 110
    obs["note"][0]["text"] = "Resting, seated; " + "x" * max(0, size - base - 17)
    return json.dumps(obs, separators=(",", ":"))


def main(argv):
    if len(argv) not in (7, 8):
        sys.exit(__doc__.split("\n\n")[1])
    base, cafile, token = argv[1], argv[2], argv[3]
    npat, nobs, outdir = int(argv[4]), int(argv[5]), argv[6]
    size = int(argv[7]) if len(argv) == 8 else 1024
    u = urllib.parse.urlsplit(base)
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx,
                                       timeout=30)
    headers = {"Authorization": "Bearer " + token,
               "Content-Type": "application/fhir+json"}

    def create(body):
        conn.request("POST", "/fhir/" + json.loads(body)["resourceType"],
                     body=body.encode(), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            sys.exit("seed.py: POST answered %d: %s" % (resp.status,
                                                        data[:300]))
        return json.loads(data)["id"]

    patient = json.dumps({"resourceType": "Patient", "gender": "female",
                          "birthDate": "1960-05-01",
                          "name": [{"family": "Bench", "given": ["Ada"]}]})
    os.makedirs(outdir, exist_ok=True)
    pids, oids = [], []
    for _ in range(npat):
        pid = create(patient)
        pids.append(pid)
        body = observation(pid, size)
        for _ in range(nobs):
            oids.append(create(body))
    conn.close()
    with open(os.path.join(outdir, "patients.txt"), "w") as f:
        f.write("".join(p + "\n" for p in pids))
    with open(os.path.join(outdir, "observations.txt"), "w") as f:
        f.write("".join(o + "\n" for o in oids))
    with open(os.path.join(outdir, "obs.json"), "w") as f:
        f.write(observation(pids[0], size))


if __name__ == "__main__":
    main(sys.argv)
