/*
 * fault.c — see fault.h. Empty unless PV_FAULT_INJECTION is defined.
 */
#include "common/fault.h"

#ifdef PV_FAULT_INJECTION
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

bool
pv_fault(const char *name)
{
	const char *dir = getenv("PHIVAULT_FAULT_DIR");
	char path[512];

	if (dir == NULL || pv_snprintf(path, sizeof(path), "%s/%s", dir, name) !=
	    PV_OK)
		return false;
	return access(path, F_OK) == 0;
}
#else
typedef int pv_fault_translation_unit_not_empty;
#endif
