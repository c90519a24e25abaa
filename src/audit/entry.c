/*
 * entry.c — the format of an audit entry's line, both ways: encoding an
 * entry to its line, and the one parser of a line back into an entry.
 *
 * File format (DIR/audit/log.jsonl): one JSON object per line, keys in a
 * fixed order, values restricted to ids, codes, timestamps, addresses,
 * integers and base64 (no escapes needed, no free text):
 *   {"seq":N,"ts":"...","actor":A,"role":"...","action":"...","type":"...",
 *    "id":"...","patient":"...","outcome":"...","reason":"...","src":"...",
 *    "rid":"...","grant":G,"nonce":"..."[,"count":C],"prev":"<base64 chain>"
 *    [,"bsig":"<base64 Ed25519>"]}
 * "count" is there only when the entry stands for C > 1 identical events
 * (lines without it are as they always were). "bsig" ends the last line
 * of every batch; it is added and checked on the line's bytes by
 * batchsig.c, never here. The leaf of entry N is the line's bytes
 * (without the newline), hashed per RFC 6962; "prev" is the running
 * chain before entry N (pv_audit_chain_next, writer.c).
 *
 * Guarantees: the encoder writes exactly the bytes above (they are what
 * the chain, the Merkle leaves and the signatures cover, so they never
 * change) and refuses a value that would need escaping. The parser is
 * jansson, strict about what the chain relies on (one object, no
 * duplicate keys, an integer "seq", a string "prev", a valid "count"),
 * and lenient about the descriptive fields (entry.h). It does not decide
 * whether a line is genuine: the chain and the signatures do.
 */
#include "audit/entry.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <time.h>

void
audit_iso_ms(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char base[24];

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	PV_IGNORE(
	    pv_snprintf(out, 32, "%s.%03lldZ", base, (long long)(ms % 1000)));
}

int64_t
audit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- encoding ------------------------------------------------------- */

