/*
 * routeharness.h — calling HTTP handlers without a server (issue 14):
 * the handler contract of src/http/handler.h on a real test vault.
 *
 * A request is built from tables (headers, query arguments, cookies), the
 * route comes from the real route table (pv_router_match), and the
 * services are the real ones (audit trail with its index, default policy,
 * alert sinks, rate limits, detection). rh_call runs the handler and then
 * its continuations the way the server does (server.c run_next, batch.c,
 * trail.c pv_trail_write): work steps directly, PV_NEXT_WRITE with its
 * intent entry first and a follow-up on error, PV_NEXT_RECORD through
 * pv_record_apply with the request's entry as the intent.
 *
 * Ownership: struct rh owns the vault and the services (rh_close);
 * struct rh_req borrows its strings and owns its reply and parsed body
 * (rh_req_clear).
 */
#ifndef PV_TESTS_ROUTEHARNESS_H
#define PV_TESTS_ROUTEHARNESS_H

#include "testvault.h"

#include "audit/writeahead.h"
#include "http/guard.h"

#include <strings.h>

#define RH_ARGON "[auth]\nargon2_memlimit_kib = 8192\nargon2_opslimit = 1\n"

struct rh {
	struct pv_vault *v;
	struct pv_policy policy;
	struct pv_audit *audit;
	struct pv_alerts *alerts;
	struct pv_ratelimit *rl;
	struct pv_detect *detect;
	struct pv_iplock *iplock;
	struct pv_services svc;
};

static inline struct rh *
rh_open(void)
{
	struct rh *h = calloc(1, sizeof(*h));
	struct pv_audit_opts o;

	if (h == NULL || (h->v = tv_open(RH_ARGON)) == NULL)
		return NULL;
	o = (struct pv_audit_opts)PV_VAULT_AUDIT_OPTS(h->v, true, 0);
	pv_policy_defaults(&h->policy);
	if (pv_audit_open(&o, &h->audit) != PV_OK ||
	    pv_alerts_open(h->v->dir, &h->v->cfg, &h->alerts) != PV_OK ||
	    pv_ratelimit_new(1024, &h->rl) != PV_OK ||
	    pv_detect_new(&h->v->cfg, h->alerts, &h->detect) != PV_OK ||
	    pv_iplock_new(1024, &h->iplock) != PV_OK)
		return NULL;
	h->svc = (struct pv_services){ h->v, h->audit, h->alerts, &h->policy,
		h->detect, h->rl, h->iplock, pv_http_capability_statement(),
		8443 };
	return h;
}

static inline void
rh_close(struct rh *h)
{
	json_decref(h->svc.capability);
	pv_iplock_free(h->iplock);
	pv_detect_free(h->detect);
	pv_ratelimit_free(h->rl);
	pv_alerts_close(h->alerts);
	pv_audit_close(h->audit);
	tv_close(h->v);
	free(h);
}

/* An account and its principal (as a session would settle it). */
static inline struct pv_principal
rh_user(struct rh *h, const char *name, const char *role, const char *pid)
{
	struct pv_principal who;
	struct pv_user u;
	pv_pw_verdict vd;

	memset(&who, 0, sizeof(who));
	if (pv_account_create(h->v, name, role, pid,
		strcmp(role, "service") == 0 ? NULL : "Long-secret-route-1",
		&vd, NULL) != PV_OK ||
	    pv_store_user_get_by_name(h->v->store, name, &u) != PV_OK)
		return who;
	who.user_id = u.id;
	snprintf(who.username, sizeof(who.username), "%s", u.username);
	snprintf(who.role, sizeof(who.role), "%s", u.role);
	snprintf(who.patient_id, sizeof(who.patient_id), "%s", u.patient_id);
	snprintf(who.scopes, sizeof(who.scopes), "%s", u.scopes);
	who.is_mfa_satisfied = true;
	who.authz_epoch = u.authz_epoch;
	return who;
}

/* One request: what the client sends, and what came back. */
struct rh_req {
	const char *headers[8][2];
	const char *query[8][2];
	const char *cookies[4][2];
	const char *body;
	const struct pv_principal *who; /* NULL: not authenticated */
	/* out */
	char params[PV_ROUTE_PARAMS][PV_PARAM_MAX];
	const struct pv_route *route;
	struct pv_hreq q;
	struct pv_reply p;
	json_t *json; /* the reply body, parsed (or NULL) */
};

static inline const char *
rh_find(const char *const (*tab)[2], size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && tab[i][0] != NULL; i++)
		if (strcasecmp(tab[i][0], name) == 0)
			return tab[i][1];
	return NULL;
}

static inline const char *
rh_lookup(const void *src, enum pv_lookup_kind kind, const char *name)
{
	const struct rh_req *r = src;

	if (kind == PV_LOOKUP_QUERY)
		return rh_find(r->query, 8, name);
	if (kind == PV_LOOKUP_COOKIE)
		return rh_find(r->cookies, 4, name);
	return rh_find(r->headers, 8, name);
}

