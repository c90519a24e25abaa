/*
 * log.c — opening and closing the audit trail, and catching up with
 * what other writers (or a crash) left in it.
 *
 * The trail is DIR/audit/log.jsonl, one entry per line (the format is in
 * entry.c), each line a leaf of an RFC 6962 Merkle tree (merkle.c) and
 * carrying the hash chain before it; the last line of every batch is
 * signed (batchsig.h). The rest is split by job: writer.c (the queue,
 * the writer thread, group commit, the chain), index.c (the tree state
 * and the server's indexes), checkpoint.c (signed heads and proofs),
 * state.c (a CLI writer's resume hint), tail.c (the unsigned tail),
 * verify.c (offline checks and scans).
 *
 * Guarantees: a log that does not verify does not open (PV_ECRYPTO).
 * Before every write, under the flock, a writer re-reads what was
 * appended since its last look: every line must parse and continue the
 * chain; lines are taken up to the last one with a valid batch signature
 * and as far as the latest checkpoint reaches (whose root must then
 * match); a writer never signs a batch or a checkpoint over entries no
 * valid signature covers — those are quarantined (tail.c) and only a
 * torn last line is cut.
 */
#include "audit/batchsig.h"
#include "audit/log_int.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Checks a stored line continues the chain at position a->size; e gets
 * the parsed entry.
 */
static bool
line_fits(struct pv_audit *a, const char *line, struct audit_entry *e)
{
	char want[64];

	if (!audit_entry_parse(line, e, NULL) || e->seq < 0 ||
	    (uint64_t)e->seq != a->size)
		return false;
	if (pv_b64_encode(a->chain, sizeof(a->chain), want, sizeof(want)) !=
	    PV_OK)
		return false;
	return strcmp(e->prev, want) == 0;
}

/* ---- catching up with other writers ---------------------------------- */

/*
 * A node registered since the signers were loaded: reload them once and
 * check line again.
 */
static bool
signer_added(struct pv_audit *a, const char *line, size_t len)
{
	return a->m->fn->signers != NULL &&
	    audit_signers_load(&a->signers, a->m, a->root_pk) == PV_OK &&
	    audit_signers_bsig(&a->signers, line, len) == PV_OK;
}

/*
 * Finds the last complete line of buf (len bytes read from a->end) that
 * carries a batch signature and checks it: *end points past its newline
 * (buf when there is none). A signature that does not verify is
 * PV_ECRYPTO: the line was changed or written without the key.
 */
static pv_status
last_signed(struct pv_audit *a, char *buf, size_t len, char **end)
{
	char *stop, *nl, *start;

	*end = buf;
	/* stop: one past the newline that ends the candidate line. */
	nl = memrchr(buf, '\n', len);
	for (stop = nl != NULL ? nl + 1 : buf; stop > buf; stop = start) {
		nl = memrchr(buf, '\n', (size_t)(stop - 1 - buf));
		start = nl != NULL ? nl + 1 : buf;
		if (!pv_bsig_present(start, (size_t)(stop - 1 - start)))
			continue;
		if (audit_signers_bsig(&a->signers, start,
			(size_t)(stop - 1 - start)) != PV_OK &&
		    !signer_added(a, start, (size_t)(stop - 1 - start))) {
			pv_log(PV_LOG_ERROR, "audit_batch_signature_invalid",
			    NULL, (const char *)NULL);
			return PV_ECRYPTO;
		}
		*end = stop;
		break;
	}
	return PV_OK;
}

/*
 * What follows the last covered line: only a torn line (a crash
 * mid-write, never an entry) is cut when opening; complete entries are
 * quarantined and the quarantine is recorded in a signed entry.
 */
