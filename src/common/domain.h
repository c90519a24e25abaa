/*
 * domain.h — the fixed vocabulary of the product (SPEC.md): the roles,
 * the FHIR resource types phivault serves and the grammar of a user name.
 * Shared by configuration checks, accounts, care teams, policy and the
 * record service so all agree.
 */
#ifndef PV_COMMON_DOMAIN_H
#define PV_COMMON_DOMAIN_H

#include "common/pv.h"

/* NULL-terminated lists. */
extern const char *const pv_roles[];
extern const char *const pv_fhir_types[];

#define PV_USERNAME_MAX 64

bool pv_role_is_known(const char *role);
/*
 * Care-team roles, the one rule: staff and service clients may be on a
 * patient's care team (clinician, nurse, service); patients have their
 * own link and other roles none. Creating a Patient puts its creator on
 * the team when the role is a clinician or a service client (SPEC.md).
 */
bool pv_role_may_join_careteam(const char *role);
bool pv_role_joins_on_create(const char *role);
bool pv_fhir_type_is_known(const char *type);
/* True when name is 1..PV_USERNAME_MAX chars of [A-Za-z0-9._@-]. */
bool pv_username_is_valid(const char *name);

#endif
