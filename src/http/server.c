/*
 * server.c — libmicrohttpd set-up and the request state machine.
 *
 * Transport guarantees (seed: "TLS 1.3 for data in transit"):
 *  - TLS 1.3 only (GnuTLS priority NORMAL:-VERS-ALL:+VERS-TLS1.3); a TLS
 *    1.2 ClientHello fails the handshake;
 *  - a thread pool, each thread running its own epoll loop; handlers that
 *    must wait suspend their connection instead of blocking a thread;
 *  - bounded resources: total and per-address connection limits, a
 *    per-connection memory pool that caps header bytes (MHD answers 431
 *    beyond it), a body limit enforced while reading (413 as soon as the
 *    declared or received length passes it), and an idle timeout that
 *    closes silent or trickling connections (slowloris);
 *  - keep-alive: no response is queued on the first call for a request,
 *    so MHD never has to close a connection to discard an unread body;
 *    a refusal decided from the headers (413, 429) of a request whose
 *    body is on its way drains that body first (up to 4 × max_body), so
 *    the reply is not lost to the reset a close with unread data causes.
 *
 * With [proxy] trusted, libmicrohttpd has no listen socket: listener.c
 * accepts, reads the PROXY v2 header of trusted peers and adds each
 * connection with the client's address (MHD_add_connection).
 *
 * Shutdown: pv_server_stop quiesces the listener, asks keep-alive clients
 * to close, waits for in-flight requests (bounded by shutdown_grace) and
 * only then stops the daemon.
 */
#include "http/guard.h"
#include "lifecycle/retention_job.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

/* ---- request objects ----------------------------------------------- */

static void
req_free(struct pv_req *r)
{
	if (r == NULL)
		return;
	pv_reply_clear(&r->out);
	if (r->body != NULL) {
		sodium_memzero(r->body, r->body_cap);
		free(r->body);
	}
	if (r->body_charged > 0)
		atomic_fetch_sub(&r->srv->body_bytes,
		    (uint64_t)r->body_charged);
	free(r);
}

static void
client_ip(struct MHD_Connection *conn, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	PV_IGNORE(pv_strlcpy(out, "unknown", outsz));
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out, (socklen_t)outsz);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, (socklen_t)outsz);
}

/*
 * MHD calls this once per request, as soon as the request line is read
 * and before headers: the request object exists (and its clock runs)
 * from the first byte of the request.
 */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct pv_server *srv = cls;
	struct pv_req *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	/* Kept as sent (escaped): RFC 9421's @target-uri, and the input
	 * firewall looks at it before MHD unescapes anything. */
	if (uri != NULL &&
	    pv_strlcpy(r->raw_uri, uri, sizeof(r->raw_uri)) != PV_OK)
		r->raw_uri[0] = '\0';
	r->srv = srv;
	r->conn = conn;
	r->cslot = pv_conns_of(conn);
	r->t0 = pv_mono_ns();
	pv_random_id(r->rid);
	pv_req_bind(r);
	atomic_fetch_add(&srv->in_flight, 1);
	return r;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct pv_server *srv = cls;
	struct pv_req *r = *con_cls;
	uint64_t dur;
	char ms[32], st[8];

	(void)conn;
	if (r == NULL)
		return;
	dur = pv_mono_ns() - r->t0;
	if (r->out.status == 0)
		r->out.status =
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499;
	pv_metric_request(r->route_idx, r->method, r->out.status, dur);
	PV_IGNORE(pv_snprintf(ms, sizeof(ms), "%.3f", (double)dur / 1e6));
	PV_IGNORE(pv_snprintf(st, sizeof(st), "%u", r->out.status));
	pv_log(r->out.status >= 500 ? PV_LOG_WARN : PV_LOG_INFO, "request",
	    r->rid, "method", r->method, "route",
	    r->route != NULL ? r->route->pattern : "unmatched", "status", st,
	    "ms", ms, "peer", r->ip, "end",
	    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted",
	    (const char *)NULL);
	/* The next request's head has header_timeout from now. */
	pv_conns_await_head(srv->conns, r->cslot);
	atomic_fetch_sub(&srv->in_flight, 1);
	req_free(r);
	*con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct pv_server *srv = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pv_metric_conn_delta(1);
		pv_conns_opened(srv->conns, conn, socket_ctx);
	} else {
		pv_metric_conn_delta(-1);
		pv_conns_closed(srv->conns, socket_ctx);
	}
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	msg[strcspn(msg, "\n")] = '\0';
	pv_log(PV_LOG_WARN, "mhd", NULL, "message", msg, (const char *)NULL);
}