static pv_status
settle_tail(struct pv_audit *a, const char *rest, size_t len, bool is_opening)
{
	struct audit_pending p;
	const char *q = rest;
	uint64_t n = 0;
	pv_status st;

	while ((q = memchr(q, '\n', (size_t)(rest + len - q))) != NULL) {
		n++;
		q++;
	}
	if (n == 0) {
		if (!is_opening || a->m->fn->cut(a->m, a->end) != PV_OK)
			return PV_ECRYPTO;
		pv_log(PV_LOG_WARN, "audit_torn_tail_removed", NULL,
		    (const char *)NULL);
		return PV_OK;
	}
	if ((st = audit_quarantine(a, rest, len, n)) != PV_OK)
		return st;
	memset(&p, 0, sizeof(p));
	audit_quarantine_event(&p.ev, n);
	p.ts_ms = audit_now_ms();
	return audit_write_batch(a, &p, 1);
}

/*
 * Hold points: sizes the trail must reach, with the root it must have
 * there. The latest checkpoint in the trail's storage (when it reaches
 * past what was read), this node's anchor when opening (anchor.c), and
 * the floor: the head this process last committed or opened on, so a
 * trail cut back under a running node is never re-read as good after a
 * reset (outside review of the anchor, finding 1). A read ahead of the
 * lock (preread) may stop short of the storage's checkpoint, which a
 * writer may have added after the size was taken; the locked pass that
 * follows holds to it.
 */
struct hold {
	uint64_t size;
	pv_mhash root;
};

struct holds {
	struct hold h[3];
	size_t n;
	uint64_t reach, strict_reach;
};

static void
hold_add(struct holds *hs, uint64_t size, const unsigned char *root,
    bool is_strict)
{
	struct hold *h = &hs->h[hs->n++];

	h->size = size;
	memcpy(h->root, root, sizeof(h->root));
	if (size > hs->reach)
		hs->reach = size;
	if (is_strict && size > hs->strict_reach)
		hs->strict_reach = size;
}

static pv_status
holds_load(struct pv_audit *a, bool is_opening, struct holds *hs)
{
	struct pv_checkpoint c;
	uint64_t cp_size;
	pv_status st;

	memset(hs, 0, sizeof(*hs));
	if ((st = audit_checkpoint_pending(a, &c, &cp_size)) != PV_OK)
		return st;
	if (cp_size > a->size)
		hold_add(hs, cp_size, c.root, !a->is_prereading);
	if (a->floor_size > a->size)
		hold_add(hs, a->floor_size, a->floor_root, true);
	if (!is_opening)
		return PV_OK;
	st = audit_anchor_load(a, &c);
	if (st == PV_ENOTFOUND)
		return PV_OK;
	if (st != PV_OK || !audit_signers_cp(&a->signers, &c)) {
		pv_log(PV_LOG_ERROR, "audit_anchor_invalid", NULL,
		    (const char *)NULL);
		return PV_ECRYPTO;
	}
	if (c.size > a->size)
		hold_add(hs, c.size, c.root, true);
	return PV_OK;
}

/* After absorbing up to a->size: each hold at that size must have the
 * tree's root. */
static pv_status
holds_check(struct pv_audit *a, const struct holds *hs)
{
	pv_mhash root;
	bool have = false;
	size_t i;

	for (i = 0; i < hs->n; i++) {
		if (hs->h[i].size != a->size)
			continue;
		if (!have)
			pv_merkle_compact_root(&a->compact, root);
		have = true;
		if (sodium_memcmp(root, hs->h[i].root, sizeof(root)) != 0) {
			pv_log(PV_LOG_ERROR, "audit_checkpoint_mismatch", NULL,
			    (const char *)NULL);
			return PV_ECRYPTO;
		}
	}
	return PV_OK;
}

static pv_status
cut_short(void)
{
	pv_log(PV_LOG_ERROR, "audit_trail_cut", NULL, (const char *)NULL);
	return PV_ECRYPTO;
}

void
audit_floor_set(struct pv_audit *a)
{
	a->floor_size = a->size;
	pv_merkle_compact_root(&a->compact, a->floor_root);
}

/*
 * Reads what was appended since a->end (by another writer, or before we
 * opened) into the state. Every line must parse and continue the chain;
 * lines are taken up to the last one with a valid batch signature and as
 * far as the latest checkpoint reaches (whose root must then match) —
 * older logs have checkpoints only. The rest is settled by settle_tail.
 * Caller holds the flock and tree_lock for writing.
 */
