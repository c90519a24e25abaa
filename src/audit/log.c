/*
 * log.c — appending to the audit trail: group commit, hash chain, batch
 * signatures, Merkle tree, signed checkpoints, multi-process safety.
 *
 * File format (DIR/audit/log.jsonl): one JSON object per line, encoded
 * and parsed only by entry.c (the format is described there). "bsig"
 * ends the last line of every batch: a signature over that line without
 * it (batchsig.h). The leaf of entry N is the line's bytes (without the
 * newline), hashed per RFC 6962. "prev" is the running chain before
 * entry N:
 *   chain_0 = 32 zero bytes; chain_{N+1} = SHA-256(0x02 || chain_N || leaf_N)
 * (0x02: a domain apart from RFC 6962's 0x00 leaves and 0x01 nodes). The
 * chain costs one hash per entry and lets `audit verify` name the exact
 * entry that was changed, removed, inserted or reordered; the batch
 * signature makes the chain unforgeable without the key (one valid
 * signature covers every line up to its own); the Merkle tree gives the
 * compact proofs (RFC 6962) clients check against signed heads.
 *
 * Checkpoints (DIR/audit/checkpoints.jsonl, checkpoint.c): a signed
 * head after each group commit and at close. Resume state
 * (DIR/audit/state, state.c): a MACed hint that lets a short-lived CLI
 * append without re-reading the whole log.
 *
 * Guarantees: a completion reports PV_OK only after the entry's bytes,
 * and the signature that ends its batch, were fdatasync'ed; a failed
 * batch is cut back off the file (ftruncate) so the log never holds a
 * half batch; writers in several processes serialise on flock and
 * re-read each other's appends before writing, checking the chain, the
 * last batch signature and the latest checkpoint; a writer never signs a
 * batch or a checkpoint over entries no valid signature covers — those
 * are quarantined (tail.c).
 */
#include "audit/batchsig.h"
#include "audit/log_int.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUE_MAX 65536

/* ---- small helpers ------------------------------------------------- */

void
pv_audit_chain_next(unsigned char chain[PV_AUDIT_HASH_BYTES],
    const unsigned char leaf[PV_AUDIT_HASH_BYTES])
{
	crypto_hash_sha256_state st;
	const unsigned char tag = 0x02;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &tag, 1);
	crypto_hash_sha256_update(&st, chain, PV_AUDIT_HASH_BYTES);
	crypto_hash_sha256_update(&st, leaf, PV_MERKLE_HASH_BYTES);
	crypto_hash_sha256_final(&st, chain);
}

