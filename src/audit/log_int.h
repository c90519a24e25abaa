/*
 * log_int.h — the state of an open audit trail (struct pv_audit) and what
 * the files that keep it share: log.c (open, close, catch-up), writer.c
 * (queue, writer thread, group commit), index.c (tree state and the
 * server's indexes), checkpoint.c (signed heads, proofs), state.c (the
 * resume state), tail.c (settling an unsigned tail). The line format is
 * entry.h. Not an API: nothing outside src/audit includes it.
 *
 * Locking, for every file here: the queue fields are under `lock`; the
 * tree state (sizes, chain, leaves, offsets, the indexes) is written only
 * with `tree_lock` held for writing, by a thread that also holds the
 * writers' lock (medium.h: an flock, or a database lock); readers take
 * `tree_lock` for reading and hold it only to copy what they need.
 */
#ifndef PV_AUDIT_LOG_INT_H
#define PV_AUDIT_LOG_INT_H

#include "audit/audit.h"
#include "audit/entry.h"
#include "audit/medium.h"
#include "audit/merkle.h"
#include "audit/signers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct audit_pending {
	struct pv_audit_event ev;
	pv_audit_done done;
	void *arg;
	int64_t ts_ms;
};

/* Per-patient list of entry indexes (server only). */
struct audit_pindex {
	char *patient;
	uint64_t *seqs;
	size_t n, cap;
};

struct audit_nonce {
	int64_t ts;
	char nonce[65];
};

#define AUDIT_ANCHOR_MAX 1024 /* a checkpoint line, with room */
#define AUDIT_PATH_MAX 1024

struct pv_audit {
	struct audit_medium *m; /* owned */
	struct audit_signers signers; /* under the writers' lock */
	unsigned char root_pk[PV_SIGN_PK_BYTES];
	const unsigned char *sk, *pk;
	unsigned char *state_key; /* PV_KEY_BYTES, secret memory */
	char key_id[32];
	bool keep_index;

	/* queue */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct audit_pending *q;
	size_t q_n, q_cap;
	bool is_stopping;
	pthread_t writer;
	bool has_writer;

	/* tree state (tree_lock) */
	pthread_rwlock_t tree_lock;
	struct pv_merkle_compact compact;
	unsigned char chain[PV_AUDIT_HASH_BYTES];
	uint64_t size;
	off_t end;
	pv_mhash *leaves;
	struct pv_merkle_cache mcache; /* subtree hashes over leaves */
	off_t *offsets;
	size_t idx_cap;
	struct audit_pindex *pidx; /* open addressing */
	size_t pidx_cap, pidx_n;
	struct audit_nonce *nonces;
	size_t nonces_n, nonces_cap;

	_Atomic bool is_healthy;
	int64_t last_cp_sync;
	int64_t cp_sync_interval;
	uint64_t last_cp_size;
	/* A transactional medium refused a commit after the batch was
	 * absorbed: the tree state is ahead of the trail and is rebuilt
	 * from it before the next write (log.c). */
	bool needs_reload;
	/* pv_audit_open on a transactional medium: the signed part of the
	 * trail is read before the writers' lock is taken (log.c). */
	bool is_prereading;
	/* The head this process last committed or opened on (tree_lock):
	 * a re-read after a reset must reach it with this root (log.c). */
	uint64_t floor_size;
	pv_mhash floor_root;
	/* anchor.c: this node's anchor file ("" on files media) and the
	 * checkpoint line to write there once its commit is durable. */
	char anchor_path[AUDIT_PATH_MAX];
	char anchor_due[AUDIT_ANCHOR_MAX];
};

/* Sets the floor to the current head (caller holds tree_lock). */
void audit_floor_set(struct pv_audit *a);

/* ---- anchor.c ---- */

/* Sets a->anchor_path for a transactional medium (DIR/audit/anchor.json). */
PV_MUST_CHECK pv_status audit_anchor_init(struct pv_audit *a,
    const struct pv_audit_loc *loc);
/* This node's anchor: PV_ENOTFOUND when there is none (or no path),
 * PV_ECRYPTO when it does not parse, PV_EIO when it cannot be read. */
PV_MUST_CHECK pv_status audit_anchor_load(const struct pv_audit *a,
    struct pv_checkpoint *c);
/* Writes a->anchor_due (if any) as the anchor, atomically; clears it. A
 * failure is logged: the previous anchor stays, still a true prefix. */
void audit_anchor_save(struct pv_audit *a);

/* ---- log.c ---- */

/*
 * Reads what other writers appended since a->end into the tree state,
 * checking chain, batch signature and latest checkpoint (PV_ECRYPTO when
 * they do not hold); settles an unsigned or torn tail (tail.c). Caller
 * holds the writers' lock and tree_lock for writing.
 */
