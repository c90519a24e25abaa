/*
 * compliance.c — `phivault compliance DIR`: evidence that the controls
 * are in place, in one report an auditor can file.
 *
 * Each check reads state the vault already has (no new data is kept):
 * the audit trail is re-verified, accounts are read from the store, key
 * versions from keys.db, the certificate from tls/, settings from
 * phivault.conf, the access review and a dry-run purge are computed.
 * A fail is a control that is not working (exit 1); a warn is a deviation
 * to review; info is context.
 */
#include "report/report.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "authz/authz.h"
#include "lifecycle/lifecycle.h" /* retention check: a dry-run purge */

#include <string.h>

struct report {
	json_t *checks;
	int failed, warnings;
};

static void
add(struct report *r, const char *check, const char *status, const char *detail)
{
	if (strcmp(status, "fail") == 0)
		r->failed++;
	else if (strcmp(status, "warn") == 0)
		r->warnings++;
	json_array_append_new(r->checks,
	    json_pack("{s:s, s:s, s:s}", "check", check, "status", status,
		"detail", detail));
}

static void
check_audit(struct pv_vault *v, struct report *r)
{
	struct pv_verify_report vr;
	struct pv_checkpoint cp;
	char d[512];

	/* No unsigned tail is accepted here: entries no signature covers
	 * are a failed control, whatever their cause. */
	if (pv_audit_verify(&v->audit_loc, v->audit_root_pk, 0, NULL, &vr, NULL,
		NULL) != PV_OK) {
		add(r, "audit_trail", "fail", "the audit trail cannot be read");
		return;
	}
	if (vr.quarantines > 0) {
		PV_IGNORE(pv_snprintf(d, sizeof(d),
		    "%llu unsigned entries were "
		    "moved out of the trail at start-up (%llu quarantine "
		    "records; audit/quarantine.jsonl): a crash before their "
		    "batch was signed, or entries written without the key",
		    (unsigned long long)vr.quarantined,
		    (unsigned long long)vr.quarantines));
		add(r, "audit_quarantine", "warn", d);
	}
	if (!vr.is_ok) {
		PV_IGNORE(pv_snprintf(d, sizeof(d),
		    "verification failed at "
		    "entry %lld (%s): %s",
		    (long long)vr.bad_entry, vr.problem, vr.detail));
		add(r, "audit_trail", "fail", d);
		return;
	}
	PV_IGNORE(pv_snprintf(d, sizeof(d),
	    "%llu entries, all covered by a "
	    "signature (%llu batch signatures, %llu signed checkpoints), all "
	    "verify",
	    (unsigned long long)vr.entries,
	    (unsigned long long)vr.batch_signatures,
	    (unsigned long long)vr.checkpoints));
	add(r, "audit_trail", "pass", d);
	if (pv_audit_latest_checkpoint(&v->audit_loc, &cp) == PV_OK) {
		PV_IGNORE(pv_snprintf(d, sizeof(d),
		    "latest signed head: size "
		    "%llu at %s; publish it outside the vault ('phivault audit "
		    "checkpoint')",
		    (unsigned long long)cp.size, cp.time));
		add(r, "audit_checkpoint", "info", d);
	}
}

struct mfa_ctx {
	const struct pv_config *cfg;
	int missing, active;
};

static void
count_mfa(void *arg, const struct pv_user *u)
{
	struct mfa_ctx *c = arg;

	if (!u->is_active || !pv_role_needs_mfa(c->cfg, u->role))
		return;
	c->active++;
	if (!u->has_mfa)
		c->missing++;
}

static void
check_mfa(struct pv_vault *v, struct report *r)
{
	struct mfa_ctx c = { &v->cfg, 0, 0 };
	char d[300];

	if (pv_store_user_list(v->store, count_mfa, &c) != PV_OK) {
		add(r, "mfa_coverage", "fail", "accounts cannot be read");
		return;
	}
	/* Not enrolled yet means the account cannot reach data (the server
	 * holds it to enrolment), so this is a warning, not a failure. */
	PV_IGNORE(pv_snprintf(d, sizeof(d),
	    "%d of %d active account(s) in "
	    "roles that need MFA (%s) have not enrolled TOTP (they cannot "
	    "reach data until they do)",
	    c.missing, c.active, v->cfg.mfa_required_roles));
	add(r, "mfa_coverage", c.missing == 0 ? "pass" : "warn", d);
}

static void
check_keys(struct pv_vault *v, struct report *r)
{
	uint32_t versions[64], current = pv_keyring_current(v->keyring);
	size_t n = pv_keyring_versions(v->keyring, versions, 64), i;
	int64_t stale = 0, users = 0;
	char d[300];

	for (i = 0; i < n; i++)
		if (versions[i] != current &&
		    pv_store_dek_count_version(v->store, versions[i], &users) ==
			PV_OK)
			stale += users;
	PV_IGNORE(pv_snprintf(d, sizeof(d),
	    "master key version %u; %zu "
	    "version(s) on disk; %lld data key(s) still wrapped under an older "
	    "version",
	    current, n, (long long)stale));
	add(r, "key_rotation", stale == 0 && n == 1 ? "pass" : "warn", d);
}

