/*
 * store.h — the record store interface.
 *
 * Everything phivault persists except key files and the audit log goes
 * through this interface: accounts, sessions, care teams, break-glass
 * grants, legal holds and sealed FHIR resources (phivault.db), and the
 * wrapped per-patient data keys (keys/keys.db, kept apart from the record
 * database so that a database backup never holds a usable key).
 *
 * This header is the only door: callers use the typed, must-check
 * pv_store_* functions below, never see SQL and never see the backend.
 * A backend fills a struct pv_store_ops (store/backend.h, function
 * pointers, as GNU Taler's database plugins are); src/store/sqlite_*.c
 * is the embedded default. Nothing here is SQLite-specific: transactions
 * and savepoints are explicit calls, and a second backend (PostgreSQL)
 * implements the same table.
 *
 * Contract for every backend:
 *  - only parameterized statements; no value is ever spliced into SQL;
 *  - a write returns only after it is durable (SQLite: WAL with
 *    synchronous=FULL unless configured otherwise);
 *  - safe to call from many threads at once (SQLite: one connection per
 *    thread), and from another process at the same time (the CLI);
 *  - the store never sees plaintext PHI: resources arrive sealed.
 *
 * Transactions: pv_store_begin opens one on the calling thread's
 * connection; every call until pv_store_commit / pv_store_rollback runs
 * inside it. Outside one, each write is its own transaction.
 * pv_store_rollback with no transaction open does nothing, so an error
 * path may always call it, even after the backend ended the transaction
 * by itself.
 *
 * Ownership: every out-parameter struct is caller-provided; blobs returned
 * in struct pv_resource are malloc'd and released by pv_resource_clear.
 */
#ifndef PV_STORE_STORE_H
#define PV_STORE_STORE_H

#include "common/pv.h"
#include "common/domain.h" /* PV_USERNAME_MAX */
#include "crypto/crypto.h"

#define PV_ROLE_MAX 16
#define PV_PATIENT_ID_MAX 64
#define PV_RES_ID_MAX 64
#define PV_TYPE_MAX 32
#define PV_PWHASH_MAX 128
#define PV_SCOPES_MAX 512
#define PV_SESSION_ID_LEN PV_ID_HEX_LEN
#define PV_MFA_SEALED_MAX 128

/* Opaque outside src/store/: a backend (store/backend.h). */
struct pv_store;

struct pv_user {
	int64_t id;
	char username[PV_USERNAME_MAX + 1];
	char role[PV_ROLE_MAX + 1];
	bool is_active;
	char pw_hash[PV_PWHASH_MAX];
	char patient_id[PV_PATIENT_ID_MAX + 1]; /* "" unless role patient */
	unsigned char mfa_sealed[PV_MFA_SEALED_MAX]; /* TOTP secret, sealed */
	size_t mfa_sealed_len;
	bool has_mfa; /* enrolled and confirmed */
	int64_t mfa_last_step; /* last accepted TOTP step */
	int64_t failed_count;
	int64_t locked_until;
	int64_t created_at;
	int64_t last_login_at; /* 0 = never */
	int64_t authz_epoch; /* bumped on role change */
	/* service clients (role "service") */
	char key_id[PV_ID_HEX_LEN + 1];
	unsigned char pubkey[PV_SIGN_PK_BYTES];
	bool has_pubkey;
	char scopes[PV_SCOPES_MAX];
};

/* The lockout policy an attempt reservation applies. */
struct pv_lockout_rule {
	int64_t threshold; /* failures before a lock */
	int64_t base_delay; /* seconds, doubled per failure past it */
	int64_t max_delay;
};

/* One reserved attempt (user_attempt_reserve). */
struct pv_attempt {
	bool is_reserved; /* false: locked, nothing was counted */
	int64_t failed_count; /* after this attempt */
	int64_t locked_until; /* after this attempt */
};

