/*
 * verify.c — offline verification of the audit trail (`audit verify`),
 * plus sequential reading for exports and reports.
 *
 * What is checked, and what a failure means:
 *  - each line parses as an entry (audit_entry_parse, entry.c: the one
 *    parser the writers use too) and carries seq == its position:
 *    otherwise an entry was removed (seq jumps ahead), inserted or
 *    reordered (seq behind or swapped with its neighbour);
 *  - each entry's "prev" equals the hash chain over everything before it:
 *    otherwise the entry before it was changed;
 *  - the batch signatures ("bsig", batchsig.h): the last one within the
 *    intact chain is checked, and because it signs its line's "prev" it
 *    authenticates every line before it — one Ed25519 check for the
 *    common case, however long the log. When it fails, a binary search
 *    over the signed lines (validity is a prefix property under an intact
 *    chain) finds the first bad batch: "forged", the entries from the last
 *    good signature to that batch's end were rewritten without the key;
 *  - every checkpoint's Ed25519 signature verifies under the key its
 *    key_id names, which must be one of the trail's signers (signers.h:
 *    the vault's key, or on PostgreSQL every endorsed node key): otherwise the
 * log was rewritten and re-signed without the key, and the first entry after
 * the last good checkpoint is named;
 *  - every checkpoint's root equals the Merkle root recomputed over the
 *    entries it covers: otherwise an entry in its range changed (the last
 *    one, when the chain is intact up to it);
 *  - no checkpoint covers more entries than the log holds: otherwise the
 *    tail was truncated;
 *  - every entry is covered by a signature: it lies at or before a line
 *    with a valid bsig, or inside a valid checkpoint (logs written before
 *    batch signatures have checkpoints only). Entries after the last
 *    covering signature are an "unsigned" tail — a crash before the batch
 *    was signed (a writer quarantines it when it next opens the log), or
 *    entries added without the key — reported unless the caller allows
 *    it. So an empty or truncated checkpoint file no longer lets an
 *    unsigned log pass.
 * The earliest fault by entry position is reported. The log and the
 * checkpoints are read from the medium's snapshot (medium.h): what
 * writers, who append whole batches under the exclusive lock, had
 * completed when verification started.
 *
 * Checkpoints kept outside the trail count like its own: a published one
 * (`audit verify --checkpoint FILE`) and, on PostgreSQL, the anchor of
 * the node whose directory is used (anchor.c). A log cut back to a signed
 * line together with the trail's own checkpoints passes on its own; it
 * fails against any such outside checkpoint that reached further
 * ("truncated"), or whose root differs ("changed").
 *
 * It cannot detect a rewrite by someone holding a signing key.
 */
#include "audit/batchsig.h"
#include "audit/log_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cp {
	struct pv_checkpoint c;
	bool is_sig_ok;
};

/* A line of the intact chain that carries a batch signature. */
struct signed_line {
	uint64_t entry;
	off_t off;
	size_t len;
};

static void
fault(struct pv_verify_report *rep, int64_t entry, const char *problem,
    const char *detail)
{
	if (!rep->is_ok && rep->bad_entry >= 0 && rep->bad_entry <= entry)
		return; /* keep the earliest */
	rep->is_ok = false;
	rep->bad_entry = entry;
	rep->problem = problem;
	PV_IGNORE(pv_strlcpy(rep->detail, detail, sizeof(rep->detail)));
}

static int
cp_by_size(const void *x, const void *y)
{
	const struct cp *a = x, *b = y;

	return a->c.size < b->c.size ? -1 : a->c.size > b->c.size;
}

/*
 * Loads and signature-checks every checkpoint in the first limit bytes
 * (limit < 0: all), sorted by size.
 */
static pv_status
load_checkpoints(FILE *f, off_t limit, const struct audit_signers *keys,
    struct cp **out, size_t *n_out, struct pv_verify_report *rep)
{
	char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	struct cp *cps = NULL;
	off_t pos = 0;
	ssize_t len;

