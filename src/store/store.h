/*
 * store.h — the record store interface.
 *
 * Everything phivault persists except key files and the audit log goes
 * through this interface: accounts, sessions, care teams, break-glass
 * grants, legal holds and sealed FHIR resources (phivault.db), and the
 * wrapped per-patient data keys (keys/keys.db, kept apart from the record
 * database so that a database backup never holds a usable key).
 *
 * A backend is a struct pv_store_ops (function pointers, as GNU Taler's
 * database plugins are). src/store/sqlite.c is the embedded default and,
 * today, the only backend; a PostgreSQL backend (multi-node) would
 * implement the same table. Callers use the
 * pv_store_* wrappers below and never see SQL.
 *
 * Contract for every backend:
 *  - only parameterized statements; no value is ever spliced into SQL;
 *  - a write returns only after it is durable (SQLite: WAL with
 *    synchronous=FULL unless configured otherwise);
 *  - safe to call from many threads at once (SQLite: one connection per
 *    thread), and from another process at the same time (the CLI);
 *  - the store never sees plaintext PHI: resources arrive sealed.
 *
 * Ownership: every out-parameter struct is caller-provided; blobs returned
 * in struct pv_resource are malloc'd and released by pv_resource_clear.
 */
#ifndef PV_STORE_STORE_H
#define PV_STORE_STORE_H

#include "common/pv.h"
#include "crypto/crypto.h"

#define PV_USERNAME_MAX 64
#define PV_ROLE_MAX 16
#define PV_PATIENT_ID_MAX 64
#define PV_RES_ID_MAX 64
#define PV_TYPE_MAX 32
#define PV_PWHASH_MAX 128
#define PV_SCOPES_MAX 512
#define PV_SESSION_ID_LEN PV_ID_HEX_LEN
#define PV_MFA_SEALED_MAX 128

struct pv_store;

struct pv_user {
	int64_t id;
	char username[PV_USERNAME_MAX + 1];
	char role[PV_ROLE_MAX + 1];
	bool is_active;
	char pw_hash[PV_PWHASH_MAX];
	char patient_id[PV_PATIENT_ID_MAX + 1];	/* "" unless role patient */
	unsigned char mfa_sealed[PV_MFA_SEALED_MAX];	/* TOTP secret, sealed */
	size_t mfa_sealed_len;
	bool has_mfa;				/* enrolled and confirmed */
	int64_t mfa_last_step;			/* last accepted TOTP step */
	int64_t failed_count;
	int64_t locked_until;
	int64_t created_at;
	int64_t last_login_at;			/* 0 = never */
	int64_t authz_epoch;			/* bumped on role change */
	/* service clients (role "service") */
	char key_id[PV_ID_HEX_LEN + 1];
	unsigned char pubkey[PV_SIGN_PK_BYTES];
	bool has_pubkey;
	char scopes[PV_SCOPES_MAX];
};

/* The lockout policy an attempt reservation applies. */
struct pv_lockout_rule {
	int64_t threshold;		/* failures before a lock */
	int64_t base_delay;		/* seconds, doubled per failure past it */
	int64_t max_delay;
};

/* One reserved attempt (user_attempt_reserve). */
struct pv_attempt {
	bool is_reserved;		/* false: locked, nothing was counted */
	int64_t failed_count;		/* after this attempt */
	int64_t locked_until;		/* after this attempt */
};

struct pv_session {
	char id[PV_SESSION_ID_LEN + 1];		/* public id, for listing */
	unsigned char token_hash[PV_HASH_BYTES];
	int64_t user_id;
	int64_t created_at;
	int64_t last_seen;
	int64_t expires_at;			/* absolute lifetime */
	bool is_mfa_verified;
	int64_t authz_epoch;			/* user's epoch at creation */
};

struct pv_resource {
	char type[PV_TYPE_MAX + 1];
	char id[PV_RES_ID_MAX + 1];
	int64_t version;
	char patient_id[PV_PATIENT_ID_MAX + 1];
	bool is_deleted;
	int64_t updated_at;
	unsigned char *sealed;			/* malloc'd; NULL if deleted */
	size_t sealed_len;
};

void pv_resource_clear(struct pv_resource *r);

struct pv_grant {				/* a break-glass grant */
	int64_t id;
	int64_t user_id;
	char patient_id[PV_PATIENT_ID_MAX + 1];
	int64_t created_at;
	int64_t expires_at;
	int64_t reviewed_at;			/* 0 = awaiting review */
	unsigned char *reason_sealed;		/* malloc'd */
	size_t reason_sealed_len;
	int64_t holder_epoch;			/* insert: the holder's authz
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
	const char *db_path;		/* phivault.db */
	const char *keys_db_path;	/* keys/keys.db */
	bool is_synchronous_full;
	int busy_timeout_ms;
};

