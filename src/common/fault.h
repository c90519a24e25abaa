/*
 * fault.h — fault injection for tests (SQLite-style), compiled only into
 * builds with PV_FAULT_INJECTION (the test builds; Release has none).
 *
 * pv_fault(name) is true when the environment variable PHIVAULT_FAULT_DIR
 * names a directory containing a file called name. Tests create and
 * remove that file while the server runs to make, e.g., every audit
 * write fail as if the disk were full, then recover. A file holding a
 * number n > 1 delays the fault: each check rewrites n - 1 and passes,
 * the n-th check and every later one fail (a fault midway).
 */
#ifndef PV_COMMON_FAULT_H
#define PV_COMMON_FAULT_H

#include "common/pv.h"

#ifdef PV_FAULT_INJECTION
bool pv_fault(const char *name);
#else
static inline bool
pv_fault(const char *name)
{
	(void)name;
	return false;
}
#endif

#endif
