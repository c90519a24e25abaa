/*
 * vault.h — a vault directory: its layout, configuration and keys.
 *
 *   DIR/                 0700
 *     phivault.conf      0600  INI configuration
 *     phivault.db        0600  SQLite record database (sealed resources)
 *     keys/              0700  master-N.key, audit-signing.key/.pub,
 *                              index.key, keys.db (wrapped DEKs)
 *     tls/               0700  cert.pem, key.pem
 *     audit/             0700  log.jsonl, checkpoints.jsonl, state
 *                              (resume hint for short-lived writers)
 *     alerts.jsonl       0600  alert file sink
 *
 * On PostgreSQL ([store] backend = postgresql, `init --store`) there is
 * no phivault.db nor keys/keys.db: records and keys live in two
 * databases (dsn, keys_dsn), and the audit trail lives in the records
 * database (audit/medium_pg.c), shared by every node; keys/ also holds
 * audit-root.pub, the trail's root signer (audit/signers.h). Every other
 * file is as above.
 *
 * Both `serve` and every admin subcommand open a vault the same way, so
 * the CLI and the server run the same code below this point.
 */
#ifndef PV_CORE_VAULT_H
#define PV_CORE_VAULT_H

#include "audit/audit.h"
#include "common/config.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define PV_PATH_MAX 1024
#define PV_SIGN_KEY_ID_LEN 16 /* hex of the first 8 bytes */

struct pv_dek_cache;

struct pv_vault {
	char dir[PV_PATH_MAX];
	struct pv_config cfg;
	struct pv_store *store;
	struct pv_keyring *keyring;
	unsigned char *index_key; /* secret: blind indexes, peppers */
	unsigned char *sign_sk; /* secret: audit checkpoints */
	unsigned char sign_pk[PV_SIGN_PK_BYTES];
	char sign_key_id[PV_SIGN_KEY_ID_LEN + 1];
	/* The trail's root signer: keys/audit-root.pub when present (a
	 * PostgreSQL vault's nodes), else sign_pk (audit/signers.h). */
	unsigned char audit_root_pk[PV_SIGN_PK_BYTES];
	/* Where the trail lives: files under dir, or the records database
	 * (borrows dir, cfg.store_dsn and db_password). */
	struct pv_audit_loc audit_loc;
	char *db_password; /* guarded memory or NULL: [store] password_file */
	struct pv_dek_cache *deks; /* unwrapped DEKs, guarded memory */
	/* The directory, open while the vault is: a shared flock on it
	 * says "in use" (pv_vault_open), an exclusive one "being moved"
	 * (pv_vault_lock_exclusive). */
	int dir_fd;
	bool has_dir_fd;
	bool is_exclusive;
};

/* The audit trail's options for vault v (a struct pv_audit_opts
 * initializer; borrows from v). */
#define PV_VAULT_AUDIT_OPTS(v, keep_index, cp_interval)                        \
	{                                                                      \
		&(v)->audit_loc, (v)->sign_sk, (v)->sign_pk, (v)->sign_key_id, \
		    (keep_index), (cp_interval), (v)->audit_root_pk            \
	}

/*
 * Creates a new vault at dir (which must not exist, or be an empty
 * directory): layout, default config, master key, signing key, index key,
 * development certificate and migrated databases. Refuses to touch an
 * existing vault (PV_EEXISTS). err gets a one-line reason on failure.
 */
PV_MUST_CHECK pv_status pv_vault_create(const char *dir, char *err,
    size_t errsz);

/*
 * The same on PostgreSQL (`init --store`): pg (borrowed; password_file
 * NULL, "" or an absolute path) must pass pv_config_check_pg. The two
 * databases are migrated first and must not hold a vault yet (PV_EEXISTS:
 * any account or wrapped key), so a wrong DSN, password or database
 * leaves no directory behind; then the files, with pg in [store].
 */
PV_MUST_CHECK pv_status pv_vault_create_pg(const char *dir,
    const struct pv_config_pg *pg, char *err, size_t errsz);

