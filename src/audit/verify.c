/*
 * verify.c — offline verification of the audit trail (`audit verify`),
 * plus sequential reading for exports and reports.
 *
 * What is checked, and what a failure means:
 *  - each line parses, any "count" is an integer > 1, and it carries
 *    seq == its position: otherwise an entry
 *    was removed (seq jumps ahead), inserted or reordered (seq behind or
 *    swapped with its neighbour);
 *  - each entry's "prev" equals the hash chain over everything before it:
 *    otherwise the entry before it was changed;
 *  - every checkpoint's Ed25519 signature verifies under the vault's audit
 *    key: otherwise the log was rewritten and re-signed without the key,
 *    and the first entry after the last good checkpoint is named;
 *  - every checkpoint's root equals the Merkle root recomputed over the
 *    entries it covers: otherwise an entry in its range changed (the last
 *    one, when the chain is intact up to it);
 *  - no checkpoint covers more entries than the log holds: otherwise the
 *    tail was truncated.
 * The earliest fault by entry position is reported.
 *
 * It cannot detect: a rewrite by someone holding the signing key who
 * also rewrites the checkpoints — that is what publishing checkpoints
 * elsewhere (`audit checkpoint`) and consistency proofs are for.
 */
#include "audit/audit.h"
#include "audit/merkle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_CAP 4096

struct cp {
	struct pv_checkpoint c;
	bool is_sig_ok;
};

static void
fault(struct pv_verify_report *rep, int64_t entry, const char *problem,
    const char *detail)
{
	if (!rep->is_ok && rep->bad_entry >= 0 && rep->bad_entry <= entry)
		return;		/* keep the earliest */
	rep->is_ok = false;
	rep->bad_entry = entry;
	rep->problem = problem;
	PV_IGNORE(pv_strlcpy(rep->detail, detail, sizeof(rep->detail)));
}

static bool
parse_cp(const char *line, struct pv_checkpoint *c)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *root, *sig, *time_s, *kid;
	size_t n;
	bool ok = false;

	memset(c, 0, sizeof(*c));
	if (j == NULL)
		return false;
	root = json_string_value(json_object_get(j, "root"));
	sig = json_string_value(json_object_get(j, "signature"));
	time_s = json_string_value(json_object_get(j, "time"));
	kid = json_string_value(json_object_get(j, "key_id"));
	if (json_is_integer(json_object_get(j, "size")) && root != NULL &&
	    sig != NULL && time_s != NULL && kid != NULL &&
	    json_integer_value(json_object_get(j, "size")) >= 0 &&
	    pv_b64_decode(root, c->root, sizeof(c->root), &n) == PV_OK &&
	    n == sizeof(c->root) &&
	    pv_b64_decode(sig, c->sig, sizeof(c->sig), &n) == PV_OK &&
	    n == sizeof(c->sig) &&
	    pv_strlcpy(c->time, time_s, sizeof(c->time)) == PV_OK &&
	    pv_strlcpy(c->key_id, kid, sizeof(c->key_id)) == PV_OK) {
		c->size = (uint64_t)json_integer_value(json_object_get(j,
		    "size"));
		ok = true;
	}
	json_decref(j);
	return ok;
}

/* Loads and signature-checks every checkpoint. */
static pv_status
load_checkpoints(const char *vault_dir, const unsigned char *pk,
    struct cp **out, size_t *n_out, struct pv_verify_report *rep)
{
	char path[1100], *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	struct cp *cps = NULL;
	ssize_t len;
	FILE *f;

	*out = NULL;
	*n_out = 0;
	if (pv_snprintf(path, sizeof(path), "%s/audit/checkpoints.jsonl",
	    vault_dir) != PV_OK)
		return PV_EINVAL;
	f = fopen(path, "r");
	if (f == NULL)
		return PV_OK;	/* no checkpoints yet */
	while ((len = getline(&line, &cap, f)) > 0) {
		char msg[256];

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 256;
			struct cp *nc = realloc(cps, na * sizeof(*cps));
			if (nc == NULL) {
				free(cps);
				free(line);
				fclose(f);
				return PV_ENOMEM;
			}
			cps = nc;
			alloc = na;
		}
		if (!parse_cp(line, &cps[n].c)) {
			fault(rep, 0, "checkpoint_corrupt",
			    "a checkpoint line does not parse");
			continue;
		}
		cps[n].is_sig_ok = pv_checkpoint_message(&cps[n].c, msg,
		    sizeof(msg)) == PV_OK && pv_sign_verify(cps[n].c.sig, msg,
		    strlen(msg), pk) == PV_OK;
		n++;
	}
	free(line);
	fclose(f);
	*out = cps;
	*n_out = n;
	return PV_OK;
}

