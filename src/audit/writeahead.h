/*
 * writeahead.h — the write-ahead audit protocol, in one place.
 *
 * Every change phivault makes (a record written over HTTP, a batch
 * imported from the command line, an account changed by an operator) is
 * announced in the trail BEFORE it happens: the intent entry must be
 * durable first, and when it cannot be written nothing changes. If the
 * change then does not happen, a follow-up entry (the same event, with
 * the outcome and reason of the failure) says so. So the trail never
 * misses a change, and a reader can tell an announced change that
 * failed from one that happened.
 *
 * Used by fhir/apply.c (pv_record_apply), http/trail.c (single changes
 * on a write worker) and cli/common.c (operator actions).
 *
 * Ownership: events are borrowed for the duration of the call.
 */
#ifndef PV_AUDIT_WRITEAHEAD_H
#define PV_AUDIT_WRITEAHEAD_H

#include "audit/audit.h"

/* One intent, durable on return: PV_OK, else PV_EUNAVAIL (change
 * nothing). */
PV_MUST_CHECK pv_status pv_audit_intent(struct pv_audit *a,
    const struct pv_audit_event *ev);

/*
 * n intents in one group commit of the trail (one fsync for all); waits
 * until every one is durable or failed. st[i] is PV_OK for an entry on
 * disk, else PV_EUNAVAIL (that change must not be made). Returns PV_OK
 * when all are durable.
 */
PV_MUST_CHECK pv_status pv_audit_intents(struct pv_audit *a,
    const struct pv_audit_event *const *evs, size_t n, pv_status *st);

/*
 * The change intent announced did not happen: appends a copy of it with
 * outcome and reason (constant strings) replaced, and waits until it is
 * durable. A failure is logged and returned (PV_EUNAVAIL) for the caller
 * to report; the intent is in the trail already, and the change was not
 * made either way.
 */
pv_status pv_audit_followup(struct pv_audit *a,
    const struct pv_audit_event *intent, const char *outcome,
    const char *reason);

#endif