static void
check_tls(struct pv_vault *v, struct report *r)
{
	char path[PV_PATH_MAX], d[200];
	int64_t na = 0, days;

	if ((v->cfg.tls_cert[0] == '/'
		    ? pv_strlcpy(path, v->cfg.tls_cert, sizeof(path))
		    : pv_vault_path(v, v->cfg.tls_cert, path, sizeof(path))) !=
		PV_OK ||
	    pv_tlscert_expiry(path, &na) != PV_OK) {
		add(r, "tls_certificate", "fail",
		    "the certificate cannot be read");
		return;
	}
	days = (na - pv_now()) / 86400;
	PV_IGNORE(
	    pv_snprintf(d, sizeof(d), "expires in %lld days", (long long)days));
	add(r, "tls_certificate",
	    days < 0        ? "fail"
		: days < 30 ? "warn"
			    : "pass",
	    d);
}

/* Settings weaker than the safe defaults of SPEC.md. */
static void
check_settings(struct pv_vault *v, struct report *r)
{
	const struct pv_config *c = &v->cfg;
	char d[600] = "";
	size_t n = 0;

#define WEAK(cond, text)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			n++;                                                   \
			PV_IGNORE(                                             \
			    pv_snprintf(d + strlen(d), sizeof(d) - strlen(d),  \
				"%s%s", d[0] ? "; " : "", text));              \
		}                                                              \
	} while (0)
	WEAK(strcmp(c->synchronous, "full") != 0,
	    "store synchronous is not full");
	WEAK(!c->ratelimit_enabled, "rate limiting is off");
	WEAK(c->argon2_memlimit_kib < 19 * 1024 || c->argon2_opslimit < 2,
	    "Argon2id cost below 19 MiB / t=2");
	WEAK(c->session_idle_timeout > 15 * 60,
	    "session idle timeout over 15 min");
	WEAK(c->session_lifetime > 12 * 3600, "session lifetime over 12 h");
	WEAK(c->replay_window > 300, "replay window over 300 s");
	WEAK(c->lockout_threshold > 5, "lockout after more than 5 failures");
	WEAK(!pv_config_list_has(c->mfa_required_roles, "admin") ||
		!pv_config_list_has(c->mfa_required_roles, "clinician"),
	    "MFA not required for admin or clinician");
#undef WEAK
	add(r, "security_settings", n == 0 ? "pass" : "warn",
	    n == 0 ? "every security setting at or stricter than its default"
		   : d);
}

static void
check_review(struct pv_vault *v, const struct pv_policy *policy,
    struct report *r)
{
	json_t *rep = NULL, *a;
	int dormant = 0;
	size_t i, pending;
	char d[200];

	if (pv_access_review(v, policy, pv_now(), false, &rep) != PV_OK) {
		add(r, "access_review", "fail", "the access review cannot run");
		return;
	}
	json_array_foreach(json_object_get(rep, "accounts"), i,
	    a) if (json_is_true(json_object_get(a, "dormant"))) dormant++;
	pending = json_array_size(json_object_get(rep, "break_glass_pending"));
	json_decref(rep);
	PV_IGNORE(pv_snprintf(d, sizeof(d),
	    "%d dormant active account(s) "
	    "(access-review --apply disables them)",
	    dormant));
	add(r, "dormant_accounts", dormant == 0 ? "pass" : "warn", d);
	PV_IGNORE(pv_snprintf(d, sizeof(d),
	    "%zu break-glass grant(s) awaiting "
	    "review (access-review --ack-grant)",
	    pending));
	add(r, "break_glass_review", pending == 0 ? "pass" : "warn", d);
}

static void
check_retention(struct pv_vault *v, struct report *r)
{
	struct pv_purge_report pr;
	char d[300];

	if (v->cfg.retention_n == 0) {
		add(r, "retention", "info",
		    "no [retention] rules: records are "
		    "kept until deleted or erased");
		return;
	}
	if (pv_retention_purge(v, NULL, pv_now(), true, NULL, NULL, &pr) !=
	    PV_OK) {
		add(r, "retention", "fail",
		    "the retention rules cannot be applied");
		return;
	}
	PV_IGNORE(pv_snprintf(d, sizeof(d),
	    "%zu resource(s) and %zu "
	    "patient(s) past retention awaiting purge; %zu under legal hold",
	    pr.resources_purged, pr.patients_shredded, pr.held_skipped));
	add(r, "retention",
	    pr.resources_purged + pr.patients_shredded == 0 ? "pass" : "warn",
	    d);
}

pv_status
pv_compliance_report(struct pv_vault *v, const struct pv_policy *policy,
    json_t **out)
{
	struct pv_policy defaults;
	struct report r = { json_array(), 0, 0 };

	if (policy == NULL) {
		pv_policy_defaults(&defaults);
		policy = &defaults;
	}
	check_audit(v, &r);
	check_mfa(v, &r);
	check_keys(v, &r);
	check_tls(v, &r);
	check_settings(v, &r);
	check_review(v, policy, &r);
	check_retention(v, &r);
	*out = json_pack("{s:o, s:i, s:i}", "checks", r.checks, "failed",
	    r.failed, "warnings", r.warnings);
	return *out != NULL ? PV_OK : PV_ENOMEM;
}