/* Peeks the seq of the line after the current one, or -1. */
static int64_t
peek_seq(FILE *f)
{
	long pos = ftell(f);
	char *line = NULL;
	size_t cap = 0;
	int64_t seq = -1;
	json_t *j;

	if (pos >= 0 && getline(&line, &cap, f) > 0 &&
	    (j = json_loads(line, 0, NULL)) != NULL) {
		if (json_is_integer(json_object_get(j, "seq")))
			seq = json_integer_value(json_object_get(j, "seq"));
		json_decref(j);
	}
	free(line);
	if (pos >= 0)
		fseek(f, pos, SEEK_SET);
	return seq;
}

int64_t
pv_audit_entry_count(json_t *entry)
{
	json_t *c = json_object_get(entry, "count");

	return json_is_integer(c) && json_integer_value(c) > 1 ?
	    (int64_t)json_integer_value(c) : 1;
}

/* "count", when present, is an integer > 1 (1 is never written). */
static bool
count_is_valid(json_t *j)
{
	json_t *c = json_object_get(j, "count");

	return c == NULL || (json_is_integer(c) && json_integer_value(c) > 1);
}

/* Checks one entry's seq and prev; returns false after a fault. */
static bool
check_entry(FILE *f, const char *line, uint64_t i,
    const unsigned char chain[PV_AUDIT_HASH_BYTES],
    struct pv_verify_report *rep)
{
	json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	const char *prev;
	char want[64], msg[200];
	int64_t seq;
	bool ok = true;

	if (j == NULL || !json_is_integer(json_object_get(j, "seq")) ||
	    (prev = json_string_value(json_object_get(j, "prev"))) == NULL ||
	    !count_is_valid(j)) {
		json_decref(j);
		PV_IGNORE(pv_snprintf(msg, sizeof(msg),
		    "entry %llu is not a well-formed audit entry",
		    (unsigned long long)i));
		fault(rep, (int64_t)i, "changed", msg);
		return false;
	}
	seq = json_integer_value(json_object_get(j, "seq"));
	if (seq != (int64_t)i) {
		if (seq > (int64_t)i && peek_seq(f) == (int64_t)i) {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "entries %llu and %lld are out of order",
			    (unsigned long long)i, (long long)seq));
			fault(rep, (int64_t)i, "reordered", msg);
		} else if (seq > (int64_t)i) {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "entries %llu to %lld were removed",
			    (unsigned long long)i, (long long)seq - 1));
			fault(rep, (int64_t)i, "removed", msg);
		} else {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "entry at position %llu claims seq %lld: inserted "
			    "or reordered", (unsigned long long)i,
			    (long long)seq));
			fault(rep, (int64_t)i, "inserted", msg);
		}
		ok = false;
	} else if (pv_b64_encode(chain, PV_AUDIT_HASH_BYTES, want,
	    sizeof(want)) != PV_OK || strcmp(want, prev) != 0) {
		if (i == 0)
			fault(rep, 0, "changed", "entry 0 does not start the chain");
		else {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "entry %llu was changed (entry %llu's prev does not "
			    "match)", (unsigned long long)i - 1,
			    (unsigned long long)i));
			fault(rep, (int64_t)i - 1, "changed", msg);
		}
		ok = false;
	}
	json_decref(j);
	return ok;
}

/* Compares checkpoints of size n against the recomputed head. */
static void
check_heads(struct cp *cps, size_t ncp, uint64_t n, const pv_mhash root,
    bool chain_ok, uint64_t *last_good, struct pv_verify_report *rep)
{
	char msg[200];
	size_t k;

	for (k = 0; k < ncp; k++) {
		if (cps[k].c.size != n)
			continue;
		if (!cps[k].is_sig_ok) {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "checkpoint at size %llu has an invalid signature: "
			    "the log from entry %llu on was rewritten",
			    (unsigned long long)n,
			    (unsigned long long)*last_good));
			fault(rep, (int64_t)*last_good, "resigned", msg);
			continue;
		}
		if (sodium_memcmp(cps[k].c.root, root, PV_AUDIT_HASH_BYTES) !=
		    0) {
			uint64_t at = chain_ok ? n - 1 : *last_good;

			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "entry %llu was changed (signed root at size %llu "
			    "differs)", (unsigned long long)at,
			    (unsigned long long)n));
			fault(rep, (int64_t)at, "changed", msg);
			continue;
		}
		*last_good = n;
	}
}

