/*
 * alert.c — alert fan-out to file, syslog and webhook.
 *
 * The file sink appends one JSON object per line (O_APPEND, a single
 * write per alert). Syslog gets the same JSON at LOG_AUTHPRIV with a
 * priority from the severity. The webhook sink is webhook.c.
 */
#include "alert/alert.h"
#include "common/log.h"
#include "common/metrics.h"
#include "crypto/crypto.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct pv_webhook;
pv_status pv_webhook_start(const char *url, const char *cafile,
    struct pv_webhook **out);
void pv_webhook_send(struct pv_webhook *w, const char *json);
void pv_webhook_stop(struct pv_webhook *w);

struct pv_alerts {
	int fd;
	bool use_syslog;
	struct pv_webhook *hook;
};

pv_status
pv_alerts_open(const char *vault_dir, const struct pv_config *cfg,
    struct pv_alerts **out)
{
	struct pv_alerts *a;
	char path[1200];
	pv_status st;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return PV_ENOMEM;
	a->fd = -1;
	if (cfg->alert_file[0] != '\0') {
		if (cfg->alert_file[0] == '/')
			st = pv_strlcpy(path, cfg->alert_file, sizeof(path));
		else
			st = pv_snprintf(path, sizeof(path), "%s/%s", vault_dir,
			    cfg->alert_file);
		if (st != PV_OK) {
			free(a);
			return st;
		}
		a->fd = open(path,
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (a->fd < 0) {
			free(a);
			return PV_EIO;
		}
	}
	a->use_syslog = cfg->alert_syslog;
	if (a->use_syslog)
		openlog("phivault", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if (cfg->alert_webhook[0] != '\0' &&
	    (st = pv_webhook_start(cfg->alert_webhook,
		 cfg->alert_webhook_cafile, &a->hook)) != PV_OK) {
		pv_alerts_close(a);
		return st;
	}
	*out = a;
	return PV_OK;
}

void
pv_alerts_close(struct pv_alerts *a)
{
	if (a == NULL)
		return;
	pv_webhook_stop(a->hook);
	if (a->fd >= 0)
		close(a->fd);
	if (a->use_syslog)
		closelog();
	free(a);
}

static int
syslog_priority(const char *severity)
{
	if (strcmp(severity, "critical") == 0)
		return LOG_CRIT;
	if (strcmp(severity, "high") == 0)
		return LOG_ALERT;
	if (strcmp(severity, "medium") == 0)
		return LOG_WARNING;
	return LOG_NOTICE;
}

void
pv_alert(struct pv_alerts *a, const char *rule, const char *severity,
    const char *rid, json_t *fields)
{
	json_t *j;
	char ts[32], id[PV_ID_HEX_LEN + 1];
	char *text;
	size_t n;

	if (a == NULL) {
		json_decref(fields);
		return;
	}
	pv_metric_inc(PV_M_ALERTS);
	pv_random_id(id);
	pv_iso8601(pv_now(), ts);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "alert_id", id, "time", ts,
	    "rule", rule, "severity", severity, "source", "phivault");
	if (j == NULL) {
		json_decref(fields);
		return;
	}
	if (rid != NULL)
		json_object_set_new(j, "request_id", json_string(rid));
	if (fields != NULL) {
		json_object_update_missing(j, fields);
		json_decref(fields);
	}
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (text == NULL)
		return;
	pv_log(PV_LOG_WARN, "alert", rid, "rule", rule, "severity", severity,
	    (const char *)NULL);
	if (a->use_syslog)
		syslog(LOG_AUTHPRIV | syslog_priority(severity), "%s", text);
	if (a->hook != NULL)
		pv_webhook_send(a->hook, text);
	n = strlen(text);
	text[n] = '\n';
	if (a->fd >= 0 && write(a->fd, text, n + 1) != (ssize_t)(n + 1))
		pv_log(PV_LOG_ERROR, "alert_file_write_failed", rid,
		    (const char *)NULL);
	free(text);
}