/* What `db migrate` did (pv_vault_migrate). */
struct pv_vault_migration {
	bool is_pg; /* false: SQLite, migrated by opening it */
	int from, to; /* PostgreSQL schema versions before and after */
};

/*
 * `phivault db migrate DIR`: checks the directory and phivault.conf like
 * pv_vault_open, then brings the store's schema to this build's version.
 * PostgreSQL: pv_store_pg_migrate on both databases (a serving node never
 * does). SQLite: the vault is opened, which migrates it as every command
 * always has.
 */
PV_MUST_CHECK pv_status pv_vault_migrate(const char *dir,
    struct pv_vault_migration *m, char *err, size_t errsz);

/*
 * `node add`: newdir becomes another node of from's vault (PostgreSQL
 * only): its phivault.conf and shared keys copied, its own TLS
 * certificate and audit-signing key made, that key registered in the
 * trail endorsed by from's key; key_id receives the new key's id. On
 * failure err says why and newdir may hold a partial node, which cannot
 * start (its key is not registered) and must be removed.
 */
PV_MUST_CHECK pv_status pv_vault_node_add(struct pv_vault *from,
    const char *newdir, char key_id[PV_AUDIT_KEY_ID_LEN + 1], char *err,
    size_t errsz);

/*
 * Opens the vault at dir: checks directory and key modes, loads config
 * and keys into guarded memory, opens the store. *out is owned by the
 * caller and released with pv_vault_close.
 *
 * Every open vault holds a shared flock on its directory until it is
 * closed (`serve` for its whole run, every subcommand while it runs), so
 * a command that must have the vault to itself can tell it is in use.
 * PV_EBUSY when the directory is locked exclusively (a move to
 * PostgreSQL is under way).
 */
PV_MUST_CHECK pv_status pv_vault_open(const char *dir, struct pv_vault **out,
    char *err, size_t errsz);
/*
 * Turns v's shared directory lock exclusive without waiting: PV_EBUSY
 * when any other process (or another open of the same vault) has it open
 * — a running `serve`, another subcommand. While v holds it, every other
 * pv_vault_open of the directory fails with PV_EBUSY.
 */
PV_MUST_CHECK pv_status pv_vault_lock_exclusive(struct pv_vault *v, char *err,
    size_t errsz);
void pv_vault_close(struct pv_vault *v);

/*
 * `db migrate-from-sqlite` (vault_move.c): moves the SQLite vault v to
 * the two PostgreSQL databases m->to names (both DSNs required; its
 * password_file NULL or an absolute path) — every table as stored, the
 * audit trail byte for byte, m->moved appended through the new trail —
 * verifies it all, registers the vault's audit key, writes
 * keys/audit-root.pub and switches phivault.conf to postgresql (the
 * commit point). v must hold the exclusive directory lock
 * (pv_vault_lock_exclusive). On failure DIR is as it was and both
 * databases are emptied again (err says when that failed too). m->rows,
 * m->trail and m->entries report what was moved.
 */
struct pv_vault_move {
	const struct pv_config_pg *to; /* borrowed */
	const struct pv_audit_event *moved; /* borrowed */
	struct pv_store_copy_report rows;
	struct pv_audit_import_report trail;
	uint64_t entries; /* in the new trail, the move's entry included */
};
PV_MUST_CHECK pv_status pv_vault_move_to_pg(struct pv_vault *v,
    struct pv_vault_move *m, char *err, size_t errsz);
/*
 * After a successful move: closes v's SQLite store and removes the SQLite
 * files — keys/keys.db (-wal, -shm) overwritten with zeros, fsynced and
 * unlinked; phivault.db (-wal, -shm) and the file trail unlinked. v is
 * good for nothing but pv_vault_close afterwards. PV_EIO (err names the
 * first file) when one could not be removed.
 */
PV_MUST_CHECK pv_status pv_vault_move_remove_sqlite(struct pv_vault *v,
    char *err, size_t errsz);
