/*
 * internal.h — what the files of src/http share: the per-request state,
 * the route table entry, and the reply helpers. Not used outside src/http.
 *
 * Request life (see docs/ARCHITECTURE.md):
 *   MHD access handler, first call -> pv_req allocated, id assigned,
 *     firewall checks on method/URL/headers (no reply queued yet, so
 *     keep-alive survives);
 *   further calls -> body accumulated up to [server] max_body;
 *   last call -> router picks the route, authentication runs, the handler
 *     runs and leaves a response in req;
 *   a handler that must wait (password hashing, audit durability)
 *     suspends the connection; the worker that finishes resumes it and
 *     the next call queues the response;
 *   completion callback -> metrics, one access log line, free.
 */
#ifndef PV_HTTP_INTERNAL_H
#define PV_HTTP_INTERNAL_H

#include "http/http.h"
#include "common/log.h"
#include "common/metrics.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define PV_RID_LEN 32
#define PV_PATH_BYTES 2048
#define PV_ROUTE_PARAMS 3
#define PV_PARAM_MAX 128
#define PV_EXTRA_HEADERS 6
#define PV_IP_MAX 64

struct pv_req;
typedef void (*pv_handler)(struct pv_req *r);

enum pv_auth_need {
	PV_AUTH_NONE = 0,	/* public: healthz, login */
	PV_AUTH_SESSION,	/* a session (bearer or cookie) */
	PV_AUTH_ANY		/* a session or an RFC 9421 signature */
};

struct pv_route {
	const char *method;
	const char *pattern;	/* "/fhir/{type}/{id}"; also the metric label */
	pv_handler handler;
	enum pv_auth_need auth;
};

enum pv_phase {
	PV_PHASE_HEADERS = 0,	/* first call seen */
	PV_PHASE_BODY,		/* receiving upload data */
	PV_PHASE_WAITING,	/* suspended on a worker */
	PV_PHASE_READY,		/* response prepared, queue on next call */
	PV_PHASE_QUEUED
};

struct pv_server {
	struct pv_vault *vault;
	struct MHD_Daemon *daemon;
	uint16_t port;
	_Atomic int64_t in_flight;	/* requests between first call and done */
	_Atomic bool is_stopping;
	char *tls_cert;			/* PEM, freed at stop */
	char *tls_key;			/* PEM, wiped and freed at stop */
	size_t tls_key_len;
};

struct pv_req {
	struct pv_server *srv;
	struct MHD_Connection *conn;
	char rid[PV_RID_LEN + 1];
	char method[12];
	char path[PV_PATH_BYTES];
	char ip[PV_IP_MAX];
	uint64_t t0;
	enum pv_phase phase;

	/* body (may hold PHI: wiped on free) */
	unsigned char *body;
	size_t body_len, body_cap;
	bool is_body_too_big;
	uint64_t content_length;	/* declared, or 0 */

	/* routing */
	size_t route_idx;		/* 0 = unmatched */
	const struct pv_route *route;
	char params[PV_ROUTE_PARAMS][PV_PARAM_MAX];

	/* response */
	unsigned status;
	char *resp;			/* malloc'd; wiped and freed by MHD */
	size_t resp_len;
	const char *content_type;
	char headers[PV_EXTRA_HEADERS][2][256];
	size_t headers_n;
	int64_t retry_after;		/* seconds; 0 = no header */
};

/* ---- reply.c ---- */

/* Sets the response to a JSON value; takes ownership of body. */
void pv_reply_json(struct pv_req *r, unsigned status, json_t *body);
/* Sets a raw response; takes ownership of buf (malloc'd). */
void pv_reply_raw(struct pv_req *r, unsigned status, const char *ctype,
    char *buf, size_t len);
/*
 * FHIR OperationOutcome error. code is a FHIR issue-type code ("invalid",
 * "not-found", "security", "too-costly", "exception"...); diag is a
 * constant, PHI-free sentence telling the caller what to fix. For 5xx the
 * internal request id is named so operators can find the log line.
 */
void pv_reply_error(struct pv_req *r, unsigned status, const char *code,
    const char *diag);
/* Adds a response header (name and value copied; dropped if too long). */
void pv_reply_header(struct pv_req *r, const char *name, const char *value);
/* Builds the MHD response with the security headers and queues it. */
enum MHD_Result pv_reply_queue(struct pv_req *r);

/* ---- router.c ---- */

/* Matches r->method/r->path; sets route, route_idx and params. Returns
 * 404 or 405 status when nothing matches, 0 on a match. */
unsigned pv_router_match(struct pv_req *r);
void pv_router_register_metrics(void);

/* ---- route handlers ---- */
void route_healthz(struct pv_req *r);
void route_metrics(struct pv_req *r);

#endif
