/*
 * audit.h — the tamper-evident audit trail.
 *
 * One module every handler and admin command reports to. Entries are JSON
 * lines in DIR/audit/log.jsonl, each the leaf of an RFC 6962 Merkle tree
 * and each carrying the tree head before it ("prev"), so a changed,
 * removed, reordered or inserted entry is found at its exact position.
 * The last line of every group commit carries an Ed25519 batch signature
 * ("bsig", batchsig.h) that, through the chain, authenticates everything
 * before it, so the trail cannot be edited or added to without the
 * signing key. Ed25519-signed tree heads (checkpoints) go to
 * DIR/audit/checkpoints.jsonl after every group commit and at shutdown;
 * `audit checkpoint` prints the latest so it can be published outside the
 * vault (only a published head catches a log cut short).
 *
 * Durability: pv_audit_submit queues an entry and returns at once; one
 * writer thread appends every queued entry, fdatasyncs once (group
 * commit), signs a checkpoint, and only then calls each entry's
 * completion. The HTTP layer releases a response only from that
 * completion, so no PHI leaves before its audit entry is on disk; if the
 * write fails the completion gets PV_EUNAVAIL and the request is refused.
 *
 * What an entry holds (and what it never holds): time, actor id and role,
 * action, resource type and id, patient id, outcome and reason code,
 * source address, request id, break-glass grant, replay nonce digest, and
 * optionally how many identical events it stands for. No names, no
 * bodies, no query strings. Patient and resource ids are random
 * pseudonymous identifiers.
 *
 * Several processes (the server and the CLI) may append to one vault: an
 * exclusive flock on the log serialises writers, and a writer first reads
 * whatever another appended since its last look.
 */
#ifndef PV_AUDIT_AUDIT_H
#define PV_AUDIT_AUDIT_H

#include "crypto/crypto.h"

#include <jansson.h>

#define PV_AUDIT_HASH_BYTES 32
#define PV_AUDIT_ACTION_MAX 32

struct pv_audit;

struct pv_audit_event {
	int64_t actor; /* account id; 0 = not authenticated */
	char role[17]; /* "" when unknown; "system" for jobs */
	char action[PV_AUDIT_ACTION_MAX]; /* read, create, login, ... */
	char type[33]; /* FHIR type or "" */
	char id[65]; /* resource id or "" */
	char patient[65]; /* patient id or "" */
	const char *outcome; /* "allowed", "denied", "failed", "error" */
	const char *reason; /* constant reason code */
	char src[64]; /* source address, "local" for the CLI */
	char rid[33]; /* request id */
	int64_t grant; /* break-glass grant id, 0 = none */
	char nonce[65]; /* hex digest of (keyid, nonce), or "" */
	int64_t count; /* events this entry stands for: 0 or 1
			* = one (no "count" field), N > 1 =
			* N identical events aggregated */
};

typedef void (*pv_audit_done)(void *arg, pv_status st);

/*
 * Where a vault's trail lives: the files under vault_dir/audit, or, when
 * dsn is set, the records database of a PostgreSQL vault (medium.h). All
 * borrowed.
 */
struct pv_audit_loc {
	const char *vault_dir;
	const char *dsn; /* NULL or "": files */
	const char *password; /* NULL: libpq's own (PGPASSFILE) */
};

/*
 * Who may sign the trail: on files the vault's own key; on PostgreSQL
 * every node key registered in the database whose endorsement chain
 * leads to root_pk, the key `phivault init` made (keys/audit-root.pub on
 * every node; signers.c). Borrowed.
 */
struct pv_audit_opts {
	const struct pv_audit_loc *loc;
	const unsigned char *sign_sk; /* borrowed, PV_SIGN_SK_BYTES */
	const unsigned char *sign_pk; /* borrowed, PV_SIGN_PK_BYTES */
	const char *key_id; /* borrowed */
	bool keep_index; /* leaves + per-patient index (server) */
	int64_t cp_sync_interval; /* fsync checkpoints at least this
				   * often, seconds (0 = 60) */
	const unsigned char *root_pk; /* borrowed; NULL = sign_pk */
};

