/*
 * policy.c — the policy table and the decision function.
 *
 * The built-in table is SPEC.md's role table, row for row:
 *
 *   role        type           actions  relationship
 *   patient     *              r s      self        own compartment
 *   patient     Communication  c        self        may write messages
 *   patient     AuditEvent     r s      self        own access log
 *   clinician   *              cruds    careteam    (or break-glass)
 *   clinician   Patient        c        none        new patients
 *   clinician   Patient        g        none        break-glass, any patient
 *   nurse       *              r s      careteam
 *   nurse       Observation    c        careteam
 *   auditor     AuditEvent     r s      any
 *   admin       *              a        none        users, teams, keys
 *   researcher  *              x        none        de-identified export
 *   service     *              cruds    scope       SMART scopes decide
 *
 *   filter  nurse  Patient  identifier   (no national ids for nurses)
 *
 * Restricted data (meta.security: mental health, HIV, substance use, ...)
 * needs more than the row: the patient's own record, a role listed in
 * "restricted", the account permission "restricted" (user grant), or a
 * break-glass grant.
 *
 * Cost: a decision scans at most PV_POLICY_RULES_MAX short rows and does
 * at most two indexed lookups (care team, grant) — see
 * bench/micro/authz_bench.c.
 *
 * Defends against: horizontal privilege escalation (another patient's
 * data), role creep (admins and auditors never read clinical data), and
 * silent failure (every error denies).
 */
#include "authz/authz.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A(x) (1u << (x))
#define CRUDS                                                                  \
	(A(PV_ACT_CREATE) | A(PV_ACT_READ) | A(PV_ACT_UPDATE) |                \
	    A(PV_ACT_DELETE) | A(PV_ACT_SEARCH))
#define RS (A(PV_ACT_READ) | A(PV_ACT_SEARCH))

static const struct pv_policy_rule default_rules[] = {
	{ "patient", "*", RS, PV_REL_SELF },
	{ "patient", "Communication", A(PV_ACT_CREATE), PV_REL_SELF },
	{ "patient", "AuditEvent", RS, PV_REL_SELF },
	{ "clinician", "*", CRUDS, PV_REL_CARETEAM },
	{ "clinician", "Patient", A(PV_ACT_CREATE), PV_REL_NONE },
	{ "clinician", "Patient", A(PV_ACT_BREAK_GLASS), PV_REL_NONE },
	{ "nurse", "*", RS, PV_REL_CARETEAM },
	{ "nurse", "Observation", A(PV_ACT_CREATE), PV_REL_CARETEAM },
	{ "auditor", "AuditEvent", RS, PV_REL_ANY },
	{ "admin", "*", A(PV_ACT_ADMIN), PV_REL_NONE },
	{ "researcher", "*", A(PV_ACT_EXPORT), PV_REL_NONE },
	{ "service", "*", CRUDS, PV_REL_SCOPE },
};

static const struct pv_policy_filter default_filters[] = {
	{ "nurse", "Patient", "identifier" },
};

void
pv_policy_defaults(struct pv_policy *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->rules, default_rules, sizeof(default_rules));
	p->rules_n = PV_ARRAY_LEN(default_rules);
	memcpy(p->filters, default_filters, sizeof(default_filters));
	p->filters_n = PV_ARRAY_LEN(default_filters);
}

static const char action_letters[PV_ACT_N] = { 'c', 'r', 'u', 'd', 's', 'g',
	'x', 'a' };

static bool
parse_actions(const char *s, unsigned *out)
{
	unsigned bits = 0;
	size_t i;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		for (i = 0; i < PV_ACT_N && action_letters[i] != *s; i++)
			;
		if (i == PV_ACT_N)
			return false;
		bits |= A(i);
	}
	*out = bits;
	return true;
}

static bool
parse_relation(const char *s, pv_relation *out)
{
	static const struct {
		const char *name;
		pv_relation rel;
	} rels[] = {
		{ "none", PV_REL_NONE },
		{ "self", PV_REL_SELF },
		{ "careteam", PV_REL_CARETEAM },
		{ "scope", PV_REL_SCOPE },
		{ "any", PV_REL_ANY },
	};
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(rels); i++)
		if (strcmp(s, rels[i].name) == 0) {
			*out = rels[i].rel;
			return true;
		}
	return false;
}

static int
split(char *line, char **w, int max)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL && n < max;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		w[n++] = tok;
	return tok != NULL ? max + 1 : n;
}

