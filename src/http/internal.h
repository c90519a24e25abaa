/*
 * internal.h — what the files of src/http share: the per-request state,
 * the route table entry, and the reply helpers. Not used outside src/http.
 *
 * Request life (see docs/ARCHITECTURE.md):
 *   request line read -> pv_req allocated (on_uri), id assigned, raw
 *     target kept;
 *   MHD access handler, first call -> firewall, address rate limit and
 *     size checks on method/URL/headers (a refusal is queued at once;
 *     otherwise nothing is, so keep-alive survives);
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
#include "alert/alert.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "authz/authz.h"
#include "fhir/fhir.h"
#include "common/log.h"
#include "common/workq.h"
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
	PV_AUTH_PARTIAL,	/* a session, even before required MFA is set
				 * up: logout, sessions, MFA enrolment, password */
	PV_AUTH_SESSION,	/* a session with MFA satisfied */
	PV_AUTH_ANY		/* a full session or an RFC 9421 signature */
};

struct pv_route {
	const char *method;
	const char *pattern;	/* "/fhir/{type}/{id}"; also the metric label */
	pv_handler handler;
	enum pv_auth_need auth;
	/*
	 * Audit action for every request to this route, allowed or not
	 * (NULL: not audited — health, metrics, public proofs). Handlers
	 * add the resource, patient and reason; the outcome follows the
	 * final status unless the handler set it.
	 */
	const char *audit;
	bool is_phi;		/* refuse up front while the audit is down */
	/* The policy action of a route that takes a body ('c' create and
	 * 'u' update on params[0], 'g' break-glass on Patient; 0 none):
	 * a caller whose role could never do it is refused from the
	 * headers, before its body is read (red-team pass, finding 3). */
	char body_act;
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
	_Atomic int64_t suspended;	/* connections suspended (pv_req_suspend) */
	_Atomic bool is_stopping;
	/* Set at shutdown once the queues are drained: nothing suspends any
	 * more (audit entries are written synchronously), so MHD can stop
	 * with no connection left suspended. */
	_Atomic bool is_closing;
	struct pv_workq *hashq;		/* Argon2id work, off HTTP threads */
	struct pv_workq *writeq;	/* audited changes (pv_req_write) */
	struct pv_batcher *batcher;	/* record changes, group commit */
	struct pv_audit *audit;
	struct pv_alerts *alerts;
	struct pv_policy policy;
	json_t *capability;		/* CapabilityStatement, built once */
	pthread_t purger;		/* periodic retention job */
	bool has_purger;
	pthread_mutex_t purge_lock;
	pthread_cond_t purge_cv;
	struct pv_iplock *iplock;	/* per-address login failures */
	struct pv_nonces *nonces;	/* RFC 9421 replay defence */
	/* Until then signed requests are refused: the start-up reload could
	 * not remember every nonce of the window (cache full). */
	_Atomic int64_t nonces_unsafe_until;
	_Atomic uint64_t body_bytes;	/* request bodies held, bytes */
	struct pv_ratelimit *ratelimit;
	struct pv_detect *detect;
	struct pv_conns *conns;		/* deadlines of slow clients */
	struct pv_denials *denials;	/* unauthenticated 401s, aggregated */
	pthread_t janitor;		/* conns sweep, denials flush */
	bool has_janitor;
	pthread_mutex_t janitor_lock;
	pthread_cond_t janitor_cv;
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
	char raw_uri[PV_PATH_BYTES];	/* as sent: path and query, escaped */
	char ip[PV_IP_MAX];
	uint64_t t0;
	enum pv_phase phase;

	/* body (may hold PHI: wiped on free) */
	unsigned char *body;
	size_t body_len, body_cap;
	bool is_body_too_big;
	bool is_over_budget;	/* [server] body_memory reached: 503 */
	bool is_draining;	/* refused from its headers; body dropped */
	uint64_t content_length;	/* declared, or 0 */