bool
audit_write_all(int fd, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, (const char *)buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

/*
 * Adds one line (already checked, parsed into e) to the in-memory state.
 * Caller holds tree_lock for writing.
 */
static pv_status
absorb(struct pv_audit *a, const char *line, size_t len, off_t offset,
    const struct audit_entry *e)
{
	pv_mhash leaf;
	pv_status st;

	pv_merkle_leaf_hash(line, len, leaf);
	pv_merkle_compact_append(&a->compact, leaf);
	pv_audit_chain_next(a->chain, leaf);
	if (a->keep_index) {
		if (a->size + 1 > a->idx_cap) {
			size_t ncap = a->idx_cap ? a->idx_cap * 2 : 1024;
			pv_mhash *nl;
			off_t *no;

			if (ncap > SIZE_MAX / sizeof(pv_mhash))
				return PV_ENOMEM;
			nl = realloc(a->leaves, ncap * sizeof(pv_mhash));
			if (nl == NULL)
				return PV_ENOMEM;
			a->leaves = nl;
			no = realloc(a->offsets, ncap * sizeof(off_t));
			if (no == NULL)
				return PV_ENOMEM;
			a->offsets = no;
			a->idx_cap = ncap;
		}
		memcpy(a->leaves[a->size], leaf, sizeof(pv_mhash));
		a->offsets[a->size] = offset;
		if ((st = audit_index_line(a, e, a->size)) != PV_OK)
			return st;
	}
	a->size++;
	a->end = offset + (off_t)len + 1;
	/* Each full chunk of leaves adds its subtree hashes. Out of memory,
	 * the cache stays behind (proofs only cost more) and catches up at
	 * the next chunk. */
	if (a->keep_index &&
	    a->size % ((uint64_t)1 << PV_MERKLE_CACHE_SHIFT) == 0)
		PV_IGNORE(pv_merkle_cache_extend(&a->mcache,
		    (const pv_mhash *)a->leaves, (size_t)a->size));
	return PV_OK;
}

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

/* ---- the writer -------------------------------------------------------- */

/*
 * Writes one batch, its last line signed (batchsig.h), in one write and
 * one fdatasync. Called with the flock held and tree_lock write-held.
 * On any failure the file is cut back to where it was.
 */
static pv_status
write_batch(struct pv_audit *a, struct audit_pending *items, size_t n)
{
	unsigned char chain[PV_AUDIT_HASH_BYTES];
	struct audit_entry e;
	char *buf = NULL;
	size_t cap, off = 0, i, len;
	off_t start = a->end;
	pv_mhash leaf;
	pv_status st = PV_OK;

	if (n > SIZE_MAX / AUDIT_LINE_MAX)
		return PV_ENOMEM;
	cap = n * AUDIT_LINE_MAX;
	buf = malloc(cap);
	if (buf == NULL)
		return PV_ENOMEM;
	memcpy(chain, a->chain, sizeof(chain));
	for (i = 0; i < n; i++) {
		if ((st = audit_entry_from_event(&items[i].ev, items[i].ts_ms,
		    a->size + i, chain, &e)) != PV_OK ||
		    (st = audit_entry_format(&e, buf + off, AUDIT_LINE_MAX - 1,
		    &len)) != PV_OK ||
		    (i + 1 == n && (st = pv_bsig_sign(buf + off, &len,
		    AUDIT_LINE_MAX - 1, a->sk)) != PV_OK))
			goto done;
		pv_merkle_leaf_hash(buf + off, len, leaf);
		pv_audit_chain_next(chain, leaf);
		buf[off + len] = '\n';
		off += len + 1;
	}
	if (pv_fault("audit_write") || lseek(a->fd, 0, SEEK_END) != start ||
	    !audit_write_all(a->fd, buf, off) || pv_fault("audit_fsync") ||
	    fdatasync(a->fd) != 0) {
		st = PV_EUNAVAIL;
		if (ftruncate(a->fd, start) != 0)
			pv_log(PV_LOG_ERROR, "audit_truncate_failed", NULL,
			    (const char *)NULL);
		goto done;
	}
	/* Durable: fold the batch into the in-memory state. Each entry is
	 * made again from its event: a->chain and a->size are where they
	 * were when it was formatted, so it is the entry of that line. */
	for (i = 0, off = 0; i < n; i++) {
		char *line = buf + off, *nl = memchr(line, '\n', cap - off);

		*nl = '\0';
		if ((st = audit_entry_from_event(&items[i].ev, items[i].ts_ms,
		    a->size, a->chain, &e)) != PV_OK ||
		    (st = absorb(a, line, (size_t)(nl - line), start +
		    (off_t)off, &e)) != PV_OK)
			goto done;
		off += (size_t)(nl - line) + 1;
	}
done:
	free(buf);
	return st;
}

/* ---- catching up with other writers ---------------------------------- */

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
		if (pv_bsig_verify(start, (size_t)(stop - 1 - start), a->pk) !=
		    PV_OK) {
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
settle_tail(struct pv_audit *a, const char *rest, size_t len,
    bool is_opening)
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
		if (!is_opening || ftruncate(a->fd, a->end) != 0)
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
	return write_batch(a, &p, 1);
}

/*
 * Reads what was appended since a->end (by another writer, or before we
 * opened) into the state. Every line must continue the chain; lines are
 * taken up to the last one with a valid batch signature and as far as
 * the latest checkpoint reaches (whose root must then match) — older
 * logs have checkpoints only. The rest is settled by settle_tail. Caller
 * holds the flock and tree_lock for writing.
 */
static pv_status
catch_up(struct pv_audit *a, bool is_opening)
{
	struct audit_entry e;
	struct pv_checkpoint cp;
	struct stat sb;
	char *buf = NULL, *p, *nl, *signed_end;
	uint64_t cp_size;
	pv_mhash root;
	size_t len;
	pv_status st;

	if (fstat(a->fd, &sb) != 0)
		return PV_EIO;
	if (sb.st_size < a->end)
		return PV_ECRYPTO;	/* the log shrank under us */
	if (sb.st_size == a->end)
		return PV_OK;
	len = (size_t)(sb.st_size - a->end);
	if ((buf = malloc(len + 1)) == NULL)
		return PV_ENOMEM;
	if (pread(a->fd, buf, len, a->end) != (ssize_t)len) {
		st = PV_EIO;
		goto done;
	}
	buf[len] = '\0';
	if ((st = last_signed(a, buf, len, &signed_end)) != PV_OK ||
	    (st = audit_checkpoint_pending(a, &cp, &cp_size)) != PV_OK)
		goto done;
	for (p = buf; p < signed_end || a->size < cp_size; p = nl + 1) {
		/* No line left with the checkpoint still ahead: cut short. */
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL) {
			st = PV_ECRYPTO;
			goto done;
		}
		*nl = '\0';
		if ((size_t)(nl - p) >= AUDIT_LINE_MAX ||
		    !line_fits(a, p, &e)) {
			st = PV_ECRYPTO;
			goto done;
		}
		if ((st = absorb(a, p, (size_t)(nl - p), a->end, &e)) != PV_OK)
			goto done;
		if (a->size == cp_size) {
			pv_merkle_compact_root(&a->compact, root);
			if (sodium_memcmp(root, cp.root, sizeof(root)) != 0) {
				pv_log(PV_LOG_ERROR, "audit_checkpoint_mismatch",
				    NULL, (const char *)NULL);
				st = PV_ECRYPTO;
				goto done;
			}
		}
	}
	if (p < buf + len)
		st = settle_tail(a, p, (size_t)(buf + len - p), is_opening);
done:
	free(buf);
	return st;
}

