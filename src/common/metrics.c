/*
 * metrics.c — counters, gauges and the request latency histogram.
 *
 * Guarantees: recording never allocates or locks; rendering reads a
 * consistent-enough snapshot (each counter atomically, not all together,
 * which Prometheus semantics allow). Every series is rendered once: the
 * request series are labelled {route, method}, and each route-table row
 * is one (method, pattern) pair with its own counters. Before issue 13
 * (outside review, finding 17) they were labelled {route} alone, so the
 * GET, PUT and DELETE rows of "/fhir/{type}/{id}" each printed a series
 * with the same labels and a real Prometheus kept one count and lost the
 * others. Label values are only route patterns and a fixed list of
 * methods, never anything a client sent.
 */
#include "common/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[PV_M_N][2] = {
	[PV_M_LOGIN_OK] = { "phivault_logins_total{result=\"ok\"}",
	    "Logins by result" },
	[PV_M_LOGIN_FAILED] = { "phivault_logins_total{result=\"failed\"}",
	    NULL },
	[PV_M_LOCKOUTS] = { "phivault_lockouts_total",
	    "Accounts or addresses put into lockout" },
	[PV_M_MFA_FAILED] = { "phivault_mfa_failures_total",
	    "Rejected TOTP or recovery codes" },
	[PV_M_SESSIONS_CREATED] = { "phivault_sessions_created_total",
	    "Sessions issued" },
	[PV_M_QUEUE_REJECTED] = { "phivault_work_queue_rejected_total",
	    "Requests refused because a worker queue (hashing, writes) was "
	    "full" },
	[PV_M_AUDIT_ENTRIES] = { "phivault_audit_entries_total",
	    "Audit entries made durable" },
	[PV_M_AUDIT_FSYNCS] = { "phivault_audit_fsyncs_total",
	    "Audit group commits (one fsync each)" },
	[PV_M_AUDIT_FAILURES] = { "phivault_audit_failures_total",
	    "Audit writes that failed (requests refused)" },
	[PV_M_AUDIT_PAGE_LINES] = { "phivault_audit_page_lines_total",
	    "Audit lines read and parsed for AuditEvent pages (a page reads "
	    "only its own lines)" },
	[PV_M_WRITE_BATCHES] = { "phivault_write_batches_total",
	    "Store commits of record changes (one fsync each, a batch of "
	    "changes per commit)" },
	[PV_M_AUTHZ_DENIED] = { "phivault_authz_denied_total",
	    "Authorization denials" },
	[PV_M_DECRYPT_FAILURES] = { "phivault_decrypt_failures_total",
	    "Records that failed authentication on decrypt" },
	[PV_M_SIG_REJECTED] = { "phivault_signature_rejected_total",
	    "Rejected signed requests" },
	[PV_M_RATE_LIMITED] = { "phivault_rate_limited_total",
	    "Requests answered 429" },
	[PV_M_FIREWALL_REJECTED] = { "phivault_firewall_rejected_total",
	    "Requests refused by the input firewall" },
	[PV_M_ALERTS] = { "phivault_alerts_total", "Alerts raised" },
	[PV_M_ALERTS_DROPPED] = { "phivault_alerts_dropped_total",
	    "Alerts dropped by a full webhook queue" },
	[PV_M_BREAK_GLASS] = { "phivault_break_glass_total",
	    "Break-glass grants issued" },
	[PV_M_DEK_UNWRAPS] = { "phivault_dek_unwraps_total",
	    "Patient data keys read from keys.db and unwrapped (key cache "
	    "misses)" },
	[PV_M_DEK_CACHE_FLUSHES] = { "phivault_dek_cache_flushes_total",
	    "Times the data-key cache was emptied (a key was shredded)" },
	[PV_M_SLOW_CLIENTS_CUT] = { "phivault_slow_clients_cut_total",
	    "Connections closed for missing their deadline (request head, "
	    "minimum body rate)" },
	[PV_M_DENIALS_AGGREGATED] = { "phivault_audit_denials_aggregated_total",
	    "Unauthenticated refusals counted into an aggregate audit entry "
	    "instead of an entry each" },
	[PV_M_PROXY_REFUSED] = { "phivault_proxy_refused_total",
	    "Connections from a trusted proxy closed for lack of a valid PROXY "
	    "protocol v2 header" },
	[PV_M_NETWORK_DENIED] = { "phivault_network_denied_total",
	    "Requests and logins refused by a [network] allow-list" },
};

