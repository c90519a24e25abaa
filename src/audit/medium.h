/*
 * medium.h — where the audit trail's bytes live. Not an API: only the
 * files of src/audit include it.
 *
 * The trail is one append-only stream of lines (the entries, entry.h)
 * plus a stream of checkpoint lines, a quarantine and a writer's resume
 * state. Two media hold them:
 *  - files (medium_file.c): DIR/audit/log.jsonl, checkpoints.jsonl,
 *    quarantine.jsonl, state; writers serialise on an flock of the log;
 *    an append is durable when append() returns (write + fdatasync);
 *  - PostgreSQL (medium_pg.c): tables audit_log (one row per line, with
 *    its sequence number and its byte offset in the stream, so offsets
 *    mean the same on both media), audit_checkpoints, audit_quarantine,
 *    audit_state, in the records database; writers serialise on a
 *    transaction-scoped advisory lock; an append is durable when
 *    unlock(keep = true) commits (is_transactional).
 * Everything above this interface — the chain, batch signatures,
 * catching up with other writers, checkpoints, proofs, verification — is
 * the same code for both, so several phivault nodes appending to one
 * PostgreSQL trail behave exactly like the server and the CLI appending
 * to one file today.
 *
 * Ownership: audit_medium_open hands out a medium the caller releases
 * with fn->close. Buffers passed in are borrowed. Threads: lock, unlock,
 * size, append, cut, cp_*, quarantine and state_* are called only by the
 * holder of the writers' lock (one thread at a time); read may be called
 * from any thread at any time (it has its own connection or fd).
 */
#ifndef PV_AUDIT_MEDIUM_H
#define PV_AUDIT_MEDIUM_H

#include "audit/audit.h"

#include <stdio.h>
#include <sys/types.h>

struct audit_medium;

struct audit_medium_ops {
	/* Takes the writers' exclusive lock (PV_EIO/PV_EUNAVAIL). */
	pv_status (*lock)(struct audit_medium *);
	/*
	 * Releases it. keep = true keeps what was appended (on a
	 * transactional medium: commits, and that is the durability point;
	 * its failure is returned); false discards it where the medium
	 * can (rollback). Files: PV_OK.
	 */
	pv_status (*unlock)(struct audit_medium *, bool keep);
	/* Bytes in the log stream (caller holds the lock). */
	pv_status (*size)(struct audit_medium *, off_t *out);
	/* Exactly len bytes of the log stream at off (PV_EIO short). */
	pv_status (
	    *read)(struct audit_medium *, void *buf, size_t len, off_t off);
	/* Appends whole lines (len bytes, each ending in '\n') at `at`,
	 * which must be the current size. */
	pv_status (*append)(struct audit_medium *, const char *buf, size_t len,
	    off_t at);
	/* Cuts the log stream back to `at` (a line boundary). */
	pv_status (*cut)(struct audit_medium *, off_t at);
	/* Appends one checkpoint line (len bytes, no newline; len 0: none,
	 * a sync only); do_sync makes it durable now (files;
	 * transactional media at unlock). */
	pv_status (*cp_append)(struct audit_medium *, const char *line,
	    size_t len, bool do_sync);
	/* The newest checkpoint line into buf (NUL-terminated);
	 * PV_ENOTFOUND when there is none or it does not fit. */
	pv_status (*cp_last)(struct audit_medium *, char *buf, size_t cap);
	/* Keeps len bytes of unsigned entries out of the trail. */
	pv_status (
	    *quarantine)(struct audit_medium *, const char *bytes, size_t len);
	/* The writer's resume state (an opaque, MACed record). */
	bool (*state_load)(struct audit_medium *, void *rec, size_t n);
	void (*state_save)(struct audit_medium *, const void *rec, size_t n);
	/*
	 * A consistent snapshot for offline reading: the log stream and the
	 * checkpoint stream as files positioned at 0 (the caller fcloses
	 * them), and their sizes as writers had completed them (a whole
	 * batch and its checkpoint, never half of one).
	 */
	pv_status (*snapshot)(struct audit_medium *, FILE **log,
	    off_t *log_size, FILE **cps, off_t *cp_size);
	/* The registered node signing keys (transactional media; NULL
	 * on files, where the vault's own key is the only signer). */
	pv_status (*signers)(struct audit_medium *,
	    void (*cb)(void *arg, const char *key_id,
		const unsigned char pk[PV_SIGN_PK_BYTES], const char *endorser,
		const unsigned char sig[PV_SIG_BYTES]),
	    void *arg);
	/* Adds a node key and its endorsement to the registry (an existing
	 * key id is left as it is). */
	pv_status (*add_signer)(struct audit_medium *, const char *key_id,
	    const unsigned char pk[PV_SIGN_PK_BYTES], const char *endorser,
	    const unsigned char sig[PV_SIG_BYTES]);
	void (*close)(struct audit_medium *);
};

struct audit_medium {
	const struct audit_medium_ops *fn; /* the medium's functions */
	bool is_transactional;
	char slot[33]; /* the writer's key id: names its resume state */
};

/*
 * Opens the medium loc names: loc->dsn set → PostgreSQL, else the files
 * under loc->vault_dir (created when is_writer). PV_ENOTFOUND: a reader
 * found no trail there.
 */
PV_MUST_CHECK pv_status audit_medium_open(const struct pv_audit_loc *loc,
    bool is_writer, struct audit_medium **out);

PV_MUST_CHECK pv_status audit_medium_file_open(const char *vault_dir,
    bool is_writer, struct audit_medium **out);
PV_MUST_CHECK pv_status audit_medium_pg_open(const char *dsn,
    const char *password, struct audit_medium **out);

/* The file trail's quarantine (DIR/audit/quarantine.jsonl) for reading,
 * positioned at 0; NULL when there is none. The caller fcloses it. */
FILE *audit_medium_file_quarantine(const char *vault_dir);

#endif
