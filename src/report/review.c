/*
 * review.c — the access review report (`phivault access-review`).
 *
 * Usage comes from the audit trail, which already records every action
 * with its actor id: one sequential pass collects, per account, the last
 * audited request and the action letters (c r u d s g x a) used in the
 * last 90 days. Granted letters come from the policy table for the role.
 * Least privilege in practice: what a role may do but an account never
 * does is a candidate for removal; an account nobody used for
 * dormant_days is disabled by --apply.
 */
#include "report/report.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "authz/authz.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNUSED_WINDOW (90LL * 86400)

struct usage {
	int64_t actor;
	int64_t last; /* newest audited request */
	unsigned used; /* action bits in the window */
};

struct usage_tab {
	struct usage *u;
	size_t n, cap;
	int64_t since;
};

static int
action_bit(const char *action)
{
	static const struct {
		const char *a;
		pv_action act;
	} map[] = {
		{ "create", PV_ACT_CREATE },
		{ "read", PV_ACT_READ },
		{ "vread", PV_ACT_READ },
		{ "history", PV_ACT_READ },
		{ "update", PV_ACT_UPDATE },
		{ "delete", PV_ACT_DELETE },
		{ "search", PV_ACT_SEARCH },
		{ "audit.query", PV_ACT_SEARCH },
		{ "break-glass", PV_ACT_BREAK_GLASS },
		{ "deid.export", PV_ACT_EXPORT },
		{ "careteam.add", PV_ACT_ADMIN },
		{ "careteam.remove", PV_ACT_ADMIN },
		{ "erase", PV_ACT_ADMIN },
	};
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(map); i++)
		if (strcmp(map[i].a, action) == 0)
			return (int)map[i].act;
	return -1;
}

static struct usage *
usage_of(struct usage_tab *t, int64_t actor)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->u[i].actor == actor)
			return &t->u[i];
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		struct usage *nu = realloc(t->u, nc * sizeof(*nu));

		if (nu == NULL)
			return NULL;
		t->u = nu;
		t->cap = nc;
	}
	t->u[t->n] = (struct usage){ actor, 0, 0 };
	return &t->u[t->n++];
}

static int64_t
iso_seconds(const char *iso)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (iso == NULL || strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

static bool
collect(void *arg, uint64_t seq, json_t *e)
{
	struct usage_tab *t = arg;
	int64_t actor = json_integer_value(json_object_get(e, "actor"));
	const char *outcome = json_string_value(json_object_get(e, "outcome"));
	const char *action = json_string_value(json_object_get(e, "action"));
	int64_t ts = iso_seconds(json_string_value(json_object_get(e, "ts")));
	struct usage *u;
	int bit;

	(void)seq;
	if (actor <= 0 || outcome == NULL || action == NULL ||
	    strcmp(outcome, "allowed") != 0 || (u = usage_of(t, actor)) == NULL)
		return true;
	if (ts > u->last)
		u->last = ts;
	if (ts >= t->since && (bit = action_bit(action)) >= 0)
		u->used |= 1u << bit;
	return true;
}

static unsigned
granted(const struct pv_policy *p, const char *role)
{
	unsigned bits = 0;
	size_t i;

	for (i = 0; i < p->rules_n; i++)
		if (strcmp(p->rules[i].role, role) == 0)
			bits |= p->rules[i].actions;
	return bits;
}

struct review_ctx {
	struct pv_vault *v;
	const struct pv_policy *p;
	struct usage_tab *t;
	int64_t now;
	json_t *accounts, *dormant_ids;
};

static void
letters(unsigned bits, char *out)
{
	static const char l[PV_ACT_N] = { 'c', 'r', 'u', 'd', 's', 'g', 'x',
		'a' };
	size_t i, n = 0;

	for (i = 0; i < PV_ACT_N; i++)
		if (bits & (1u << i))
			out[n++] = l[i];
	out[n] = '\0';
}

static void
add_account(void *arg, const struct pv_user *u)
{
	struct review_ctx *c = arg;
	struct usage *us = NULL;
	int64_t team = 0, last, idle;
	unsigned g = granted(c->p, u->role), used = 0;
	char gl[PV_ACT_N + 1], ul[PV_ACT_N + 1], lastbuf[32];
	bool dormant;
	size_t i;

	for (i = 0; i < c->t->n; i++)
		if (c->t->u[i].actor == u->id)
			us = &c->t->u[i];
	if (us != NULL)
		used = us->used;
	last = u->last_login_at;
	if (us != NULL && us->last > last)
		last = us->last;
	idle = c->now - (last > 0 ? last : u->created_at);
	dormant = idle > c->v->cfg.dormant_days * 86400;
	PV_IGNORE(pv_store_careteam_count(c->v->store, u->id, &team));
	letters(g, gl);
	letters(g & ~used, ul);
	if (last > 0)
		pv_iso8601(last, lastbuf);
	else
		strcpy(lastbuf, "never");
	json_array_append_new(c->accounts,
	    json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:I, s:s, s:s, s:b}",
		"name", u->username, "role", u->role, "status",
		u->is_active ? "active" : "disabled", "mfa", u->has_mfa,
		"care_team_size", (json_int_t)team, "last_activity", lastbuf,
		"idle_days", (json_int_t)(idle / 86400), "granted", gl,
		"unused_90d", ul, "dormant", dormant && u->is_active));
	if (dormant && u->is_active)
		json_array_append_new(c->dormant_ids, json_integer(u->id));
}

struct grant_ctx {
	struct pv_vault *v;
	json_t *arr;
};

static void
add_grant(void *arg, const struct pv_grant *g)
{
	struct grant_ctx *c = arg;
	struct pv_user u;
	char created[32], expires[32];

	pv_iso8601(g->created_at, created);
	pv_iso8601(g->expires_at, expires);
	if (pv_store_user_get_by_id(c->v->store, g->user_id, &u) != PV_OK)
		strcpy(u.username, "unknown");
	json_array_append_new(c->arr,
	    json_pack("{s:I, s:s, s:s, s:s, s:s}", "grant", (json_int_t)g->id,
		"user", u.username, "patient", g->patient_id, "opened", created,
		"expires", expires));
}

pv_status
pv_access_review(struct pv_vault *v, const struct pv_policy *policy,
    int64_t now, bool apply, json_t **out)
{
	struct usage_tab t = { NULL, 0, 0, now - UNUSED_WINDOW };
	struct review_ctx c = { v, policy, &t, now, json_array(),
		json_array() };
	struct grant_ctx gc = { v, json_array() };
	json_t *disabled = json_array();
	pv_status st;
	size_t i;

	*out = NULL;
	if ((st = pv_audit_scan(&v->audit_loc, collect, &t)) != PV_OK ||
	    (st = pv_store_user_list(v->store, add_account, &c)) != PV_OK ||
	    (st = pv_store_grant_list(v->store, true, add_grant, &gc)) != PV_OK)
		goto done;
	for (i = 0; apply && i < json_array_size(c.dormant_ids); i++) {
		int64_t id =
		    json_integer_value(json_array_get(c.dormant_ids, i));

		if ((st = pv_account_disable_by_id(v, id)) != PV_OK)
			goto done;
		json_array_append_new(disabled, json_integer(id));
	}
	*out = json_pack("{s:O, s:O, s:O}", "accounts", c.accounts,
	    "break_glass_pending", gc.arr, "disabled", disabled);
	st = *out != NULL ? PV_OK : PV_ENOMEM;
done:
	json_decref(c.accounts);
	json_decref(c.dormant_ids);
	json_decref(gc.arr);
	json_decref(disabled);
	free(t.u);
	return st;
}
