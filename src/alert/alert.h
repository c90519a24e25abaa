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

/* ---- detection rules (detect.c) ---- */

struct pv_detect;
/* a is borrowed and must outlive the detector. */
PV_MUST_CHECK pv_status pv_detect_new(const struct pv_config *cfg,
    struct pv_alerts *a, struct pv_detect **out);
void pv_detect_free(struct pv_detect *d);
/* An account was locked out: brute force on it. */
void pv_detect_lockout(struct pv_detect *d, int64_t user_id, const char *ip,
    const char *rid);
/* Failed logins from ip span distinct_accounts accounts. */
void pv_detect_failed_logins(struct pv_detect *d, const char *ip,
    int64_t distinct_accounts, int64_t now, const char *rid);
/* actor reached patient's data (allowed access). */
void pv_detect_patient_access(struct pv_detect *d, int64_t actor,
    const char *patient, int64_t now, const char *rid);

#endif