static pv_status
load_line(struct pv_policy *p, char *line)
{
	char *w[6];
	int n;

	line[strcspn(line, "#")] = '\0';
	n = split(line, w, 5);
	if (n == 0)
		return PV_OK;
	if (strcmp(w[0], "allow") == 0 && n == 5) {
		struct pv_policy_rule *r;

		if (p->rules_n >= PV_POLICY_RULES_MAX ||
		    !pv_role_is_known(w[1]))
			return PV_EINVAL;
		r = &p->rules[p->rules_n];
		if (pv_strlcpy(r->role, w[1], sizeof(r->role)) != PV_OK ||
		    pv_strlcpy(r->type, w[2], sizeof(r->type)) != PV_OK ||
		    !parse_actions(w[3], &r->actions) ||
		    !parse_relation(w[4], &r->rel))
			return PV_EINVAL;
		p->rules_n++;
		return PV_OK;
	}
	if (strcmp(w[0], "filter") == 0 && n == 4) {
		struct pv_policy_filter *f;

		if (p->filters_n >= PV_POLICY_FILTERS_MAX ||
		    !pv_role_is_known(w[1]))
			return PV_EINVAL;
		f = &p->filters[p->filters_n];
		if (pv_strlcpy(f->role, w[1], sizeof(f->role)) != PV_OK ||
		    pv_strlcpy(f->type, w[2], sizeof(f->type)) != PV_OK ||
		    pv_strlcpy(f->field, w[3], sizeof(f->field)) != PV_OK)
			return PV_EINVAL;
		p->filters_n++;
		return PV_OK;
	}
	if (strcmp(w[0], "restricted") == 0 && n == 2) {
		if (!pv_role_is_known(w[1]))
			return PV_EINVAL;
		return pv_csv_append(p->restricted_roles,
			   sizeof(p->restricted_roles), w[1],
			   strlen(w[1])) == PV_OK
		    ? PV_OK
		    : PV_EINVAL;
	}
	return PV_EINVAL;
}

pv_status
pv_policy_load(struct pv_policy *p, const char *path, char *err, size_t errsz)
{
	char line[512];
	int lineno = 0;
	FILE *f;

	memset(p, 0, sizeof(*p));
	f = fopen(path, "r");
	if (f == NULL) {
		PV_IGNORE(
		    pv_strlcpy(err, "cannot read the policy file", errsz));
		return PV_EIO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			PV_IGNORE(pv_snprintf(err, errsz,
			    "policy line %d is too long", lineno));
			fclose(f);
			return PV_EINVAL;
		}
		if (load_line(p, line) != PV_OK) {
			PV_IGNORE(pv_snprintf(err, errsz,
			    "policy line %d: expected 'allow ROLE TYPE ACTIONS "
			    "RELATION', 'filter ROLE TYPE FIELD' or "
			    "'restricted "
			    "ROLE'",
			    lineno));
			fclose(f);
			return PV_EINVAL;
		}
	}
	fclose(f);
	return PV_OK;
}

/* ---- SMART scopes ------------------------------------------------------ */

static const char scope_letters[] = "cruds";

/* Parses one scope; perms gets a bitmask over "cruds". */
static bool
parse_scope(const char *s, size_t len, char *ctx, char *type, size_t typesz,
    unsigned *perms)
{
	const char *slash = memchr(s, '/', len), *dot;
	size_t tlen, plen, i, last = 0;

	if (slash == NULL || slash == s)
		return false;
	if (strncmp(s, "patient", (size_t)(slash - s)) == 0 && slash - s == 7)
		*ctx = 'p';
	else if (strncmp(s, "user", 4) == 0 && slash - s == 4)
		*ctx = 'u';
	else if (strncmp(s, "system", 6) == 0 && slash - s == 6)
		*ctx = 's';
	else
		return false;
	dot = memchr(slash, '.', len - (size_t)(slash - s));
	if (dot == NULL)
		return false;
	tlen = (size_t)(dot - slash - 1);
	if (tlen == 0 || tlen >= typesz)
		return false;
	memcpy(type, slash + 1, tlen);
	type[tlen] = '\0';
	plen = len - (size_t)(dot + 1 - s);
	*perms = 0;
	/* SMART v1 spellings. */
	if (plen == 4 && strncmp(dot + 1, "read", 4) == 0) {
		*perms = A(PV_ACT_READ) | A(PV_ACT_SEARCH);
		return true;
	}
	if (plen == 5 && strncmp(dot + 1, "write", 5) == 0) {
		*perms = A(PV_ACT_CREATE) | A(PV_ACT_UPDATE) | A(PV_ACT_DELETE);
		return true;
	}
	if (plen == 1 && dot[1] == '*') {
		*perms = CRUDS;
		return true;
	}
	/* v2: a non-empty subset of c r u d s, in that order, no repeats. */
	if (plen == 0 || plen > 5)
		return false;
	for (i = 0; i < plen; i++) {
		const char *at = strchr(scope_letters, dot[1 + i]);
		size_t pos;

		if (at == NULL || dot[1 + i] == '\0')
			return false;
		pos = (size_t)(at - scope_letters) + 1;
		if (pos <= last)
			return false;
		last = pos;
		*perms |= A(pos - 1); /* c=0 r=1 u=2 d=3 s=4 = pv_action */
	}
	return true;
}

