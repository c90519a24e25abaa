/*
 * alert.h — security alerts and where they go.
 *
 * Detection rules (auth brute force, credential stuffing, replay,
 * break-glass, snooping, decrypt and audit-verify failures) call
 * pv_alert; every alert is delivered to each configured sink: a JSON-lines
 * file ([alerts] file), syslog (authpriv), and an HTTP(S) webhook
 * ([alerts] webhook) fed from a bounded queue by its own thread, retried
 * with backoff, so a slow or dead receiver never blocks a request.
 *
 * Alerts carry no PHI: rule name, severity, time, request id, actor id,
 * counts — never names, bodies or record contents.
 */
#ifndef PV_ALERT_ALERT_H
#define PV_ALERT_ALERT_H

#include "common/config.h"

#include <jansson.h>

struct pv_alerts;

/* vault_dir locates a relative [alerts] file; cfg is copied. */
PV_MUST_CHECK pv_status pv_alerts_open(const char *vault_dir,
    const struct pv_config *cfg, struct pv_alerts **out);
/* Flushes what the webhook queue holds (bounded wait) and frees. */
void pv_alerts_close(struct pv_alerts *a);

/*
 * Raises an alert. severity: "low", "medium", "high", "critical".
 * fields: extra PHI-free members (ownership taken; may be NULL).
 * Never blocks on a sink; NULL-safe for a.
 */
void pv_alert(struct pv_alerts *a, const char *rule, const char *severity,
    const char *rid, json_t *fields);

#endif
