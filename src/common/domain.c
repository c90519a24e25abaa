/*
 * domain.c — roles, resource types and user names (see domain.h).
 */
#include "common/domain.h"

#include <string.h>

const char *const pv_roles[] = { "patient", "clinician", "nurse", "admin",
	"auditor", "researcher", "service", NULL };

const char *const pv_fhir_types[] = { "Patient", "Observation", "Condition",
	"Encounter", "MedicationRequest", "AllergyIntolerance",
	"DocumentReference", "Communication", NULL };

static bool
in(const char *const *list, const char *s)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

bool
pv_role_is_known(const char *role)
{
	return in(pv_roles, role);
}

bool
pv_role_may_join_careteam(const char *role)
{
	static const char *const team[] = { "clinician", "nurse", "service",
		NULL };

	return in(team, role);
}

bool
pv_role_joins_on_create(const char *role)
{
	static const char *const creators[] = { "clinician", "service", NULL };

	return in(creators, role);
}

bool
pv_fhir_type_is_known(const char *type)
{
	return in(pv_fhir_types, type);
}

bool
pv_username_is_valid(const char *name)
{
	size_t n;

	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];

		if (n >= PV_USERNAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-' || c == '@'))
			return false;
	}
	return n > 0;
}
