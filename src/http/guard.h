/*
 * guard.h — the server's defences around handlers: the input firewall,
 * rate limits, deadlines for slow clients, aggregation of anonymous
 * refusals, the janitor thread that sweeps them, and RFC 9421 signature
 * authentication. Server side only (they work on struct pv_req).
 */
#ifndef PV_HTTP_GUARD_H
#define PV_HTTP_GUARD_H

#include "http/server_int.h"

/* ---- firewall.c, ratelimit.c ---- */

/* NULL when the raw request target passes the firewall's URI rules;
 * else a constant sentence naming the rule (uri.c, fuzzed). */
const char *pv_uri_check(const char *raw_uri);
/* 0 when r passes the input firewall; else the status and *why. */
unsigned pv_firewall_check(struct pv_req *r, const char **why);

struct pv_ratelimit;
PV_MUST_CHECK pv_status pv_ratelimit_new(size_t max, struct pv_ratelimit **out);
void pv_ratelimit_free(struct pv_ratelimit *rl);
/* Takes a token from bucket key; 0 = allowed, else seconds to wait. */
int64_t pv_ratelimit_take(struct pv_ratelimit *rl, const char *key, double rate,
    double burst);

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
void pv_conns_await_reply(struct pv_conns *c, struct pv_conn *p, uint64_t len);
/* No bound while the request is being handled. */
void pv_conns_busy(struct pv_conn *p);
/* Shuts down every connection past its deadline; how many. */
size_t pv_conns_sweep(struct pv_conns *c);

/* ---- denials.c: unauthenticated refusals, aggregated (finding 13) ---- */

struct pv_denials;
PV_MUST_CHECK pv_status pv_denials_new(const struct pv_config *cfg,
    struct pv_audit *audit, struct pv_denials **out);
void pv_denials_free(struct pv_denials *d);
/* True when this refusal is to be audited on its own (first of its key
 * in the interval); false when it was counted for an aggregate entry. */
bool pv_denials_note(struct pv_denials *d, const char *ip, const char *action,
    const char *reason, int64_t now);
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

#endif
