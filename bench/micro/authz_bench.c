/*
 * authz_bench.c — issue 4: the cost of one pv_authz_decide call, in
 * nanoseconds, with the built-in policy over a real temp vault.
 *
 * Two families of cases:
 *   - policy only: the decision comes from the role x type x action table
 *     and a relationship that needs no lookup (admin action, researcher
 *     export, clinician creating a Patient, a system/ scope, a patient's
 *     own record, a denial with no matching row);
 *   - care-team lookup: the relationship is "careteam", answered by the
 *     indexed SQLite query (careteam primary key (user_id, patient_id));
 *     a member costs one lookup, a non-member two (care team, then an
 *     active break-glass grant) before the denial.
 * The care-team table is filled with --careteam-rows rows spread over
 * many clinicians so the index has a realistic depth; the benchmarked
 * clinician is on --team patients and the lookups cycle over them.
 *
 * usage: authz_bench [--rounds N] [--round-ms MS] [--out FILE]
 *                    [--careteam-rows N] [--team N]
 */
#include "microbench.h"

#include "auth/auth.h"
#include "authz/authz.h"

struct ctx {
	struct pv_vault *v;
	struct pv_policy pol;
	struct pv_principal who;
	pv_action action;
	const char *type;
	char (*patients)[PV_ID_HEX_LEN + 1]; /* NULL: type-level */
	size_t patients_n, next;
	bool expect;
	const char *expect_reason;
};

static void
c_decide(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	struct pv_authz_request rq = { &c->who, c->action, c->type, NULL,
		PV_CLASS_NORMAL, pv_now() };
	struct pv_authz_decision d;

	for (uint64_t i = 0; i < n; i++) {
		if (c->patients != NULL) {
			rq.patient = c->patients[c->next];
			if (++c->next == c->patients_n)
				c->next = 0;
		}
		pv_authz_decide(&c->pol, c->v, &rq, &d);
		if (d.is_allowed != c->expect)
			mb_die("unexpected decision (%s)", d.reason);
		MB_KEEP(d.reason);
	}
}

static struct pv_principal
principal(struct pv_vault *v, const char *name)
{
	struct pv_principal p;
	struct pv_user u;

	memset(&p, 0, sizeof(p));
	if (pv_store_user_get_by_name(v->store, name, &u) != PV_OK)
		mb_die("no user %s", name);
	p.user_id = u.id;
	memcpy(p.username, u.username, sizeof(p.username));
	memcpy(p.role, u.role, sizeof(p.role));
	memcpy(p.patient_id, u.patient_id, sizeof(p.patient_id));
	memcpy(p.scopes, u.scopes, sizeof(p.scopes));
	p.is_mfa_satisfied = true;
	return p;
}

static void
account(struct pv_vault *v, const char *name, const char *role,
    const char *patient)
{
	pv_pw_verdict vd;
	char pw[64];

	snprintf(pw, sizeof(pw), "Bench-%zu-long-Secret-9-x", strlen(name));
	if (pv_account_create(v, name, role, patient,
		strcmp(role, "service") == 0 ? NULL : pw, &vd, NULL) != PV_OK)
		mb_die("cannot create account %s", name);
}

/* Runs one case and checks the decision and its reason first. */
static void
run_case(struct ctx *c, const char *label, const char *note)
{
	struct pv_authz_request rq = { &c->who, c->action, c->type,
		c->patients != NULL ? c->patients[0] : NULL, PV_CLASS_NORMAL,
		pv_now() };
	struct pv_authz_decision d;

	pv_authz_decide(&c->pol, c->v, &rq, &d);
	if (d.is_allowed != c->expect ||
	    strcmp(d.reason, c->expect_reason) != 0)
		mb_die("%s: got %s/%s, expected %s/%s", label,
		    d.is_allowed ? "allow" : "deny", d.reason,
		    c->expect ? "allow" : "deny", c->expect_reason);
	c->next = 0;
	mb_run(label, c_decide, c, 0, note);
}