struct pv_store_ops {
	void (*close)(struct pv_store *);
	pv_status (*begin)(struct pv_store *);
	/* True while this thread's connection is inside a transaction. */
	bool (*in_tx)(struct pv_store *);
	pv_status (*commit)(struct pv_store *);
	void (*rollback)(struct pv_store *);
	/* One change inside a transaction (group commit): savepoint opens
	 * it, release keeps it, rollback_to undoes just it and closes the
	 * savepoint. Not nested. On any error the caller must treat the
	 * whole transaction as failed and roll it back. */
	pv_status (*savepoint)(struct pv_store *);
	pv_status (*release)(struct pv_store *);
	pv_status (*rollback_to)(struct pv_store *);
	pv_status (*schema_version)(struct pv_store *, int *);

	pv_status (*user_insert)(struct pv_store *, struct pv_user *);
	pv_status (*user_get_by_name)(struct pv_store *, const char *,
	    struct pv_user *);
	pv_status (*user_get_by_id)(struct pv_store *, int64_t,
	    struct pv_user *);
	pv_status (*user_get_by_key_id)(struct pv_store *, const char *,
	    struct pv_user *);
	pv_status (*user_list)(struct pv_store *, pv_user_cb, void *);
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
	pv_status (*user_attempt_reserve)(struct pv_store *, int64_t id,
	    int64_t now, const struct pv_lockout_rule *,
	    struct pv_attempt *a);
	/* Gives back a reservation whose attempt was not a failure (the
	 * password was right but the one-time code had not been sent). */
	pv_status (*user_attempt_refund)(struct pv_store *, int64_t id,
	    const struct pv_attempt *a);
	/* A successful login, inside the caller's transaction: resets the
	 * failure count and records the time, only if the account is still
	 * active, still has the password hash that was verified and the MFA
	 * state the decision assumed; new_hash (may be NULL) replaces the
	 * hash (cost upgrade). *epoch gets the current authz epoch (for the
	 * session). PV_ECONFLICT when the account changed meanwhile. */
	pv_status (*user_login_ok)(struct pv_store *, int64_t id, int64_t now,
	    const char *verified_hash, bool has_mfa, const char *new_hash,
	    int64_t *epoch);
	/* Clears failures and lockout (`user unlock`). */
	pv_status (*user_unlock)(struct pv_store *, int64_t id);
	/* Uses TOTP step for the account's current sealed secret: PV_OK
	 * once; PV_EAUTH when that step (or a later one) was already used
	 * or the secret changed. Atomic: one code, one success. */
	pv_status (*user_totp_consume)(struct pv_store *, int64_t id,
	    const unsigned char *sealed, size_t sealed_len, int64_t step);
	/* Stores a pending (unconfirmed) TOTP secret; PV_ECONFLICT when MFA
	 * is already on. */
	pv_status (*user_mfa_begin)(struct pv_store *, int64_t id,
	    const unsigned char *sealed, size_t sealed_len);
	/* Turns MFA on for exactly that pending secret; PV_ECONFLICT when it
	 * is on already or the pending secret was replaced. */
	pv_status (*user_mfa_enable)(struct pv_store *, int64_t id,
	    const unsigned char *sealed, size_t sealed_len);
	/* Replaces the password hash if it is still old_hash, MFA is still
	 * on or off as has_mfa says, and (session not NULL) that session of
	 * the account still exists; PV_ECONFLICT otherwise (another change
	 * won, or MFA confirmation revoked the session that asked). */
	pv_status (*user_set_password)(struct pv_store *, int64_t id,
	    const char *old_hash, const char *new_hash, bool has_mfa,
	    const char *session);
	/* Sets role, active and staff permissions and bumps the authz
	 * epoch, if the epoch is still epoch (PV_ECONFLICT otherwise). */
	pv_status (*user_set_access)(struct pv_store *, int64_t id,
	    int64_t epoch, const char *role, bool is_active,
	    const char *scopes);

	pv_status (*session_insert)(struct pv_store *,
	    const struct pv_session *);
	pv_status (*session_get)(struct pv_store *,
	    const unsigned char[PV_HASH_BYTES], struct pv_session *);
	pv_status (*session_touch)(struct pv_store *, const char *, int64_t);
	pv_status (*session_delete)(struct pv_store *, int64_t, const char *);
	pv_status (*session_delete_all)(struct pv_store *, int64_t,
	    const char *);
	pv_status (*session_list)(struct pv_store *, int64_t, pv_session_cb,
	    void *);

	pv_status (*recovery_replace)(struct pv_store *, int64_t,
	    const unsigned char (*)[PV_HASH_BYTES], size_t);
	pv_status (*recovery_consume)(struct pv_store *, int64_t,
	    const unsigned char[PV_HASH_BYTES], int64_t);

	pv_status (*careteam_add)(struct pv_store *, int64_t, const char *);
	pv_status (*careteam_remove)(struct pv_store *, int64_t,
	    const char *);
	pv_status (*careteam_has)(struct pv_store *, int64_t, const char *,
	    bool *);
	pv_status (*careteam_count)(struct pv_store *, int64_t, int64_t *);