/* ---- the access handler -------------------------------------------- */

/*
 * Ends a request whose refusal was decided from its headers. Closing a
 * connection while the client is still sending makes the kernel answer
 * with a reset, which can destroy the reply before the client reads it;
 * so a body on its way is read and dropped (up to 4 × max_body) and the
 * reply goes out after it, on a connection that stays open. Answered at
 * once, and the connection closed: a request without a body, a client
 * waiting for "100 Continue" (it has sent nothing yet), and a declared
 * body past the drain limit.
 */
static void
refuse_from_headers(struct pv_req *r)
{
	uint64_t drain_max = 4 * (uint64_t)r->srv->vault->cfg.max_body;
	const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *expect = MHD_lookup_connection_value(r->conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	bool has_body = r->content_length > 0 || te != NULL;

	r->phase = PV_PHASE_READY;
	pv_conns_busy(r->cslot);
	if (!has_body || r->content_length > drain_max || expect != NULL)
		return;
	r->is_draining = true;
	r->phase = PV_PHASE_BODY;
	pv_conns_await_drain(r->srv->conns, r->cslot);
}

/* First call: headers are complete. Checks that need no body. */
static void
on_headers(struct pv_req *r, const char *url, const char *method)
{
	const char *cl;
	char *end;

	client_ip(r->conn, r->ip, sizeof(r->ip));
	if (pv_strlcpy(r->method, method, sizeof(r->method)) != PV_OK) {
		PV_IGNORE(pv_strlcpy(r->method, "OTHER", sizeof(r->method)));
		pv_reply_error(&r->out, 501, "not-supported",
		    "unsupported method");
		r->phase = PV_PHASE_READY;
		return;
	}
	if (pv_strlcpy(r->path, url, sizeof(r->path)) != PV_OK) {
		pv_reply_error(&r->out, 414, "too-long",
		    "the request path is too long");
		r->phase = PV_PHASE_READY;
		return;
	}
	cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		errno = 0;
		r->content_length = strtoull(cl, &end, 10);
		if (errno != 0 || *end != '\0')
			r->content_length = UINT64_MAX;
	}
	{
		const char *why = NULL;
		unsigned fw = pv_firewall_check(r, &why);

		if (fw != 0) {
			pv_metric_inc(PV_M_FIREWALL_REJECTED);
			pv_log(PV_LOG_WARN, "firewall", r->rid, "rule", why,
			    "peer", r->ip, (const char *)NULL);
			pv_reply_error_detail(&r->out, fw,
			    fw == 431 ? "too-long" : "invalid",
			    "rejected_input", why);
			r->phase = PV_PHASE_READY;
			return;
		}
	}
	{
		const struct pv_config *cfg = &r->srv->vault->cfg;

		if (pv_http_rate_limited(&r->in, &r->out, "ip", r->ip,
			(double)cfg->rl_ip_rate, (double)cfg->rl_ip_burst)) {
			refuse_from_headers(r);
			return;
		}
	}
	if (r->content_length > (uint64_t)r->srv->vault->cfg.max_body) {
		pv_reply_error(&r->out, 413, "too-costly",
		    "the request body exceeds the size limit ([server] "
		    "max_body)");
		refuse_from_headers(r);
		return;
	}
	/* Who is calling is settled before a byte of body is read: a
	 * refused client's body is drained, never buffered. */
	if (!pv_admit(r)) {
		refuse_from_headers(r);
		return;
	}
	if (r->content_length > r->body_max) {
		pv_reply_error(&r->out, 413, "too-costly",
		    r->route->auth == PV_AUTH_NONE
			? "the request body exceeds the size limit of "
			  "unauthenticated requests (4096 bytes)"
			: "the request body "
			  "exceeds the size limit ([server] max_body)");
		refuse_from_headers(r);
		return;
	}
	r->phase = PV_PHASE_BODY;
	r->has_body = r->content_length > 0 ||
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
	if (r->has_body)
		pv_conns_await_body(r->srv->conns, r->cslot);
	else
		pv_conns_busy(r->cslot);
}

/* Counts delta more bytes of body memory; false (nothing counted) past
 * [server] body_memory. */