/*
 * Opens (creating if needed) the log, reads it to rebuild the tree (a CLI
 * writer resumes from DIR/audit/state, which is MACed with a key derived
 * from the signing key), and checks the prev-chain, the last batch
 * signature and the latest checkpoint: a log that does not verify refuses
 * to open (PV_ECRYPTO) — the server will not run on a tampered trail.
 * Complete entries after the last valid signature were never
 * acknowledged (a crash, or written without the key): they are moved to
 * DIR/audit/quarantine.jsonl and a signed "audit.quarantine" entry records
 * how many (tail.c); nothing is ever signed over them. A torn final line
 * alone is cut off. Starts the writer.
 */
PV_MUST_CHECK pv_status pv_audit_open(const struct pv_audit_opts *o,
    struct pv_audit **out);
/* Drains the queue, writes a final signed checkpoint, fsyncs, frees. */
void pv_audit_close(struct pv_audit *a);

/*
 * Queues ev (copied). done is called exactly once, from the writer.
 * PV_EINVAL (done not called) for a negative count.
 */
PV_MUST_CHECK pv_status pv_audit_submit(struct pv_audit *a,
    const struct pv_audit_event *ev, pv_audit_done done, void *arg);
/* Submits and waits until durable: PV_OK or PV_EUNAVAIL. */
PV_MUST_CHECK pv_status pv_audit_append(struct pv_audit *a,
    const struct pv_audit_event *ev);
/* False after a failed write until a later write succeeds. */
bool pv_audit_is_healthy(struct pv_audit *a);

struct pv_checkpoint {
	uint64_t size;
	unsigned char root[PV_AUDIT_HASH_BYTES];
	char time[32];
	char key_id[32];
	unsigned char sig[PV_SIG_BYTES];
};

/* Signs a fresh head over every durable entry. */
PV_MUST_CHECK pv_status pv_audit_checkpoint(struct pv_audit *a,
    struct pv_checkpoint *out);
/* The message a checkpoint signature covers (for external verifiers). */
PV_MUST_CHECK pv_status pv_checkpoint_message(const struct pv_checkpoint *c,
    char *out, size_t outsz);
json_t *pv_checkpoint_json(const struct pv_checkpoint *c);

/* RFC 6962 proofs over durable entries (needs keep_index). */
#define PV_AUDIT_MAX_PROOF 64
PV_MUST_CHECK pv_status pv_audit_inclusion(struct pv_audit *a, uint64_t index,
    uint64_t size, unsigned char (*proof)[PV_AUDIT_HASH_BYTES],
    size_t *proof_len);
PV_MUST_CHECK pv_status pv_audit_consistency(struct pv_audit *a, uint64_t from,
    uint64_t to, unsigned char (*proof)[PV_AUDIT_HASH_BYTES],
    size_t *proof_len);
uint64_t pv_audit_size(struct pv_audit *a);

/*
 * One page of the durable entries about patient (needs keep_index): the
 * patient's entries number offset to offset + count - 1, in log order.
 * cb gets each parsed entry (borrowed) and returns false to stop; *total
 * gets how many entries about the patient there are. Costs O(count)
 * whatever the offset; the tree lock is held only to copy the page's
 * line positions, never while reading or parsing (index.c).
 */
PV_MUST_CHECK pv_status pv_audit_patient_page(struct pv_audit *a,
    const char *patient, uint64_t offset, size_t count,
    bool (*cb)(void *arg, json_t *entry), void *arg, uint64_t *total);

/* How many events a parsed entry stands for: its "count", else 1. */
int64_t pv_audit_entry_count(json_t *entry);

/* Calls cb(arg, ts, nonce) for entries with a nonce newer than since. */
void pv_audit_recent_nonces(struct pv_audit *a, int64_t since,
    void (*cb)(void *arg, int64_t ts, const char *nonce), void *arg);

/*
 * The entry chain: chain_0 is 32 zero bytes and
 * chain_{n+1} = SHA-256(0x02 || chain_n || leaf_hash_n); entry n stores
 * chain_n as "prev". Updates chain in place.
 */
void pv_audit_chain_next(unsigned char chain[PV_AUDIT_HASH_BYTES],
    const unsigned char leaf[PV_AUDIT_HASH_BYTES]);

/*
 * PostgreSQL trails: registers a node's signing key (new_pk) with an
 * endorsement by an accepted signer (endorser_sk/pk: the root key for the
 * first node, `phivault init`; the existing node's key for `node add`).
 * A key id already registered is left as it is. PV_EINVAL on files,
 * where the vault's own key is the only signer (signers.h).
 */
