/*
 * log.h — structured JSON-line logging to stderr.
 *
 * Every line is one JSON object: {"ts","level","event","rid",...fields}.
 * The API takes an event name and key/value pairs chosen by the caller;
 * there is deliberately no free-form format string, so a body, a name or
 * a query value cannot slip into a log line by way of "%s". Callers pass
 * only PHI-free values: ids, route templates, status names, counts.
 */
#ifndef PV_COMMON_LOG_H
#define PV_COMMON_LOG_H

#include <jansson.h>

typedef enum {
	PV_LOG_DEBUG = 0,
	PV_LOG_INFO,
	PV_LOG_WARN,
	PV_LOG_ERROR
} pv_log_level;

/* Where lines go (default 2). Borrowed; never closed by the logger. */
void pv_log_set_fd(int fd);

/*
 * Logs one line. rid may be NULL. The variadic part is a NULL-terminated
 * list of (const char *key, const char *value) pairs; all are borrowed.
 */
void pv_log(pv_log_level lvl, const char *event, const char *rid, ...)
    __attribute__((sentinel));

/* Same, with fields as a JSON object; takes ownership of fields (may be NULL).
 */
void pv_log_json(pv_log_level lvl, const char *event, const char *rid,
    json_t *fields);

#endif