struct pv_session {
	char id[PV_SESSION_ID_LEN + 1]; /* public id, for listing */
	unsigned char token_hash[PV_HASH_BYTES];
	int64_t user_id;
	int64_t created_at;
	int64_t last_seen;
	int64_t expires_at; /* absolute lifetime */
	bool is_mfa_verified;
	int64_t authz_epoch; /* user's epoch at creation */
};

struct pv_resource {
	char type[PV_TYPE_MAX + 1];
	char id[PV_RES_ID_MAX + 1];
	int64_t version;
	char patient_id[PV_PATIENT_ID_MAX + 1];
	bool is_deleted;
	int64_t updated_at;
	unsigned char *sealed; /* malloc'd; NULL if deleted */
	size_t sealed_len;
};

void pv_resource_clear(struct pv_resource *r);

struct pv_grant { /* a break-glass grant */
	int64_t id;
	int64_t user_id;
	char patient_id[PV_PATIENT_ID_MAX + 1];
	int64_t created_at;
	int64_t expires_at;
	int64_t reviewed_at; /* 0 = awaiting review */
	unsigned char *reason_sealed; /* malloc'd */
	size_t reason_sealed_len;
	int64_t holder_epoch; /* insert: the holder's authz
			       * epoch the grant was decided
			       * on (not stored) */
};

void pv_grant_clear(struct pv_grant *g);

typedef void (*pv_user_cb)(void *arg, const struct pv_user *u);
typedef void (*pv_session_cb)(void *arg, const struct pv_session *s);
/* Return false to stop the iteration. */
typedef bool (*pv_resource_cb)(void *arg, const struct pv_resource *r);
typedef void (*pv_grant_cb)(void *arg, const struct pv_grant *g);

struct pv_store_opts {
	const char *db_path; /* phivault.db */
	const char *keys_db_path; /* keys/keys.db */
	bool is_synchronous_full; /* false: phivault.db may lose its
				   * last commits on a power cut
				   * (never its consistency);
				   * keys.db always waits */
	int busy_timeout_ms; /* how long a call waits for a
			      * write by another process */
};

/* ---- the interface: every call goes through one of these ---- */

void pv_store_close(struct pv_store *s);
PV_MUST_CHECK pv_status pv_store_begin(struct pv_store *s);
PV_MUST_CHECK pv_status pv_store_commit(struct pv_store *s);
/* Undoes the open transaction; does nothing when none is open. */
void pv_store_rollback(struct pv_store *s);
/* One change inside a transaction (group commit): savepoint opens
 * it, release keeps it, rollback_to undoes just it and closes the
 * savepoint. Not nested. On any error the caller must treat the
 * whole transaction as failed and roll it back. */
PV_MUST_CHECK pv_status pv_store_savepoint(struct pv_store *s);
PV_MUST_CHECK pv_status pv_store_release(struct pv_store *s);
PV_MUST_CHECK pv_status pv_store_rollback_to(struct pv_store *s);

PV_MUST_CHECK pv_status pv_store_user_insert(struct pv_store *s,
    struct pv_user *u);
PV_MUST_CHECK pv_status pv_store_user_get_by_name(struct pv_store *s,
    const char *name, struct pv_user *u);
PV_MUST_CHECK pv_status pv_store_user_get_by_id(struct pv_store *s, int64_t id,
    struct pv_user *u);
PV_MUST_CHECK pv_status pv_store_user_get_by_key_id(struct pv_store *s,
    const char *key_id, struct pv_user *u);
PV_MUST_CHECK pv_status pv_store_user_list(struct pv_store *s, pv_user_cb cb,
    void *arg);
/*
 * Account state changes. There is no "write the whole row back":
 * each change below is one targeted statement, conditional where a
 * concurrent change could make it wrong, so a slow step between a
 * read and a write (Argon2id) can never undo another change.
 */
/* Counts a login or password-change attempt BEFORE its verdict is
 * computed: failed_count + 1, and when that reaches the threshold,
 * locked_until = now + growing delay. Refused (a->is_reserved =
 * false) while the account is locked, so past the threshold no
 * further guess is even hashed, however many run in parallel. */