	*out = NULL;
	*n_out = 0;
	if (f == NULL)
		return PV_OK; /* no checkpoints yet */
	while (
	    (limit < 0 || pos < limit) && (len = getline(&line, &cap, f)) > 0) {
		pos += len;
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 256;
			struct cp *nc = realloc(cps, na * sizeof(*cps));
			if (nc == NULL) {
				free(cps);
				free(line);
				return PV_ENOMEM;
			}
			cps = nc;
			alloc = na;
		}
		if (!audit_checkpoint_parse(line, &cps[n].c)) {
			fault(rep, 0, "checkpoint_corrupt",
			    "a checkpoint line does not parse");
			continue;
		}
		cps[n].is_sig_ok = audit_signers_cp(keys, &cps[n].c);
		n++;
	}
	free(line);
	if (n > 1)
		qsort(cps, n, sizeof(*cps), cp_by_size);
	*out = cps;
	*n_out = n;
	return PV_OK;
}

/*
 * Adds the checkpoints of a file kept outside the trail — published ones
 * (`--checkpoint`), or this node's anchor (anchor.c) — to cps, sorted
 * again: one per line, or the whole file one JSON object (the output of
 * `audit checkpoint` or GET /audit/checkpoint, saved as it came).
 * PV_ENOTFOUND when the file cannot be opened.
 */
static pv_status
load_outside(const char *path, const struct audit_signers *keys,
    struct cp **cps, size_t *n, struct pv_verify_report *rep)
{
	FILE *f = fopen(path, "re");
	struct cp *more = NULL, *all;
	size_t nm = 0;
	json_t *j;
	char *text;
	pv_status st = PV_OK;

	if (f == NULL)
		return PV_ENOTFOUND;
	/* One object (perhaps pretty-printed); else JSON lines. */
	if ((j = json_loadf(f, 0, NULL)) != NULL) {
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (text != NULL && (more = malloc(sizeof(*more))) != NULL &&
		    audit_checkpoint_parse(text, &more->c)) {
			more->is_sig_ok = audit_signers_cp(keys, &more->c);
			nm = 1;
		}
		free(text);
	} else if (fseek(f, 0, SEEK_SET) == 0)
		st = load_checkpoints(f, -1, keys, &more, &nm, rep);
	fclose(f);
	if (st != PV_OK || nm == 0) {
		free(more);
		if (st == PV_OK)
			fault(rep, 0, "checkpoint_corrupt",
			    "a checkpoint kept outside the trail does not "
			    "parse");
		return st;
	}
	if ((all = realloc(*cps, (*n + nm) * sizeof(*all))) == NULL) {
		free(more);
		return PV_ENOMEM;
	}
	memcpy(all + *n, more, nm * sizeof(*more));
	free(more);
	*n += nm;
	qsort(all, *n, sizeof(*all), cp_by_size);
	*cps = all;
	return PV_OK;
}

/* This node's anchor (PostgreSQL only), when it has one. */
static pv_status
load_anchor(const struct pv_audit_loc *loc, const struct audit_signers *keys,
    struct cp **cps, size_t *n, struct pv_verify_report *rep)
{
	char path[1024];
	pv_status st;

	if (loc->dsn == NULL || loc->vault_dir == NULL ||
	    pv_snprintf(path, sizeof(path), "%s/audit/anchor.json",
		loc->vault_dir) != PV_OK)
		return PV_OK;
	st = load_outside(path, keys, cps, n, rep);
	return st == PV_ENOTFOUND ? PV_OK : st;
}

/* Peeks the seq of the entry after the current one, or -1. */
static int64_t
peek_seq(FILE *f)
{
	long pos = ftell(f);
	struct audit_entry e;
	char *line = NULL;
	size_t cap = 0;
	int64_t seq = -1;

	if (pos >= 0 && getline(&line, &cap, f) > 0 &&
	    audit_entry_parse(line, &e, NULL))
		seq = e.seq;
	free(line);
	if (pos >= 0)
		fseek(f, pos, SEEK_SET);
	return seq;
}

/*
 * Checks one entry's seq and prev; returns false after a fault. Tallies
 * quarantine entries into rep.
 */