/* ---- the writer thread ------------------------------------------------ */

static void *
writer_main(void *arg)
{
	struct pv_audit *a = arg;
	struct audit_pending *batch = NULL;
	size_t n, i, cap = 0;
	pv_status st;

	for (;;) {
		pthread_mutex_lock(&a->lock);
		while (a->q_n == 0 && !a->is_stopping)
			pthread_cond_wait(&a->cv, &a->lock);
		if (a->q_n == 0 && a->is_stopping) {
			pthread_mutex_unlock(&a->lock);
			break;
		}
		/* Take the whole queue: one write, one fsync for all of it. */
		struct audit_pending *t = a->q;
		a->q = batch;
		batch = t;
		n = a->q_n;
		size_t tc = a->q_cap;
		a->q_cap = cap;
		cap = tc;
		a->q_n = 0;
		pthread_mutex_unlock(&a->lock);

		st = PV_EIO;
		if (flock(a->fd, LOCK_EX) == 0) {
			pthread_rwlock_wrlock(&a->tree_lock);
			st = catch_up(a, false);
			if (st == PV_OK)
				st = write_batch(a, batch, n);
			if (st == PV_OK) {
				audit_checkpoint_append(a, false);
				audit_state_write(a);
			}
			pthread_rwlock_unlock(&a->tree_lock);
			flock(a->fd, LOCK_UN);
		}
		if (st == PV_OK) {
			pv_metric_add(PV_M_AUDIT_ENTRIES, n);
			pv_metric_inc(PV_M_AUDIT_FSYNCS);
			if (!a->is_healthy)
				pv_log(PV_LOG_WARN, "audit_recovered", NULL,
				    (const char *)NULL);
			a->is_healthy = true;
		} else {
			if (a->is_healthy)
				pv_log(PV_LOG_ERROR, "audit_write_failed", NULL,
				    "status", pv_status_name(st),
				    (const char *)NULL);
			a->is_healthy = false;
			pv_metric_add(PV_M_AUDIT_FAILURES, n);
			st = PV_EUNAVAIL;
		}
		for (i = 0; i < n; i++)
			if (batch[i].done != NULL)
				batch[i].done(batch[i].arg, st);
	}
	free(batch);
	return NULL;
}

