/*
 * server_int.h — the server's private state: struct pv_server, the
 * per-request struct pv_req, and the server-side modules that work on
 * them (transport, defences, the audit trail of a request, workers). Not
 * for handlers: a handler sees only handler.h.
 *
 * Request life (see docs/ARCHITECTURE.md):
 *   request line read -> pv_req allocated (on_uri), id assigned, raw
 *     target kept;
 *   MHD access handler, first call -> firewall, address rate limit and
 *     size checks on method/URL/headers, route, authentication (a refusal
 *     is queued at once; otherwise nothing is, so keep-alive survives);
 *   further calls -> body accumulated up to [server] max_body;
 *   last call -> the caller settled again, the handler runs and fills
 *     r->out; a continuation (pv_reply_continue / pv_reply_apply) runs on
 *     a worker with the connection suspended (server.c suspends, the
 *     worker calls pv_req_done, which resumes);
 *   the reply waits until the request's audit entries are durable
 *     (trail.c), then it is queued;
 *   completion callback -> metrics, one access log line, free.
 *
 * Ownership: a pv_req belongs to its MHD connection (freed in the
 * completion callback); while suspended, the worker that holds it must
 * not touch it after pv_req_done.
 */
#ifndef PV_HTTP_SERVER_INT_H
#define PV_HTTP_SERVER_INT_H

#include "http/http.h"
#include "http/routes.h"
#include "common/workq.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define PV_PATH_BYTES 2048
#define PV_IP_MAX 64

enum pv_phase {
	PV_PHASE_HEADERS = 0, /* first call seen */
	PV_PHASE_BODY, /* receiving upload data */
	PV_PHASE_WAITING, /* suspended on a worker or the audit */
	PV_PHASE_READY, /* response prepared, queue on next call */
	PV_PHASE_QUEUED
};

struct pv_server {
	struct pv_vault *vault;
	struct MHD_Daemon *daemon;
	uint16_t port;
	struct pv_services svc; /* what handlers get */
	_Atomic int64_t in_flight; /* requests between first call and done */
	_Atomic int64_t suspended; /* connections suspended */
	_Atomic bool is_stopping;
	/* Set at shutdown once the queues are drained: nothing suspends any
	 * more (audit entries are written synchronously), so MHD can stop
	 * with no connection left suspended. */
	_Atomic bool is_closing;
	struct pv_workq *hashq; /* Argon2id work, off HTTP threads */
	struct pv_workq *writeq; /* audited changes (PV_NEXT_WRITE) */
	struct pv_batcher *batcher; /* record changes, group commit */
	struct pv_audit *audit;
	struct pv_alerts *alerts;
	struct pv_policy policy;
	json_t *capability; /* CapabilityStatement, built once */
	struct pv_retention *retention; /* periodic retention job */
	struct pv_iplock *iplock; /* per-address login failures */
	struct pv_nonces *nonces; /* RFC 9421 replay defence */
	/* Until then signed requests are refused: the start-up reload could
	 * not remember every nonce of the window (cache full). */
	_Atomic int64_t nonces_unsafe_until;
	_Atomic uint64_t body_bytes; /* request bodies held, bytes */
	struct pv_ratelimit *ratelimit;
	struct pv_detect *detect;
	struct pv_conns *conns; /* deadlines of slow clients */
	struct pv_denials *denials; /* unauthenticated 401s, aggregated */
	struct pv_listener *listener; /* [proxy] trusted: our accept loop */
	pthread_t janitor; /* conns sweep, denials flush */
	bool has_janitor;
	pthread_mutex_t janitor_lock;
	pthread_cond_t janitor_cv;
	char *tls_cert; /* PEM, freed at stop */
	char *tls_key; /* PEM, wiped and freed at stop */
	size_t tls_key_len;
};

struct pv_req {
	struct pv_server *srv;
	struct MHD_Connection *conn;
	char rid[PV_RID_LEN + 1];
	char method[12];
	char path[PV_PATH_BYTES];
	char raw_uri[PV_PATH_BYTES]; /* as sent: path and query, escaped */
	char ip[PV_IP_MAX];
	uint64_t t0;
	enum pv_phase phase;

	/* body (may hold PHI: wiped on free) */
	unsigned char *body;
	size_t body_len, body_cap;
	bool is_body_too_big;
	bool is_over_budget; /* [server] body_memory reached: 503 */
	bool is_draining; /* refused from its headers; body dropped */
	uint64_t content_length; /* declared, or 0 */

	/* routing */
	size_t route_idx; /* 0 = unmatched */
	const struct pv_route *route;
	char params[PV_ROUTE_PARAMS][PV_PARAM_MAX];

	/* authentication (set by admit for routes that need it) */
	struct pv_principal who;
	bool is_authenticated;
	bool has_signature_body; /* signed with a body: digest to check */
	bool has_body; /* a body was announced (length or
			* chunked): re-authenticate after it */
	size_t body_charged; /* bytes counted in the body budget */
	size_t body_max; /* this route's body limit */
	struct pv_conn *cslot; /* the connection's deadlines */

