/*
 * fault.c — see fault.h. Empty unless PV_FAULT_INJECTION is defined.
 */
#include "common/fault.h"

#ifdef PV_FAULT_INJECTION
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A countdown file holding n > 1: rewritten to n - 1, no fault yet. */
static bool
count_down(const char *path)
{
	FILE *f = fopen(path, "r+");
	long n = 0;
	bool skip = false;

	if (f == NULL)
		return false;
	if (fscanf(f, "%ld", &n) == 1 && n > 1) {
		rewind(f);
		skip = fprintf(f, "%ld\n", n - 1) > 0;
	}
	fclose(f);
	return skip;
}

bool
pv_fault(const char *name)
{
	const char *dir = getenv("PHIVAULT_FAULT_DIR");
	char path[512];

	if (dir == NULL ||
	    pv_snprintf(path, sizeof(path), "%s/%s", dir, name) != PV_OK)
		return false;
	if (access(path, F_OK) != 0)
		return false;
	return !count_down(path);
}
#else
typedef int pv_fault_translation_unit_not_empty;
#endif