pv_status
audit_catch_up(struct pv_audit *a, bool is_opening)
{
	struct audit_entry e;
	struct holds hs;
	char *buf = NULL, *p, *nl, *signed_end;
	off_t size;
	size_t len;
	pv_status st;

	if (a->needs_reload)
		audit_tree_reset(a);
	if ((st = a->m->fn->size(a->m, &size)) != PV_OK)
		return st;
	if (size < a->end)
		return cut_short(); /* the log shrank under us */
	if ((st = holds_load(a, is_opening, &hs)) != PV_OK)
		return st;
	if (size == a->end)
		return hs.strict_reach > a->size ? cut_short() : PV_OK;
	len = (size_t)(size - a->end);
	if ((buf = malloc(len + 1)) == NULL)
		return PV_ENOMEM;
	if ((st = a->m->fn->read(a->m, buf, len, a->end)) != PV_OK)
		goto done;
	buf[len] = '\0';
	if ((st = last_signed(a, buf, len, &signed_end)) != PV_OK)
		goto done;
	for (p = buf; p < signed_end || a->size < hs.reach; p = nl + 1) {
		/* No line left with a hold point still ahead: cut short
		 * (unless only the storage's checkpoint is, in a preread). */
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL) {
			if (p >= signed_end && a->size >= hs.strict_reach)
				break;
			st = cut_short();
			goto done;
		}
		*nl = '\0';
		if ((size_t)(nl - p) >= AUDIT_LINE_MAX ||
		    !line_fits(a, p, &e)) {
			st = PV_ECRYPTO;
			goto done;
		}
		if ((st = audit_absorb(a, p, (size_t)(nl - p), a->end, &e)) !=
			PV_OK ||
		    (st = holds_check(a, &hs)) != PV_OK)
			goto done;
	}
	/* Reading ahead without the lock: what is not signed yet is left
	 * for the locked pass (only a writer may settle it). */
	if (p < buf + len && !a->is_prereading)
		st = settle_tail(a, p, (size_t)(buf + len - p), is_opening);
done:
	free(buf);
	return st;
}

/* ---- open / close ------------------------------------------------------ */

pv_status
audit_unlock(struct pv_audit *a, pv_status st)
{
	pv_status ust = a->m->fn->unlock(a->m, st == PV_OK);

	if (st == PV_OK && ust != PV_OK) {
		pv_log(PV_LOG_ERROR, "audit_commit_failed", NULL,
		    (const char *)NULL);
		st = PV_EUNAVAIL;
	}
	/* Rolled back: what was absorbed in the section may be gone. */
	if (st != PV_OK && a->m->is_transactional)
		a->needs_reload = true;
	return st;
}

/*
 * A server on a shared trail reads everything up to the last signed line
 * before it takes the writers' lock: lines a batch signature covers are
 * never changed by a writer (only an unsigned tail is settled), and a
 * whole-trail read under the lock held every other node's responses for
 * its duration (bench/scale.sh: 4.6 s at 625,000 entries). The locked
 * pass then reads only what was appended meanwhile, and settles the
 * tail. Files media keep the single locked pass.
 */
static pv_status
preread(struct pv_audit *a)
{
	pv_status st;

	if (!a->keep_index || !a->m->is_transactional)
		return PV_OK;
	a->is_prereading = true;
	a->size = 0;
	a->end = 0;
	memset(a->chain, 0, sizeof(a->chain));
	pv_merkle_compact_init(&a->compact);
	pthread_rwlock_wrlock(&a->tree_lock);
	st = audit_catch_up(a, true);
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}

