/*
 * handler.h — the contract between the server and a route handler.
 *
 * A handler is a function of (request, reply): it reads a read-only
 * request — method, route parameters, body, the authenticated principal,
 * header/query/cookie lookup, the server's services — and fills a reply
 * (status, body, headers) and an audit note (the subject, outcome and
 * reason of the entry the request leaves). It never sees
 * libmicrohttpd, never suspends or resumes a connection and never writes
 * an audit entry: server.c owns the request's phase and suspend/resume,
 * and http/trail.c alone turns audit notes into entries. Work that must
 * not run on an HTTP thread (password hashing, an audited change, a
 * record change) is asked for with pv_reply_continue / pv_reply_apply;
 * the server runs it on a worker and sends the reply when it is done.
 *
 * So a handler can be called from a unit test with a real vault and a
 * request built from a table (tests/unit/test_routes*.c).
 *
 * Ownership: everything in struct pv_hreq is borrowed for the call (and
 * for its continuation); the reply owns its body (malloc'd, wiped when
 * freed), its job (freed with job_free) and its audit-note extras.
 */
#ifndef PV_HTTP_HANDLER_H
#define PV_HTTP_HANDLER_H

#include "alert/alert.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "authz/authz.h"
#include "fhir/fhir.h"
#include "common/log.h"
#include "common/metrics.h"

#include <jansson.h>

#define PV_RID_LEN 32
#define PV_ROUTE_PARAMS 3
#define PV_PARAM_MAX 128
#define PV_EXTRA_HEADERS 6

struct pv_ratelimit;
struct pv_detect;
struct pv_iplock;
struct pv_workq;

/* The server-wide services a handler may use; borrowed. */
struct pv_services {
	struct pv_vault *vault;
	struct pv_audit *audit; /* reads (proofs, AuditEvent) */
	struct pv_alerts *alerts;
	const struct pv_policy *policy;
	struct pv_detect *detect;
	struct pv_ratelimit *ratelimit;
	struct pv_iplock *iplock;
	json_t *capability; /* CapabilityStatement (shared: incref) */
	uint16_t port;
};

enum pv_lookup_kind { PV_LOOKUP_HEADER, PV_LOOKUP_QUERY, PV_LOOKUP_COOKIE };

/* What a handler reads. Read-only. */
struct pv_hreq {
	const struct pv_services *svc;
	const char *method;
	const char *route; /* the matched pattern (metric label) */
	const char *rid; /* request id */
	const char *ip; /* client address */
	const char *params[PV_ROUTE_PARAMS]; /* route parameters, "" unused */
	const unsigned char *body; /* may hold PHI; not NUL-terminated */
	size_t body_len;
	bool is_authenticated;
	const struct pv_principal *who; /* valid when is_authenticated */
	/* Lookup of a header (case-insensitive), query argument
	 * (unescaped) or cookie: the value, or NULL. joined: every line of
	 * a repeated header joined by ", " into buf (RFC 9110), NULL when
	 * absent or longer than bufsz. Backed by libmicrohttpd in the
	 * server and by a table in unit tests. */
	const char *(*lookup)(const void *src, enum pv_lookup_kind kind,
	    const char *name);
	const char *(*joined)(const void *src, const char *name, char *buf,
	    size_t bufsz);
	const void *src;
};

/* A request header, query argument or cookie, or NULL. */
const char *pv_hreq_header(const struct pv_hreq *q, const char *name);
const char *pv_hreq_query(const struct pv_hreq *q, const char *name);
const char *pv_hreq_cookie(const struct pv_hreq *q, const char *name);
const char *pv_hreq_header_joined(const struct pv_hreq *q, const char *name,
    char *buf, size_t bufsz);
/* The session token presented (Authorization: Bearer, else cookie). */
const char *pv_hreq_token(const struct pv_hreq *q, char *buf, size_t bufsz);

/* One more entry for a response that names several patients. */
#define PV_AUDIT_ALSO_MAX 64
struct pv_audit_also {
	char type[33];
	char id[65];
	char patient[65];
	int64_t grant;
};

/* What the handler says about the entry its request leaves. */
struct pv_audit_note {
	char type[33]; /* FHIR id characters only */
	char id[65];
	char patient[65];
	const char *outcome; /* NULL: from the final status */
	const char *reason; /* NULL: from the final status */
	int64_t grant; /* break-glass grant relied on */
	int64_t actor; /* login: who logged in (0: the
			* authenticated principal) */
	char role[17];
	struct pv_audit_also *also; /* malloc'd, PV_AUDIT_ALSO_MAX */
	size_t also_n;
};

/* What runs next, on a worker, once the handler returns. */
enum pv_next {
	PV_NEXT_NONE = 0,
	PV_NEXT_HASH, /* next_fn on the password-hashing queue */
	PV_NEXT_WORK, /* next_fn on a worker (slow, no write-ahead) */
	PV_NEXT_WRITE, /* intent durable, next_fn makes the change,
			* a follow-up entry if it ends in an error */
	PV_NEXT_RECORD /* change through pv_record_apply (group
			* commit), then next_fn builds the reply */
};

struct pv_reply;
typedef void (*pv_handler)(const struct pv_hreq *q, struct pv_reply *p);

