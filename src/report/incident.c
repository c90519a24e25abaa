/*
 * incident.c — "whose data did this actor touch?" (`incident report`).
 *
 * Seed: "Breach notification procedures". When an account is known to be
 * compromised, the compliance officer needs the exact set of patients it
 * reached in the incident window, to notify them. The audit trail holds
 * every access with actor, patient and outcome, so one pass answers it.
 */
#include "report/report.h"
#include "audit/audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

pv_status
pv_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	char *e;
	long long v;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) != NULL &&
	    (*end == '\0' || strcmp(end, "Z") == 0)) {
		*out = (int64_t)timegm(&tm);
		return PV_OK;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) != NULL && *end == '\0') {
		*out = (int64_t)timegm(&tm);
		return PV_OK;
	}
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno == 0 && *e == '\0' && e != s && v >= 0) {
		*out = v;
		return PV_OK;
	}
	return PV_EINVAL;
}

struct touched {
	char patient[PV_PATIENT_ID_MAX + 1];
	char first[32], last[32];
	int64_t allowed, denied;
	unsigned actions;
};

struct inc_ctx {
	int64_t actor, since, until, entries;
	struct touched *t;
	size_t n, cap;
	bool is_oom;
};

static const char *const action_names[] = { "read", "search", "create",
	"update", "delete", "history", "vread", "break-glass", "audit.query" };

static struct touched *
find(struct inc_ctx *c, const char *patient)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->t[i].patient, patient) == 0)
			return &c->t[i];
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct touched *nt = realloc(c->t, nc * sizeof(*nt));

		if (nt == NULL) {
			c->is_oom = true;
			return NULL;
		}
		c->t = nt;
		c->cap = nc;
	}
	memset(&c->t[c->n], 0, sizeof(c->t[0]));
	if (pv_strlcpy(c->t[c->n].patient, patient, sizeof(c->t[0].patient)) !=
	    PV_OK)
		return NULL;
	return &c->t[c->n++];
}

static bool
scan_one(void *arg, uint64_t seq, json_t *e)
{
	struct inc_ctx *c = arg;
	const char *patient = json_string_value(json_object_get(e, "patient"));
	const char *outcome = json_string_value(json_object_get(e, "outcome"));
	const char *action = json_string_value(json_object_get(e, "action"));
	const char *ts = json_string_value(json_object_get(e, "ts"));
	struct touched *t;
	int64_t when = 0;
	size_t i;
	struct tm tm;

	(void)seq;
	if (json_integer_value(json_object_get(e, "actor")) != c->actor ||
	    patient == NULL || patient[0] == '\0' || outcome == NULL ||
	    action == NULL || ts == NULL)
		return true;
	memset(&tm, 0, sizeof(tm));
	if (strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
		when = (int64_t)timegm(&tm);
	if (when < c->since || when > c->until)
		return true;
	c->entries += pv_audit_entry_count(e);
	if ((t = find(c, patient)) == NULL)
		return !c->is_oom;
	if (strcmp(outcome, "allowed") != 0) {
		t->denied += pv_audit_entry_count(e);
		return true;
	}
	if (t->allowed == 0)
		PV_IGNORE(pv_strlcpy(t->first, ts, sizeof(t->first)));
	PV_IGNORE(pv_strlcpy(t->last, ts, sizeof(t->last)));
	t->allowed++;
	for (i = 0; i < PV_ARRAY_LEN(action_names); i++)
		if (strcmp(action, action_names[i]) == 0)
			t->actions |= 1u << i;
	return true;
}

pv_status
pv_incident_report(struct pv_vault *v, int64_t actor, int64_t since,
    int64_t until, json_t **out)
{
	struct inc_ctx c = { actor, since, until, 0, NULL, 0, 0, false };
	char s1[32], s2[32];
	json_t *pats;
	pv_status st;
	size_t i, k;

	*out = NULL;
	if ((st = pv_audit_scan(&v->audit_loc, scan_one, &c)) != PV_OK ||
	    c.is_oom) {
		free(c.t);
		return st != PV_OK ? st : PV_ENOMEM;
	}
	pats = json_array();
	for (i = 0; i < c.n; i++) {
		json_t *acts = json_array();

		for (k = 0; k < PV_ARRAY_LEN(action_names); k++)
			if (c.t[i].actions & (1u << k))
				json_array_append_new(acts,
				    json_string(action_names[k]));
		json_array_append_new(pats,
		    json_pack("{s:s, s:b, s:s, s:s, s:I, s:I, s:o}", "patient",
			c.t[i].patient, "data_reached", c.t[i].allowed > 0,
			"first_access", c.t[i].first, "last_access",
			c.t[i].last, "accesses", (json_int_t)c.t[i].allowed,
			"denied_attempts", (json_int_t)c.t[i].denied, "actions",
			acts));
	}
	pv_iso8601(since, s1);
	pv_iso8601(until, s2);
	*out = json_pack("{s:I, s:s, s:s, s:I, s:o}", "actor",
	    (json_int_t)actor, "since", s1, "until", s2, "entries",
	    (json_int_t)c.entries, "patients", pats);
	free(c.t);
	return *out != NULL ? PV_OK : PV_ENOMEM;
}