PV_MUST_CHECK pv_status audit_catch_up(struct pv_audit *a, bool is_opening);

/*
 * Ends the writers' section (medium lock): keeps its work when st is
 * PV_OK — on a transactional medium this commits, the durability point —
 * and returns the section's status (PV_EUNAVAIL when the commit failed).
 * After a failure on a transactional medium the tree state is marked for
 * a rebuild. Caller holds tree_lock for writing.
 */
PV_MUST_CHECK pv_status audit_unlock(struct pv_audit *a, pv_status st);
/* Forgets the tree state and indexes; the next catch-up reads the
 * whole trail again. Caller holds tree_lock for writing. */
void audit_tree_reset(struct pv_audit *a);

/* ---- writer.c ---- */

/* Starts the writer thread; audit_writer_stop drains the queue and joins
 * it (a no-op when it was not started). */
PV_MUST_CHECK pv_status audit_writer_start(struct pv_audit *a);
void audit_writer_stop(struct pv_audit *a);
/*
 * Appends items (n >= 1, borrowed) as one batch, its last line signed,
 * in one write and one fdatasync, then absorbs it. Caller holds the
 * writers' lock and tree_lock for writing. On failure the stream is cut back.
 */
PV_MUST_CHECK pv_status audit_write_batch(struct pv_audit *a,
    struct audit_pending *items, size_t n);
/* write() of all n bytes, retrying on EINTR; false on any failure. */
bool audit_write_all(int fd, const void *buf, size_t n);

/* ---- state.c ---- */

/* Derives a->state_key (secret memory) from the signing key. */
PV_MUST_CHECK pv_status audit_state_key(struct pv_audit *a,
    const unsigned char *sign_sk);
/* Rewrites DIR/audit/state from the tree state (logs a failure). */
void audit_state_write(struct pv_audit *a);
/* Loads the tree state from DIR/audit/state if its MAC holds and it
 * fits the log; false (nothing changed) otherwise. */
bool audit_state_read(struct pv_audit *a);

/* ---- checkpoint.c ---- */

/* Signs a head over the a->size entries held. Caller holds tree_lock. */
PV_MUST_CHECK pv_status audit_checkpoint_sign(struct pv_audit *a,
    struct pv_checkpoint *c);
/*
 * Appends a signed head when the log grew since the last one; with
 * do_sync (closing) fdatasyncs the file in any case.
 */
void audit_checkpoint_append(struct pv_audit *a, bool do_sync);
/*
 * The latest checkpoint, when it reaches past the a->size entries held:
 * its signature must verify (else PV_ECRYPTO); *size gets its size, or
 * 0 when there is nothing to hold the log to.
 */
PV_MUST_CHECK pv_status audit_checkpoint_pending(struct pv_audit *a,
    struct pv_checkpoint *c, uint64_t *size);
/* Parses one checkpoint line; false when it is not one. */
bool audit_checkpoint_parse(const char *line, struct pv_checkpoint *c);
/* Parses the newest checkpoint of m; PV_ENOTFOUND when there is none
 * or it does not parse. */
PV_MUST_CHECK pv_status audit_checkpoint_last(struct audit_medium *m,
    struct pv_checkpoint *out);

/* ---- index.c ---- */

/*
 * Adds the durable line at offset (len bytes without its newline, parsed
 * into e; both borrowed) as entry a->size: the compact range, the chain,
 * and with keep_index its leaf, offset and index entries. Caller holds
 * tree_lock for writing.
 */
PV_MUST_CHECK pv_status audit_absorb(struct pv_audit *a, const char *line,
    size_t len, off_t offset, const struct audit_entry *e);
/* Frees both indexes. */
void audit_index_free(struct pv_audit *a);
/* Grows *p to hold need elements of elem bytes, doubling from first. */
bool audit_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first);

/* ---- tail.c ---- */

/*
 * Moves the bytes [at, EOF) of the log — n complete entries no signature
 * covers, maybe followed by a torn line — to DIR/audit/quarantine.jsonl
 * (0600, appended, fdatasync'ed first), then cuts the log at `at` and
 * fdatasyncs it, and logs an error. Caller holds the flock and tree_lock
 * for writing; at is a->end. The caller then records the quarantine in
 * the trail.
 */
PV_MUST_CHECK pv_status audit_quarantine(struct pv_audit *a, const char *bytes,
    size_t len, uint64_t n);
/* Fills ev with the entry that records a quarantine of n entries. */
void audit_quarantine_event(struct pv_audit_event *ev, uint64_t n);

#endif
