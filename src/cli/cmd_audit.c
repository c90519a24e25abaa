/*
 * cmd_audit.c — `phivault audit verify|export|checkpoint DIR`.
 *
 * verify recomputes the whole trail offline (it needs only the public
 * key) and exits 1 naming the first entry at fault; a failure also raises
 * the audit_verify_failed alert. Entries no signature covers (an unsigned
 * tail) fail too, unless --allow-unsigned-tail says the operator accepts
 * them (they are then counted in the summary, never hidden). export writes JSON
 * lines or FHIR AuditEvent resources (NDJSON) to stdout. checkpoint signs and
 * prints a head over every entry, with the public key, to publish elsewhere.
 */
#include "cli/cli.h"
#include "alert/alert.h"
#include "audit/audit.h"
#include "report/report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault audit verify DIR [--allow-unsigned-tail] "
    "[--checkpoint FILE]\n"
    "       phivault audit export DIR [--format jsonl|fhir]\n"
    "       phivault audit checkpoint DIR\n"
    "\n"
    "verify      recompute the hash chain and Merkle tree, check the batch\n"
    "            signatures and every signed checkpoint; exit 1 and name\n"
    "            the first entry that was changed, removed, reordered,\n"
    "            inserted, truncated, forged, or that no signature covers\n"
    "            (--allow-unsigned-tail: report such a tail, exit 0).\n"
    "            --checkpoint FILE: also hold the trail to checkpoints\n"
    "            published outside the vault (JSON lines, or one object):\n"
    "            a trail cut back or rewritten since fails.\n"
    "export      every entry on stdout: JSON lines (default) or FHIR\n"
    "            AuditEvent resources, one per line.\n"
    "checkpoint  sign and print a tree head over every entry, with the\n"
    "            audit public key, for publishing outside the vault.\n";

static void
progress(void *arg, uint64_t n)
{
	(void)arg;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rverified %llu entries",
		    (unsigned long long)n);
}

/* Lines after the verdict that an operator must not miss. */
static void
verify_notes(const struct pv_verify_report *rep)
{
	if (rep->is_ok && rep->signed_entries < rep->entries)
		printf("WARNING: entries %llu to %llu (%llu) are NOT covered "
		       "by "
		       "any signature (accepted by --allow-unsigned-tail)\n",
		    (unsigned long long)rep->signed_entries,
		    (unsigned long long)rep->entries - 1,
		    (unsigned long long)(rep->entries - rep->signed_entries));
	if (rep->quarantines > 0)
		printf("note: %llu unsigned entr%s moved out of the trail at "
		       "start-up (%llu quarantine record%s; see "
		       "audit/quarantine.jsonl)\n",
		    (unsigned long long)rep->quarantined,
		    rep->quarantined == 1 ? "y was" : "ies were",
		    (unsigned long long)rep->quarantines,
		    rep->quarantines == 1 ? "" : "s");
}

static int
audit_verify(struct pv_vault *v, bool allow_unsigned_tail,
    const char *published)
{
	struct pv_verify_report rep;
	struct pv_alerts *al = NULL;
	pv_status st;

	st = pv_audit_verify(&v->audit_loc, v->audit_root_pk,
	    allow_unsigned_tail ? PV_VERIFY_ALLOW_UNSIGNED_TAIL : 0, published,
	    &rep, progress, NULL);
	if (st == PV_ENOTFOUND && published != NULL) {
		fprintf(stderr, "phivault: cannot read the checkpoint file\n");
		return PV_EXIT_USAGE;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: cannot read the audit trail\n");
		return PV_EXIT_FAIL;
	}
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (rep.is_ok) {
		printf("audit trail OK: %llu entries, %llu signed checkpoints, "
		       "%llu batch signatures; %llu entries covered by a "
		       "signature\n",
		    (unsigned long long)rep.entries,
		    (unsigned long long)rep.checkpoints,
		    (unsigned long long)rep.batch_signatures,
		    (unsigned long long)rep.signed_entries);
		verify_notes(&rep);
		return PV_EXIT_OK;
	}
	printf("audit trail FAILED at entry %lld (%s): %s\n",
	    (long long)rep.bad_entry, rep.problem, rep.detail);
	verify_notes(&rep);
	if (pv_alerts_open(v->dir, &v->cfg, &al) == PV_OK) {
		pv_alert(al, "audit_verify_failed", "critical", NULL,
		    json_pack("{s:I, s:s}", "entry", (json_int_t)rep.bad_entry,
			"problem", rep.problem));
		pv_alerts_close(al);
	}
	return PV_EXIT_FAIL;
}