/* ---- open / close ------------------------------------------------------ */

static int
open_append(const char *path)
{
	return open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
	    0600);
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
	a->fd = a->cp_fd = a->state_fd = -1;
	a->sk = o->sign_sk;
	a->pk = o->sign_pk;
	a->keep_index = o->keep_index;
	a->cp_sync_interval = o->cp_sync_interval > 0 ? o->cp_sync_interval :
	    60;
	a->is_healthy = true;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_rwlock_init(&a->tree_lock, NULL);
	pv_merkle_compact_init(&a->compact);
	if (pv_strlcpy(a->key_id, o->key_id, sizeof(a->key_id)) != PV_OK ||
	    pv_snprintf(a->log_path, sizeof(a->log_path), "%s/audit/log.jsonl",
	    o->vault_dir) != PV_OK ||
	    pv_snprintf(a->cp_path, sizeof(a->cp_path),
	    "%s/audit/checkpoints.jsonl", o->vault_dir) != PV_OK ||
	    pv_snprintf(a->state_path, sizeof(a->state_path), "%s/audit/state",
	    o->vault_dir) != PV_OK ||
	    pv_snprintf(a->quarantine_path, sizeof(a->quarantine_path),
	    "%s/audit/quarantine.jsonl", o->vault_dir) != PV_OK)
		goto fail;
	if ((st = audit_state_key(a, o->sign_sk)) != PV_OK)
		goto fail;
	a->fd = open_append(a->log_path);
	a->cp_fd = open_append(a->cp_path);
	a->state_fd = open(a->state_path, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (a->fd < 0 || a->cp_fd < 0)
		goto fail;
	if (flock(a->fd, LOCK_EX) != 0)
		goto fail;
	/* The server reads everything (proofs need every leaf); a CLI run
	 * resumes from the state hint and reads only what follows it. */
	if (a->keep_index || !audit_state_read(a)) {
		a->size = 0;
		a->end = 0;
		memset(a->chain, 0, sizeof(a->chain));
		pv_merkle_compact_init(&a->compact);
	}
	pthread_rwlock_wrlock(&a->tree_lock);
	st = catch_up(a, true);
	pthread_rwlock_unlock(&a->tree_lock);
	flock(a->fd, LOCK_UN);
	if (st != PV_OK)
		goto fail;
	if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
		st = PV_EINTERNAL;
		goto fail;
	}
	a->has_writer = true;
	a->last_cp_sync = pv_now();
	{	/* No new checkpoint line unless the log grew past the last. */
		struct pv_checkpoint last;

		if (pv_audit_latest_checkpoint(o->vault_dir, &last) == PV_OK)
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
		pthread_mutex_lock(&a->lock);
		a->is_stopping = true;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->writer, NULL);
		if (a->fd >= 0 && flock(a->fd, LOCK_EX) == 0) {
			pthread_rwlock_wrlock(&a->tree_lock);
			if (catch_up(a, false) == PV_OK && a->size > 0)
				audit_checkpoint_append(a, true);
			audit_state_write(a);
			pthread_rwlock_unlock(&a->tree_lock);
			flock(a->fd, LOCK_UN);
		}
	}
	if (a->fd >= 0)
		close(a->fd);
	if (a->cp_fd >= 0)
		close(a->cp_fd);
	if (a->state_fd >= 0)
		close(a->state_fd);
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

