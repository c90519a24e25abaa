/*
 * hreq.c — reading a request, for handlers (no libmicrohttpd here: the
 * lookups go through struct pv_hreq's functions).
 *
 * Guarantees: a JSON body is accepted only as one object of valid UTF-8
 * with no duplicate keys and no NUL characters (jansson's strict mode),
 * after the size limit was enforced while reading; anything else gets a
 * 4xx OperationOutcome naming what to fix and changes nothing.
 */
#include "http/handler.h"

#include <string.h>
#include <strings.h>

const char *
pv_hreq_header(const struct pv_hreq *q, const char *name)
{
	return q->lookup(q->src, PV_LOOKUP_HEADER, name);
}

const char *
pv_hreq_query(const struct pv_hreq *q, const char *name)
{
	return q->lookup(q->src, PV_LOOKUP_QUERY, name);
}

const char *
pv_hreq_cookie(const struct pv_hreq *q, const char *name)
{
	return q->lookup(q->src, PV_LOOKUP_COOKIE, name);
}

const char *
pv_hreq_header_joined(const struct pv_hreq *q, const char *name, char *buf,
    size_t bufsz)
{
	return q->joined(q->src, name, buf, bufsz);
}

static bool
is_json_type(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return true; /* lenient: many clients omit it */
	n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 21 && strncasecmp(ct, "application/fhir+json", 21) == 0);
}

json_t *
pv_hreq_json_object(const struct pv_hreq *q, struct pv_reply *r)
{
	json_error_t jerr;
	json_t *j;

	if (!is_json_type(pv_hreq_header(q, "Content-Type"))) {
		pv_reply_error(r, 415, "not-supported",
		    "send the body as application/json or "
		    "application/fhir+json");
		return NULL;
	}
	if (q->body_len == 0) {
		pv_reply_error(r, 400, "invalid", "a JSON body is required");
		return NULL;
	}
	if (!pv_utf8_is_valid((const char *)q->body, q->body_len)) {
		pv_reply_error(r, 400, "invalid",
		    "the body is not valid UTF-8");
		return NULL;
	}
	j = json_loadb((const char *)q->body, q->body_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		pv_reply_error(r, 400, "invalid",
		    "the body is not well-formed JSON (or repeats a key)");
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		pv_reply_error(r, 400, "invalid",
		    "the body must be a JSON object");
		return NULL;
	}
	return j;
}

const char *
pv_json_str(json_t *obj, const char *key, size_t maxlen)
{
	json_t *v = json_object_get(obj, key);
	size_t n;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n == 0 || n > maxlen)
		return NULL;
	return json_string_value(v);
}

const char *
pv_hreq_token(const struct pv_hreq *q, char *buf, size_t bufsz)
{
	const char *auth = pv_hreq_header(q, "Authorization");
	const char *cookie;

	if (auth != NULL) {
		if (strncasecmp(auth, "Bearer ", 7) != 0)
			return NULL;
		auth += 7;
		while (*auth == ' ')
			auth++;
		return pv_strlcpy(buf, auth, bufsz) == PV_OK ? buf : NULL;
	}
	cookie = pv_hreq_cookie(q, "phivault_session");
	if (cookie == NULL)
		return NULL;
	return pv_strlcpy(buf, cookie, bufsz) == PV_OK ? buf : NULL;
}
