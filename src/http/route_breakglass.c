/*
 * route_breakglass.c — POST /fhir/Patient/{pid}/$break-glass: emergency
 * access with a reason, audited write-ahead, alerted, time-limited,
 * reviewed later (`phivault review`).
 */
#include "http/route_fhir.h"

#include <stdlib.h>
#include <string.h>

struct glass_job {
	char patient[PV_PATIENT_ID_MAX + 1];
	json_t *in; /* the request body: {"reason"} */
};

static void
glass_job_free(void *arg)
{
	struct glass_job *j = arg;

	if (j == NULL)
		return;
	json_decref(j->in);
	free(j);
}

/* ---- break-glass
 * ------------------------------------------------------------- */

/*
 * A grant may be opened only on a Patient that exists and is not deleted
 * (410) or erased (410): a grant on a record that is gone would reach
 * whatever is later written under that id (outside review, finding 12).
 * Sets the reply and returns false otherwise.
 */
static bool
patient_is_open(const struct pv_hreq *q, struct pv_reply *p, const char *pid)
{
	enum pv_patient_state ps;
	pv_status st = pv_patient_state(q->svc->vault, pid, &ps);

	if (st == PV_OK && ps == PV_PATIENT_LIVE)
		return true;
	if (st == PV_OK && ps == PV_PATIENT_DELETED) {
		pv_note_outcome(p, "failed", "patient_deleted");
		pv_reply_error(p, 410, "deleted",
		    "this Patient was deleted; break-glass needs a live "
		    "record");
		return false;
	}
	/* No Patient row (never created, or erased without a tombstone):
	 * 404, as before issue 14. */
	(void)pv_route_record_error(q, p, st != PV_OK ? st : PV_ENOTFOUND);
	return false;
}

static void
break_glass_work(const struct pv_hreq *q, struct pv_reply *p)
{
	struct glass_job *j = p->job;
	const char *reason =
	    json_string_value(json_object_get(j->in, "reason"));
	struct pv_grant g;
	char ts[32];
	pv_status st;

	/* Checked again here, after the intent entry: the Patient may have
	 * been deleted or erased since the handler looked. */
	if (!patient_is_open(q, p, j->patient))
		return;
	st = pv_breakglass_open(q->svc->vault, q->who, j->patient, reason,
	    p->note.grant, &g);
	if (st == PV_EINVAL) {
		pv_note_outcome(p, "failed", "bad_reason");
		pv_reply_error(p, 400, "invalid",
		    "reason must be 1-500 characters of text");
		return;
	}
	if (st == PV_ECONFLICT) { /* role, permissions or active changed */
		pv_note_outcome(p, "denied", "account_changed");
		pv_reply_error_detail(p, 401, "login", "invalid_token",
		    "your account changed while this request was made; log in "
		    "again");
		return;
	}
	if (pv_route_record_error(q, p, st))
		return;
	pv_metric_inc(PV_M_BREAK_GLASS);
	pv_alert(q->svc->alerts, "break_glass", "high", q->rid,
	    json_pack("{s:I, s:I, s:I}", "actor", (json_int_t)q->who->user_id,
		"grant", (json_int_t)g.id, "expires_at",
		(json_int_t)g.expires_at));
	pv_iso8601(g.expires_at, ts);
	pv_reply_json(p, 201,
	    json_pack("{s:I, s:s, s:s}", "grant", (json_int_t)g.id, "patient",
		j->patient, "expires_at", ts));
}

void
route_fhir_break_glass(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *pid = q->params[0], *reason;
	struct glass_job *j;
	json_t *in;

	pv_note_subject(p, "Patient", pid, pid);
	if ((in = pv_hreq_json_object(q, p)) == NULL)
		return;
	reason = pv_json_str(in, "reason", PV_BREAK_GLASS_REASON_MAX * 4);
	if (reason == NULL ||
	    pv_utf8_word_chars(reason) < PV_BREAK_GLASS_REASON_MIN_WORD) {
		json_decref(in);
		pv_note_outcome(p, "failed", "no_reason");
		pv_reply_error_detail(p, 400, "required", "reason_required",
		    "break-glass needs a \"reason\" with at least 3 letters "
		    "or digits");
		return;
	}
	if (!patient_is_open(q, p, pid) ||
	    !pv_http_authorize(q, p, PV_ACT_BREAK_GLASS, "Patient", pid,
		PV_CLASS_NORMAL, NULL)) {
		json_decref(in);
		return;
	}
	pv_note_outcome(p, "allowed", "break_glass_opened");
	pv_note_grant(p, pv_breakglass_new_id());
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    pv_strlcpy(j->patient, pid, sizeof(j->patient)) != PV_OK) {
		free(j);
		json_decref(in);
		pv_reply_error(p, 503, "transient", "out of memory");
		return;
	}
	j->in = in;
	p->job = j;
	p->job_free = glass_job_free;
	pv_reply_continue(p, PV_NEXT_WRITE, break_glass_work);
}
