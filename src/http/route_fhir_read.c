/*
 * route_fhir_read.c — GET /fhir/{type}/{id}, its /_history/{vid} and
 * /_history.
 *
 * Every read has the same shape: the stored row names the patient (never
 * the client), authorization on that, then the ciphertext is opened; a
 * resource of an erased patient is 410 before authorization. The stored
 * JSON goes out unparsed when no field filter or security label needs
 * looking at. Errors never echo stored data or internals.
 */
#include "http/route_fhir.h"

#include <stdlib.h>
#include <string.h>

/*
 * The stored JSON can go out as it is when the role filters no field of
 * this type and the resource has no security labels to check. Stored text
 * is jansson's output, which never escapes a plain ASCII key, so a label
 * always shows as the literal key "security"; a false alarm (the word in
 * a value) only costs the parse.
 */
static bool
needs_parse(const struct pv_hreq *q, const struct pv_record *rec)
{
	const char *fields[PV_FILTERS_MAX];

	return pv_authz_filters(q->svc->policy, q->who->role, rec->type, fields,
		   PV_FILTERS_MAX) > 0 ||
	    memmem(rec->text, rec->text_len, "\"security\"", 10) != NULL;
}

static void
read_version(const struct pv_hreq *q, struct pv_reply *p, int64_t version)
{
	const char *type = q->params[0], *id = q->params[1];
	struct pv_record rec;

	if (!pv_route_need_type(p, type))
		return;
	pv_note_subject(p, type, id, NULL);
	if (pv_route_record_error(q, p,
		pv_record_fetch(q->svc->vault, type, id, version, &rec)))
		return;
	pv_note_subject(p, type, id, rec.patient);
	if (pv_route_erased(q, p, &rec) ||
	    !pv_http_authorize(q, p, PV_ACT_READ, type, rec.patient,
		PV_CLASS_NORMAL, NULL))
		goto done;
	if (rec.is_deleted) {
		pv_reply_error_detail(p, 410, "deleted", "gone",
		    "this resource was deleted");
		pv_note_outcome(p, "failed", "deleted");
		goto done;
	}
	if (pv_route_record_error(q, p,
		pv_record_unseal(q->svc->vault, &rec, false)))
		goto done;
	if (!needs_parse(q, &rec)) {
		pv_route_set_etag(p, &rec);
		pv_reply_raw(p, 200, "application/fhir+json", rec.text,
		    rec.text_len);
		rec.text = NULL; /* the reply owns (and wipes) it */
		goto done;
	}
	if (pv_route_record_error(q, p, pv_record_parse(&rec)) ||
	    !pv_route_may_see(q, p, PV_ACT_READ, &rec))
		goto done;
	pv_route_filter(q, rec.res, type);
	pv_route_set_etag(p, &rec);
	pv_reply_json(p, 200, json_incref(rec.res));
done:
	pv_record_clear(&rec);
}

void
route_fhir_read(const struct pv_hreq *q, struct pv_reply *p)
{
	read_version(q, p, 0);
}

void
route_fhir_vread(const struct pv_hreq *q, struct pv_reply *p)
{
	char *end;
	long long v = strtoll(q->params[2], &end, 10);

	if (*end != '\0' || v <= 0) {
		pv_reply_error(p, 400, "invalid", "the version id is a number");
		return;
	}
	read_version(q, p, v);
}

/* History is a read: a restricted resource (by its latest version) needs
 * what reading it needs, as read and vread do; older restricted versions
 * are withheld entry by entry (pv_bundle_add). */
static bool
history_may_see(const struct pv_hreq *q, struct pv_reply *p, const char *type,
    const char *id)
{
	struct pv_record cur;
	bool ok;

	if (pv_route_record_error(q, p,
		pv_record_open(q->svc->vault, type, id, 0, &cur)))
		return false;
	ok = pv_route_may_see(q, p, PV_ACT_READ, &cur);
	pv_record_clear(&cur);
	return ok;
}

void
route_fhir_history(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *type = q->params[0], *id = q->params[1];
	struct pv_bundle_ctx b = { q, json_array(), "", true, PV_OK, 0 };
	struct pv_record meta;
	char bid[PV_ID_HEX_LEN + 1];
	json_t *out;

	if (!pv_route_need_type(p, type)) {
		json_decref(b.entries);
		return;
	}
	pv_note_subject(p, type, id, NULL);
	if (pv_route_record_error(q, p,
		pv_record_meta(q->svc->vault, type, id, 0, &meta)) ||
	    (pv_note_subject(p, type, id, meta.patient),
		pv_route_erased(q, p, &meta)) ||
	    !pv_http_authorize(q, p, PV_ACT_READ, type, meta.patient,
		PV_CLASS_NORMAL, NULL) ||
	    !history_may_see(q, p, type, id)) {
		json_decref(b.entries);
		return;
	}
	pv_http_base(q, b.base, sizeof(b.base));
	if (pv_route_record_error(q, p,
		pv_record_history(q->svc->vault, type, id, pv_bundle_add,
		    &b)) ||
	    pv_route_record_error(q, p, b.failure)) {
		json_decref(b.entries);
		return;
	}
	out = pv_bundle_new("history", b.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	json_object_set_new(out, "total",
	    json_integer(
		(json_int_t)json_array_size(json_object_get(out, "entry"))));
	pv_reply_json(p, 200, out);
}
