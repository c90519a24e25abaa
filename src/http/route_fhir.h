/*
 * route_fhir.h — what the FHIR handlers (route_fhir_*.c,
 * route_breakglass.c) share; implemented in route_fhir_common.c. Not
 * used outside those files.
 *
 * Every helper that can refuse sets the reply (and the audit note) and
 * returns false (or true for pv_route_record_error: "it was an error");
 * the handler then just returns.
 */
#ifndef PV_HTTP_ROUTE_FHIR_H
#define PV_HTTP_ROUTE_FHIR_H

#include "http/routes.h"

#define PV_FILTERS_MAX 16

/* False (404 not-supported) for a type phivault does not know. */
bool pv_route_need_type(struct pv_reply *p, const char *type);
/* Maps a record-service status to the reply (PV_ECRYPTO: 500, alert and
 * metric, nothing about the row); true when st was an error. */
bool pv_route_record_error(const struct pv_hreq *q, struct pv_reply *p,
    pv_status st);
/* ETag W/"version" and Last-Modified of rec. */
void pv_route_set_etag(struct pv_reply *p, const struct pv_record *rec);
/* Removes the fields the caller's role may not see (policy filters). */
void pv_route_filter(const struct pv_hreq *q, json_t *res, const char *type);
/* An opened resource of the restricted class needs its own decision. */
bool pv_route_may_see(const struct pv_hreq *q, struct pv_reply *p,
    pv_action action, const struct pv_record *rec);
/* If-Match: W/"3", "3" or 3 -> 3; absent -> 0; malformed -> -1. */
int64_t pv_route_if_match(const struct pv_hreq *q);
/* A deleted row of an erased patient answers 410 before authorization
 * (erasure removed the care-team links, which would make it a 403). */
bool pv_route_erased(const struct pv_hreq *q, struct pv_reply *p,
    const struct pv_record *meta);

/* A Bundle being built (history or searchset). */
struct pv_bundle_ctx {
	const struct pv_hreq *q;
	json_t *entries; /* owned until pv_bundle_new */
	char base[300]; /* "https://host" for fullUrl */
	bool is_history;
	pv_status failure; /* a row that failed to open */
	int64_t withheld; /* restricted entries left out */
};
/* pv_record_cb: adds rec as an entry (filtered; withheld when its class
 * is restricted and the caller may not see it). */
bool pv_bundle_add(void *arg, struct pv_record *rec, pv_status st);
/* A Bundle of type ("history", "searchset"); takes entries. */
json_t *pv_bundle_new(const char *type, json_t *entries);

#endif