/* ---- submitting --------------------------------------------------------- */

pv_status
pv_audit_submit(struct pv_audit *a, const struct pv_audit_event *ev,
    pv_audit_done done, void *arg)
{
	pv_status st = PV_OK;

	if (ev->count < 0)
		return PV_EINVAL;
	pthread_mutex_lock(&a->lock);
	if (a->is_stopping || a->q_n >= QUEUE_MAX) {
		st = PV_EUNAVAIL;
	} else if (!audit_grow((void **)&a->q, &a->q_cap, a->q_n + 1,
	    sizeof(struct audit_pending), 1024)) {
		st = PV_ENOMEM;
	} else {
		struct audit_pending *p = &a->q[a->q_n++];

		p->ev = *ev;
		if (p->ev.outcome == NULL)
			p->ev.outcome = "error";
		if (p->ev.reason == NULL)
			p->ev.reason = "";
		p->done = done;
		p->arg = arg;
		p->ts_ms = audit_now_ms();
		pthread_cond_signal(&a->cv);
	}
	pthread_mutex_unlock(&a->lock);
	return st;
}

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool is_done;
	pv_status st;
};

static void
wake(void *arg, pv_status st)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->m);
	w->st = st;
	w->is_done = true;
	pthread_cond_signal(&w->c);
	pthread_mutex_unlock(&w->m);
}

pv_status
pv_audit_append(struct pv_audit *a, const struct pv_audit_event *ev)
{
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		false, PV_EUNAVAIL };
	pv_status st;

	if ((st = pv_audit_submit(a, ev, wake, &w)) != PV_OK)
		return st;
	pthread_mutex_lock(&w.m);
	while (!w.is_done)
		pthread_cond_wait(&w.c, &w.m);
	pthread_mutex_unlock(&w.m);
	pthread_cond_destroy(&w.c);
	pthread_mutex_destroy(&w.m);
	return w.st;
}

bool
pv_audit_is_healthy(struct pv_audit *a)
{
	return a->is_healthy;
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

/*
 * "Every entry appended before the request" includes what another
 * process (the CLI) appended: read it in first, under the writers' lock.
 */
pv_status
pv_audit_checkpoint(struct pv_audit *a, struct pv_checkpoint *out)
{
	pv_status st;

	if (flock(a->fd, LOCK_EX) != 0)
		return PV_EIO;
	pthread_rwlock_wrlock(&a->tree_lock);
	st = catch_up(a, false);
	if (st == PV_OK)
		st = audit_checkpoint_sign(a, out);
	pthread_rwlock_unlock(&a->tree_lock);
	flock(a->fd, LOCK_UN);
	return st;
}

pv_status
pv_audit_inclusion(struct pv_audit *a, uint64_t index, uint64_t size,
    unsigned char (*proof)[PV_AUDIT_HASH_BYTES], size_t *proof_len)
{
	pv_status st;

	pthread_rwlock_rdlock(&a->tree_lock);
	if (!a->keep_index || size > a->size || index >= size)
		st = PV_EINVAL;
	else
		st = pv_merkle_inclusion_proof_cached(
		    (const pv_mhash *)a->leaves, &a->mcache, (size_t)size,
		    (size_t)index, (pv_mhash *)proof, proof_len);
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}

pv_status
pv_audit_consistency(struct pv_audit *a, uint64_t from, uint64_t to,
    unsigned char (*proof)[PV_AUDIT_HASH_BYTES], size_t *proof_len)
{
	pv_status st;

	pthread_rwlock_rdlock(&a->tree_lock);
	if (!a->keep_index || to > a->size || from == 0 || from > to)
		st = PV_EINVAL;
	else
		st = pv_merkle_consistency_proof_cached(
		    (const pv_mhash *)a->leaves, &a->mcache, (size_t)from,
		    (size_t)to, (pv_mhash *)proof, proof_len);
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}