static inline const char *
rh_joined(const void *src, const char *name, char *buf, size_t bufsz)
{
	const char *v = rh_lookup(src, PV_LOOKUP_HEADER, name);

	if (v == NULL || strlen(v) >= bufsz)
		return NULL;
	memcpy(buf, v, strlen(v) + 1);
	return buf;
}

/* The entry the request's audit note stands for (trail.c's settle, as
 * far as a test needs it). */
static inline void
rh_event(const struct rh_req *r, struct pv_audit_event *ev)
{
	const struct pv_audit_note *n = &r->p.note;

	memset(ev, 0, sizeof(*ev));
	snprintf(ev->action, sizeof(ev->action), "%s", r->route->audit);
	memcpy(ev->type, n->type, sizeof(ev->type));
	memcpy(ev->id, n->id, sizeof(ev->id));
	memcpy(ev->patient, n->patient, sizeof(ev->patient));
	ev->grant = n->grant;
	if (r->who != NULL) {
		ev->actor = r->who->user_id;
		snprintf(ev->role, sizeof(ev->role), "%s", r->who->role);
	}
	snprintf(ev->src, sizeof(ev->src), "127.0.0.1");
	snprintf(ev->rid, sizeof(ev->rid), "test");
	ev->outcome = n->outcome != NULL ? n->outcome : "allowed";
	ev->reason = n->reason != NULL ? n->reason : "ok";
}

/* The continuations, as the server runs them. */
static inline void
rh_continue(struct rh *h, struct rh_req *r)
{
	struct pv_reply *p = &r->p;
	struct pv_audit_event ev;
	enum pv_next next;

	while ((next = p->next) != PV_NEXT_NONE) {
		p->next = PV_NEXT_NONE;
		if (next == PV_NEXT_RECORD) {
			rh_event(r, &ev);
			p->change.intent = r->route->audit != NULL ? &ev : NULL;
			PV_IGNORE(
			    pv_record_apply(h->v, h->audit, &p->change, 1));
			p->change.intent = NULL;
			if (p->change.is_unaudited)
				pv_reply_audit_unavailable(p);
			else if (p->change.is_lost)
				pv_reply_not_stored(p);
			else
				p->next_fn(&r->q, p);
		} else if (next == PV_NEXT_WRITE) {
			rh_event(r, &ev);
			if (pv_audit_intent(h->audit, &ev) != PV_OK) {
				pv_reply_audit_unavailable(p);
				return;
			}
			p->next_fn(&r->q, p);
			if (p->status >= 400)
				PV_IGNORE(pv_audit_followup(h->audit, &ev,
				    p->note.outcome != NULL ? p->note.outcome
							    : "failed",
				    p->note.reason != NULL ? p->note.reason
							   : "write_failed"));
		} else {
			p->next_fn(&r->q, p);
		}
	}
}

/* Routes method and path through the real table, runs the handler and
 * its continuations; the reply's status (0 when nothing matched). */
static inline unsigned
rh_call(struct rh *h, struct rh_req *r, const char *method, const char *path)
{
	struct pv_hreq *q = &r->q;
	size_t idx = 0, i;

	if (pv_router_match(method, path, &r->route, &idx, r->params) != 0)
		return 0;
	memset(q, 0, sizeof(*q));
	memset(&r->p, 0, sizeof(r->p));
	q->svc = &h->svc;
	q->method = method;
	q->route = r->route->pattern;
	q->rid = "test";
	q->ip = "127.0.0.1";
	for (i = 0; i < PV_ROUTE_PARAMS; i++)
		q->params[i] = r->params[i];
	q->body = (const unsigned char *)r->body;
	q->body_len = r->body != NULL ? strlen(r->body) : 0;
	q->is_authenticated = r->who != NULL;
	q->who = r->who;
	q->lookup = rh_lookup;
	q->joined = rh_joined;
	q->src = r;
	r->p.rid = "test";
	r->route->handler(q, &r->p);
	rh_continue(h, r);
	json_decref(r->json);
	r->json = r->p.resp != NULL
	    ? json_loadb(r->p.resp, r->p.resp_len, 0, NULL)
	    : NULL;
	return r->p.status;
}

static inline void
rh_req_clear(struct rh_req *r)
{
	json_decref(r->json);
	r->json = NULL;
	pv_reply_clear(&r->p);
}

/* A response header, or NULL. */
static inline const char *
rh_header(const struct rh_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->p.headers_n; i++)
		if (strcasecmp(r->p.headers[i][0], name) == 0)
			return r->p.headers[i][1];
	return NULL;
}

/* A string member of the reply body, or "". */
static inline const char *
rh_str(const struct rh_req *r, const char *key)
{
	const char *s = json_string_value(json_object_get(r->json, key));

	return s != NULL ? s : "";
}

#endif