pv_status
pv_audit_open(const struct pv_audit_opts *o, struct pv_audit **out)
{
	struct pv_audit *a;
	pv_status st = PV_EIO;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return PV_ENOMEM;
	a->sk = o->sign_sk;
	a->pk = o->sign_pk;
	memcpy(a->root_pk, o->root_pk != NULL ? o->root_pk : o->sign_pk,
	    sizeof(a->root_pk));
	a->keep_index = o->keep_index;
	a->cp_sync_interval =
	    o->cp_sync_interval > 0 ? o->cp_sync_interval : 60;
	a->is_healthy = true;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_rwlock_init(&a->tree_lock, NULL);
	pv_merkle_compact_init(&a->compact);
	if (pv_strlcpy(a->key_id, o->key_id, sizeof(a->key_id)) != PV_OK)
		goto fail;
	if ((st = audit_state_key(a, o->sign_sk)) != PV_OK ||
	    (st = audit_medium_open(o->loc, true, &a->m)) != PV_OK ||
	    (st = audit_anchor_init(a, o->loc)) != PV_OK)
		goto fail;
	PV_IGNORE(pv_strlcpy(a->m->slot, a->key_id, sizeof(a->m->slot)));
	if ((st = audit_signers_load(&a->signers, a->m, a->root_pk)) != PV_OK)
		goto fail;
	/* A node whose key the others cannot check must not write: its
	 * batches would stop every other writer (fail closed, here). */
	if (!audit_signers_has(&a->signers, a->pk)) {
		pv_log(PV_LOG_ERROR, "audit_signing_key_not_registered", NULL,
		    "key_id", a->key_id, (const char *)NULL);
		st = PV_ECRYPTO;
		goto fail;
	}
	if ((st = preread(a)) != PV_OK || (st = a->m->fn->lock(a->m)) != PV_OK)
		goto fail;
	/* The server reads everything (proofs need every leaf); a CLI run
	 * resumes from the state hint and reads only what follows it. */
	if (a->is_prereading)
		a->is_prereading = false; /* read up to a->end already */
	else if (a->keep_index || !audit_state_read(a)) {
		a->size = 0;
		a->end = 0;
		memset(a->chain, 0, sizeof(a->chain));
		pv_merkle_compact_init(&a->compact);
	}
	pthread_rwlock_wrlock(&a->tree_lock);
	st = audit_unlock(a, audit_catch_up(a, true));
	if (st == PV_OK)
		audit_floor_set(a);
	pthread_rwlock_unlock(&a->tree_lock);
	if (st != PV_OK)
		goto fail;
	if ((st = audit_writer_start(a)) != PV_OK)
		goto fail;
	a->last_cp_sync = pv_now();
	{ /* No new checkpoint line unless the log grew past the last. */
		struct pv_checkpoint last;

		if (audit_checkpoint_last(a->m, &last) == PV_OK)
			a->last_cp_size = last.size;
	}
	*out = a;
	return PV_OK;
fail:
	pv_audit_close(a);
	return st;
}

void
pv_audit_close(struct pv_audit *a)
{
	if (a == NULL)
		return;
	if (a->has_writer) {
		audit_writer_stop(a);
		if (a->m->fn->lock(a->m) == PV_OK) {
			pv_status st;

			pthread_rwlock_wrlock(&a->tree_lock);
			st = audit_catch_up(a, false);
			if (st == PV_OK && a->size > 0)
				audit_checkpoint_append(a, true);
			audit_state_write(a);
			if (audit_unlock(a, st) == PV_OK)
				audit_anchor_save(a);
			pthread_rwlock_unlock(&a->tree_lock);
		}
	}
	if (a->m != NULL)
		a->m->fn->close(a->m);
	audit_index_free(a);
	free(a->leaves);
	pv_merkle_cache_free(&a->mcache);
	free(a->offsets);
	free(a->q);
	pv_secret_free(a->state_key, PV_KEY_BYTES);
	pthread_rwlock_destroy(&a->tree_lock);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* ---- reading ------------------------------------------------------------ */

uint64_t
pv_audit_size(struct pv_audit *a)
{
	uint64_t n;

	pthread_rwlock_rdlock(&a->tree_lock);
	n = a->size;
	pthread_rwlock_unlock(&a->tree_lock);
	return n;
}