/* True when the word w (len bytes, not terminated) is exactly name. */
static bool
is_scope_word(const char *w, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(w, name, len) == 0;
}

/* Next space-separated word of *p: sets *w and returns its length. */
static size_t
next_word(const char **p, const char **w)
{
	size_t len;

	while (**p == ' ')
		(*p)++;
	*w = *p;
	len = strcspn(*p, " ");
	*p += len;
	return len;
}

bool
pv_scopes_allow(const char *scopes, const char *type, pv_action action,
    char *context)
{
	const char *p = scopes, *w;
	char best = 0, ctx, stype[PV_TYPE_MAX + 1];
	unsigned perms;
	size_t len;

	*context = 0;
	if (action > PV_ACT_SEARCH)
		return false;
	while ((len = next_word(&p, &w)) > 0) {
		if (!parse_scope(w, len, &ctx, stype, sizeof(stype), &perms) ||
		    (strcmp(stype, "*") != 0 &&
			(type == NULL || strcmp(stype, type) != 0)) ||
		    (perms & A(action)) == 0)
			continue;
		/* The broadest context that allows it wins: system/ reaches
		 * every patient, patient/ and user/ only the client's own. */
		if (ctx == 's' || best == 0)
			best = ctx;
	}
	*context = best;
	return best != 0;
}

bool
pv_scopes_valid(const char *scopes)
{
	const char *p = scopes, *w;
	char ctx, stype[PV_TYPE_MAX + 1];
	unsigned perms;
	size_t len, n = 0;

	while ((len = next_word(&p, &w)) > 0) {
		if (is_scope_word(w, len, PV_SCOPE_RESTRICTED)) {
			n++;
			continue;
		}
		/* A type this server does not serve is a typo or a scope
		 * meant for another server: refused, never silently kept. */
		if (!parse_scope(w, len, &ctx, stype, sizeof(stype), &perms) ||
		    (strcmp(stype, "*") != 0 && !pv_fhir_type_is_known(stype)))
			return false;
		n++;
	}
	return n > 0;
}

bool
pv_scopes_has(const char *scopes, const char *word)
{
	const char *p = scopes, *w;
	size_t len;

	while ((len = next_word(&p, &w)) > 0)
		if (is_scope_word(w, len, word))
			return true;
	return false;
}

/* ---- the decision -------------------------------------------------------- */

bool
pv_authz_may_see_restricted(const struct pv_policy *p,
    const struct pv_principal *who)
{
	if (pv_config_list_has(p->restricted_roles, who->role))
		return true;
	/* Whole scope words only: "x-phivault/restricted-no" is not it
	 * (outside review, finding 11). */
	if (strcmp(who->role, "service") == 0)
		return pv_scopes_has(who->scopes, PV_SCOPE_RESTRICTED);
	return pv_config_list_has(who->scopes, "restricted");
}

/*
 * "*" is every clinical type, not the audit trail: AuditEvent (who
 * accessed a patient's data) is for the patient and auditors only
 * (SPEC.md), so a row must name it.
 */
static bool
type_matches(const char *rule, const char *type)
{
	if (strcmp(rule, "*") == 0)
		return type == NULL || strcmp(type, "AuditEvent") != 0;
	return type != NULL && strcmp(rule, type) == 0;
}

/*
 * Checks one relationship. *reason gets why not (or how, on success);
 * *grant the break-glass grant relied on.
 */
