/*
 * domain.h — the fixed vocabulary of the product (SPEC.md): the roles and
 * the FHIR resource types phivault serves. Shared by configuration
 * checks, accounts, policy and the record service so all agree.
 */
#ifndef PV_COMMON_DOMAIN_H
#define PV_COMMON_DOMAIN_H

#include "common/pv.h"

/* NULL-terminated lists. */
extern const char *const pv_roles[];
extern const char *const pv_fhir_types[];

bool pv_role_is_known(const char *role);
bool pv_fhir_type_is_known(const char *type);

#endif
