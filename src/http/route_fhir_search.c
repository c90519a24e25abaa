/*
 * route_fhir_search.c — GET /fhir/{type}?patient= (and subject=),
 * GET /fhir/Patient/{pid}/{type}, and Patient?identifier= (the blind
 * index).
 *
 * A search is authorized on the patient whose compartment it reads; an
 * identifier search names every Patient it returns in an audit entry of
 * its own. Paging links carry _count and _offset.
 */
#include "http/route_fhir.h"

#include <string.h>

static void
add_link(json_t *links, const char *rel, const char *base, const char *path,
    const char *query, int64_t count, int64_t offset)
{
	char url[700];

	if (pv_snprintf(url, sizeof(url), "%s%s?%s%s_count=%lld&_offset=%lld",
		base, path, query, query[0] ? "&" : "", (long long)count,
		(long long)offset) == PV_OK)
		json_array_append_new(links,
		    json_pack("{s:s, s:s}", "relation", rel, "url", url));
}

/*
 * A paging link: base + path, then "query&" when the search has a query
 * of its own (e.g. "patient=ID"), then _count and _offset.
 */
static void
compartment_search(const struct pv_hreq *q, struct pv_reply *p,
    const char *type, const char *pid, const char *path, const char *param)
{
	struct pv_bundle_ctx b = { q, json_array(), "", false, PV_OK, 0 };
	int64_t count, offset;
	bool more = false;
	json_t *out, *links;
	char bid[PV_ID_HEX_LEN + 1], query[PV_PATIENT_ID_MAX + 16] = "";

	pv_note_subject(p, type, NULL, pid);
	if (!pv_http_paging(q, p, PV_FHIR_PAGE_DEFAULT, PV_FHIR_PAGE_MAX,
		&count, &offset) ||
	    !pv_http_authorize(q, p, PV_ACT_SEARCH, type, pid, PV_CLASS_NORMAL,
		NULL)) {
		json_decref(b.entries);
		return;
	}
	pv_http_base(q, b.base, sizeof(b.base));
	if (strcmp(type, "Patient") == 0) {
		/* A Patient's compartment of type Patient is the Patient. */
		struct pv_record rec;
		pv_status st =
		    pv_record_open(q->svc->vault, "Patient", pid, 0, &rec);

		if (st == PV_OK && !rec.is_deleted && offset == 0)
			pv_bundle_add(&b, &rec, PV_OK);
		else if (st != PV_OK && st != PV_ENOTFOUND)
			b.failure = st;
		pv_record_clear(&rec);
	} else if (pv_route_record_error(q, p,
		       pv_record_search(q->svc->vault, pid, type, count, offset,
			   pv_bundle_add, &b, &more))) {
		json_decref(b.entries);
		return;
	}
	if (pv_route_record_error(q, p, b.failure)) {
		json_decref(b.entries);
		return;
	}
	out = pv_bundle_new("searchset", b.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	links = json_array();
	if (param[0] != '\0')
		PV_IGNORE(
		    pv_snprintf(query, sizeof(query), "%s%s", param, pid));
	add_link(links, "self", b.base, path, query, count, offset);
	if (more)
		add_link(links, "next", b.base, path, query, count,
		    offset + count);
	if (offset > 0)
		add_link(links, "previous", b.base, path, query, count,
		    offset > count ? offset - count : 0);
	json_object_set_new(out, "link", links);
	pv_reply_json(p, 200, out);
}

/*
 * Patient?identifier=system|value: the blind index.
 *
 * Outside review, findings 4 and 8. Every Patient returned is named in an
 * audit entry of its own (the first in the request's entry, the others
 * through pv_note_also), so it shows in that patient's access log,
 * incident reports and snooping detection like a read. And a role whose
 * responses have `identifier` filtered out may not search by it either:
 * matching is itself an oracle (guess values until one matches).
 */
#define PV_IDENT_MATCH_MAX 20

struct ident_ctx {
	struct pv_bundle_ctx b;
	struct pv_reply *p; /* the audit note names each match */
	size_t n;
};

static bool
add_patient_match(void *arg, struct pv_record *rec, pv_status st)
{
	struct ident_ctx *c = arg;
	const struct pv_hreq *q = c->b.q;
	struct pv_reply *p = c->p;
	struct pv_authz_request rq = { q->who, PV_ACT_SEARCH, "Patient",
		rec->patient, PV_CLASS_NORMAL, pv_now() };
	struct pv_authz_decision d;

	if (st != PV_OK) {
		c->b.failure = st;
		return false;
	}
	pv_authz_decide(q->svc->policy, q->svc->vault, &rq, &d);
	if (!d.is_allowed)
		return true; /* only patients this caller may see */
	if (c->n >= PV_IDENT_MATCH_MAX) {
		c->b.failure = PV_ETOOBIG;
		return false;
	}
	if (c->n == 0) {
		pv_note_subject(p, "Patient", rec->id, rec->patient);
		pv_note_grant(p, d.grant_id);
	} else if (!pv_note_also(p, "Patient", rec->id, rec->patient,
		       d.grant_id)) {
		c->b.failure = PV_ENOMEM;
		return false;
	}
	c->n++;
	if (strcmp(q->who->role, "patient") != 0)
		pv_detect_patient_access(q->svc->detect, q->who->user_id,
		    rec->patient, rq.now, q->rid);
	return pv_bundle_add(&c->b, rec, st);
}

/* True when the caller's role sees Patient.identifier in responses. */
static bool
may_see_identifier(const struct pv_hreq *q)
{
	const char *fields[PV_POLICY_FILTERS_MAX];
	size_t i,
	    n = pv_authz_filters(q->svc->policy, q->who->role, "Patient",
		fields, PV_ARRAY_LEN(fields));

	for (i = 0; i < n; i++)
		if (strcmp(fields[i], "identifier") == 0)
			return false;
	return true;
}

static void
identifier_search(const struct pv_hreq *q, struct pv_reply *p,
    const char *token)
{
	struct ident_ctx c = { { q, json_array(), "", false, PV_OK, 0 }, p, 0 };
	char bid[PV_ID_HEX_LEN + 1];
	json_t *out;
	pv_status st;

	pv_note_subject(p, "Patient", NULL, NULL);
	pv_http_base(q, c.b.base, sizeof(c.b.base));
	if (strlen(token) > 256 || !pv_utf8_is_valid(token, strlen(token))) {
		json_decref(c.b.entries);
		pv_reply_error(p, 400, "invalid", "identifier is too long");
		return;
	}
	if (!may_see_identifier(q)) {
		json_decref(c.b.entries);
		pv_metric_inc(PV_M_AUTHZ_DENIED);
		pv_note_outcome(p, "denied", "identifier_filtered");
		pv_reply_error_detail(p, 403, "forbidden",
		    "identifier_filtered",
		    "your role does not see patient identifiers, so it may not "
		    "search by them");
		return;
	}
	st = pv_record_find_identifier(q->svc->vault, token, add_patient_match,
	    &c);
	if (st == PV_OK && c.b.failure == PV_ETOOBIG) {
		json_decref(c.b.entries);
		pv_reply_error(p, 400, "too-costly",
		    "more than 20 patients "
		    "match this identifier; search with system|value");
		return;
	}
	if (pv_route_record_error(q, p, st) ||
	    pv_route_record_error(q, p, c.b.failure)) {
		json_decref(c.b.entries);
		return;
	}
	pv_note_outcome(p, "allowed",
	    c.n > 0 ? "identifier_match" : "identifier_no_match");
	out = pv_bundle_new("searchset", c.b.entries);
	pv_random_id(bid);
	json_object_set_new(out, "id", json_string(bid));
	pv_reply_json(p, 200, out);
}

/* patient=X, patient=Patient/X, subject=Patient/X */
static const char *
patient_param(const struct pv_hreq *q)
{
	const char *p = pv_hreq_query(q, "patient");

	if (p == NULL) {
		p = pv_hreq_query(q, "subject");
		if (p != NULL && strncmp(p, "Patient/", 8) != 0)
			return "";
	}
	if (p != NULL && strncmp(p, "Patient/", 8) == 0)
		p += 8;
	return p;
}

void
route_fhir_search(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *type = q->params[0], *pid, *ident;
	char path[80];

	if (!pv_route_need_type(p, type))
		return;
	pv_note_subject(p, type, NULL, NULL);
	ident = pv_hreq_query(q, "identifier");
	if (strcmp(type, "Patient") == 0 && ident != NULL) {
		identifier_search(q, p, ident);
		return;
	}
	pid = patient_param(q);
	if (pid == NULL || !pv_fhir_id_is_valid(pid)) {
		pv_reply_error(p, 400, "invalid",
		    "search a patient's compartment: ?patient={id} (or, for "
		    "Patient, ?identifier=system|value)");
		return;
	}
	PV_IGNORE(pv_snprintf(path, sizeof(path), "/fhir/%s", type));
	compartment_search(q, p, type, pid, path, "patient=");
}

void
route_fhir_compartment(const struct pv_hreq *q, struct pv_reply *p)
{
	const char *pid = q->params[0], *type = q->params[1];
	char path[200];

	if (!pv_route_need_type(p, type))
		return;
	if (!pv_fhir_id_is_valid(pid)) {
		pv_reply_error(p, 400, "invalid", "invalid patient id");
		return;
	}
	PV_IGNORE(
	    pv_snprintf(path, sizeof(path), "/fhir/Patient/%s/%s", pid, type));
	compartment_search(q, p, type, pid, path, "");
}