PV_MUST_CHECK pv_status pv_store_user_attempt_reserve(struct pv_store *s,
    int64_t id, int64_t now, const struct pv_lockout_rule *rule,
    struct pv_attempt *a);
/* Gives back a reservation whose attempt was not a failure (the
 * password was right but the one-time code had not been sent). */
PV_MUST_CHECK pv_status pv_store_user_attempt_refund(struct pv_store *s,
    int64_t id, const struct pv_attempt *a);
/* A successful login, inside the caller's transaction: resets the
 * failure count and records the time, only if the account is still
 * active, still has the password hash that was verified and the MFA
 * state the decision assumed; new_hash (may be NULL) replaces the
 * hash (cost upgrade). *epoch gets the current authz epoch (for the
 * session). PV_ECONFLICT when the account changed meanwhile. */
PV_MUST_CHECK pv_status pv_store_user_login_ok(struct pv_store *s, int64_t id,
    int64_t now, const char *verified_hash, bool has_mfa, const char *new_hash,
    int64_t *epoch);
/* Clears failures and lockout (`user unlock`). */
PV_MUST_CHECK pv_status pv_store_user_unlock(struct pv_store *s, int64_t id);
/* Uses TOTP step for the account's current sealed secret: PV_OK
 * once; PV_EAUTH when that step (or a later one) was already used
 * or the secret changed. Atomic: one code, one success. */
PV_MUST_CHECK pv_status pv_store_user_totp_consume(struct pv_store *s,
    int64_t id, const unsigned char *sealed, size_t sealed_len, int64_t step);
/* Stores a pending (unconfirmed) TOTP secret; PV_ECONFLICT when MFA
 * is already on. */
PV_MUST_CHECK pv_status pv_store_user_mfa_begin(struct pv_store *s, int64_t id,
    const unsigned char *sealed, size_t sealed_len);
/* Turns MFA on for exactly that pending secret; PV_ECONFLICT when it
 * is on already or the pending secret was replaced. */
PV_MUST_CHECK pv_status pv_store_user_mfa_enable(struct pv_store *s, int64_t id,
    const unsigned char *sealed, size_t sealed_len);
/* Replaces the password hash if it is still old_hash, MFA is still
 * on or off as has_mfa says, and (session not NULL) that session of
 * the account still exists; PV_ECONFLICT otherwise (another change
 * won, or MFA confirmation revoked the session that asked). */
PV_MUST_CHECK pv_status pv_store_user_set_password(struct pv_store *s,
    int64_t id, const char *old_hash, const char *new_hash, bool has_mfa,
    const char *session);
/* Sets role, active and staff permissions and bumps the authz
 * epoch, if the epoch is still epoch (PV_ECONFLICT otherwise). */
PV_MUST_CHECK pv_status pv_store_user_set_access(struct pv_store *s, int64_t id,
    int64_t epoch, const char *role, bool is_active, const char *scopes);

PV_MUST_CHECK pv_status pv_store_session_insert(struct pv_store *s,
    const struct pv_session *sess);
PV_MUST_CHECK pv_status pv_store_session_get(struct pv_store *s,
    const unsigned char hash[PV_HASH_BYTES], struct pv_session *sess);
PV_MUST_CHECK pv_status pv_store_session_touch(struct pv_store *s,
    const char *id, int64_t now);
PV_MUST_CHECK pv_status pv_store_session_delete(struct pv_store *s,
    int64_t user_id, const char *id);
PV_MUST_CHECK pv_status pv_store_session_delete_all(struct pv_store *s,
    int64_t user_id, const char *except_id);
PV_MUST_CHECK pv_status pv_store_session_list(struct pv_store *s,
    int64_t user_id, pv_session_cb cb, void *arg);

PV_MUST_CHECK pv_status pv_store_recovery_replace(struct pv_store *s,
    int64_t user_id, const unsigned char (*hashes)[PV_HASH_BYTES], size_t n);
PV_MUST_CHECK pv_status pv_store_recovery_consume(struct pv_store *s,
    int64_t user_id, const unsigned char hash[PV_HASH_BYTES], int64_t now);