/* Characters allowed in string fields: no quote, backslash or control. */
static bool
is_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 ||
		    (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

pv_status
audit_entry_from_event(const struct pv_audit_event *ev, int64_t ts_ms,
    uint64_t seq, const unsigned char chain[PV_AUDIT_HASH_BYTES],
    struct audit_entry *e)
{
	pv_status st;

	memset(e, 0, sizeof(*e));
	if (ev->outcome == NULL || ev->reason == NULL || seq > INT64_MAX)
		return PV_EINVAL;
	e->seq = (int64_t)seq;
	audit_iso_ms(ts_ms, e->ts);
	e->actor = ev->actor;
	e->grant = ev->grant;
	/* One event (0 or 1) writes no field: such lines are unchanged. */
	e->count = ev->count > 1 ? ev->count : 1;
	if (pv_strlcpy(e->role, ev->role, sizeof(e->role)) != PV_OK ||
	    pv_strlcpy(e->action, ev->action, sizeof(e->action)) != PV_OK ||
	    pv_strlcpy(e->type, ev->type, sizeof(e->type)) != PV_OK ||
	    pv_strlcpy(e->id, ev->id, sizeof(e->id)) != PV_OK ||
	    pv_strlcpy(e->patient, ev->patient, sizeof(e->patient)) != PV_OK ||
	    pv_strlcpy(e->outcome, ev->outcome, sizeof(e->outcome)) != PV_OK ||
	    pv_strlcpy(e->reason, ev->reason, sizeof(e->reason)) != PV_OK ||
	    pv_strlcpy(e->src, ev->src, sizeof(e->src)) != PV_OK ||
	    pv_strlcpy(e->rid, ev->rid, sizeof(e->rid)) != PV_OK ||
	    pv_strlcpy(e->nonce, ev->nonce, sizeof(e->nonce)) != PV_OK)
		return PV_EINVAL;
	if ((st = pv_b64_encode(chain, PV_AUDIT_HASH_BYTES, e->prev,
		 sizeof(e->prev))) != PV_OK)
		return st;
	return PV_OK;
}

pv_status
audit_entry_format(const struct audit_entry *e, char *out, size_t outsz,
    size_t *len)
{
	char count[32] = "";
	pv_status st;

	if (!is_plain(e->role) || !is_plain(e->action) || !is_plain(e->type) ||
	    !is_plain(e->id) || !is_plain(e->patient) ||
	    !is_plain(e->outcome) || !is_plain(e->reason) ||
	    !is_plain(e->src) || !is_plain(e->rid) || !is_plain(e->nonce) ||
	    !is_plain(e->ts) || !is_plain(e->prev))
		return PV_EINVAL;
	if (e->count > 1 &&
	    (st = pv_snprintf(count, sizeof(count), ",\"count\":%lld",
		 (long long)e->count)) != PV_OK)
		return st;
	if ((st = pv_snprintf(out, outsz,
		 "{\"seq\":%lld,\"ts\":\"%s\",\"actor\":%lld,\"role\":\"%s\","
		 "\"action\":\"%s\",\"type\":\"%s\",\"id\":\"%s\",\"patient\":"
		 "\"%s\","
		 "\"outcome\":\"%s\",\"reason\":\"%s\",\"src\":\"%s\",\"rid\":"
		 "\"%s\","
		 "\"grant\":%lld,\"nonce\":\"%s\"%s,\"prev\":\"%s\"}",
		 (long long)e->seq, e->ts, (long long)e->actor, e->role,
		 e->action, e->type, e->id, e->patient, e->outcome, e->reason,
		 e->src, e->rid, (long long)e->grant, e->nonce, count,
		 e->prev)) != PV_OK)
		return st;
	*len = strlen(out);
	return PV_OK;
}

/* ---- parsing -------------------------------------------------------- */

/* Copies the string j[key] into out when it is one and fits. */
static void
take_str(json_t *j, const char *key, char *out, size_t outsz)
{
	const char *v = json_string_value(json_object_get(j, key));

	if (v == NULL || pv_strlcpy(out, v, outsz) != PV_OK)
		memset(out, 0, outsz); /* no cut-off value left behind */
}

static int64_t
take_int(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/*
 * The fast path for what audit_entry_format wrote: the canonical line has
 * the fields in one order and plain strings (no escapes can occur), so
 * they are read by position; the reading is accepted only when encoding
 * the values again gives the line byte for byte — then jansson would read
 * exactly these values too. Anything else (a line of another shape, a
 * tampered one) takes the general path. A server opening a trail reads
 * every line: this keeps it at about the cost of copying the fields
 * (bench/startup.sh).
 */
static bool
canon_str(const char **p, const char *lit, char *out, size_t outsz)
{
	size_t n = strlen(lit);
	const char *end;

	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	if ((end = strchr(*p, '"')) == NULL || (size_t)(end - *p) >= outsz)
		return false;
	memcpy(out, *p, (size_t)(end - *p));
	out[end - *p] = '\0';
	*p = end + 1;
	return true;
}

static bool
canon_int(const char **p, const char *lit, int64_t *out)
{
	size_t n = strlen(lit);
	char *end;
	long long v;

	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	errno = 0;
	v = strtoll(*p, &end, 10);
	if (errno != 0 || end == *p)
		return false;
	*out = v;
	*p = end;
	return true;
}

static bool
parse_canonical(const char *line, struct audit_entry *e)
{
	const char *p = line;
	char again[AUDIT_LINE_MAX];
	size_t len, n = strlen(line);

	if (n >= sizeof(again) || !canon_int(&p, "{\"seq\":", &e->seq) ||
	    !canon_str(&p, ",\"ts\":\"", e->ts, sizeof(e->ts)) ||
	    !canon_int(&p, ",\"actor\":", &e->actor) ||
	    !canon_str(&p, ",\"role\":\"", e->role, sizeof(e->role)) ||
	    !canon_str(&p, ",\"action\":\"", e->action, sizeof(e->action)) ||
	    !canon_str(&p, ",\"type\":\"", e->type, sizeof(e->type)) ||
	    !canon_str(&p, ",\"id\":\"", e->id, sizeof(e->id)) ||
	    !canon_str(&p, ",\"patient\":\"", e->patient, sizeof(e->patient)) ||
	    !canon_str(&p, ",\"outcome\":\"", e->outcome, sizeof(e->outcome)) ||
	    !canon_str(&p, ",\"reason\":\"", e->reason, sizeof(e->reason)) ||
	    !canon_str(&p, ",\"src\":\"", e->src, sizeof(e->src)) ||
	    !canon_str(&p, ",\"rid\":\"", e->rid, sizeof(e->rid)) ||
	    !canon_int(&p, ",\"grant\":", &e->grant) ||
	    !canon_str(&p, ",\"nonce\":\"", e->nonce, sizeof(e->nonce)))
		return false;
	e->count = 1;
	if (strncmp(p, ",\"count\":", 9) == 0 &&
	    !canon_int(&p, ",\"count\":", &e->count))
		return false;
	if (!canon_str(&p, ",\"prev\":\"", e->prev, sizeof(e->prev)) ||
	    strcmp(p, "}") != 0)
		return false;
	return audit_entry_format(e, again, sizeof(again), &len) == PV_OK &&
	    len == n && memcmp(again, line, n) == 0;
}

bool
audit_entry_parse(const char *line, struct audit_entry *e, json_t **json)
{
	json_t *j, *count;

	memset(e, 0, sizeof(*e));
	if (json != NULL)
		*json = NULL;
	else if (parse_canonical(line, e))
		return true;
	memset(e, 0, sizeof(*e));
	if ((j = json_loads(line, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return false;
	count = json_object_get(j, "count");
	if (!json_is_integer(json_object_get(j, "seq")) ||
	    !json_is_string(json_object_get(j, "prev")) ||
	    (count != NULL &&
		(!json_is_integer(count) || json_integer_value(count) <= 1))) {
		json_decref(j);
		return false;
	}
	e->seq = take_int(j, "seq");
	e->count = count != NULL ? (int64_t)json_integer_value(count) : 1;
	e->actor = take_int(j, "actor");
	e->grant = take_int(j, "grant");
	take_str(j, "ts", e->ts, sizeof(e->ts));
	take_str(j, "role", e->role, sizeof(e->role));
	take_str(j, "action", e->action, sizeof(e->action));
	take_str(j, "type", e->type, sizeof(e->type));
	take_str(j, "id", e->id, sizeof(e->id));
	take_str(j, "patient", e->patient, sizeof(e->patient));
	take_str(j, "outcome", e->outcome, sizeof(e->outcome));
	take_str(j, "reason", e->reason, sizeof(e->reason));
	take_str(j, "src", e->src, sizeof(e->src));
	take_str(j, "rid", e->rid, sizeof(e->rid));
	take_str(j, "nonce", e->nonce, sizeof(e->nonce));
	take_str(j, "prev", e->prev, sizeof(e->prev));
	if (json != NULL)
		*json = j;
	else
		json_decref(j);
	return true;
}

int64_t
pv_audit_entry_count(json_t *entry)
{
	json_t *c = json_object_get(entry, "count");

	return json_is_integer(c) && json_integer_value(c) > 1
	    ? (int64_t)json_integer_value(c)
	    : 1;
}