/* True when any file that pv_vault_move_remove_sqlite removes is in v's
 * directory (on a PostgreSQL vault: a move that was interrupted after
 * its commit point). */
bool pv_vault_has_sqlite_files(const struct pv_vault *v);

/* Joins the vault directory and rel into out. */
PV_MUST_CHECK pv_status pv_vault_path(const struct pv_vault *v, const char *rel,
    char *out, size_t outsz);

/* Derives a 32-byte subkey of the index key for purpose (≤ 8 chars). */
void pv_vault_subkey(const struct pv_vault *v, const char *purpose, uint64_t id,
    unsigned char out[PV_KEY_BYTES]);

/* ---- data keys (dek.c) ------------------------------------------- */

/*
 * Copies the DEK for key_id (a patient id, or "system:NAME") into dek,
 * which the caller provides in secret memory and wipes. When none exists
 * and create is true, a new random DEK is made, wrapped under the current
 * master key and stored (racing creators agree on one). PV_EGONE when the
 * key was shredded; PV_ENOTFOUND when none exists and create is false;
 * PV_ECRYPTO when the wrapped key does not authenticate.
 */
PV_MUST_CHECK pv_status pv_dek_get(struct pv_vault *v, const char *key_id,
    bool create, unsigned char dek[PV_DEK_BYTES]);

/*
 * The DEKs of n new patients, made in one transaction of the key store
 * and committed on their own, then cached: a record must never be
 * durable without its key, and keys and records live in two databases
 * that do not commit together, so pv_record_apply calls this before the
 * records' transaction. An id that has a key already keeps it; PV_EGONE
 * for a shredded id (nothing is committed then). Must not be called
 * inside a store transaction. ids are borrowed.
 */
PV_MUST_CHECK pv_status pv_dek_create(struct pv_vault *v,
    const char *const *ids, size_t n);

/* ---- is a patient there (patient.c): one rule for every caller ---- */

enum pv_patient_state {
	PV_PATIENT_LIVE, /* a Patient row, not deleted */
	PV_PATIENT_NONE, /* no Patient row (never created) */
	PV_PATIENT_DELETED, /* a deleted (tombstone) row, whether or not
			     * erasure shredded the key */
	PV_PATIENT_ERASED /* no row, key shredded */
};
/* True when the patient was erased (its key shredded, a tombstone left):
 * whatever rows remain, its data is gone. */
PV_MUST_CHECK pv_status pv_patient_is_erased(struct pv_vault *v,
    const char *patient, bool *out);
PV_MUST_CHECK pv_status pv_patient_state(struct pv_vault *v,
    const char *patient, enum pv_patient_state *out);
/* PV_OK for a live patient, PV_EGONE when erased (no row left),
 * PV_ENOTFOUND when never created or deleted (an erased patient's
 * tombstone included): what a write for the patient needs. */
PV_MUST_CHECK pv_status pv_patient_require_live(struct pv_vault *v,
    const char *patient);

/*
 * Crypto-shredding: destroys key_id's DEK (row overwritten via
 * secure_delete, WAL truncated) and leaves a tombstone so the id reads as
 * gone. Every ciphertext sealed under it becomes undecryptable, in this
 * database and in every backup of it.
 */
PV_MUST_CHECK pv_status pv_dek_shred(struct pv_vault *v, const char *key_id);
/* True when key_id was shredded. */
PV_MUST_CHECK pv_status pv_dek_is_shredded(struct pv_vault *v,
    const char *key_id, bool *out);

/*
 * `key rotate` (rotate.c): makes a new master-key version current,
 * re-wraps every DEK under it in batches (online: readers keep working
 * throughout), then retires every version no DEK uses. progress(arg,
 * done) is called after each batch (may be NULL).
 */
PV_MUST_CHECK pv_status pv_dek_rotate(struct pv_vault *v, uint32_t *new_version,
    size_t *rewrapped, size_t *retired, void (*progress)(void *, size_t),
    void *arg);

#endif