static bool
check_entry(FILE *f, const char *line, uint64_t i,
    const unsigned char chain[PV_AUDIT_HASH_BYTES],
    struct pv_verify_report *rep)
{
	struct audit_entry e;
	char want[64], msg[200];
	int64_t seq;
	bool ok = true;

	if (!audit_entry_parse(line, &e, NULL)) {
		PV_IGNORE(pv_snprintf(msg, sizeof(msg),
		    "entry %llu is not a well-formed audit entry",
		    (unsigned long long)i));
		fault(rep, (int64_t)i, "changed", msg);
		return false;
	}
	seq = e.seq;
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
			    "or reordered",
			    (unsigned long long)i, (long long)seq));
			fault(rep, (int64_t)i, "inserted", msg);
		}
		ok = false;
	} else if (pv_b64_encode(chain, PV_AUDIT_HASH_BYTES, want,
		       sizeof(want)) != PV_OK ||
	    strcmp(want, e.prev) != 0) {
		if (i == 0)
			fault(rep, 0, "changed",
			    "entry 0 does not start the chain");
		else {
			PV_IGNORE(pv_snprintf(msg, sizeof(msg),
			    "entry %llu was changed (entry %llu's prev does "
			    "not "
			    "match)",
			    (unsigned long long)i - 1, (unsigned long long)i));
			fault(rep, (int64_t)i - 1, "changed", msg);
		}
		ok = false;
	}
	if (ok && strcmp(e.action, "audit.quarantine") == 0) {
		rep->quarantines++;
		rep->quarantined += (uint64_t)e.count;
	}
	return ok;
}

/* Compares one checkpoint of size n against the recomputed head. */
static void
check_head(const struct cp *cp, uint64_t n, const pv_mhash root, bool chain_ok,
    uint64_t *last_good, struct pv_verify_report *rep)
{
	char msg[200];

	if (!cp->is_sig_ok) {
		PV_IGNORE(pv_snprintf(msg, sizeof(msg),
		    "checkpoint at size %llu has an invalid signature: the log "
		    "from entry %llu on was rewritten",
		    (unsigned long long)n, (unsigned long long)*last_good));
		fault(rep, (int64_t)*last_good, "resigned", msg);
		return;
	}
	if (sodium_memcmp(cp->c.root, root, PV_AUDIT_HASH_BYTES) != 0) {
		uint64_t at = chain_ok ? n - 1 : *last_good;

		PV_IGNORE(pv_snprintf(msg, sizeof(msg),
		    "entry %llu was changed (signed root at size %llu differs)",
		    (unsigned long long)at, (unsigned long long)n));
		fault(rep, (int64_t)at, "changed", msg);
		return;
	}
	*last_good = n;
}

/* Re-reads one signed line and checks its batch signature. */
static bool
line_sig_ok(int fd, const struct signed_line *s,
    const struct audit_signers *keys)
{
	char buf[PV_BSIG_LINE_MAX];

	return s->len <= sizeof(buf) &&
	    pread(fd, buf, s->len, s->off) == (ssize_t)s->len &&
	    audit_signers_bsig(keys, buf, s->len) == PV_OK;
}

/*
 * How many leading entries the batch signatures cover. The last signed
 * line is checked; if it fails, a binary search finds the first bad one
 * and a "forged" fault names the entries from the last good signature
 * (or good checkpoint, cp_good) to the end of that batch.
 */
static uint64_t
signed_prefix(int fd, const struct signed_line *sl, size_t n,
    const struct audit_signers *pk, uint64_t cp_good,
    struct pv_verify_report *rep)
{
	size_t lo, hi, mid; /* sl[lo - 1] valid (or lo == 0), sl[hi] not */
	uint64_t from;
	char msg[256];