static _Atomic uint64_t counters[PV_M_N];
static _Atomic int64_t open_conns;

/* Latency buckets, seconds. */
static const double bucket_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

/* Status codes tracked individually; anything else counts as "other". */
static const unsigned tracked_status[] = { 200, 201, 204, 304, 400, 401, 403,
	404, 405, 409, 410, 412, 413, 415, 422, 429, 431, 500, 503 };
#define NSTATUS (sizeof(tracked_status) / sizeof(tracked_status[0]) + 1)

struct route_stats {
	const char *name;
	const char *method;
	_Atomic uint64_t by_status[NSTATUS];
	_Atomic uint64_t bucket[NBUCKETS + 1];
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t count;
};

/* Methods of unmatched requests; the last one takes any other. */
static const char *const unmatched_methods[] = { "GET", "HEAD", "POST", "PUT",
	"DELETE", "PATCH", "OPTIONS", "other" };
#define NUNMATCHED PV_ARRAY_LEN(unmatched_methods)

/* [0, NUNMATCHED): unmatched, by method; then route i at NUNMATCHED+i-1 */
#define NSLOTS (NUNMATCHED + PV_METRIC_ROUTES_MAX - 1)
static struct route_stats routes[NSLOTS];

void
pv_metric_inc(pv_metric m)
{
	atomic_fetch_add_explicit(&counters[m], 1, memory_order_relaxed);
}

void
pv_metric_add(pv_metric m, uint64_t n)
{
	atomic_fetch_add_explicit(&counters[m], n, memory_order_relaxed);
}

uint64_t
pv_metric_get(pv_metric m)
{
	return atomic_load_explicit(&counters[m], memory_order_relaxed);
}

void
pv_metric_conn_delta(int d)
{
	atomic_fetch_add_explicit(&open_conns, d, memory_order_relaxed);
}

void
pv_metric_route_name(size_t idx, const char *method, const char *name)
{
	size_t i;

	if (idx == 0) {
		for (i = 0; i < NUNMATCHED; i++) {
			routes[i].name = name;
			routes[i].method = unmatched_methods[i];
		}
	} else if (idx < PV_METRIC_ROUTES_MAX) {
		routes[NUNMATCHED + idx - 1].name = name;
		routes[NUNMATCHED + idx - 1].method = method;
	}
}

/* The stats slot of a request: its route's, or unmatched by method. */
static struct route_stats *
slot(size_t route, const char *method)
{
	size_t i;

	if (route > 0 && route < PV_METRIC_ROUTES_MAX &&
	    routes[NUNMATCHED + route - 1].name != NULL)
		return &routes[NUNMATCHED + route - 1];
	if (method == NULL)
		return &routes[NUNMATCHED - 1]; /* "other" */
	for (i = 0; i < NUNMATCHED - 1; i++)
		if (strcmp(method, unmatched_methods[i]) == 0)
			break;
	return &routes[i];
}

static size_t
status_index(unsigned status)
{
	size_t i;

	for (i = 0; i < NSTATUS - 1; i++)
		if (tracked_status[i] == status)
			return i;
	return NSTATUS - 1;
}

