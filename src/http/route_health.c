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
