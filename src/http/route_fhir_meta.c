/*
 * route_fhir_meta.c — GET /fhir/metadata: the CapabilityStatement, built
 * once at start-up from the types phivault knows.
 */
#include "http/route_fhir.h"

#include <string.h>

/* ---- metadata
 * ---------------------------------------------------------------- */

json_t *
pv_http_capability_statement(void)
{
	static const char *const interactions[] = { "read", "vread", "update",
		"delete", "history-instance", "create", "search-type" };
	json_t *resources = json_array(), *security, *rest;
	size_t i, k;
	char ts[32];

	for (i = 0; pv_fhir_types[i] != NULL; i++) {
		json_t *inter = json_array(), *params = json_array();

		for (k = 0; k < PV_ARRAY_LEN(interactions); k++)
			json_array_append_new(inter,
			    json_pack("{s:s}", "code", interactions[k]));
		if (strcmp(pv_fhir_types[i], "Patient") == 0)
			json_array_append_new(params,
			    json_pack("{s:s, s:s}", "name", "identifier",
				"type", "token"));
		json_array_append_new(params,
		    json_pack("{s:s, s:s}", "name", "patient", "type",
			"reference"));
		json_array_append_new(params,
		    json_pack("{s:s, s:s}", "name", "_count", "type",
			"number"));
		json_array_append_new(resources,
		    json_pack("{s:s, s:o, s:s, s:b, s:o}", "type",
			pv_fhir_types[i], "interaction", inter, "versioning",
			"versioned", "readHistory", 1, "searchParam", params));
	}
	json_array_append_new(resources,
	    json_pack("{s:s, s:[{s:s}], s:[{s:s, s:s}]}", "type", "AuditEvent",
		"interaction", "code", "search-type", "searchParam", "name",
		"patient", "type", "reference"));
	security = json_pack("{s:[{s:[{s:s, s:s}]}], s:s}", "service", "coding",
	    "system",
	    "http://terminology.hl7.org/CodeSystem/restful-security-service",
	    "code", "OAuth", "description",
	    "Bearer session tokens (POST /auth/login, TOTP MFA) or RFC 9421 "
	    "HTTP Message Signatures (Ed25519) for service clients");
	rest = json_pack("{s:s, s:o, s:o}", "mode", "server", "security",
	    security, "resource", resources);
	pv_iso8601(pv_now(), ts);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:[s], "
			 "s:[o]}",
	    "resourceType", "CapabilityStatement", "status", "active", "date",
	    ts, "kind", "instance", "fhirVersion", "4.0.1", "software", "name",
	    "phivault", "version", "0.1.0", "format", "json", "rest", rest);
}

void
route_fhir_metadata(const struct pv_hreq *q, struct pv_reply *p)
{
	pv_reply_json(p, 200, json_incref(q->svc->capability));
}
