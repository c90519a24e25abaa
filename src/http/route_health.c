/*
 * route_health.c — GET /healthz and GET /metrics.
 *
 * /healthz answers without touching the store so a load balancer's probe
 * costs nothing; /metrics renders counters that by construction hold no
 * PHI (see common/metrics.h). Both are unauthenticated: bind the server
 * to a private interface or filter /metrics at the proxy if the counts
 * themselves are sensitive in your deployment.
 */
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>

void
route_healthz(struct pv_req *r)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	char *body = strdup(ok);

	if (body == NULL) {
		pv_reply_error(r, 500, "exception", "out of memory");
		return;
	}
	pv_reply_raw(r, 200, "application/json", body, sizeof(ok) - 1);
}

void
route_metrics(struct pv_req *r)
{
	size_t len = 0;
	char *text = pv_metrics_render(&len);

	if (text == NULL) {
		pv_reply_error(r, 500, "exception", "metrics unavailable");
		return;
	}
	pv_reply_raw(r, 200, "text/plain; version=0.0.4", text, len);
}
