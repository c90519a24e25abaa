/*
 * metrics.h — process-wide counters for /metrics (Prometheus text format).
 *
 * Lock-free (C11 atomics) so hot paths can count without contention.
 * Only counts, durations and fixed label values are recorded: no id, no
 * path, no user name — nothing that could carry PHI.
 */
#ifndef PV_COMMON_METRICS_H
#define PV_COMMON_METRICS_H

#include "common/pv.h"

typedef enum {
	PV_M_LOGIN_OK,
	PV_M_LOGIN_FAILED,
	PV_M_LOCKOUTS,
	PV_M_MFA_FAILED,
	PV_M_SESSIONS_CREATED,
	PV_M_QUEUE_REJECTED, /* a worker queue was full */
	PV_M_AUDIT_ENTRIES,
	PV_M_AUDIT_FSYNCS,
	PV_M_AUDIT_FAILURES,
	PV_M_AUDIT_PAGE_LINES, /* lines parsed for AuditEvent pages */
	PV_M_WRITE_BATCHES, /* record-change store commits */
	PV_M_AUTHZ_DENIED,
	PV_M_DECRYPT_FAILURES,
	PV_M_SIG_REJECTED,
	PV_M_RATE_LIMITED,
	PV_M_FIREWALL_REJECTED,
	PV_M_ALERTS,
	PV_M_ALERTS_DROPPED,
	PV_M_BREAK_GLASS,
	PV_M_DEK_UNWRAPS, /* DEK cache misses */
	PV_M_DEK_CACHE_FLUSHES,
	PV_M_SLOW_CLIENTS_CUT, /* connections past their deadline */
	PV_M_DENIALS_AGGREGATED, /* 401s counted, not written singly */
	PV_M_PROXY_REFUSED, /* trusted peer without a valid PROXY header */
	PV_M_NETWORK_DENIED, /* [network] allow-list refusals */
	PV_M_N
} pv_metric;

void pv_metric_inc(pv_metric m);
void pv_metric_add(pv_metric m, uint64_t n);
uint64_t pv_metric_get(pv_metric m);

/* Gauge of open connections. */
void pv_metric_conn_delta(int d);

/*
 * Per-route request accounting, labelled {route, method}. Routes are
 * registered once at start-up, each with its method and pattern (both
 * borrowed, static); a (method, pattern) pair must be registered once.
 * Index 0 is "unmatched": its requests are counted per method (GET,
 * HEAD, POST, PUT, DELETE, PATCH, OPTIONS, anything else as "other"), so
 * a client-sent method never becomes a label value. pv_metric_request is
 * lock-free; method may be NULL or empty.
 */
#define PV_METRIC_ROUTES_MAX 64
void pv_metric_route_name(size_t idx, const char *method, const char *name);
void pv_metric_request(size_t route, const char *method, unsigned status,
    uint64_t dur_ns);

/* Renders everything; returns a malloc'd string the caller frees. */
char *pv_metrics_render(size_t *len);

#endif