static bool
body_charge(struct pv_req *r, size_t delta)
{
	struct pv_server *srv = r->srv;
	uint64_t now = atomic_fetch_add(&srv->body_bytes, (uint64_t)delta);

	if (now + delta > (uint64_t)srv->vault->cfg.body_memory) {
		atomic_fetch_sub(&srv->body_bytes, (uint64_t)delta);
		return false;
	}
	r->body_charged += delta;
	return true;
}

/*
 * Accumulates the body. Past max_body the rest is drained and dropped
 * (MHD can only queue a reply before the body or after all of it) and
 * the request ends in 413; a client that keeps sending past four times
 * the limit is disconnected outright.
 */
static enum MHD_Result
on_body(struct pv_req *r, const char *data, size_t n)
{
	size_t max = (size_t)r->srv->vault->cfg.max_body;

	pv_conns_body_progress(r->cslot, n);
	if (r->is_draining) {
		r->body_len += n;
		return r->body_len > 4 * max ? MHD_NO : MHD_YES;
	}
	if (r->is_body_too_big || r->is_over_budget ||
	    r->body_len + n > r->body_max) {
		r->is_body_too_big = !r->is_over_budget;
		r->body_len += n;
		return r->body_len > 4 * max ? MHD_NO : MHD_YES;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		/* A declared length is allocated once; otherwise doubling,
		 * never past the route's limit. */
		size_t cap = r->body_cap    ? r->body_cap * 2
		    : r->content_length > 0 ? (size_t)r->content_length + 1
					    : 4096;
		unsigned char *nb;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		if (cap > r->body_max + 1)
			cap = r->body_max + 1;
		/* Bodies held at once are bounded ([server] body_memory):
		 * past it, this one is drained and answered 503. */
		if (!body_charge(r, cap - r->body_cap)) {
			r->is_over_budget = true;
			r->body_len += n;
			return MHD_YES;
		}
		nb = malloc(cap);
		if (nb == NULL)
			return MHD_NO;
		if (r->body != NULL) {
			memcpy(nb, r->body, r->body_len);
			sodium_memzero(r->body, r->body_cap);
			free(r->body);
		}
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return MHD_YES;
}

/* With the whole body: the caller again, the signed digest, the audit
 * trail's health, the handler. */
static void
dispatch(struct pv_req *r)
{
	if (!pv_admit_again(r) || !pv_http_signature_body(r))
		return;
	/* Fail closed: no PHI request runs while its entry cannot be
	 * written. The refusal is itself audited; when that write succeeds
	 * the trail is healthy again and the next request proceeds. */
	if (r->route->is_phi && !pv_audit_is_healthy(r->srv->audit)) {
		pv_reply_audit_unavailable(&r->out);
		pv_note_outcome(&r->out, "error", "audit_unavailable");
		return;
	}
	pv_req_bind(r);
	r->route->handler(&r->in, &r->out);
}

/* ---- continuations: the handler asked for work on a worker ---------- */

void
pv_req_done(struct pv_req *r)
{
	r->phase = PV_PHASE_READY;
	pv_req_resume(r);
}

/* On a worker: the continuation (and the one it asks for next, on the
 * same worker: a check, then the audited change), then the request's
 * entries (written here, blocking), then the connection resumes. */
static void
run_next(void *arg)
{
	struct pv_req *r = arg;
	enum pv_next next;

	while ((next = r->out.next) != PV_NEXT_NONE && next != PV_NEXT_RECORD) {
		r->out.next = PV_NEXT_NONE;
		if (next == PV_NEXT_WRITE)
			pv_trail_write(r);
		else
			r->out.next_fn(&r->in, &r->out);
	}
	if (r->out.next == PV_NEXT_RECORD) {
		/* Record changes go through the batcher from a handler, not
		 * from a worker: refuse rather than drop the change. */
		pv_log(PV_LOG_ERROR, "record_change_from_worker", r->rid,
		    (const char *)NULL);
		pv_reply_error(&r->out, 500, "exception",
		    "the change was not made");
	}
	r->out.next = PV_NEXT_NONE;
	pv_trail_finish_sync(r);
	pv_req_done(r);
}

/* A suspended request refused before its work ran (a full queue): 503
 * busy with Retry-After, counted, audited with reason "busy", resumed. */
static void
refuse_busy(struct pv_req *r)
{
	pv_metric_inc(PV_M_QUEUE_REJECTED);
	r->out.next = PV_NEXT_NONE;
	r->out.retry_after = 2;
	pv_note_outcome(&r->out, "error", "busy");
	pv_reply_error_detail(&r->out, 503, "transient", "busy",
	    "the server is busy; retry after the Retry-After delay");
	if (atomic_load(&r->srv->is_closing))
		pv_trail_finish_sync(r); /* shutdown: no async wait */
	if (!pv_trail_finish_async(r))
		pv_req_done(r);
}

/*
 * Hands a request whose handler asked for more work to its worker, with
 * the connection suspended; the worker resumes it (pv_req_done). A full
 * queue is answered 503 busy. True when r was handed off.
 */
static bool
hand_off(struct pv_req *r)
{
	struct pv_server *srv = r->srv;
	enum pv_next next = r->out.next;
	pv_status st;

	if (next == PV_NEXT_NONE)
		return false;
	r->phase = PV_PHASE_WAITING;
	pv_req_suspend(r);
	if (next == PV_NEXT_RECORD)
		st = pv_batcher_submit(srv->batcher, r) ? PV_OK : PV_EBUSY;
	else
		st = pv_workq_submit(next == PV_NEXT_HASH ? srv->hashq
							  : srv->writeq,
		    run_next, r);
	if (st != PV_OK)
		refuse_busy(r);
	return true;
}

/*
 * Holds the response until its audit entry is durable: the connection is
 * suspended and the audit writer resumes it after the group commit.
 * Returns true when the request is now waiting.
 */
static bool
audit_hold(struct pv_req *r)
{
	if (!r->has_event)
		return false;
	/* A refused anonymous request: the first of its kind per source
	 * and interval is written now, the rest counted into one entry
	 * (denials.c, outside review finding 13). */
	if (pv_trail_is_counted(r))
		return false;
	if (atomic_load(&r->srv->is_closing)) {
		/* Shutdown: the entry is made durable here, before the
		 * reply, without suspending (MHD is about to stop). */
		pv_trail_finish_sync(r);
		return false;
	}
	r->phase = PV_PHASE_WAITING;
	pv_req_suspend(r);
	PV_IGNORE(pv_trail_finish_async(r));
	return true;
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct pv_req *r = *con_cls;

	(void)cls;
	(void)version;
	if (r == NULL) /* on_uri ran out of memory */
		return MHD_NO;
	switch (r->phase) {
	case PV_PHASE_HEADERS:
		on_headers(r, url, method);
		/* Normal replies wait for the next call (keep-alive); a refusal
		 * decided from the headers alone, with no body on its way, is
		 * answered now (after its audit entry, if it has one). */
		if (r->phase == PV_PHASE_READY) {
			if (audit_hold(r))
				return MHD_YES;
			return pv_req_queue_reply(r);
		}
		return MHD_YES;
	case PV_PHASE_BODY:
		if (*upload_data_size != 0) {
			enum MHD_Result ok =
			    on_body(r, upload_data, *upload_data_size);

			*upload_data_size = 0;
			return ok;
		}
		pv_conns_busy(r->cslot);
		if (r->is_draining) {
			/* the refusal was prepared from the headers */
		} else if (r->is_over_budget) {
			pv_metric_inc(PV_M_QUEUE_REJECTED);
			r->out.retry_after = 2;
			pv_reply_error_detail(&r->out, 503, "transient", "busy",
			    "too many request bodies are being received; retry "
			    "after the Retry-After delay");
		} else if (r->is_body_too_big) {
			pv_reply_error(&r->out, 413, "too-costly",
			    "the request body exceeds the size limit ([server] "
			    "max_body)");
		} else {
			dispatch(r);
		}
		/* Deferred: the connection is suspended; the resume (after the
		 * worker ran, or after a refusal) brings us back in READY. */
		if (hand_off(r) || audit_hold(r))
			return MHD_YES;
		return pv_req_queue_reply(r);
	case PV_PHASE_READY:
		/* Resumed after a worker finished. */
		return pv_req_queue_reply(r);
	case PV_PHASE_WAITING:
	case PV_PHASE_QUEUED:
		break;
	}
	(void)conn;
	*upload_data_size = 0;
	return MHD_YES;
}

/* ---- start / stop -------------------------------------------------- */

pv_status
pv_server_start(struct pv_vault *v, const char *listen, struct pv_server **out,
    char *err, size_t errsz)
{
	struct pv_server *srv;
	struct sockaddr_storage ss;
	char path[PV_PATH_MAX];
	size_t cert_len;
	const struct pv_config *cfg = &v->cfg;
	pv_status st;

	*out = NULL;
	if (pv_setup_parse_listen(listen, &ss) != PV_OK) {
		PV_IGNORE(pv_strlcpy(err, "invalid listen address (host:port)",
		    errsz));
		return PV_EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return PV_ENOMEM;
	srv->vault = v;
	if ((st = pv_setup_tls_path(v, cfg->tls_cert, path, sizeof(path))) !=
		PV_OK ||
	    (st = pv_setup_read_file(path, &srv->tls_cert, &cert_len)) !=
		PV_OK ||
	    (st = pv_setup_tls_path(v, cfg->tls_key, path, sizeof(path))) !=
		PV_OK ||
	    (st = pv_setup_read_file(path, &srv->tls_key, &srv->tls_key_len)) !=
		PV_OK) {
		PV_IGNORE(pv_strlcpy(err,
		    "cannot read the TLS certificate or key", errsz));
		pv_server_stop(srv);
		return st;
	}
	if (pv_workq_start(pv_setup_hash_workers(cfg), (size_t)cfg->hash_queue,
		5, &srv->hashq) != PV_OK ||
	    pv_workq_start(8, 4096, 0, &srv->writeq) != PV_OK ||
	    pv_batcher_start(srv, 4096, &srv->batcher) != PV_OK ||
	    pv_iplock_new((size_t)cfg->rl_max_tracked, &srv->iplock) != PV_OK) {
		PV_IGNORE(
		    pv_strlcpy(err, "cannot start worker threads", errsz));
		pv_server_stop(srv);
		return PV_ENOMEM;
	}
	{
		struct pv_audit_opts ao =
		    PV_VAULT_AUDIT_OPTS(v, true, cfg->checkpoint_interval);
		if ((st = pv_audit_open(&ao, &srv->audit)) != PV_OK) {
			PV_IGNORE(pv_strlcpy(err,
			    st == PV_ECRYPTO
				? "the audit log does not verify; run "
				  "'phivault "
				  "audit verify' (refusing to serve)"
				: "cannot open the audit log",
			    errsz));
			pv_server_stop(srv);
			return st;
		}
	}
	if (cfg->policy_file[0] != '\0') {
		char perr[200], ppath[PV_PATH_MAX];

		/* A relative path is relative to the vault, like [tls]. */
		if (pv_setup_tls_path(v, cfg->policy_file, ppath,
			sizeof(ppath)) != PV_OK ||
		    pv_policy_load(&srv->policy, ppath, perr, sizeof(perr)) !=
			PV_OK) {
			PV_IGNORE(pv_strlcpy(err, perr, errsz));
			pv_server_stop(srv);
			return PV_EINVAL;
		}
	} else {
		pv_policy_defaults(&srv->policy);
	}
	if (pv_alerts_open(v->dir, cfg, &srv->alerts) != PV_OK) {
		PV_IGNORE(
		    pv_strlcpy(err, "cannot open the alert sinks", errsz));
		pv_server_stop(srv);
		return PV_EIO;
	}
	srv->capability = pv_http_capability_statement();
	if (pv_retention_start(v, srv->audit, &srv->retention) != PV_OK) {
		PV_IGNORE(
		    pv_strlcpy(err, "cannot start the retention job", errsz));
		pv_server_stop(srv);
		return PV_ENOMEM;
	}
	if (pv_nonces_new((size_t)cfg->nonce_cache_max, &srv->nonces) !=
	    PV_OK) {
		PV_IGNORE(
		    pv_strlcpy(err, "cannot allocate the nonce cache", errsz));
		pv_server_stop(srv);
		return PV_ENOMEM;
	}
	pv_http_reload_nonces(srv);
	if (pv_ratelimit_new((size_t)cfg->rl_max_tracked, &srv->ratelimit) !=
		PV_OK ||
	    pv_detect_new(cfg, srv->alerts, &srv->detect) != PV_OK ||
	    pv_conns_new(cfg, &srv->conns) != PV_OK ||
	    pv_denials_new(cfg, srv->audit, &srv->denials) != PV_OK ||
	    pv_janitor_start(srv) != PV_OK) {
		PV_IGNORE(pv_strlcpy(err, "out of memory", errsz));
		pv_server_stop(srv);
		return PV_ENOMEM;
	}
	/* Compute the dummy hash now, not during the first login. */
	(void)pv_password_dummy_hash(cfg);
	pv_router_register_metrics();
	srv->svc = (struct pv_services){ v, srv->audit, srv->alerts,
		&srv->policy, srv->detect, srv->ratelimit, srv->iplock,
		srv->capability, 0 };
	/* [proxy] trusted: we accept and read PROXY headers (listener.c),
	 * libmicrohttpd gets each connection with the client's address. */
	if (pv_listener_open(srv, &ss) != PV_OK) {
		PV_IGNORE(pv_strlcpy(err,
		    "cannot start the HTTPS listener (address in use?)",
		    errsz));
		pv_server_stop(srv);
		return PV_EIO;
	}
	srv->daemon = MHD_start_daemon(MHD_USE_TLS |
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_ERROR_LOG |
		(srv->listener != NULL ? MHD_USE_NO_LISTEN_SOCKET : 0),
	    0, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, srv->tls_cert, MHD_OPTION_HTTPS_MEM_KEY,
	    srv->tls_key, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
	    MHD_OPTION_THREAD_POOL_SIZE, pv_setup_pool_size(cfg),
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)cfg->per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)cfg->idle_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)cfg->max_header_bytes, MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_END);
	if (srv->daemon == NULL || pv_listener_run(srv) != PV_OK) {
		PV_IGNORE(pv_strlcpy(err,
		    "cannot start the HTTPS listener (address "
		    "in use, or bad certificate)",
		    errsz));
		pv_server_stop(srv);
		return PV_EIO;
	}
	srv->svc.port = srv->port;
	*out = srv;
	return PV_OK;
}