	/* the audit entry this request will leave (see route->audit): the
	 * server's part (action, source, request id, nonce) here, the
	 * handler's part in out.note; trail.c joins them */
	struct pv_audit_event ev;
	bool has_event;
	_Atomic int audit_pending; /* entries not yet durable */
	_Atomic bool is_audit_failed;

	struct pv_hreq in; /* what the handler reads */
	struct pv_reply out; /* what the handler fills */
};

/* ---- server.c ---- */

/* A worker finished r (its reply is set, its entries written or
 * submitted): the connection resumes and the reply is queued. r must not
 * be touched after. */
void pv_req_done(struct pv_req *r);

/* ---- admit.c: who is calling ---- */

/* With the headers: route, audit entry, authentication, account rate
 * limit and the early role check of body routes. False with a reply set
 * when the request is refused (its body, if any, is then drained). */
bool pv_admit(struct pv_req *r);
/* With the whole body: the caller settled again (session or signature
 * client unchanged); false with a 401 set otherwise. */
bool pv_admit_again(struct pv_req *r);

/* ---- setup.c: what starting reads from the configuration ---- */

struct sockaddr_storage;
/* The whole file in malloc'd memory (*out, NUL-terminated, *len). */
PV_MUST_CHECK pv_status pv_setup_read_file(const char *path, char **out,
    size_t *len);
/* conf as a path, relative to the vault directory unless absolute. */
PV_MUST_CHECK pv_status pv_setup_tls_path(struct pv_vault *v, const char *conf,
    char *out, size_t outsz);
/* "host:port" (numeric IPv4 or [IPv6]) into ss. */
PV_MUST_CHECK pv_status pv_setup_parse_listen(const char *listen,
    struct sockaddr_storage *ss);
/* MHD threads ([server] threads, default the CPUs) and Argon2id workers
 * ([auth] hash_workers, default half the CPUs, at least one). */
unsigned pv_setup_pool_size(const struct pv_config *cfg);
unsigned pv_setup_hash_workers(const struct pv_config *cfg);

/* ---- listener.c: the accept loop behind [proxy] trusted ---- */

struct pv_listener;
/* With [proxy] trusted: binds ss and sets srv->listener (freed by
 * pv_listener_stop, also on failure); without it: nothing. */
PV_MUST_CHECK pv_status pv_listener_open(struct pv_server *srv,
    const struct sockaddr_storage *ss);
/* After the daemon started: sets srv->port and, with a listener, starts
 * its thread. */
PV_MUST_CHECK pv_status pv_listener_run(struct pv_server *srv);
/* Stops the thread, closes the sockets, frees; before MHD_stop_daemon.
 * NULL-safe, idempotent. */
void pv_listener_stop(struct pv_server *srv);

/* ---- trail.c: a request's audit entries ---- */

/* Starts the entry of an audited route. */
void pv_trail_begin(struct pv_req *r, const char *action);
/* The request's own entry, settled (for an intent). */
void pv_trail_intent_event(struct pv_req *r, struct pv_audit_event *out);
/* A refused request with no caller and no account named (denials.c):
 * true when it was counted into an aggregate entry instead of getting
 * one of its own (r then has no event left to write). */
bool pv_trail_is_counted(struct pv_req *r);
/* Makes every entry durable (blocking; for workers and shutdown); on
 * failure the reply becomes the audit-down 503. */
void pv_trail_finish_sync(struct pv_req *r);
/* Submits every entry; when all are durable (or one failed: 503), calls
 * pv_req_done. False when r has nothing to write (nothing submitted). */
bool pv_trail_finish_async(struct pv_req *r);
/* Runs a PV_NEXT_WRITE continuation: intent durable (else 503), the
 * change, a follow-up entry when it ended in an error. */
void pv_trail_write(struct pv_req *r);

/* ---- batch.c: the record write queue ---- */

struct pv_batcher;
/* depth: queued changes before 503 busy. */
PV_MUST_CHECK pv_status pv_batcher_start(struct pv_server *srv, size_t depth,
    struct pv_batcher **out);
/* Queues r (its out.change) for pv_record_apply; false when the queue is
 * full or stopping (the caller refuses r busy). */
bool pv_batcher_submit(struct pv_batcher *b, struct pv_req *r);
/* Refuses new changes, runs what is queued and joins the thread; b
 * stays valid until pv_batcher_stop. Idempotent, NULL-safe. */
void pv_batcher_drain(struct pv_batcher *b);
/* pv_batcher_drain, then frees b; NULL-safe. */
void pv_batcher_stop(struct pv_batcher *b);

/* ---- request.c: the MHD side of struct pv_hreq ---- */

/* Points r->in at r's fields and the MHD lookups. */
void pv_req_bind(struct pv_req *r);
/* Builds the MHD response with the security headers and queues it. */
enum MHD_Result pv_req_queue_reply(struct pv_req *r);
/* MHD_suspend/resume_connection, counted in srv->suspended (shutdown
 * waits for zero before stopping MHD). */
void pv_req_suspend(struct pv_req *r);
void pv_req_resume(struct pv_req *r);

#endif
