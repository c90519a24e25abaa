/*
 * webhook.c — the HTTP(S) webhook alert sink (placeholder until the
 * delivery thread lands: alerts still reach the file and syslog sinks).
 */
#include "alert/alert.h"

#include <stdlib.h>

struct pv_webhook {
	int unused;
};

pv_status pv_webhook_start(const char *url, struct pv_webhook **out);
void pv_webhook_send(struct pv_webhook *w, const char *json);
void pv_webhook_stop(struct pv_webhook *w);

pv_status
pv_webhook_start(const char *url, struct pv_webhook **out)
{
	(void)url;
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? PV_OK : PV_ENOMEM;
}

void
pv_webhook_send(struct pv_webhook *w, const char *json)
{
	(void)w;
	(void)json;
}

void
pv_webhook_stop(struct pv_webhook *w)
{
	free(w);
}
