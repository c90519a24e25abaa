/*
 * authz.h — the one authorization decision.
 *
 * Every request that touches patient data (and every audit or admin
 * request) is decided by pv_authz_decide from (principal, action,
 * resource type, patient, data class). Deny by default: only a row of the
 * policy table can allow, and only when its relationship check passes.
 * Handlers never decide access themselves; the reason code goes into the
 * audit entry.
 *
 * The policy (role x type x actions -> relationship) is a small readable
 * table (policy.c); [authz] policy_file replaces it with rows of the same
 * shape. See docs/POLICY.md.
 */
#ifndef PV_AUTHZ_AUTHZ_H
#define PV_AUTHZ_AUTHZ_H

#include "authz/principal.h"
#include "core/vault.h"

typedef enum {
	PV_ACT_CREATE = 0, /* c */
	PV_ACT_READ, /* r (read, history, vread) */
	PV_ACT_UPDATE, /* u */
	PV_ACT_DELETE, /* d */
	PV_ACT_SEARCH, /* s */
	PV_ACT_BREAK_GLASS, /* g: emergency access to one patient */
	PV_ACT_EXPORT, /* x: de-identified export */
	PV_ACT_ADMIN, /* a: users, care teams, keys, erasure */
	PV_ACT_N
} pv_action;

typedef enum {
	PV_CLASS_NORMAL = 0,
	PV_CLASS_RESTRICTED /* meta.security: mental health, HIV, SUD... */
} pv_data_class;

/* Who the row applies to a patient through. */
typedef enum {
	PV_REL_NONE = 0, /* type-level (admin, export): no patient */
	PV_REL_SELF, /* the patient account's own compartment */
	PV_REL_CARETEAM, /* on the patient's care team (or break-glass) */
	PV_REL_SCOPE, /* service clients: SMART scopes decide */
	PV_REL_ANY /* every patient (auditor reading audit data) */
} pv_relation;

struct pv_policy_rule {
	char role[PV_ROLE_MAX + 1];
	char type[PV_TYPE_MAX + 1]; /* FHIR type, "AuditEvent", "*" */
	unsigned actions; /* bit (1 << pv_action) */
	pv_relation rel;
};

struct pv_policy_filter { /* data minimisation on read/search */
	char role[PV_ROLE_MAX + 1];
	char type[PV_TYPE_MAX + 1];
	char field[64]; /* top-level element to remove */
};

#define PV_POLICY_RULES_MAX 128
#define PV_POLICY_FILTERS_MAX 64

struct pv_policy {
	struct pv_policy_rule rules[PV_POLICY_RULES_MAX];
	size_t rules_n;
	struct pv_policy_filter filters[PV_POLICY_FILTERS_MAX];
	size_t filters_n;
	char restricted_roles[PV_CONF_STR_MAX]; /* roles cleared for
						 * restricted data */
};

/* Built-in policy (SPEC.md's role table). */
void pv_policy_defaults(struct pv_policy *p);
/*
 * Loads a policy file (replacing the defaults). Any unknown word, role,
 * action letter or relation is an error with its line number in err:
 * a broken policy stops start-up rather than run with a guess.
 */
PV_MUST_CHECK pv_status pv_policy_load(struct pv_policy *p, const char *path,
    char *err, size_t errsz);

struct pv_authz_request {
	const struct pv_principal *who;
	pv_action action;
	const char *type; /* FHIR type or "AuditEvent"; NULL = none */
	const char *patient; /* NULL for type-level actions */
	pv_data_class cls;
	int64_t now;
};

struct pv_authz_decision {
	bool is_allowed;
	const char *reason; /* constant code for the audit entry */
	int64_t grant_id; /* break-glass grant relied on, or 0 */
};

/*
 * The decision. Fails closed: a store error, an unknown role, a patient
 * account without a link, or a service without a matching scope all deny.
 */
void pv_authz_decide(const struct pv_policy *p, struct pv_vault *v,
    const struct pv_authz_request *req, struct pv_authz_decision *out);

/* Fields this role must not see in type (NULL-terminated, borrowed). */
size_t pv_authz_filters(const struct pv_policy *p, const char *role,
    const char *type, const char **out, size_t max);

/* True when role (or the principal's own permission list) is cleared for
 * restricted data. */
bool pv_authz_may_see_restricted(const struct pv_policy *p,
    const struct pv_principal *who);

/*
 * SMART App Launch v2 scopes: "patient/Observation.rs", "system/Patient.cruds",
 * "user/Patient.r". True when scopes (space-separated) allow action on
 * type; *context gets 'p', 'u' or 's' of the matching scope.
 */
bool pv_scopes_allow(const char *scopes, const char *type, pv_action action,
    char *context);
/* The scope that clears a service client for restricted data. */
#define PV_SCOPE_RESTRICTED "phivault/restricted"
/* True when every scope in scopes is well-formed and names a type this
 * server serves (or "*"), or is PV_SCOPE_RESTRICTED. */
bool pv_scopes_valid(const char *scopes);
/*
 * True when some rule could let who do action on type, whatever the
 * patient (relations are not evaluated; scopes are): a cheap first
 * check made before a request body is read. False means the full
 * decision would deny too.
 */
bool pv_authz_may_ever(const struct pv_policy *p,
    const struct pv_principal *who, pv_action action, const char *type);
/* True when scopes (space-separated) holds word as a whole scope. */
bool pv_scopes_has(const char *scopes, const char *word);

/* ---- care teams and break-glass (careteam.c, breakglass.c) ---- */

/* Adds/removes user (by name) to/from patient's care team. */
PV_MUST_CHECK pv_status pv_careteam_add(struct pv_vault *v, const char *user,
    const char *patient);
PV_MUST_CHECK pv_status pv_careteam_remove(struct pv_vault *v, const char *user,
    const char *patient);

#define PV_BREAK_GLASS_REASON_MAX 500
/* Letters or digits a reason needs (pv_utf8_word_chars: spaces, marks,
 * punctuation, format, private-use and unassigned code points do not
 * count). */
#define PV_BREAK_GLASS_REASON_MIN_WORD 3

/*
 * Opens a break-glass grant for who on patient: reason (checked with
 * pv_breakglass_reason_is_valid, else PV_EINVAL) sealed under the patient's
 * DEK; lasts [authz] break_glass_duration. Caller has authorized
 * PV_ACT_BREAK_GLASS. grant_id > 0 is the id to use (chosen beforehand with
 * pv_breakglass_new_id so the audit entry can name it); 0 = assign one.
 */
PV_MUST_CHECK pv_status pv_breakglass_open(struct pv_vault *v,
    const struct pv_principal *who, const char *patient, const char *reason,
    int64_t grant_id, struct pv_grant *out);
/* A random positive grant id (48 bits). */
int64_t pv_breakglass_new_id(void);
/* True when reason is valid UTF-8 of 1..PV_BREAK_GLASS_REASON_MAX code
 * points with at least PV_BREAK_GLASS_REASON_MIN_WORD letters or digits. */
bool pv_breakglass_reason_is_valid(const char *reason);
/* Decrypts a grant's reason into out (caller wipes). */
PV_MUST_CHECK pv_status pv_breakglass_reason(struct pv_vault *v,
    const struct pv_grant *g, char *out, size_t outsz);

#endif