int
main(int argc, char **argv)
{
	struct ctx c;
	size_t rows = 100000, team = 1000, i, clinicians, per;
	char(*team_ids)[PV_ID_HEX_LEN + 1], (*other_ids)[PV_ID_HEX_LEN + 1];
	char pat_id[PV_ID_HEX_LEN + 1], name[32];
	struct pv_store *s;
	uint64_t t0;
	int a;

	mb_init("authz_bench", argc, argv, "[--careteam-rows N] [--team N]");
	for (a = 0; a < mb_g.argc; a++) {
		if (strcmp(mb_g.argv[a], "--careteam-rows") == 0 &&
		    a + 1 < mb_g.argc)
			rows = mb_uint_arg("--careteam-rows", mb_g.argv[++a],
			    1000, 10000000);
		else if (strcmp(mb_g.argv[a], "--team") == 0 &&
		    a + 1 < mb_g.argc)
			team = mb_uint_arg("--team", mb_g.argv[++a], 1, 100000);
		else
			mb_die("unknown argument %s (see --help)",
			    mb_g.argv[a]);
	}
	if (team > rows)
		mb_die("--team must not exceed --careteam-rows");
	memset(&c, 0, sizeof(c));
	/* A cheap Argon2 only to create the accounts quickly: passwords
	 * play no part in a decision. */
	c.v = mb_vault_open("v",
	    "\n[auth]\nargon2_memlimit_kib = 8192\n"
	    "argon2_opslimit = 1\n",
	    NULL, 0);
	s = c.v->store;
	pv_policy_defaults(&c.pol);
	team_ids = calloc(team, sizeof(*team_ids));
	other_ids = calloc(team, sizeof(*other_ids));
	if (team_ids == NULL || other_ids == NULL)
		mb_die("out of memory");
	pv_random_id(pat_id);
	account(c.v, "root", "admin", NULL);
	account(c.v, "res", "researcher", NULL);
	account(c.v, "doc", "clinician", NULL);
	account(c.v, "nina", "nurse", NULL);
	account(c.v, "pat", "patient", pat_id);
	account(c.v, "svc", "service", NULL);

	/* The care-team table: the benchmarked clinician on `team` patients,
	 * the rest spread over other clinicians, `per` patients each. */
	t0 = mb_now_ns();
	per = team;
	clinicians = (rows - team + per - 1) / per;
	for (i = 0; i < clinicians; i++) {
		snprintf(name, sizeof(name), "clin%zu", i);
		account(c.v, name, "clinician", NULL);
	}
	if (pv_store_begin(s) != PV_OK)
		mb_die("begin");
	{
		struct pv_principal doc = principal(c.v, "doc");
		size_t added = 0;

		for (i = 0; i < team; i++) {
			pv_random_id(team_ids[i]);
			pv_random_id(other_ids[i]);
			if (pv_store_careteam_add(s, doc.user_id,
				team_ids[i]) != PV_OK)
				mb_die("careteam_add");
			added++;
		}
		for (i = 0; i < clinicians && added < rows; i++) {
			struct pv_principal p;
			size_t j;

			snprintf(name, sizeof(name), "clin%zu", i);
			p = principal(c.v, name);
			for (j = 0; j < per && added < rows; j++, added++) {
				char pid[PV_ID_HEX_LEN + 1];

				/* Some overlap with doc's patients, like
				 * real shared care. */
				if (j % 10 == 0)
					memcpy(pid,
					    team_ids[(i * per + j) % team],
					    sizeof(pid));
				else
					pv_random_id(pid);
				if (pv_store_careteam_add(s, p.user_id, pid) !=
				    PV_OK)
					mb_die("careteam_add");
			}
		}
	}
	if (pv_store_commit(s) != PV_OK)
		mb_die("commit");
	fprintf(stderr,
	    "authz_bench: %zu care-team rows (%zu clinicians) in "
	    "%.1f s\n",
	    rows, clinicians + 1, (double)(mb_now_ns() - t0) / 1e9);
	mb_figure("careteam_rows", json_integer((json_int_t)rows));
	mb_figure("clinician_team_size", json_integer((json_int_t)team));
	mb_figure("policy_rules", json_integer((json_int_t)c.pol.rules_n));

	/* ---- policy only ---- */
	c.who = principal(c.v, "root");
	c.action = PV_ACT_ADMIN;
	c.type = NULL;
	c.patients = NULL;
	c.expect = true;
	c.expect_reason = "role";
	run_case(&c, "policy: admin action (allow)", "row 10 of 12, no lookup");
	c.who = principal(c.v, "res");
	c.action = PV_ACT_EXPORT;
	run_case(&c, "policy: researcher export (allow)",
	    "row 11 of 12, no lookup");
	c.who = principal(c.v, "doc");
	c.action = PV_ACT_CREATE;
	c.type = "Patient";
	run_case(&c, "policy: clinician create Patient (allow)",
	    "careteam row skipped (no patient), then a type-level row");
	c.who = principal(c.v, "svc");
	snprintf(c.who.scopes, sizeof(c.who.scopes),
	    "system/Observation.rs "
	    "system/Patient.rs");
	c.action = PV_ACT_READ;
	c.type = "Observation";
	c.patients = team_ids;
	c.patients_n = team;
	c.expect_reason = "system_scope";
	run_case(&c, "policy: service system/ scope read (allow)",
	    "SMART scope parsing, no lookup");
	c.who = principal(c.v, "pat");
	{
		char(*own)[PV_ID_HEX_LEN + 1] = calloc(1, sizeof(*own));

		if (own == NULL)
			mb_die("out of memory");
		memcpy(own[0], pat_id, sizeof(pat_id));
		c.patients = own;
		c.patients_n = 1;
		c.expect_reason = "self";
		run_case(&c, "policy: patient reads own record (allow)",
		    "self relation, string compare");
		free(own);
	}
	c.who = principal(c.v, "root");
	c.patients = team_ids;
	c.patients_n = team;
	c.expect = false;
	c.expect_reason = "no_rule";
	run_case(&c, "policy: admin reads Observation (deny)",
	    "no matching row");

	/* ---- care-team lookups ---- */
	c.who = principal(c.v, "doc");
	c.expect = true;
	c.expect_reason = "careteam";
	run_case(&c, "careteam: clinician reads, on team (allow)",
	    "one indexed SQLite lookup, cycling over the team");
	c.action = PV_ACT_UPDATE;
	run_case(&c, "careteam: clinician updates, on team (allow)", NULL);
	c.who = principal(c.v, "nina");
	c.action = PV_ACT_READ;
	c.patients = other_ids;
	c.expect = false;
	c.expect_reason = "not_on_careteam";
	run_case(&c, "careteam: nurse reads, not on team (deny)",
	    "two lookups: care team, then break-glass grant");
	c.who = principal(c.v, "svc");
	snprintf(c.who.scopes, sizeof(c.who.scopes), "patient/Observation.rs");
	c.patients = team_ids;
	c.expect_reason = "scope_not_on_careteam";
	run_case(&c, "careteam: service patient/ scope (deny)",
	    "scope parse + one lookup");

	free(team_ids);
	free(other_ids);
	pv_vault_close(c.v);
	return mb_finish();
}
