/*
 * trail.c — the one place where a request's audit note becomes entries.
 *
 * The server starts an entry for every request to an audited route
 * (action, source address, request id; sigauth.c adds the replay nonce);
 * the handler's note adds the subject, outcome, reason, grant and the
 * extra patients its response names. Here they are joined, settled from
 * the final status, and written: asynchronously for a reply held on an
 * HTTP thread (the connection resumes when every entry is durable),
 * synchronously on workers and at shutdown, and write-ahead for changes
 * (audit/writeahead.h).
 *
 * Guarantees: a reply whose entries cannot all be written is replaced by
 * the audit-down 503 before it leaves; an unauthenticated refusal with
 * no account named may be counted into an aggregate entry (denials.c),
 * any entry carrying a nonce never is.
 */
#include "http/guard.h"
#include "audit/writeahead.h"

#include <string.h>

static void
copy_field(char *dst, size_t dstsz, const char *src)
{
	if (src == NULL || pv_strlcpy(dst, src, dstsz) != PV_OK)
		dst[0] = '\0';
}

void
pv_trail_begin(struct pv_req *r, const char *action)
{
	memset(&r->ev, 0, sizeof(r->ev));
	r->has_event = true;
	copy_field(r->ev.action, sizeof(r->ev.action), action);
	copy_field(r->ev.src, sizeof(r->ev.src), r->ip);
	copy_field(r->ev.rid, sizeof(r->ev.rid), r->rid);
}

/* The request's own entry: the server's part, the note, the caller, and
 * an outcome and reason from the final status when the note has none. */
static void
settle(const struct pv_req *r, struct pv_audit_event *ev)
{
	const struct pv_audit_note *n = &r->out.note;
	unsigned status = r->out.status;

	*ev = r->ev;
	memcpy(ev->type, n->type, sizeof(ev->type));
	memcpy(ev->id, n->id, sizeof(ev->id));
	memcpy(ev->patient, n->patient, sizeof(ev->patient));
	ev->grant = n->grant;
	if (n->actor != 0) {
		ev->actor = n->actor;
		copy_field(ev->role, sizeof(ev->role), n->role);
	}
	/* The actor is whoever authenticated, even if the handler failed. */
	if (r->is_authenticated) {
		ev->actor = r->who.user_id;
		copy_field(ev->role, sizeof(ev->role), r->who.role);
	}
	ev->outcome = n->outcome;
	ev->reason = n->reason;
	if (ev->outcome == NULL) {
		if (status >= 200 && status < 300)
			ev->outcome = "allowed";
		else if (status == 401 || status == 403)
			ev->outcome = "denied";
		else if (status >= 500)
			ev->outcome = "error";
		else
			ev->outcome = "failed";
	}
	if (ev->reason == NULL) {
		if (status == 401)
			ev->reason = "unauthenticated";
		else if (status == 403)
			ev->reason = "forbidden";
		else
			ev->reason = status < 300 ? "ok" : "status";
	}
}

/* How many entries r leaves: one per extra patient its response names,
 * and its own. */
static size_t
trail_count(const struct pv_req *r)
{
	return r->has_event ? r->out.note.also_n + 1 : 0;
}

/* Entry i of them (the extra ones first, the request's own last). */
static void
trail_event(struct pv_req *r, size_t i, struct pv_audit_event *out)
{
	const struct pv_audit_also *a;

	settle(r, out);
	if (i >= r->out.note.also_n)
		return;
	a = &r->out.note.also[i];
	memcpy(out->type, a->type, sizeof(out->type));
	memcpy(out->id, a->id, sizeof(out->id));
	memcpy(out->patient, a->patient, sizeof(out->patient));
	out->grant = a->grant;
}

void
pv_trail_intent_event(struct pv_req *r, struct pv_audit_event *out)
{
	/* An intent is written as authorized, before the change. */
	if (r->out.note.outcome == NULL)
		pv_note_outcome(&r->out, "allowed", "ok");
	settle(r, out);
	r->has_event = false;
}

bool
pv_trail_is_counted(struct pv_req *r)
{
	struct pv_audit_event ev;

	if (!r->has_event || r->is_authenticated || r->out.status < 400)
		return false;
	settle(r, &ev);
	if (ev.actor != 0 || ev.nonce[0] != '\0' || r->out.note.also_n > 0)
		return false;
	if (pv_denials_note(r->srv->denials, r->ip, ev.action, ev.reason,
		pv_now()))
		return false;
	r->has_event = false;
	return true;
}

void
pv_trail_finish_sync(struct pv_req *r)
{
	struct pv_audit_event ev;
	bool is_ok = true;
	size_t i, n;

	if (!r->has_event || pv_trail_is_counted(r))
		return;
	n = trail_count(r);
	for (i = 0; i < n; i++) {
		trail_event(r, i, &ev);
		if (pv_audit_append(r->srv->audit, &ev) != PV_OK)
			is_ok = false;
	}
	if (!is_ok)
		pv_reply_audit_unavailable(&r->out);
	r->has_event = false;
}

/* One of a request's entries is durable (or failed): the last one to
 * finish hands the request back, with the 503 if any failed. */
static void
on_audited_part(void *arg, pv_status st)
{
	struct pv_req *r = arg;

	if (st != PV_OK)
		atomic_store(&r->is_audit_failed, true);
	if (atomic_fetch_sub(&r->audit_pending, 1) != 1)
		return;
	if (atomic_load(&r->is_audit_failed))
		pv_reply_audit_unavailable(&r->out);
	pv_req_done(r);
}

bool
pv_trail_finish_async(struct pv_req *r)
{
	struct pv_audit_event ev;
	struct pv_audit *a = r->srv->audit;
	size_t i, n;

	if (!r->has_event)
		return false;
	n = trail_count(r);
	r->has_event = false;
	atomic_store(&r->is_audit_failed, false);
	atomic_store(&r->audit_pending, (int)n);
	/* r must not be touched after the last submit: its completion may
	 * have handed it back (and freed it) already. */
	for (i = 0; i < n; i++) {
		trail_event(r, i, &ev);
		if (pv_audit_submit(a, &ev, on_audited_part, r) != PV_OK)
			on_audited_part(r, PV_EUNAVAIL);
	}
	return true;
}

void
pv_trail_write(struct pv_req *r)
{
	struct pv_audit_event ev;
	struct pv_reply *p = &r->out;
	unsigned st;

	if (!r->has_event && r->route->audit == NULL) {
		p->next_fn(&r->in, p); /* an unaudited route: just run it */
		return;
	}
	if (!r->has_event) {
		/* Its entry was spent on an earlier change (a second write
		 * chained from a write): never change without an intent. */
		pv_log(PV_LOG_ERROR, "write_without_intent", r->rid,
		    (const char *)NULL);
		pv_reply_error(p, 500, "exception", "the change was not made");
		return;
	}
	/* Write-ahead audit: the entry first (outcome as authorized). */
	pv_trail_intent_event(r, &ev);
	if (pv_audit_intent(r->srv->audit, &ev) != PV_OK) {
		pv_reply_audit_unavailable(p);
		return;
	}
	p->next_fn(&r->in, p);
	st = p->status;
	if (st < 400)
		return;
	/* The change did not happen: a second entry says why. */
	if (p->note.outcome == NULL || strcmp(p->note.outcome, "allowed") == 0)
		pv_note_outcome(p, st >= 500 ? "error" : "failed",
		    "write_failed");
	PV_IGNORE(pv_audit_followup(r->srv->audit, &ev, p->note.outcome,
	    p->note.reason));
}