	/* routing */
	size_t route_idx;		/* 0 = unmatched */
	const struct pv_route *route;
	char params[PV_ROUTE_PARAMS][PV_PARAM_MAX];

	/* authentication (set by dispatch for routes that need it) */
	struct pv_principal who;
	bool is_authenticated;
	bool has_signature_body;	/* signed with a body: digest to check */
	bool has_body;			/* a body was announced (length or
					 * chunked): re-authenticate after it */
	size_t body_charged;		/* bytes counted in the body budget */
	size_t body_max;		/* this route's body limit */
	struct pv_conn *cslot;		/* the connection's deadlines */

	/* the audit entry this request will leave (see route->audit) */
	struct pv_audit_event ev;
	bool has_event;
	/* further entries: one per additional patient whose data the
	 * response holds (pv_req_audit_also); malloc'd, freed with r */
	struct pv_audit_also *ev_also;
	size_t ev_also_n;
	_Atomic int audit_pending;	/* entries not yet durable */
	_Atomic bool is_audit_failed;

	/* deferred work (see pv_req_defer) and its private state */
	void (*deferred)(struct pv_req *r);
	void (*write_fn)(struct pv_req *r);
	/* batch.c: runs before the batch's transaction opens (outside it);
	 * an error status there skips write_fn. NULL: nothing to prepare. */
	void (*prepare_fn)(struct pv_req *r);
	void *job;
	void (*job_free)(void *job);	/* wipes and frees job; NULL-safe */

