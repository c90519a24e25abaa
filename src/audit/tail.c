/*
 * tail.c — what a writer does with entries at the end of the log that no
 * signature covers (red-team finding 5).
 *
 * Every batch a writer appends ends with a signed line (batchsig.h), in
 * the same write() and fdatasync, and writers serialise on the flock; so
 * under the flock, complete lines after the last valid signature were
 * never acknowledged to anyone: a crash (or power loss) persisted part of
 * a batch, or someone without the key wrote them. A writer must never
 * sign a batch or a checkpoint over them — that would bless them. So
 * they are moved out of the trail:
 *   1. kept, bytes unchanged, in the medium's quarantine (files:
 *      DIR/audit/quarantine.jsonl, 0600, fdatasync'ed; PostgreSQL: the
 *      audit_quarantine table, in the same transaction), so nothing is
 *      destroyed;
 *   2. the log is cut back to the last signed line;
 *   3. an error line is logged (counts only);
 *   4. the caller appends a signed entry, action "audit.quarantine",
 *      reason "unsigned_tail", "count" = how many entries were moved,
 *      so `audit verify` and `compliance` show it.
 * A crash between 1 and 2 leaves the lines in both files; the next
 * writer quarantines them again (the quarantine file may then hold them
 * twice). Someone with file access can still cut the log short without
 * the key: only checkpoints published outside the vault catch that.
 */
#include "audit/log_int.h"
#include "common/log.h"

#include <string.h>

pv_status
audit_quarantine(struct pv_audit *a, const char *bytes, size_t len, uint64_t n)
{
	char num[24], from[24];
	pv_status st;

	if ((st = a->m->fn->quarantine(a->m, bytes, len)) == PV_OK)
		st = a->m->fn->cut(a->m, a->end);
	PV_IGNORE(pv_snprintf(num, sizeof(num), "%llu", (unsigned long long)n));
	PV_IGNORE(pv_snprintf(from, sizeof(from), "%llu",
	    (unsigned long long)a->size));
	pv_log(PV_LOG_ERROR,
	    st == PV_OK ? "audit_unsigned_tail_quarantined"
			: "audit_unsigned_tail_quarantine_failed",
	    NULL, "entries", num, "first_seq", from, (const char *)NULL);
	return st;
}

void
audit_quarantine_event(struct pv_audit_event *ev, uint64_t n)
{
	memset(ev, 0, sizeof(*ev));
	PV_IGNORE(pv_strlcpy(ev->role, "system", sizeof(ev->role)));
	PV_IGNORE(
	    pv_strlcpy(ev->action, "audit.quarantine", sizeof(ev->action)));
	ev->outcome = "error";
	ev->reason = "unsigned_tail";
	PV_IGNORE(pv_strlcpy(ev->src, "local", sizeof(ev->src)));
	pv_random_id(ev->rid);
	ev->count = n > INT64_MAX ? INT64_MAX : (int64_t)n;
}