struct export_ctx {
	struct pv_vault *v;
	bool is_fhir;
	struct pv_auditevent_cache cache;
	uint64_t n;
};

static bool
export_one(void *arg, uint64_t seq, json_t *entry)
{
	struct export_ctx *c = arg;
	json_t *out = entry;
	char *text;

	(void)seq;
	if (c->is_fhir &&
	    (out = pv_auditevent_from_entry(c->v, &c->cache, entry)) == NULL)
		return true;
	text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (c->is_fhir)
		json_decref(out);
	if (text == NULL)
		return false;
	puts(text);
	free(text);
	c->n++;
	return true;
}

static int
audit_export(struct pv_vault *v, const char *format)
{
	struct export_ctx c = { v, false, { 0, "" }, 0 };

	if (format != NULL && strcmp(format, "fhir") == 0)
		c.is_fhir = true;
	else if (format != NULL && strcmp(format, "jsonl") != 0) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_audit_scan(&v->audit_loc, export_one, &c) != PV_OK) {
		fprintf(stderr,
		    "phivault: the audit trail is damaged; run "
		    "'phivault audit verify'\n");
		return PV_EXIT_FAIL;
	}
	fprintf(stderr, "exported %llu entries\n", (unsigned long long)c.n);
	return PV_EXIT_OK;
}

static int
audit_checkpoint(struct pv_vault *v)
{
	struct pv_audit_opts ao = PV_VAULT_AUDIT_OPTS(v, false, 0);
	struct pv_checkpoint c;
	struct pv_audit *a;
	char pk[64], *text;
	json_t *j;

	if (pv_audit_open(&ao, &a) != PV_OK) {
		fprintf(stderr, "phivault: the audit trail does not verify\n");
		return PV_EXIT_FAIL;
	}
	if (pv_audit_checkpoint(a, &c) != PV_OK ||
	    pv_b64_encode(v->sign_pk, PV_SIGN_PK_BYTES, pk, sizeof(pk)) !=
		PV_OK) {
		pv_audit_close(a);
		return PV_EXIT_FAIL;
	}
	pv_audit_close(a);
	j = pv_checkpoint_json(&c);
	json_object_set_new(j, "public_key", json_string(pk));
	json_object_set_new(j, "algorithm", json_string("ed25519"));
	text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (text == NULL)
		return PV_EXIT_FAIL;
	puts(text);
	free(text);
	return PV_EXIT_OK;
}

int
cmd_audit(int argc, char **argv)
{
	static const char *const names[] = { "format", "checkpoint" };
	static const char *const flag_n[] = { "allow-unsigned-tail" };
	const char *o[2], *pos[1];
	bool allow_tail = false;
	struct pv_vault *v;
	size_t npos;
	int rc;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	if (!pv_cli_parse(argc - 1, argv + 1, names, o, 2, flag_n, &allow_tail,
		1, pos, 1, &npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if ((strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "export") != 0 &&
		strcmp(argv[1], "checkpoint") != 0) ||
	    ((allow_tail || o[1] != NULL) && strcmp(argv[1], "verify") != 0)) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (strcmp(argv[1], "verify") == 0)
		rc = audit_verify(v, allow_tail, o[1]);
	else if (strcmp(argv[1], "export") == 0)
		rc = audit_export(v, o[0]);
	else
		rc = audit_checkpoint(v);
	pv_vault_close(v);
	return rc;
}
