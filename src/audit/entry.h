/*
 * entry.h — one audit entry and its line in DIR/audit/log.jsonl: the
 * encoder and the one parser of our own lines (entry.c). Internal to
 * src/audit; nothing outside it includes this.
 *
 * Every reader of log lines in src/audit (the writer's catch-up, the
 * index, AuditEvent pages, `audit verify`, scans) goes through
 * audit_entry_parse, so a line means the same thing to all of them.
 *
 * Ownership: struct audit_entry holds its strings (fixed arrays); no
 * function here retains a pointer it is given.
 */
#ifndef PV_AUDIT_ENTRY_H
#define PV_AUDIT_ENTRY_H

#include "audit/audit.h"

#define AUDIT_LINE_MAX 2048 /* longest line we write or accept */

struct audit_entry {
	int64_t seq; /* as read: may be anything a line says */
	char ts[40]; /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
	int64_t actor;
	char role[17];
	char action[PV_AUDIT_ACTION_MAX];
	char type[33];
	char id[65];
	char patient[65];
	char outcome[24];
	char reason[96];
	char src[64];
	char rid[33];
	int64_t grant;
	char nonce[65];
	int64_t count; /* events it stands for, >= 1 */
	char prev[64]; /* base64 of the chain before it */
};

/*
 * Fills e with entry seq for ev (borrowed), stamped ts_ms, following
 * chain (the running chain before it). PV_EINVAL when outcome or reason
 * is NULL or does not fit.
 */
PV_MUST_CHECK pv_status audit_entry_from_event(const struct pv_audit_event *ev,
    int64_t ts_ms, uint64_t seq, const unsigned char chain[PV_AUDIT_HASH_BYTES],
    struct audit_entry *e);

/*
 * Writes e's line (no newline, no "bsig") into out (outsz bytes) and its
 * length into *len. PV_EINVAL when a string field holds a quote, a
 * backslash or a byte outside printable ASCII (lines never need
 * escapes); PV_ETOOBIG (from pv_snprintf) when it does not fit.
 */
PV_MUST_CHECK pv_status audit_entry_format(const struct audit_entry *e,
    char *out, size_t outsz, size_t *len);

/*
 * Parses one line (NUL-terminated, a trailing newline allowed) into e.
 * A line is an entry when it is one JSON object without duplicate keys,
 * with an integer "seq", a string "prev" and, if present, an integer
 * "count" > 1 (1 is never written); false otherwise, with e zeroed. The
 * other fields are taken when they have the right type and fit, and are
 * empty (0) otherwise: whether a line is genuine is for the chain and
 * the signatures to say, not the parser. A "prev" too long to be a chain
 * value is kept as "", which matches no chain.
 *
 * With json non-NULL, *json gets the parsed object (a new reference the
 * caller releases with json_decref) on success, NULL on failure.
 */
bool audit_entry_parse(const char *line, struct audit_entry *e, json_t **json);

/* Wall-clock milliseconds, and as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
int64_t audit_now_ms(void);
void audit_iso_ms(int64_t ms, char out[32]);

#endif