PV_MUST_CHECK pv_status pv_audit_node_register(const struct pv_audit_loc *loc,
    const unsigned char endorser_sk[PV_SIGN_SK_BYTES],
    const unsigned char endorser_pk[PV_SIGN_PK_BYTES],
    const unsigned char new_pk[PV_SIGN_PK_BYTES]);

/* The key id checkpoints name a signing key by (hex, 16 characters). */
#define PV_AUDIT_KEY_ID_LEN 16
void pv_audit_key_id(const unsigned char pk[PV_SIGN_PK_BYTES],
    char out[PV_AUDIT_KEY_ID_LEN + 1]);

/* ---- offline checks (verify.c) ---- */

struct pv_verify_report {
	uint64_t entries;
	uint64_t checkpoints;
	uint64_t batch_signatures; /* lines carrying a bsig */
	uint64_t signed_entries; /* leading entries a valid signature
				  * covers; < entries: unsigned tail */
	uint64_t quarantines; /* "audit.quarantine" entries */
	uint64_t quarantined; /* entries they moved out, in all */
	bool is_ok;
	int64_t bad_entry; /* first entry at fault, -1 = none */
	const char *problem; /* constant: "changed", "removed", ... */
	char detail[256];
	/* The Merkle root over the entries read, and (PV_VERIFY_PREFIX) the
	 * largest signed checkpoint reaching past them, if any. */
	unsigned char root[PV_AUDIT_HASH_BYTES];
	bool has_past;
	struct pv_checkpoint past;
};

/* pv_audit_verify flags. */
#define PV_VERIFY_ALLOW_UNSIGNED_TAIL                                          \
	0x1 /* entries after the last                                          \
	     * signature are no fault */
/* The log may be a prefix (a backup): checkpoints past its end are no
 * fault when their signature is valid; the largest is returned in
 * rep->past for the caller to hold with a consistency proof. */
#define PV_VERIFY_PREFIX 0x2

/*
 * Recomputes the tree from DIR/audit/log.jsonl, checks every entry's seq
 * and prev, the batch signatures (the last one within the intact chain;
 * when it fails, a binary search finds the first bad batch), every
 * checkpoint's signature (pk) and root, and that no checkpoint covers
 * more entries than exist. An entry is covered when it lies at or before
 * a line with a valid batch signature, or inside a valid checkpoint; an
 * uncovered tail is a fault ("unsigned") unless flags has
 * PV_VERIFY_ALLOW_UNSIGNED_TAIL. Checkpoints kept outside the trail are
 * held the same way: published (a file of checkpoint JSON lines or one
 * JSON object; NULL for none; PV_ENOTFOUND when it cannot be opened) and,
 * on PostgreSQL, loc->vault_dir's node anchor (DIR/audit/anchor.json).
 * Reads what writers had completed when it started. Fills rep with the
 * first fault. progress (may be NULL) gets the number of entries read.
 */
PV_MUST_CHECK pv_status pv_audit_verify(const struct pv_audit_loc *loc,
    const unsigned char root_pk[PV_SIGN_PK_BYTES], unsigned flags,
    const char *published, struct pv_verify_report *rep,
    void (*progress)(void *, uint64_t), void *arg);

/*
 * `db migrate-from-sqlite` (import.c): copies the trail at from (files,
 * DIR/audit) into the empty PostgreSQL trail at to, byte for byte and in
 * one transaction: entry lines (same sequence numbers and offsets, so the
 * same tree and signatures), checkpoint lines and quarantined lines.
 * PV_EEXISTS when the target already holds entries or checkpoints,
 * PV_EINVAL when from is not files, to is not PostgreSQL, or the log has
 * a torn last line or a NUL. The source is only read.
 */
struct pv_audit_import_report {
	uint64_t entries;
	uint64_t checkpoints;
	uint64_t quarantined; /* lines */
	uint64_t bytes; /* of the log */
};
PV_MUST_CHECK pv_status pv_audit_import(const struct pv_audit_loc *from,
    const struct pv_audit_loc *to, struct pv_audit_import_report *rep);

/* Calls cb for every entry in DIR/audit/log.jsonl; cb returns false to stop. */
PV_MUST_CHECK pv_status pv_audit_scan(const struct pv_audit_loc *loc,
    bool (*cb)(void *arg, uint64_t seq, json_t *entry), void *arg);

/* Reads the newest checkpoint from DIR/audit/checkpoints.jsonl. */
PV_MUST_CHECK pv_status
pv_audit_latest_checkpoint(const struct pv_audit_loc *loc,
    struct pv_checkpoint *out);

#endif
