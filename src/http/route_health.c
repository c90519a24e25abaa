/*
 * route_health.c — GET /healthz and GET /metrics.
 *
 * /healthz answers without touching the store so a load balancer's probe
 * costs nothing; /metrics renders counters that by construction hold no
 * PHI (see common/metrics.h). Both are unauthenticated: bind the server
 * to a private interface or filter /metrics at the proxy if the counts
 * themselves are sensitive in your deployment.
 */
#include "http/routes.h"

#include <stdlib.h>
#include <string.h>

void
route_healthz(const struct pv_hreq *q, struct pv_reply *p)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	char *body = strdup(ok);

	(void)q;
	if (body == NULL) {
		pv_reply_error(p, 500, "exception", "out of memory");
		return;
	}
	pv_reply_raw(p, 200, "application/json", body, sizeof(ok) - 1);
}

/*
 * Readiness: 200 when this node can serve — both store databases answer
 * a read, the audit trail's last write succeeded, and the key provider
 * wraps and unwraps a throw-away key under the current master key; 503
 * (Retry-After: 5) naming which part failed otherwise. Names and "ok" or
 * "failed" only: nothing about the data or the reason.
 */
void
route_readyz(const struct pv_hreq *q, struct pv_reply *p)
{
	struct pv_vault *v = q->svc->vault;
	unsigned char *dek = pv_secret_key_scratch();
	unsigned char wrapped[PV_WRAPPED_DEK_BYTES];
	uint32_t ver = 0;
	bool store, audit, keys = false;

	store = pv_store_ping(v->store) == PV_OK;
	audit = pv_audit_is_healthy(q->svc->audit);
	if (dek != NULL) {
		randombytes_buf(dek, PV_DEK_BYTES);
		keys = pv_keyring_wrap(v->keyring, "readyz", dek, wrapped,
			   &ver) == PV_OK &&
		    pv_keyring_unwrap(v->keyring, "readyz", ver, wrapped,
			dek) == PV_OK;
		sodium_memzero(dek, PV_DEK_BYTES);
	}
	if (!(store && audit && keys))
		p->retry_after = 5;
	pv_reply_json(p, store && audit && keys ? 200 : 503,
	    json_pack("{s:s, s:s, s:s, s:s}", "status",
		store && audit && keys ? "ready" : "not_ready", "store",
		store ? "ok" : "failed", "audit", audit ? "ok" : "failed",
		"keys", keys ? "ok" : "failed"));
}

void
route_metrics(const struct pv_hreq *q, struct pv_reply *p)
{
	size_t len = 0;
	char *text = pv_metrics_render(&len);

	(void)q;
	if (text == NULL) {
		pv_reply_error(p, 500, "exception", "metrics unavailable");
		return;
	}
	pv_reply_raw(p, 200, "text/plain; version=0.0.4", text, len);
}