	if (n == 0)
		return 0;
	if (line_sig_ok(fd, &sl[n - 1], pk))
		return sl[n - 1].entry + 1;
	for (lo = 0, hi = n - 1; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (line_sig_ok(fd, &sl[mid], pk))
			lo = mid + 1;
		else
			hi = mid;
	}
	from = lo > 0 ? sl[lo - 1].entry + 1 : 0;
	if (cp_good > from)
		from = cp_good;
	PV_IGNORE(pv_snprintf(msg, sizeof(msg),
	    "the batch signature of entry "
	    "%llu does not verify: entries %llu to %llu were rewritten without "
	    "the signing key",
	    (unsigned long long)sl[hi].entry, (unsigned long long)from,
	    (unsigned long long)sl[hi].entry));
	fault(rep, (int64_t)from, "forged", msg);
	return lo > 0 ? sl[lo - 1].entry + 1 : 0;
}

/* Sets the coverage fields and the unsigned-tail fault. */
static void
cover(struct pv_verify_report *rep, uint64_t by_bsig, uint64_t by_cp,
    bool chain_ok, unsigned flags)
{
	uint64_t n = rep->entries, c = by_bsig > by_cp ? by_bsig : by_cp;
	char msg[256];

	rep->signed_entries = c < n ? c : n;
	/* A broken chain is named at its exact entry; what follows it
	 * cannot be covered through the chain anyway. */
	if (c >= n || !chain_ok || (flags & PV_VERIFY_ALLOW_UNSIGNED_TAIL))
		return;
	PV_IGNORE(pv_snprintf(msg, sizeof(msg),
	    "entries %llu to %llu are not "
	    "covered by any signature (an unsigned tail: a crash before the "
	    "batch was signed, or entries written without the key)",
	    (unsigned long long)c, (unsigned long long)n - 1));
	fault(rep, (int64_t)c, "unsigned", msg);
}