uint16_t
pv_server_port(const struct pv_server *s)
{
	return s->port;
}

void
pv_server_stop(struct pv_server *srv)
{
	uint64_t deadline;
	MHD_socket lfd;

	if (srv == NULL)
		return;
	atomic_store(&srv->is_stopping, true);
	pv_retention_stop(srv->retention);
	pv_listener_stop(srv); /* no new connection from here on */
	if (srv->daemon != NULL) {
		lfd = MHD_quiesce_daemon(srv->daemon);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
		deadline = pv_mono_ns() +
		    (uint64_t)srv->vault->cfg.shutdown_grace * 1000000000u;
		while (atomic_load(&srv->in_flight) > 0 &&
		    pv_mono_ns() < deadline) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		/* Work still queued finishes and resumes its connections
		 * while the daemon runs: MHD must not be stopped with a
		 * worker still holding a suspended connection. New work is
		 * refused with 503 meanwhile. */
		pv_batcher_drain(srv->batcher);
		pv_workq_drain(srv->writeq);
		pv_workq_drain(srv->hashq);
		/* From now on nothing suspends; wait (bounded) for the
		 * connections still waiting on the audit writer, which
		 * runs until pv_audit_close below. */
		atomic_store(&srv->is_closing, true);
		deadline = pv_mono_ns() + 10ull * 1000000000u;
		while (atomic_load(&srv->suspended) > 0 &&
		    pv_mono_ns() < deadline) {
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (atomic_load(&srv->suspended) > 0)
			pv_log(PV_LOG_ERROR, "shutdown_suspended_left", NULL,
			    (const char *)NULL);
		MHD_stop_daemon(srv->daemon);
	}
	pv_janitor_stop(srv);
	pv_workq_stop(srv->hashq);
	pv_workq_stop(srv->writeq);
	pv_batcher_stop(srv->batcher);
	/* Counted refusals go into the trail before it closes. */
	pv_denials_flush(srv->denials, pv_now(), true);
	pv_iplock_free(srv->iplock);
	pv_nonces_free(srv->nonces);
	pv_ratelimit_free(srv->ratelimit);
	pv_detect_free(srv->detect);
	pv_audit_close(srv->audit); /* drains, signs a final checkpoint */
	pv_denials_free(srv->denials);
	pv_conns_free(srv->conns);
	pv_alerts_close(srv->alerts);
	json_decref(srv->capability);
	free(srv->tls_cert);
	if (srv->tls_key != NULL) {
		sodium_memzero(srv->tls_key, srv->tls_key_len);
		free(srv->tls_key);
	}
	free(srv);
}