PV_MUST_CHECK pv_status pv_store_careteam_add(struct pv_store *s,
    int64_t user_id, const char *pid);
PV_MUST_CHECK pv_status pv_store_careteam_remove(struct pv_store *s,
    int64_t user_id, const char *pid);
PV_MUST_CHECK pv_status pv_store_careteam_has(struct pv_store *s,
    int64_t user_id, const char *pid, bool *out);
PV_MUST_CHECK pv_status pv_store_careteam_count(struct pv_store *s,
    int64_t user_id, int64_t *out);

PV_MUST_CHECK pv_status pv_store_resource_put(struct pv_store *s,
    const struct pv_resource *r);
PV_MUST_CHECK pv_status pv_store_resource_get(struct pv_store *s,
    const char *type, const char *id, int64_t version, struct pv_resource *r);
PV_MUST_CHECK pv_status pv_store_resource_history(struct pv_store *s,
    const char *type, const char *id, pv_resource_cb cb, void *arg);
PV_MUST_CHECK pv_status pv_store_resource_search(struct pv_store *s,
    const char *pid, const char *type, int64_t limit, int64_t offset,
    pv_resource_cb cb, void *arg, int64_t *total);
PV_MUST_CHECK pv_status pv_store_resource_scan(struct pv_store *s,
    pv_resource_cb cb, void *arg);
PV_MUST_CHECK pv_status pv_store_resource_purge(struct pv_store *s,
    const char *type, const char *id);
/* Erasure: drops every sealed version of the patient's resources
 * (each keeps one empty deleted row, so it reads as gone), care-team
 * rows, blind-index rows and break-glass reasons. */
PV_MUST_CHECK pv_status pv_store_patient_purge(struct pv_store *s,
    const char *pid);
/* Blind index: (keyed digest) -> resource, e.g. Patient identifiers. */
PV_MUST_CHECK pv_status pv_store_index_replace(struct pv_store *s,
    const char *type, const char *id,
    const unsigned char (*digests)[PV_HASH_BYTES], size_t n);
PV_MUST_CHECK pv_status pv_store_index_find(struct pv_store *s,
    const char *type, const unsigned char digest[PV_HASH_BYTES],
    pv_resource_cb cb, void *arg);

/* Inserts g; g->id > 0 is used as the id, else one is assigned.
 * Only while the holder is active with authz epoch g->holder_epoch
 * (PV_ECONFLICT otherwise): a grant decided before a role or
 * permission change never lands after it. */
PV_MUST_CHECK pv_status pv_store_grant_insert(struct pv_store *s,
    struct pv_grant *g);
PV_MUST_CHECK pv_status pv_store_grant_active(struct pv_store *s,
    int64_t user_id, const char *pid, int64_t now, int64_t *grant_id);
PV_MUST_CHECK pv_status pv_store_grant_list(struct pv_store *s, bool only_open,
    pv_grant_cb cb, void *arg);
PV_MUST_CHECK pv_status pv_store_grant_get(struct pv_store *s, int64_t id,
    struct pv_grant *g);
PV_MUST_CHECK pv_status pv_store_grant_review(struct pv_store *s, int64_t id,
    int64_t now);
/* Ends every open grant of a user now (role, permission or active
 * change): the grant rows stay for review. */
PV_MUST_CHECK pv_status pv_store_grant_end_user(struct pv_store *s,
    int64_t user_id, int64_t now);

PV_MUST_CHECK pv_status pv_store_hold_set(struct pv_store *s, const char *pid,
    bool on);
PV_MUST_CHECK pv_status pv_store_hold_has(struct pv_store *s, const char *pid,
    bool *out);

PV_MUST_CHECK pv_status pv_store_dek_get(struct pv_store *s, const char *key_id,
    uint32_t *version, unsigned char wrapped[PV_WRAPPED_DEK_BYTES]);
/* New DEK row; PV_EEXISTS if the id has one, PV_ECONFLICT if the
 * version is older than the current KEK or the id was shredded. */
