/*
 * auditevent.c — audit entries as FHIR R4 AuditEvent resources.
 *
 * Shared by GET /fhir/AuditEvent and `phivault audit export --format
 * fhir`. The log stores account ids only; agent.who names the actor's
 * username, resolved here at read time. A break-glass entry's reason is
 * decrypted from its grant (sealed under the patient's key) into
 * purposeOfEvent; after erasure it reads "(reason unavailable)". An entry
 * that stands for several identical events ("count" > 1, e.g. repeated
 * unauthenticated denials aggregated) carries the number in the
 * extension urn:phivault:audit-count (valueInteger); FHIR R4's
 * AuditEvent has no element for it.
 */
#include "report/report.h"
#include "audit/audit.h"
#include "authz/authz.h"

#include <string.h>

static const char *
fhir_action(const char *action)
{
	if (strcmp(action, "create") == 0)
		return "C";
	if (strcmp(action, "update") == 0)
		return "U";
	if (strcmp(action, "delete") == 0)
		return "D";
	if (strcmp(action, "read") == 0 || strcmp(action, "search") == 0 ||
	    strcmp(action, "history") == 0 || strcmp(action, "vread") == 0 ||
	    strcmp(action, "audit.query") == 0)
		return "R";
	return "E";
}

static const char *
username_of(struct pv_vault *v, struct pv_auditevent_cache *c, int64_t actor,
    const char *role)
{
	struct pv_user u;

	if (actor <= 0)
		return role != NULL && strcmp(role, "operator") == 0
		    ? "local-operator"
		    : "unauthenticated";
	if (actor == c->actor)
		return c->name;
	if (pv_store_user_get_by_id(v->store, actor, &u) != PV_OK)
		return "unknown";
	c->actor = actor;
	memcpy(c->name, u.username, sizeof(c->name));
	sodium_memzero(&u, sizeof(u));
	return c->name;
}

static json_t *
purpose_of(struct pv_vault *v, int64_t grant_id)
{
	char reason[PV_BREAK_GLASS_REASON_MAX * 4 + PV_AEAD_OVERHEAD + 1];
	struct pv_grant g;
	json_t *p;

	if (pv_store_grant_get(v->store, grant_id, &g) != PV_OK)
		return NULL;
	if (pv_breakglass_reason(v, &g, reason, sizeof(reason)) != PV_OK)
		strcpy(reason, "(reason unavailable)");
	pv_grant_clear(&g);
	p = json_pack("[{s:[{s:s, s:s, s:s}], s:s}]", "coding", "system",
	    "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code",
	    "ETREAT", "display", "Emergency Treatment", "text", reason);
	sodium_memzero(reason, sizeof(reason));
	return p;
}

json_t *
pv_auditevent_from_entry(struct pv_vault *v, struct pv_auditevent_cache *c,
    json_t *e)
{
	const char *action = json_string_value(json_object_get(e, "action"));
	const char *outcome = json_string_value(json_object_get(e, "outcome"));
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *id = json_string_value(json_object_get(e, "id"));
	const char *patient = json_string_value(json_object_get(e, "patient"));
	const char *role = json_string_value(json_object_get(e, "role"));
	int64_t actor = json_integer_value(json_object_get(e, "actor"));
	int64_t grant = json_integer_value(json_object_get(e, "grant"));
	int64_t count;
	json_t *ev, *entity, *purpose;
	char ref[160], evid[32];
	const char *who;

	if (action == NULL || outcome == NULL || type == NULL || id == NULL ||
	    patient == NULL || role == NULL)
		return NULL;
	who = username_of(v, c, actor, role);
	PV_IGNORE(pv_snprintf(evid, sizeof(evid), "%lld",
	    (long long)json_integer_value(json_object_get(e, "seq"))));
	entity = json_array();
	if (type[0] != '\0' && id[0] != '\0' &&
	    pv_snprintf(ref, sizeof(ref), "%s/%s", type, id) == PV_OK)
		json_array_append_new(entity,
		    json_pack("{s:{s:s}}", "what", "reference", ref));
	if (patient[0] != '\0' &&
	    pv_snprintf(ref, sizeof(ref), "Patient/%s", patient) == PV_OK)
		json_array_append_new(entity,
		    json_pack("{s:{s:s}, s:{s:s, s:s}}", "what", "reference",
			ref, "type", "system",
			"http://terminology.hl7.org/CodeSystem/"
			"audit-entity-type",
			"code", "1"));
	ev = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}], s:s, "
		       "s:O, s:s, s:O, s:[{s:{s:s, s:{s:s}}, s:b, s:[{s:s}], "
		       "s:{s:O, s:s}}], "
		       "s:{s:{s:s}}, s:o}",
	    "resourceType", "AuditEvent", "id", evid, "type", "system",
	    "http://terminology.hl7.org/CodeSystem/audit-event-type", "code",
	    "rest", "display", "RESTful Operation", "subtype", "system",
	    "urn:phivault:audit-action", "code", action, "action",
	    fhir_action(action), "recorded", json_object_get(e, "ts"),
	    "outcome",
	    strcmp(outcome, "allowed") == 0     ? "0"
		: strcmp(outcome, "error") == 0 ? "8"
						: "4",
	    "outcomeDesc", json_object_get(e, "reason"), "agent", "who",
	    "display", who, "identifier", "value", who, "requestor", 1, "role",
	    "text", role[0] ? role : "none", "network", "address",
	    json_object_get(e, "src"), "type", "2", "source", "observer",
	    "display", "phivault", "entity", entity);
	if (ev != NULL && grant > 0 && (purpose = purpose_of(v, grant)) != NULL)
		json_object_set_new(ev, "purposeOfEvent", purpose);
	if (ev != NULL && (count = pv_audit_entry_count(e)) > 1)
		json_object_set_new(ev, "extension",
		    json_pack("[{s:s, s:I}]", "url", "urn:phivault:audit-count",
			"valueInteger", (json_int_t)count));
	return ev;
}