pv_status
pv_audit_verify(const char *vault_dir, const unsigned char pk[PV_SIGN_PK_BYTES],
    struct pv_verify_report *rep, void (*progress)(void *, uint64_t),
    void *arg)
{
	struct pv_merkle_compact tree;
	unsigned char chain[PV_AUDIT_HASH_BYTES] = { 0 };
	struct cp *cps = NULL;
	size_t ncp = 0, k, cap = 0;
	char path[1100], *line = NULL, msg[200];
	uint64_t i = 0, last_good = 0;
	bool chain_ok = true;
	pv_mhash leaf, root;
	ssize_t len;
	pv_status st;
	FILE *f;

	memset(rep, 0, sizeof(*rep));
	rep->is_ok = true;
	rep->bad_entry = -1;
	rep->problem = "none";
	pv_merkle_compact_init(&tree);
	if ((st = load_checkpoints(vault_dir, pk, &cps, &ncp, rep)) != PV_OK)
		return st;
	rep->checkpoints = ncp;
	if (pv_snprintf(path, sizeof(path), "%s/audit/log.jsonl", vault_dir) !=
	    PV_OK) {
		free(cps);
		return PV_EINVAL;
	}
	f = fopen(path, "r");
	if (f != NULL) {
		while ((len = getline(&line, &cap, f)) > 0) {
			if (line[len - 1] != '\n') {
				fault(rep, (int64_t)i, "torn",
				    "the last entry is incomplete");
				break;
			}
			line[--len] = '\0';
			if (chain_ok && !check_entry(f, line, i, chain, rep))
				chain_ok = false;
			pv_merkle_leaf_hash(line, (size_t)len, leaf);
			pv_merkle_compact_append(&tree, leaf);
			pv_audit_chain_next(chain, leaf);
			i++;
			pv_merkle_compact_root(&tree, root);
			check_heads(cps, ncp, i, root, chain_ok, &last_good, rep);
			if (progress != NULL && (i & 0xffff) == 0)
				progress(arg, i);
		}
		fclose(f);
	}
	free(line);
	rep->entries = i;
	for (k = 0; k < ncp; k++)
		if (cps[k].c.size > i) {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "a checkpoint covers %llu entries but the log has "
			    "%llu: entries from %llu on were removed",
			    (unsigned long long)cps[k].c.size,
			    (unsigned long long)i, (unsigned long long)i));
			fault(rep, (int64_t)i, "truncated", msg);
			break;
		}
	if (progress != NULL)
		progress(arg, i);
	free(cps);
	return PV_OK;
}

pv_status
pv_audit_scan(const char *vault_dir,
    bool (*cb)(void *arg, uint64_t seq, json_t *entry), void *arg)
{
	char path[1100], *line = NULL;
	size_t cap = 0;
	uint64_t i = 0;
	ssize_t len;
	pv_status st = PV_OK;
	FILE *f;

	if (pv_snprintf(path, sizeof(path), "%s/audit/log.jsonl", vault_dir) !=
	    PV_OK)
		return PV_EINVAL;
	f = fopen(path, "r");
	if (f == NULL)
		return PV_OK;
	while ((len = getline(&line, &cap, f)) > 0) {
		json_t *j;
		bool more;

		if (line[len - 1] != '\n')
			break;		/* torn tail: not an entry */
		j = json_loads(line, 0, NULL);
		if (j == NULL) {
			st = PV_ECRYPTO;
			break;
		}
		more = cb(arg, i++, j);
		json_decref(j);
		if (!more)
			break;
	}
	free(line);
	fclose(f);
	return st;
}

pv_status
pv_audit_latest_checkpoint(const char *vault_dir, struct pv_checkpoint *out)
{
	char path[1100], *line = NULL, *last = NULL;
	size_t cap = 0;
	ssize_t len;
	bool ok = false;
	FILE *f;

	if (pv_snprintf(path, sizeof(path), "%s/audit/checkpoints.jsonl",
	    vault_dir) != PV_OK)
		return PV_EINVAL;
	f = fopen(path, "r");
	if (f == NULL)
		return PV_ENOTFOUND;
	while ((len = getline(&line, &cap, f)) > 0) {
		free(last);
		last = strdup(line);
	}
	free(line);
	fclose(f);
	if (last != NULL)
		ok = parse_cp(last, out);
	free(last);
	return ok ? PV_OK : PV_ENOTFOUND;
}