PV_MUST_CHECK pv_status pv_store_dek_insert(struct pv_store *s,
    const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES]);
/* Replaces the wrapping of key_id if it is still under old_version. */
PV_MUST_CHECK pv_status pv_store_dek_rewrap(struct pv_store *s,
    const char *key_id, uint32_t old_v, uint32_t new_v,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES]);
PV_MUST_CHECK pv_status pv_store_dek_shred(struct pv_store *s,
    const char *key_id);
PV_MUST_CHECK pv_status pv_store_dek_is_shredded(struct pv_store *s,
    const char *key_id, bool *out);
PV_MUST_CHECK pv_status pv_store_dek_count_version(struct pv_store *s,
    uint32_t v, int64_t *out);
/* Wrapped DEKs under a KEK version older than below, up to limit. */
PV_MUST_CHECK pv_status pv_store_dek_list_old(struct pv_store *s,
    uint32_t below, size_t limit,
    void (*cb)(void *, const char *, uint32_t, const unsigned char *),
    void *arg);
PV_MUST_CHECK pv_status pv_store_kek_current_set(struct pv_store *s,
    uint32_t v);
/* A number that changes whenever another connection (thread or process)
 * commits to the key database; equal numbers mean nothing changed. */
PV_MUST_CHECK pv_status pv_store_keys_version(struct pv_store *s, int64_t *out);
/* A number that grows with every DEK shredded in the key database (by any
 * connection) and changes for nothing else: the DEK cache empties
 * itself only when it moves. */
PV_MUST_CHECK pv_status pv_store_keys_shred_epoch(struct pv_store *s,
    int64_t *out);
/* Makes deletions final on disk: no copy of deleted (overwritten) data
 * stays behind in a journal or log file of the backend. */
PV_MUST_CHECK pv_status pv_store_compact(struct pv_store *s);
/* Readiness: both databases (records and keys) answer a read on this
 * thread's connection; PV_OK, else why not. */
PV_MUST_CHECK pv_status pv_store_ping(struct pv_store *s);

/*
 * Runs fn(arg) in a savepoint of the open transaction: kept when fn
 * returns true, undone when it returns false. PV_EIO when the transaction
 * is gone (a backend may abort it by itself on a full disk, an I/O error
 * or out of memory) or the savepoint could not be closed: the caller must
 * then roll back and abandon the whole transaction, never run further
 * statements.
 */
PV_MUST_CHECK pv_status pv_store_in_savepoint(struct pv_store *s,
    bool (*fn)(void *arg), void *arg);

/*
 * The global replay cache (RFC 9421 nonces), shared by every node of a
 * deployment. Claims a nonce digest until expires_at (unix seconds):
 * PV_OK when it was not claimed or its claim had expired (expires_at <=
 * now), PV_EEXISTS when it is claimed and not expired. Atomic: of two
 * nodes claiming the same digest at once, one gets PV_OK.
 * On SQLite (one node) the server's in-memory cache is authoritative and
 * these always answer PV_OK (pv_store_is_shared is false).
 */
PV_MUST_CHECK pv_status pv_store_nonce_claim(struct pv_store *s,
    const unsigned char digest[PV_HASH_BYTES], int64_t expires_at, int64_t now);
/* Deletes the claims that expired (expires_at <= now); the janitor's. */
PV_MUST_CHECK pv_status pv_store_nonce_expire(struct pv_store *s, int64_t now);
/* True when several processes or nodes share this store (PostgreSQL), so
 * state kept in one process's memory is not the whole truth. */
bool pv_store_is_shared(const struct pv_store *s);

/* Opens (creating and migrating) the SQLite backend (src/store/sqlite_*.c). */
PV_MUST_CHECK pv_status pv_store_open_sqlite(const struct pv_store_opts *o,
    struct pv_store **out);

/*
 * The PostgreSQL backend (src/store/pg_*.c): two databases, which may be
 * on different clusters, so that a backup of the records can never bring
 * back a shredded key. TLS and every other libpq setting (sslmode,
 * sslrootcert, connect_timeout, ...) pass through the connection strings.
 */