static bool
relation_holds(struct pv_vault *v, const struct pv_authz_request *rq,
    pv_relation rel, const char **reason, int64_t *grant)
{
	const struct pv_principal *who = rq->who;
	struct pv_store *s = v->store;
	bool member = false;
	char ctx = 0;

	switch (rel) {
	case PV_REL_NONE:
		*reason = "role";
		return true;
	case PV_REL_ANY:
		*reason = "role_any_patient";
		return true;
	case PV_REL_SELF:
		if (who->patient_id[0] == '\0') {
			*reason = "no_patient_link";
			return false;
		}
		if (rq->patient == NULL ||
		    strcmp(who->patient_id, rq->patient) != 0) {
			*reason = "not_own_record";
			return false;
		}
		*reason = "self";
		return true;
	case PV_REL_CARETEAM:
		if (rq->patient == NULL) {
			*reason = "no_patient";
			return false;
		}
		if (pv_store_careteam_has(s, who->user_id, rq->patient,
			&member) != PV_OK) {
			*reason = "store_error";
			return false;
		}
		if (member) {
			*reason = "careteam";
			/* A team member without clearance for restricted data
			 * may still reach it in an emergency through their own
			 * break-glass grant (marked like any other). */
			if (rq->cls == PV_CLASS_RESTRICTED &&
			    pv_store_grant_active(s, who->user_id, rq->patient,
				rq->now, grant) == PV_OK)
				*reason = "break_glass";
			return true;
		}
		if (pv_store_grant_active(s, who->user_id, rq->patient, rq->now,
			grant) == PV_OK) {
			*reason = "break_glass";
			return true;
		}
		*grant = 0;
		*reason = "not_on_careteam";
		return false;
	case PV_REL_SCOPE:
		if (!pv_scopes_allow(who->scopes, rq->type, rq->action, &ctx)) {
			*reason = "scope";
			return false;
		}
		if (ctx == 's') {
			*reason = "system_scope";
			return true;
		}
		/* patient/ and user/ scopes: only the client's own patients. */
		if (rq->patient == NULL ||
		    pv_store_careteam_has(s, who->user_id, rq->patient,
			&member) != PV_OK ||
		    !member) {
			*reason = "scope_not_on_careteam";
			return false;
		}
		*reason = "scope";
		return true;
	}
	*reason = "policy_error";
	return false;
}

void
pv_authz_decide(const struct pv_policy *p, struct pv_vault *v,
    const struct pv_authz_request *rq, struct pv_authz_decision *out)
{
	const char *why = "no_rule";
	size_t i;

	memset(out, 0, sizeof(*out));
	out->reason = why;
	if (rq->who == NULL || !pv_role_is_known(rq->who->role) ||
	    rq->action >= PV_ACT_N) {
		out->reason = "unknown_role";
		return;
	}
	for (i = 0; i < p->rules_n; i++) {
		const struct pv_policy_rule *r = &p->rules[i];
		const char *reason = NULL;
		int64_t grant = 0;

		if (strcmp(r->role, rq->who->role) != 0 ||
		    !type_matches(r->type, rq->type) ||
		    (r->actions & A(rq->action)) == 0)
			continue;
		if (!relation_holds(v, rq, r->rel, &reason, &grant)) {
			why = reason;
			continue;
		}
		if (rq->cls == PV_CLASS_RESTRICTED && r->rel != PV_REL_SELF &&
		    grant == 0 && !pv_authz_may_see_restricted(p, rq->who)) {
			why = "restricted_class";
			continue;
		}
		out->is_allowed = true;
		out->reason = reason;
		out->grant_id = grant;
		return;
	}
	out->reason = why;
}

bool
pv_authz_may_ever(const struct pv_policy *p, const struct pv_principal *who,
    pv_action action, const char *type)
{
	size_t i;
	char ctx;

	if (who == NULL || !pv_role_is_known(who->role) || action >= PV_ACT_N)
		return false;
	for (i = 0; i < p->rules_n; i++) {
		const struct pv_policy_rule *r = &p->rules[i];

		if (strcmp(r->role, who->role) != 0 ||
		    !type_matches(r->type, type) ||
		    (r->actions & A(action)) == 0)
			continue;
		if (r->rel == PV_REL_SCOPE &&
		    !pv_scopes_allow(who->scopes, type, action, &ctx))
			continue;
		return true;
	}
	return false;
}

size_t
pv_authz_filters(const struct pv_policy *p, const char *role, const char *type,
    const char **out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < p->filters_n && n < max; i++)
		if (strcmp(p->filters[i].role, role) == 0 &&
		    type_matches(p->filters[i].type, type))
			out[n++] = p->filters[i].field;
	return n;
}