	pv_status (*resource_put)(struct pv_store *,
	    const struct pv_resource *);
	pv_status (*resource_get)(struct pv_store *, const char *,
	    const char *, int64_t, struct pv_resource *);
	pv_status (*resource_history)(struct pv_store *, const char *,
	    const char *, pv_resource_cb, void *);
	pv_status (*resource_search)(struct pv_store *, const char *,
	    const char *, int64_t, int64_t, pv_resource_cb, void *,
	    int64_t *);
	pv_status (*resource_scan)(struct pv_store *, pv_resource_cb, void *);
	pv_status (*resource_purge)(struct pv_store *, const char *,
	    const char *);
	/* Erasure: drops every sealed version of the patient's resources
	 * (each keeps one empty deleted row, so it reads as gone), care-team
	 * rows, blind-index rows and break-glass reasons. */
	pv_status (*patient_purge)(struct pv_store *, const char *);
	/* Blind index: (keyed digest) -> resource, e.g. Patient identifiers. */
	pv_status (*index_replace)(struct pv_store *, const char *,
	    const char *, const unsigned char (*)[PV_HASH_BYTES], size_t);
	pv_status (*index_find)(struct pv_store *, const char *,
	    const unsigned char[PV_HASH_BYTES], pv_resource_cb, void *);

	/* Inserts g; g->id > 0 is used as the id, else one is assigned.
	 * Only while the holder is active with authz epoch g->holder_epoch
	 * (PV_ECONFLICT otherwise): a grant decided before a role or
	 * permission change never lands after it. */
	pv_status (*grant_insert)(struct pv_store *, struct pv_grant *);
	pv_status (*grant_active)(struct pv_store *, int64_t, const char *,
	    int64_t, int64_t *);
	pv_status (*grant_list)(struct pv_store *, bool, pv_grant_cb, void *);
	pv_status (*grant_get)(struct pv_store *, int64_t, struct pv_grant *);
	pv_status (*grant_review)(struct pv_store *, int64_t, int64_t);
	/* Ends every open grant of a user now (role, permission or active
	 * change): the grant rows stay for review. */
	pv_status (*grant_end_user)(struct pv_store *, int64_t user_id,
	    int64_t now);

	pv_status (*hold_set)(struct pv_store *, const char *, bool);
	pv_status (*hold_has)(struct pv_store *, const char *, bool *);

	pv_status (*dek_get)(struct pv_store *, const char *, uint32_t *,
	    unsigned char[PV_WRAPPED_DEK_BYTES]);
	/* New DEK row; PV_EEXISTS if the id has one, PV_ECONFLICT if the
	 * version is older than the current KEK or the id was shredded. */
	pv_status (*dek_insert)(struct pv_store *, const char *, uint32_t,
	    const unsigned char[PV_WRAPPED_DEK_BYTES]);
	/* Replaces the wrapping of key_id if it is still under old_version. */
	pv_status (*dek_rewrap)(struct pv_store *, const char *, uint32_t,
	    uint32_t, const unsigned char[PV_WRAPPED_DEK_BYTES]);
	pv_status (*dek_shred)(struct pv_store *, const char *);
	pv_status (*dek_is_shredded)(struct pv_store *, const char *, bool *);
	pv_status (*dek_count_version)(struct pv_store *, uint32_t, int64_t *);
	/* Wrapped DEKs under a KEK version older than below, up to limit. */
	pv_status (*dek_list_old)(struct pv_store *, uint32_t, size_t,
	    void (*)(void *, const char *, uint32_t, const unsigned char *),
	    void *);
	pv_status (*kek_current_set)(struct pv_store *, uint32_t);
	pv_status (*kek_current_get)(struct pv_store *, uint32_t *);
	/* keys.db's PRAGMA data_version on this thread's connection: changes
	 * when another connection (thread or process) commits to it. */
	pv_status (*keys_version)(struct pv_store *, int64_t *);
	/* A number that grows with every DEK shredded in keys.db (by any
	 * connection) and changes for nothing else: the DEK cache empties
	 * itself only when it moves. */
	pv_status (*keys_shred_epoch)(struct pv_store *, int64_t *);
	/* Folds the WALs into the databases and truncates them, so deleted
	 * (secure_delete-overwritten) pages leave no copy in a WAL file. */
	pv_status (*checkpoint)(struct pv_store *);
};

struct pv_store {
	const struct pv_store_ops *ops;
};

/* Opens (creating and migrating) the SQLite backend. */
/*
 * Runs fn(arg) in a savepoint of the open transaction: kept when fn
 * returns true, undone when it returns false. PV_EIO when the transaction
 * is gone (SQLite rolls it back by itself on a full disk, an I/O error or
 * out of memory) or the savepoint could not be closed: the caller must
 * then roll back and abandon the whole transaction, never run further
 * statements (they would autocommit on their own).
 */
PV_MUST_CHECK pv_status pv_store_in_savepoint(struct pv_store *s,
    bool (*fn)(void *arg), void *arg);

PV_MUST_CHECK pv_status pv_store_open_sqlite(const struct pv_store_opts *o,
    struct pv_store **out);
/* Schema version the code expects after migrations. */
int pv_store_sqlite_schema_version(void);

#endif