	/* response */
	unsigned status;
	char *resp;			/* malloc'd; wiped and freed by MHD */
	size_t resp_len;
	const char *content_type;
	char headers[PV_EXTRA_HEADERS][2][256];
	size_t headers_n;
	int64_t retry_after;		/* seconds; 0 = no header */
	int resp_fd;			/* > 0: body streamed from this file */
	uint64_t resp_fd_size;
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
/* Same, with a machine-readable phivault detail code in
 * issue.details.coding (e.g. "mfa_required", "locked_out"). */
void pv_reply_error_detail(struct pv_req *r, unsigned status,
    const char *code, const char *detail, const char *diag);
/* Streams a file as the body; takes ownership of fd (MHD closes it). */
void pv_reply_fd(struct pv_req *r, unsigned status, const char *ctype, int fd,
    uint64_t size);
/* Adds a response header (name and value copied; dropped if too long). */
void pv_reply_header(struct pv_req *r, const char *name, const char *value);
/* Builds the MHD response with the security headers and queues it. */
enum MHD_Result pv_reply_queue(struct pv_req *r);

/* ---- request.c ---- */

/* A request header value (borrowed from MHD, valid for the request). */
const char *pv_req_header(struct pv_req *r, const char *name);
/* A query-string argument (unescaped), or NULL. */
const char *pv_req_query(struct pv_req *r, const char *name);
/*
 * Parses the body as one JSON object (UTF-8, no duplicate keys, no NUL).
 * On failure sets a 400/415 reply and returns NULL. Caller decrefs.
 */
json_t *pv_req_json_object(struct pv_req *r);
/* A string member of obj with length 1..maxlen, or NULL. */
const char *pv_json_str(json_t *obj, const char *key, size_t maxlen);
/*
 * Runs fn(r) on work queue q with the connection suspended; when fn
 * returns, the response it set is sent. When the queue is full the
 * request is answered 503 with Retry-After instead.
 */
void pv_req_defer(struct pv_req *r, struct pv_workq *q,
    void (*fn)(struct pv_req *r));
/* Names the resource and patient in this request's audit entry. */
void pv_req_audit_subject(struct pv_req *r, const char *type,
    const char *id, const char *patient);
/* One more entry for a request whose response names several patients:
 * a copy of the request's entry naming this resource and patient. */
#define PV_AUDIT_ALSO_MAX 64
struct pv_audit_also {
	char type[33];
	char id[65];
	char patient[65];
	int64_t grant;
};
/*
 * Adds an entry naming (type, id, patient) and grant to what r leaves in
 * the trail; the response waits until every one of them is durable, and
 * is replaced by 503 if any cannot be written. False (nothing added) past
 * PV_AUDIT_ALSO_MAX or out of memory: the caller must refuse to serve
 * that patient's data.
 */
PV_MUST_CHECK bool pv_req_audit_also(struct pv_req *r, const char *type,
    const char *id, const char *patient, int64_t grant);
/* Number of entries r leaves (0 when it has no event), and entry i of
 * them (the extra ones first, the request's own last), settled. */
size_t pv_req_audit_count(const struct pv_req *r);
void pv_req_audit_event(const struct pv_req *r, size_t i,
    struct pv_audit_event *out);
/* Sets the outcome ("allowed", "denied", "failed") and reason code. */
void pv_req_audit_outcome(struct pv_req *r, const char *outcome,
    const char *reason);
/*
 * Makes the entry durable (blocking; for worker threads) and, if that
 * fails, replaces the response with 503. Used by pv_req_defer's runner;
 * the HTTP thread path suspends instead (server.c).
 */
void pv_req_audit_finish_sync(struct pv_req *r);
/*
 * A refused request with no caller and no account named (denials.c):
 * true when it was counted into an aggregate entry instead of getting
 * one of its own (r then has no event left to write).
 */
bool pv_req_audit_is_counted(struct pv_req *r);
/* Fills the outcome from the final status if the handler did not. */
void pv_req_audit_settle(struct pv_req *r);
/* Replaces whatever response was prepared with the audit-down 503. */
void pv_reply_audit_unavailable(struct pv_req *r);

/*
 * The value of header name (case-insensitive), with repeated header lines
 * joined by ", " as RFC 9110 allows. NULL when absent or too long.
 */
const char *pv_req_header_joined(struct pv_req *r, const char *name,
    char *buf, size_t bufsz);

/* ---- firewall.c, ratelimit.c ---- */

/* NULL when the raw request target passes the firewall's URI rules;
 * else a constant sentence naming the rule (uri.c, fuzzed). */
const char *pv_uri_check(const char *raw_uri);
/* 0 when r passes the input firewall; else the status and *why. */
unsigned pv_firewall_check(struct pv_req *r, const char **why);

struct pv_ratelimit;
PV_MUST_CHECK pv_status pv_ratelimit_new(size_t max,
    struct pv_ratelimit **out);
void pv_ratelimit_free(struct pv_ratelimit *rl);
/* Takes a token from bucket key; 0 = allowed, else seconds to wait. */
int64_t pv_ratelimit_take(struct pv_ratelimit *rl, const char *key,
    double rate, double burst);
/*
 * Applies bucket kind:id ("ip", "acct", "login", "proof"). On refusal sets
 * 429 + Retry-After, counts it, and returns true.
 */
bool pv_http_rate_limited(struct pv_req *r, const char *kind, const char *id,
    double rate, double burst);

/* ---- conns.c: deadlines for slow clients (outside review, finding 3) ---- */

#define PV_CONNS_SWEEP_MS 250
#define PV_CONNS_PRESSURE_HEAD_MS 2000
/* Bodies of routes anyone may call (login): small, so an unauthenticated
 * client cannot make the server hold much memory. */
#define PV_UNAUTH_BODY_MAX 4096

struct pv_conns;
struct pv_conn;
PV_MUST_CHECK pv_status pv_conns_new(const struct pv_config *cfg,
    struct pv_conns **out);
void pv_conns_free(struct pv_conns *c);
/* MHD connection notifications: register, unregister (socket_ctx). */
void pv_conns_opened(struct pv_conns *c, struct MHD_Connection *conn,
    void **socket_ctx);
void pv_conns_closed(struct pv_conns *c, void **socket_ctx);
/* The registry entry of conn (NULL when untracked). */
struct pv_conn *pv_conns_of(struct MHD_Connection *conn);
/* Deadline for the next request head: now + header_timeout. */
void pv_conns_await_head(struct pv_conns *c, struct pv_conn *p);
/* An accepted request's body: after body_grace, what has arrived must
 * keep up with min_body_rate (pv_conns_body_progress counts it). */
void pv_conns_await_body(struct pv_conns *c, struct pv_conn *p);
void pv_conns_body_progress(struct pv_conn *p, size_t n);
/* A refused request's body, read and dropped: header_timeout at most. */
void pv_conns_await_drain(struct pv_conns *c, struct pv_conn *p);
/* A response of len bytes: body_grace + len / min_body_rate. */
void pv_conns_await_reply(struct pv_conns *c, struct pv_conn *p,
    uint64_t len);
/* No bound while the request is being handled. */
void pv_conns_busy(struct pv_conn *p);
/* Shuts down every connection past its deadline; how many. */
size_t pv_conns_sweep(struct pv_conns *c);
size_t pv_conns_count(struct pv_conns *c);

/* ---- denials.c: unauthenticated refusals, aggregated (finding 13) ---- */

struct pv_denials;
PV_MUST_CHECK pv_status pv_denials_new(const struct pv_config *cfg,
    struct pv_audit *audit, struct pv_denials **out);
void pv_denials_free(struct pv_denials *d);
/* True when this refusal is to be audited on its own (first of its key
 * in the interval); false when it was counted for an aggregate entry. */
bool pv_denials_note(struct pv_denials *d, const char *ip,
    const char *action, const char *reason, int64_t now);
/* Queues the aggregate entries of ended intervals (all when is_final). */
void pv_denials_flush(struct pv_denials *d, int64_t now, bool is_final);

/* ---- janitor.c ---- */
PV_MUST_CHECK pv_status pv_janitor_start(struct pv_server *srv);
void pv_janitor_stop(struct pv_server *srv);

/* ---- sigauth.c ---- */

/*
 * Authenticates r by its RFC 9421 signature (service clients). On
 * failure sets a 401 (with a detail code saying which check failed),
 * raises a replay or forgery alert where due, and returns false.
 */
bool pv_http_signature_auth(struct pv_req *r);
/* After the body: it must match the signed Content-Digest (401 else). */
bool pv_http_signature_body(struct pv_req *r);
/* After the body: the client is still active and unchanged (its authz
 * epoch); 401 else. */
bool pv_http_signature_recheck(struct pv_req *r);
/* True when the request carries a signature to check. */
bool pv_http_has_signature(struct pv_req *r);
/* Start-up: reload the replay window's nonces from the audit trail. */
void pv_http_reload_nonces(struct pv_server *srv);

/*
 * Runs the change fn(r) on a write worker: first the request's audit
 * entry is made durable (else 503 and nothing changes), then fn makes
 * the change; if fn ends in an error, a second entry records that.
 */
void pv_req_write(struct pv_req *r, void (*fn)(struct pv_req *r));
/*
 * server.c: a suspended request refused before its work ran (a full
 * queue) has its reply set; this writes its audit entry, like any
 * answered request, and resumes the connection when it is durable.
 */
void pv_req_resume_refused(struct pv_req *r);
/* A suspended request whose queue was full: 503 busy with Retry-After,
 * counted, audited with reason "busy", then pv_req_resume_refused. */
void pv_req_refuse_busy(struct pv_req *r);
/* MHD_suspend/resume_connection, counted in srv->suspended (shutdown
 * waits for zero before stopping MHD). */
void pv_req_suspend(struct pv_req *r);
void pv_req_resume(struct pv_req *r);

/* ---- batch.c ---- */
/*
 * pv_req_write for record changes (FHIR create, update, delete), with
 * group commit: the same guarantees, one audit fsync and one store
 * commit per batch of queued changes. fn may only use the store through
 * this thread's connection (it joins the batch's transaction) and must
 * not begin or commit one itself; it runs inside a savepoint that is
 * rolled back when it ends with an error status. r->prepare_fn, when
 * set, runs first, after the audit entry is durable and outside the
 * transaction: for store work that must be committed on its own (a new
 * patient's key lives in keys.db, and SQLite does not commit two WAL
 * databases atomically).
 */
void pv_req_write_batched(struct pv_req *r, void (*fn)(struct pv_req *r));
struct pv_batcher;
/* depth: queued changes before 503 busy. */
PV_MUST_CHECK pv_status pv_batcher_start(struct pv_server *srv, size_t depth,
    struct pv_batcher **out);
/* Refuses new changes (503 busy), runs what is queued and joins the
 * thread; b stays valid until pv_batcher_stop. Idempotent, NULL-safe. */
void pv_batcher_drain(struct pv_batcher *b);
/* pv_batcher_drain, then frees b; NULL-safe. */
void pv_batcher_stop(struct pv_batcher *b);
/*
 * The two halves of pv_req_write for handlers already on a worker: the
 * intent entry (false, with a 503 set, when it cannot be written: do not
 * change anything), and after the change, a follow-up entry when the
 * response is an error.
 */
bool pv_req_audit_intent(struct pv_req *r);
void pv_req_audit_followup(struct pv_req *r);

/* The session token presented (Authorization: Bearer, else cookie). */
const char *pv_req_token(struct pv_req *r, char *buf, size_t bufsz);

/* ---- router.c ---- */

/* Matches r->method/r->path; sets route, route_idx and params. Returns
 * 404 or 405 status when nothing matches, 0 on a match. */
unsigned pv_router_match(struct pv_req *r);
void pv_router_register_metrics(void);

/* ---- route handlers ---- */
void route_healthz(struct pv_req *r);
void route_metrics(struct pv_req *r);
void route_auth_login(struct pv_req *r);
void route_auth_logout(struct pv_req *r);
void route_auth_sessions(struct pv_req *r);
void route_auth_session_delete(struct pv_req *r);
void route_auth_mfa_enroll(struct pv_req *r);
void route_auth_mfa_confirm(struct pv_req *r);
void route_auth_password(struct pv_req *r);
void route_fhir_metadata(struct pv_req *r);
void route_fhir_read(struct pv_req *r);
void route_fhir_vread(struct pv_req *r);
void route_fhir_create(struct pv_req *r);
void route_fhir_update(struct pv_req *r);
void route_fhir_delete(struct pv_req *r);
void route_fhir_history(struct pv_req *r);
void route_fhir_search(struct pv_req *r);
void route_fhir_compartment(struct pv_req *r);
void route_fhir_break_glass(struct pv_req *r);
void route_fhir_audit_events(struct pv_req *r);
void route_audit_checkpoint(struct pv_req *r);
void route_audit_inclusion(struct pv_req *r);
void route_audit_consistency(struct pv_req *r);
void route_admin_careteam_add(struct pv_req *r);
void route_admin_careteam_remove(struct pv_req *r);
void route_admin_erase(struct pv_req *r);
void route_deid_export(struct pv_req *r);

/* ---- shared by the FHIR handlers (route_fhir.c) ---- */

/* The decision for r's principal; on deny sets a 403 and the audit
 * outcome and returns false. *grant gets the break-glass grant relied on. */
bool pv_http_authorize(struct pv_req *r, pv_action action, const char *type,
    const char *patient, pv_data_class cls, int64_t *grant);
/* _count (default def, 1..max) and _offset (>= 0); 400 when malformed. */
bool pv_http_paging(struct pv_req *r, int64_t def, int64_t max,
    int64_t *count, int64_t *offset);
/* Built once at start-up into srv->capability. */
json_t *pv_http_capability_statement(void);
/* "https://host" from the Host header (validated), for Bundle links. */
void pv_http_base(struct pv_req *r, char *out, size_t outsz);

#endif