/* What a handler fills. */
struct pv_reply {
	const char *rid; /* set by the server, for 5xx texts */
	unsigned status;
	char *resp; /* malloc'd; wiped and freed */
	size_t resp_len;
	const char *content_type;
	char headers[PV_EXTRA_HEADERS][2][256];
	size_t headers_n;
	int64_t retry_after; /* seconds; 0 = no header */
	int resp_fd; /* > 0: body streamed from this file */
	uint64_t resp_fd_size;
	struct pv_audit_note note;
	/* continuation (pv_reply_continue, pv_reply_apply) */
	enum pv_next next;
	pv_handler next_fn;
	struct pv_change change; /* PV_NEXT_RECORD */
	void *job; /* the handler's state for next_fn */
	void (*job_free)(void *job); /* wipes and frees job; NULL-safe */
};

/* ---- filling the reply (reply.c) ---- */

/* Sets the response to a JSON value; takes ownership of body. */
void pv_reply_json(struct pv_reply *p, unsigned status, json_t *body);
/* Sets a raw response; takes ownership of buf (malloc'd). */
void pv_reply_raw(struct pv_reply *p, unsigned status, const char *ctype,
    char *buf, size_t len);
/*
 * FHIR OperationOutcome error. code is a FHIR issue-type code ("invalid",
 * "not-found", "security", "too-costly", "exception"...); diag is a
 * constant, PHI-free sentence telling the caller what to fix. For 5xx the
 * request id is named so operators can find the log line.
 */
void pv_reply_error(struct pv_reply *p, unsigned status, const char *code,
    const char *diag);
/* Same, with a machine-readable phivault detail code in
 * issue.details.coding (e.g. "mfa_required", "locked_out"). */
void pv_reply_error_detail(struct pv_reply *p, unsigned status,
    const char *code, const char *detail, const char *diag);
/* Streams a file as the body; takes ownership of fd. */
void pv_reply_fd(struct pv_reply *p, unsigned status, const char *ctype, int fd,
    uint64_t size);
/* Adds a response header (name and value copied; dropped if too long). */
void pv_reply_header(struct pv_reply *p, const char *name, const char *value);
/* The audit-down 503 (drops Location, ETag, Set-Cookie). */
void pv_reply_audit_unavailable(struct pv_reply *p);
/* The 503 of a change that was not stored (its batch was lost). */
void pv_reply_not_stored(struct pv_reply *p);
/* Releases everything the reply owns (body wiped, fd closed, job). */
void pv_reply_clear(struct pv_reply *p);

/* Runs fn(q, p) on a worker next (PV_NEXT_HASH, _WORK or _WRITE); the
 * server answers 503 busy instead when that queue is full. fn may ask
 * for one more on the same worker (a check, then the PV_NEXT_WRITE that
 * changes); a second audited change, or PV_NEXT_RECORD from a worker, is
 * refused with 500 and nothing is changed. */
void pv_reply_continue(struct pv_reply *p, enum pv_next next, pv_handler fn);
/* Applies p->change (filled by the handler; its intent is this request's
 * entry) through the write batcher, then runs finish(q, p) to build the
 * reply from p->change.status and p->change.rec. */
void pv_reply_apply(struct pv_reply *p, pv_handler finish);

/* ---- the audit note (reply.c) ---- */

/* Names the resource and patient (only FHIR id characters are kept). */
void pv_note_subject(struct pv_reply *p, const char *type, const char *id,
    const char *patient);
/* Sets the outcome ("allowed", "denied", "failed", "error") and reason. */
void pv_note_outcome(struct pv_reply *p, const char *outcome,
    const char *reason);
void pv_note_grant(struct pv_reply *p, int64_t grant);
/* The account the entry is about when no one was authenticated yet (a
 * login names who logged in). */
void pv_note_actor(struct pv_reply *p, int64_t actor, const char *role);
/*
 * Adds an entry naming (type, id, patient) and grant to what the request
 * leaves; the response waits until every one is durable and is replaced
 * by 503 if any cannot be written. False (nothing added) past
 * PV_AUDIT_ALSO_MAX or out of memory: the caller must refuse to serve
 * that patient's data.
 */
PV_MUST_CHECK bool pv_note_also(struct pv_reply *p, const char *type,
    const char *id, const char *patient, int64_t grant);

/* ---- helpers shared by handlers ---- */

/* Parses the body as one JSON object (UTF-8, no duplicate keys, no NUL).
 * On failure sets a 400/415 reply and returns NULL. Caller decrefs. */
json_t *pv_hreq_json_object(const struct pv_hreq *q, struct pv_reply *p);
/* A string member of obj with length 1..maxlen, or NULL. */
const char *pv_json_str(json_t *obj, const char *key, size_t maxlen);
/* Applies rate-limit bucket kind:id; on refusal sets 429 + Retry-After,
 * counts it, and returns true. */
bool pv_http_rate_limited(const struct pv_hreq *q, struct pv_reply *p,
    const char *kind, const char *id, double rate, double burst);
/* The decision for q's principal; on deny sets a 403 and the audit
 * outcome and returns false. *grant gets the break-glass grant relied on. */
bool pv_http_authorize(const struct pv_hreq *q, struct pv_reply *p,
    pv_action action, const char *type, const char *patient, pv_data_class cls,
    int64_t *grant);
/* _count (default def, 1..max) and _offset (>= 0); 400 when malformed. */
bool pv_http_paging(const struct pv_hreq *q, struct pv_reply *p, int64_t def,
    int64_t max, int64_t *count, int64_t *offset);
/* "https://host" from the Host header (validated), for Bundle links. */
void pv_http_base(const struct pv_hreq *q, char *out, size_t outsz);
/* Built once at start-up (route_fhir_meta.c). */
json_t *pv_http_capability_statement(void);

#endif