struct pv_store_pg_opts {
	const char *dsn; /* records database: libpq conninfo or
			  * postgresql:// URI; borrowed for the call */
	const char *keys_dsn; /* keys database; borrowed for the call */
	const char *password; /* borrowed for the call (the store keeps its
			       * own wiped copy), may be NULL: then
			       * libpq's own (PGPASSFILE, ~/.pgpass) */
};

/*
 * Opens the PostgreSQL backend: one connection pair (records, keys) per
 * thread, made on first use. Never creates or changes a schema: PV_EINVAL
 * (and one log line, store_pg_refused, naming the reason and no secret)
 * when a DSN is malformed or carries a password (it belongs in a file or
 * PGPASSFILE, never in phivault.conf), when both DSNs name the same
 * database, or when either schema is not this build's version ("run
 * phivault db migrate"); PV_EUNAVAIL when a database cannot be reached.
 * *out is the caller's, closed with pv_store_close.
 */
PV_MUST_CHECK pv_status pv_store_open_pg(const struct pv_store_pg_opts *o,
    struct pv_store **out);

/*
 * Creates or upgrades both schemas to this build's version (each step in
 * its own transaction under an advisory lock, so two migrators never
 * race); *from and *to get the records database's versions before and
 * after (the keys database moves in step). Never called by a serving
 * node: only `phivault init` and `phivault db migrate`. On failure err
 * (size errsz, may be NULL) gets one line without secrets.
 */
PV_MUST_CHECK pv_status pv_store_pg_migrate(const struct pv_store_pg_opts *o,
    int *from, int *to, char *err, size_t errsz);

/*
 * Moving an SQLite vault to PostgreSQL (`phivault db migrate-from-sqlite`,
 * store/move_tables.c has the column-by-column mapping): begin connects
 * to both target databases, takes the movers' lock on each (PV_EBUSY when
 * another move holds it), refuses (PV_EEXISTS) a database that holds
 * anything of a vault, and creates the schemas (pv_store_pg_migrate);
 * copy reads the SQLite files (from, read-only) and writes every table,
 * one transaction per database, keys first, then checks every table's
 * count on both sides (PV_ECONFLICT when one differs); end releases the
 * lock and, when keep is false, first empties both databases again so
 * the move can be retried — its status says whether that worked (when
 * not, the databases must be dropped by hand). On failure err (may be
 * NULL) gets one line naming a table or database, never a value.
 * *out is the caller's until end, which frees it (NULL: nothing).
 */
#define PV_STORE_COPY_TABLES 16
struct pv_store_copy_report {
	size_t n;
	struct {
		const char *table; /* static */
		int64_t rows;
	} t[PV_STORE_COPY_TABLES];
	int64_t rows; /* all tables */
};
struct pv_store_move;
PV_MUST_CHECK pv_status pv_store_move_begin(const struct pv_store_pg_opts *to,
    struct pv_store_move **out, char *err, size_t errsz);
PV_MUST_CHECK pv_status pv_store_move_copy(struct pv_store_move *m,
    const struct pv_store_opts *from, struct pv_store_copy_report *rep,
    char *err, size_t errsz);
PV_MUST_CHECK pv_status pv_store_move_end(struct pv_store_move *m, bool keep);

/* True when the libpq connection string or URI dsn carries a password
 * (or cannot be parsed: a caller that wants to refuse secrets in its
 * configuration refuses both). */
bool pv_store_pg_dsn_has_password(const char *dsn);

/*
 * The keys database when none is named (`init --store` without
 * --keys-store, `db migrate-from-sqlite` without --keys-to, both
 * optional in SPEC.md): the same connection with dbname + "_keys" (the
 * records database's name, or libpq's default, the user name), as a
 * key='value' string in out. Another database on the same cluster: the
 * records and the keys stay separable. PV_EINVAL when dsn does not
 * parse or the result does not fit.
 */
PV_MUST_CHECK pv_status pv_store_pg_default_keys_dsn(const char *dsn, char *out,
    size_t outsz);

#endif
