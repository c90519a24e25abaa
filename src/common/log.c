/*
 * log.c — JSON-line logger.
 *
 * Guarantees: each line is written with a single write(2) so concurrent
 * threads never interleave within a line; a failure to log never fails
 * the caller's operation (logging is best effort, the audit trail is not).
 */
#include "common/log.h"
#include "common/pv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pv_log_level log_min = PV_LOG_INFO;
static int log_fd = 2;

void
pv_log_set_fd(int fd)
{
	log_fd = fd;
}

static const char *
level_name(pv_log_level lvl)
{
	switch (lvl) {
	case PV_LOG_DEBUG:
		return "debug";
	case PV_LOG_INFO:
		return "info";
	case PV_LOG_WARN:
		return "warn";
	case PV_LOG_ERROR:
		return "error";
	}
	return "info";
}

static void
iso_time(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (pv_snprintf(out, 32, "%s.%03ldZ", base, ts.tv_nsec / 1000000) !=
	    PV_OK)
		out[0] = '\0';
}

void
pv_log_json(pv_log_level lvl, const char *event, const char *rid,
    json_t *fields)
{
	json_t *line;
	char ts[32];
	char *text;
	size_t len, off;

	if (lvl < log_min) {
		json_decref(fields);
		return;
	}
	line = json_object();
	if (line == NULL) {
		json_decref(fields);
		return;
	}
	iso_time(ts);
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(level_name(lvl)));
	json_object_set_new(line, "event", json_string(event));
	if (rid != NULL)
		json_object_set_new(line, "rid", json_string(rid));
	if (fields != NULL) {
		json_object_update(line, fields);
		json_decref(fields);
	}
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (text == NULL)
		return;
	len = strlen(text);
	text[len] = '\n'; /* replaces the terminator; we track len */
	for (off = 0; off < len + 1;) {
		ssize_t n = write(log_fd, text + off, len + 1 - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
}

void
pv_log(pv_log_level lvl, const char *event, const char *rid, ...)
{
	va_list ap;
	json_t *fields;
	const char *k, *v;

	if (lvl < log_min)
		return;
	fields = json_object();
	va_start(ap, rid);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (fields != NULL && v != NULL)
			json_object_set_new(fields, k, json_string(v));
	}
	va_end(ap);
	pv_log_json(lvl, event, rid, fields);
}