pv_status
pv_audit_verify(const struct pv_audit_loc *loc,
    const unsigned char root_pk[PV_SIGN_PK_BYTES], unsigned flags,
    const char *published, struct pv_verify_report *rep,
    void (*progress)(void *, uint64_t), void *arg)
{
	struct pv_merkle_compact tree;
	unsigned char chain[PV_AUDIT_HASH_BYTES] = { 0 };
	struct signed_line *sl = NULL;
	struct audit_signers *pk = NULL;
	struct audit_medium *m = NULL;
	struct cp *cps = NULL;
	size_t ncp = 0, k = 0, cap = 0, nsl = 0, slcap = 0;
	char *line = NULL, msg[200];
	uint64_t i = 0, last_good = 0, by_bsig = 0;
	off_t log_size = -1, cp_size = -1, pos = 0;
	bool chain_ok = true;
	pv_mhash leaf, root;
	ssize_t len;
	pv_status st = PV_OK;
	FILE *f = NULL, *cpf = NULL;

	memset(rep, 0, sizeof(*rep));
	rep->is_ok = true;
	rep->bad_entry = -1;
	rep->problem = "none";
	pv_merkle_compact_init(&tree);
	if ((pk = malloc(sizeof(*pk))) == NULL)
		return PV_ENOMEM;
	if ((st = audit_medium_open(loc, false, &m)) == PV_OK &&
	    (st = audit_signers_load(pk, m, root_pk)) == PV_OK)
		st = m->fn->snapshot(m, &f, &log_size, &cpf, &cp_size);
	if (st == PV_ENOTFOUND) /* no trail yet: nothing to check */
		st = PV_OK;
	if (st == PV_OK)
		st = load_checkpoints(cpf, cp_size, pk, &cps, &ncp, rep);
	if (st == PV_OK)
		st = load_anchor(loc, pk, &cps, &ncp, rep);
	if (st == PV_OK && published != NULL)
		st = load_outside(published, pk, &cps, &ncp, rep);
	if (st != PV_OK)
		goto out;
	rep->checkpoints = ncp;
	while (f != NULL && (log_size < 0 || pos < log_size) &&
	    (len = getline(&line, &cap, f)) > 0) {
		if (log_size >= 0 && pos + len > log_size)
			len = (ssize_t)(log_size - pos); /* grew since */
		if (line[len - 1] != '\n') {
			fault(rep, (int64_t)i, "torn",
			    "the last entry is incomplete");
			break;
		}
		line[--len] = '\0';
		if (chain_ok && !check_entry(f, line, i, chain, rep))
			chain_ok = false;
		if (chain_ok && pv_bsig_present(line, (size_t)len)) {
			if (!audit_grow((void **)&sl, &slcap, nsl + 1,
				sizeof(*sl), 1024)) {
				st = PV_ENOMEM;
				break;
			}
			sl[nsl++] = (struct signed_line){ i, pos, (size_t)len };
		}
		pos += len + 1;
		pv_merkle_leaf_hash(line, (size_t)len, leaf);
		pv_merkle_compact_append(&tree, leaf);
		pv_audit_chain_next(chain, leaf);
		i++;
		/* Checkpoints are sorted by size: the root only where one
		 * ends, not after every entry. */
		if (k < ncp && cps[k].c.size <= i) {
			pv_merkle_compact_root(&tree, root);
			for (; k < ncp && cps[k].c.size <= i; k++)
				if (cps[k].c.size == i)
					check_head(&cps[k], i, root, chain_ok,
					    &last_good, rep);
		}
		if (progress != NULL && (i & 0xffff) == 0)
			progress(arg, i);
	}
	rep->entries = i;
	rep->batch_signatures = nsl;
	while (k < ncp && cps[k].c.size <= i) /* size 0, or a torn stop */
		k++;
	pv_merkle_compact_root(&tree, root);
	memcpy(rep->root, root, sizeof(rep->root));
	if (st == PV_OK && k < ncp && (flags & PV_VERIFY_PREFIX)) {
		for (; k < ncp; k++)
			if (!cps[k].is_sig_ok)
				fault(rep, (int64_t)i, "forged",
				    "a checkpoint past the end of the log has "
				    "no valid signature");
		if (cps[ncp - 1].is_sig_ok) {
			rep->has_past = true;
			rep->past = cps[ncp - 1].c;
		}
	}
	if (st == PV_OK && k < ncp) {
		PV_IGNORE(pv_snprintf(msg, sizeof(msg),
		    "a checkpoint covers %llu entries but the log has %llu: "
		    "entries from %llu on were removed",
		    (unsigned long long)cps[ncp - 1].c.size,
		    (unsigned long long)i, (unsigned long long)i));
		fault(rep, (int64_t)i, "truncated", msg);
	}
	if (st == PV_OK) {
		by_bsig = signed_prefix(f != NULL ? fileno(f) : -1, sl, nsl, pk,
		    last_good, rep);
		cover(rep, by_bsig, last_good, chain_ok, flags);
	}
	if (progress != NULL)
		progress(arg, i);
out:
	if (f != NULL)
		fclose(f);
	if (cpf != NULL)
		fclose(cpf);
	if (m != NULL)
		m->fn->close(m);
	free(line);
	free(sl);
	free(cps);
	free(pk);
	return st;
}

pv_status
pv_audit_scan(const struct pv_audit_loc *loc,
    bool (*cb)(void *arg, uint64_t seq, json_t *entry), void *arg)
{
	struct audit_medium *m = NULL;
	char *line = NULL;
	size_t cap = 0;
	uint64_t i = 0;
	off_t size = -1, cp_size, pos = 0;
	ssize_t len;
	pv_status st;
	FILE *f = NULL, *cpf = NULL;

	if ((st = audit_medium_open(loc, false, &m)) != PV_OK)
		return st == PV_ENOTFOUND ? PV_OK : st;
	st = m->fn->snapshot(m, &f, &size, &cpf, &cp_size);
	m->fn->close(m);
	if (cpf != NULL)
		fclose(cpf);
	if (st != PV_OK)
		return st == PV_ENOTFOUND ? PV_OK : st;
	while (
	    (size < 0 || pos < size) && (len = getline(&line, &cap, f)) > 0) {
		struct audit_entry e;
		json_t *j;
		bool more;

		pos += len;
		if (line[len - 1] != '\n' || (size >= 0 && pos > size))
			break; /* torn tail: not an entry */
		if (!audit_entry_parse(line, &e, &j)) {
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