void
pv_metric_request(size_t route, const char *method, unsigned status,
    uint64_t dur_ns)
{
	struct route_stats *r = slot(route, method);
	double secs = (double)dur_ns / 1e9;
	size_t b;

	atomic_fetch_add_explicit(&r->by_status[status_index(status)], 1,
	    memory_order_relaxed);
	for (b = 0; b < NBUCKETS && secs > bucket_le[b]; b++)
		;
	atomic_fetch_add_explicit(&r->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sum_ns, dur_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

struct out {
	char *buf;
	size_t len, cap;
	bool is_failed;
};

static void emit(struct out *o, const char *fmt, ...) PV_PRINTF(2, 3);

static void
emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->is_failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->is_failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);
		if (nb == NULL) {
			o->is_failed = true;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

static void
render_routes(struct out *o)
{
	const struct route_stats *r;
	size_t i, s, b;

	emit(o,
	    "# HELP phivault_http_requests_total HTTP requests by route, "
	    "method and status\n# TYPE phivault_http_requests_total counter\n");
	for (i = 0; i < NSLOTS; i++) {
		r = &routes[i];
		if (r->name == NULL)
			continue;
		for (s = 0; s < NSTATUS; s++) {
			uint64_t v = atomic_load(&r->by_status[s]);
			if (v == 0)
				continue;
			if (s == NSTATUS - 1)
				emit(o,
				    "phivault_http_requests_total{route=\"%s\","
				    "method=\"%s\",status=\"other\"} %llu\n",
				    r->name, r->method, (unsigned long long)v);
			else
				emit(o,
				    "phivault_http_requests_total{route=\"%s\","
				    "method=\"%s\",status=\"%u\"} %llu\n",
				    r->name, r->method, tracked_status[s],
				    (unsigned long long)v);
		}
	}
	emit(o,
	    "# HELP phivault_http_request_duration_seconds Request latency"
	    " by route and method\n"
	    "# TYPE phivault_http_request_duration_seconds histogram\n");
	for (i = 0; i < NSLOTS; i++) {
		uint64_t cum = 0, cnt;

		r = &routes[i];
		if (r->name == NULL)
			continue;
		cnt = atomic_load(&r->count);
		if (cnt == 0)
			continue;
		for (b = 0; b < NBUCKETS; b++) {
			cum += atomic_load(&r->bucket[b]);
			emit(o,
			    "phivault_http_request_duration_seconds_bucket"
			    "{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n",
			    r->name, r->method, bucket_le[b],
			    (unsigned long long)cum);
		}
		emit(o,
		    "phivault_http_request_duration_seconds_bucket"
		    "{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n",
		    r->name, r->method, (unsigned long long)cnt);
		emit(o,
		    "phivault_http_request_duration_seconds_sum"
		    "{route=\"%s\",method=\"%s\"} %.6f\n",
		    r->name, r->method, (double)atomic_load(&r->sum_ns) / 1e9);
		emit(o,
		    "phivault_http_request_duration_seconds_count"
		    "{route=\"%s\",method=\"%s\"} %llu\n",
		    r->name, r->method, (unsigned long long)cnt);
	}
}

char *
pv_metrics_render(size_t *len)
{
	struct out o = { malloc(8192), 0, 8192, false };
	size_t i;

	if (o.buf == NULL)
		return NULL;
	o.buf[0] = '\0';
	emit(&o,
	    "# HELP phivault_open_connections Open client connections\n"
	    "# TYPE phivault_open_connections gauge\n"
	    "phivault_open_connections %lld\n",
	    (long long)atomic_load(&open_conns));
	render_routes(&o);
	for (i = 0; i < PV_M_N; i++) {
		const char *help = metric_names[i][1];
		const char *name = metric_names[i][0];
		size_t base = strcspn(name, "{");

		if (help != NULL)
			emit(&o, "# HELP %.*s %s\n# TYPE %.*s counter\n",
			    (int)base, name, help, (int)base, name);
		emit(&o, "%s %llu\n", name,
		    (unsigned long long)pv_metric_get((pv_metric)i));
	}
	if (o.is_failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
