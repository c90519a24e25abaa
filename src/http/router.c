/*
 * router.c — the one route table.
 *
 * Every endpoint phivault serves is a row below: method, path pattern,
 * handler, and what authentication it needs. The pattern is also the
 * route's label in /metrics and in access logs, so logs name "/fhir/
 * {type}/{id}", never the id itself; /metrics labels each row with its
 * method too, so (method, pattern) must be unique in the table. The audit
 * column names the action each request to the route is audited as (NULL: not
 * audited). Rows are tried in order; literal routes come before the
 * parameterised ones they would shadow.
 */
#include "http/routes.h"

#include <string.h>

static const struct pv_route routes[] = {
	{ "GET", "/healthz", route_healthz, PV_AUTH_NONE, NULL, false, 0 },
	{ "GET", "/metrics", route_metrics, PV_AUTH_NONE, NULL, false, 0 },
	{ "GET", "/readyz", route_readyz, PV_AUTH_NONE, NULL, false, 0 },
	{ "POST", "/auth/login", route_auth_login, PV_AUTH_NONE, "login", false,
	    0 },
	{ "POST", "/auth/logout", route_auth_logout, PV_AUTH_PARTIAL, "logout",
	    false, 0 },
	{ "GET", "/auth/sessions", route_auth_sessions, PV_AUTH_PARTIAL,
	    "session.list", false, 0 },
	{ "DELETE", "/auth/sessions/{id}", route_auth_session_delete,
	    PV_AUTH_PARTIAL, "session.revoke", false, 0 },
	{ "POST", "/auth/mfa/enroll", route_auth_mfa_enroll, PV_AUTH_PARTIAL,
	    "mfa.enroll", false, 0 },
	{ "POST", "/auth/mfa/confirm", route_auth_mfa_confirm, PV_AUTH_PARTIAL,
	    "mfa.confirm", false, 0 },
	{ "POST", "/auth/password", route_auth_password, PV_AUTH_PARTIAL,
	    "password.change", false, 0 },

	{ "GET", "/fhir/metadata", route_fhir_metadata, PV_AUTH_NONE, NULL,
	    false, 0 },
	{ "GET", "/fhir/AuditEvent", route_fhir_audit_events, PV_AUTH_ANY,
	    "audit.query", true, 0 },
	{ "POST", "/fhir/Patient/{pid}/$break-glass", route_fhir_break_glass,
	    PV_AUTH_SESSION, "break-glass", true, 'g' },
	{ "GET", "/fhir/{type}/{id}/_history/{vid}", route_fhir_vread,
	    PV_AUTH_ANY, "vread", true, 0 },
	{ "GET", "/fhir/{type}/{id}/_history", route_fhir_history, PV_AUTH_ANY,
	    "history", true, 0 },
	{ "GET", "/fhir/Patient/{pid}/{type}", route_fhir_compartment,
	    PV_AUTH_ANY, "search", true, 0 },
	{ "GET", "/fhir/{type}/{id}", route_fhir_read, PV_AUTH_ANY, "read",
	    true, 0 },
	{ "PUT", "/fhir/{type}/{id}", route_fhir_update, PV_AUTH_ANY, "update",
	    true, 'u' },
	{ "DELETE", "/fhir/{type}/{id}", route_fhir_delete, PV_AUTH_ANY,
	    "delete", true, 0 },
	{ "GET", "/fhir/{type}", route_fhir_search, PV_AUTH_ANY, "search", true,
	    0 },
	{ "POST", "/fhir/{type}", route_fhir_create, PV_AUTH_ANY, "create",
	    true, 'c' },

	{ "GET", "/audit/checkpoint", route_audit_checkpoint, PV_AUTH_ANY, NULL,
	    false, 0 },
	{ "GET", "/audit/proof/inclusion", route_audit_inclusion, PV_AUTH_ANY,
	    NULL, false, 0 },
	{ "GET", "/audit/proof/consistency", route_audit_consistency,
	    PV_AUTH_ANY, NULL, false, 0 },

	{ "POST", "/admin/careteam", route_admin_careteam_add, PV_AUTH_SESSION,
	    "careteam.add", false, 0 },
	{ "DELETE", "/admin/careteam", route_admin_careteam_remove,
	    PV_AUTH_SESSION, "careteam.remove", false, 0 },
	{ "POST", "/admin/erase", route_admin_erase, PV_AUTH_SESSION, "erase",
	    true, 0 },
	{ "GET", "/deid/export", route_deid_export, PV_AUTH_ANY, "deid.export",
	    true, 0 },
};

#define ROUTES_N PV_ARRAY_LEN(routes)

void
pv_router_register_metrics(void)
{
	size_t i;

	pv_metric_route_name(0, NULL, "unmatched");
	for (i = 0; i < ROUTES_N && i + 1 < PV_METRIC_ROUTES_MAX; i++)
		pv_metric_route_name(i + 1, routes[i].method,
		    routes[i].pattern);
}

/*
 * Matches path against pattern segment by segment. "{x}" takes one
 * non-empty segment into params[k]. Query strings were split off by MHD.
 */
static bool
match(const char *pattern, const char *path,
    char params[PV_ROUTE_PARAMS][PV_PARAM_MAX])
{
	size_t k = 0;

	while (*pattern != '\0' && *path != '\0') {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		size_t plen = strcspn(pattern, "/");
		size_t slen = strcspn(path, "/");

		if (plen > 1 && pattern[0] == '{' && pattern[plen - 1] == '}') {
			if (slen == 0 || slen >= PV_PARAM_MAX ||
			    k >= PV_ROUTE_PARAMS)
				return false;
			memcpy(params[k], path, slen);
			params[k][slen] = '\0';
			k++;
		} else if (plen != slen || strncmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	return *pattern == '\0' && *path == '\0';
}

unsigned
pv_router_match(const char *method, const char *path,
    const struct pv_route **route, size_t *idx,
    char params[PV_ROUTE_PARAMS][PV_PARAM_MAX])
{
	char got[PV_ROUTE_PARAMS][PV_PARAM_MAX];
	bool path_known = false;
	size_t i;

	for (i = 0; i < ROUTES_N; i++) {
		memset(got, 0, sizeof(got));
		if (!match(routes[i].pattern, path, got))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, method) != 0)
			continue;
		*route = &routes[i];
		*idx = i + 1;
		memcpy(params, got, sizeof(got));
		return 0;
	}
	return path_known ? 405 : 404;
}
