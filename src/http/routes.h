/*
 * routes.h — the route table (router.c) and the handlers it names.
 *
 * Handlers follow the contract of handler.h. One file per job:
 *   route_health.c      /healthz, /metrics
 *   route_auth.c        /auth/... (login, sessions, MFA, password)
 *   route_fhir_read.c   read, vread, history
 *   route_fhir_write.c  create, update, delete (through pv_record_apply)
 *   route_fhir_search.c search, compartment search, AuditEvent search
 *   route_fhir_meta.c   CapabilityStatement, break-glass
 *   route_fhir_common.c what the FHIR handlers share (authorization,
 *                       errors, role filters, bundles)
 *   route_audit.c       /audit/... (checkpoint, proofs)
 *   route_admin.c       /admin/... (care team, erasure)
 *   route_deid.c        /deid/export
 */
#ifndef PV_HTTP_ROUTES_H
#define PV_HTTP_ROUTES_H

#include "http/handler.h"

enum pv_auth_need {
	PV_AUTH_NONE = 0, /* public: healthz, login */
	PV_AUTH_PARTIAL, /* a session, even before required MFA is set
			  * up: logout, sessions, MFA enrolment, password */
	PV_AUTH_SESSION, /* a session with MFA satisfied */
	PV_AUTH_ANY /* a full session or an RFC 9421 signature */
};

struct pv_route {
	const char *method;
	const char *pattern; /* "/fhir/{type}/{id}"; also the metric label */
	pv_handler handler;
	enum pv_auth_need auth;
	/*
	 * Audit action for every request to this route, allowed or not
	 * (NULL: not audited — health, metrics, public proofs). Handlers
	 * add the resource, patient and reason; the outcome follows the
	 * final status unless the handler set it.
	 */
	const char *audit;
	bool is_phi; /* refuse up front while the audit is down */
	/* The policy action of a route that takes a body ('c' create and
	 * 'u' update on params[0], 'g' break-glass on Patient; 0 none):
	 * a caller whose role could never do it is refused from the
	 * headers, before its body is read (red-team pass, finding 3). */
	char body_act;
};

/*
 * Matches method and path (no query string) against the table. 0 on a
 * match (*route, *idx — 1-based, the metric index — and params set);
 * 404 when no pattern matches the path, 405 when one does but not for
 * this method.
 */
unsigned pv_router_match(const char *method, const char *path,
    const struct pv_route **route, size_t *idx,
    char params[PV_ROUTE_PARAMS][PV_PARAM_MAX]);
void pv_router_register_metrics(void);

void route_healthz(const struct pv_hreq *q, struct pv_reply *p);
void route_metrics(const struct pv_hreq *q, struct pv_reply *p);
void route_readyz(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_login(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_logout(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_sessions(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_session_delete(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_mfa_enroll(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_mfa_confirm(const struct pv_hreq *q, struct pv_reply *p);
void route_auth_password(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_metadata(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_read(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_vread(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_create(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_update(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_delete(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_history(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_search(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_compartment(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_break_glass(const struct pv_hreq *q, struct pv_reply *p);
void route_fhir_audit_events(const struct pv_hreq *q, struct pv_reply *p);
void route_audit_checkpoint(const struct pv_hreq *q, struct pv_reply *p);
void route_audit_inclusion(const struct pv_hreq *q, struct pv_reply *p);
void route_audit_consistency(const struct pv_hreq *q, struct pv_reply *p);
void route_admin_careteam_add(const struct pv_hreq *q, struct pv_reply *p);
void route_admin_careteam_remove(const struct pv_hreq *q, struct pv_reply *p);
void route_admin_erase(const struct pv_hreq *q, struct pv_reply *p);
void route_deid_export(const struct pv_hreq *q, struct pv_reply *p);

#endif
