/*
 * store/pg_int.h — what the files of the PostgreSQL backend share:
 * included only by src/store/pg_*.c, so that nothing outside them sees a
 * libpq type. Everyone else reaches the backend through the pv_store_*
 * functions of store/store.h.
 *
 *   pg_conn.c      connections (one pair per thread), transactions and
 *                  savepoints over two databases, open, close, the ops
 *   pg_stmt.c      every statement's text, parameters, running a prepared
 *                  statement, libpq errors -> pv_status, reading columns
 *   pg_schema.c    versioned migrations, the schema check at open, DSN
 *                  checks (pv_store_pg_migrate, pv_store_pg_dsn_has_password)
 *   pg_accounts.c  users, sessions, recovery codes
 *   pg_access.c    care teams, break-glass grants, the replay cache
 *   pg_records.c   resources, blind index, legal holds, patient purge
 *   pg_keys.c      wrapped DEKs, KEK version, shred epoch, ping, compact
 *
 * Guarantees: a table file gets a statement only by its id, through
 * pg_exec (prepared once per connection from pg_sql[], run with
 * PQexecPrepared, bytea as binary parameters, every result in binary);
 * it never builds SQL of its own, and no value ever becomes SQL text.
 *
 * Ownership of every pointer declared here:
 *  - struct pg_store is allocated by pv_store_open_pg and freed by its
 *    close op (pv_store_close). It owns dsn[] (malloc'd), password
 *    (pv_secret_alloc'd, wiped on close; NULL when libpq finds it), the
 *    list of thread connection pairs (conns, guarded by lock) and the
 *    thread-local key tls.
 *  - struct pg_thread (one thread's pair) owns both PGconn; it is on
 *    s->conns and in its thread's tls slot, and freed exactly once, by the
 *    thread-exit destructor (which unlinks it first) or by close.
 *  - pg_exec's *res is a new PGresult the caller frees with PQclear.
 *  - struct pg_params borrows every value given to it (text, bytes) until
 *    the statement has run; numbers are copied into it.
 *  - the column helpers copy into caller memory, except pg_col_bytes_dup,
 *    whose *out is a new malloc'd buffer the caller frees (NULL when the
 *    value is NULL or empty).
 *  - pg_connect's *out is a new connection the caller closes (PQfinish).
 */
#ifndef PV_STORE_PG_INT_H
#define PV_STORE_PG_INT_H

#include "store/backend.h"

#include <libpq-fe.h>
#include <pthread.h>

enum pg_db { PG_REC = 0, PG_KEYS = 1, PG_NDB = 2 };

/* Every statement the backend prepares; its text is pg_sql[id]. */
enum pg_q {
	P_USER_INSERT,
	P_USER_BY_NAME,
	P_USER_BY_ID,
	P_USER_BY_KEY,
	P_USER_LIST,
	P_USER_RESERVE,
	P_USER_REFUND,
	P_USER_LOGIN_OK,
	P_USER_UNLOCK,
	P_USER_TOTP_USE,
	P_USER_MFA_BEGIN,
	P_USER_MFA_ENABLE,
	P_USER_SET_PW,
	P_USER_SET_ACCESS,
	P_SESS_INSERT,
	P_SESS_GET,
	P_SESS_TOUCH,
	P_SESS_DELETE,
	P_SESS_DELETE_ALL,
	P_SESS_LIST,
	P_REC_CLEAR,
	P_REC_INSERT,
	P_REC_CONSUME,
	P_CT_ADD,
	P_CT_REMOVE,
	P_CT_HAS,
	P_CT_COUNT,
	P_RES_INSERT_NEXT,
	P_RES_UNCURRENT,
	P_RES_GET_CUR,
	P_RES_GET_VER,
	P_RES_HISTORY,
	P_RES_SEARCH,
	P_RES_SEARCH_ALL,
	P_RES_COUNT,
	P_RES_COUNT_ALL,
	P_RES_SCAN_FIRST,
	P_RES_SCAN_NEXT,
	P_RES_PURGE,
	P_IDX_PURGE,
	P_PAT_PURGE_OLD,
	P_PAT_PURGE_RES,
	P_PAT_PURGE_CT,
	P_PAT_PURGE_IDX,
	P_PAT_PURGE_GRANTS,
	P_IDX_INSERT,
	P_IDX_FIND,
	P_GRANT_INSERT,
	P_GRANT_ACTIVE,
	P_GRANT_LIST_ALL,
	P_GRANT_LIST_OPEN,
	P_GRANT_GET,
	P_GRANT_REVIEW,
	P_GRANT_END_USER,
	P_HOLD_SET,
	P_HOLD_CLEAR,
	P_HOLD_HAS,
	P_NONCE_CLAIM,
	P_NONCE_EXPIRE,
	P_PING_REC,
	P_DEK_GET,
	P_DEK_INSERT,
	P_DEK_STATE,
	P_DEK_REWRAP,
	P_DEK_SHRED,
	P_DEK_IS_SHRED,
	P_DEK_COUNT_VER,
	P_DEK_LIST_OLD,
	P_KEK_SET,
	P_SHRED_EPOCH,
	P_PING_KEYS,
	P_N
};

struct pg_sql {
	enum pg_db db; /* which connection runs it */
	bool is_write; /* joins (and opens) the thread's transaction */
	const char *text;
};

extern const struct pg_sql pg_sql[P_N];

#define PG_PREP_WORDS ((P_N + 63) / 64)

/* One connection of a thread's pair, and where it stands. */
struct pg_link {
	PGconn *conn; /* NULL until first use, or after a loss */
	uint64_t prepared[PG_PREP_WORDS]; /* bit per pg_q */
	bool in_tx; /* BEGIN sent: the thread's transaction runs here */
	bool in_sp; /* the open savepoint is set here */
};

/*
 * One thread's store state: a connection to each database and the
 * transaction that spans them. A transaction is lazy: pv_store_begin
 * only marks it open; BEGIN (and the savepoint, if one is open) is sent
 * on a connection just before its first write, or its first read once it
 * wrote. A read before that runs on its own (READ COMMITTED: it sees
 * exactly what a read inside the transaction would).
 */
struct pg_thread {
	struct pg_link link[PG_NDB];
	bool tx_open; /* between begin and commit/rollback */
	bool sp_open; /* between savepoint and release/rollback_to */
	bool tx_lost; /* a connection of the transaction was lost (or
		       * the transaction ended by itself): every call
		       * fails until the rollback */
	struct pg_thread *next; /* link of s->conns, not owned */
};

struct pg_store {
	struct pv_store base; /* must be first */
	char *dsn[PG_NDB];
	char *password;
	size_t password_len;
	pthread_key_t tls;
	pthread_mutex_t lock; /* guards conns */
	struct pg_thread *conns;
};

#define PGS(st) ((struct pg_store *)(st))

/* ---- parameters (pg_stmt.c) ---- */

#define PG_MAX_PARAMS 10

struct pg_params {
	int n;
	bool is_bad; /* too many, or a value too long */
	const char *v[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS];
	int fmt[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
};

void pg_p_init(struct pg_params *p);
/* NULL is SQL NULL. */
void pg_p_text(struct pg_params *p, const char *s);
void pg_p_i64(struct pg_params *p, int64_t v);
void pg_p_bool(struct pg_params *p, bool b);
/* Binary bytea; NULL is SQL NULL. */
void pg_p_bytes(struct pg_params *p, const void *b, size_t n);

/* ---- running statements ---- */

/* Runs statement q on this thread's connection to its database, joining
 * the open transaction as pg_thread says; *res (NULL allowed: cleared
 * here) gets the successful result. */
pv_status pg_exec(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    PGresult **res);
/* Runs q; *n (may be NULL) gets the number of rows it changed. */
pv_status pg_run(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    int64_t *n);
/* Runs q; PV_OK when it changed exactly one row, else `none`. */
pv_status pg_run_one(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    pv_status none);
/* A query of one bigint column: *found says whether a row came. */
pv_status pg_one_int(struct pv_store *s, enum pg_q q, const struct pg_params *p,
    int64_t *out, bool *found);
/* One-parameter (text) statement, e.g. by patient id. */
pv_status pg_text_exec(struct pv_store *s, enum pg_q q, const char *v);
/* libpq result/connection state -> pv_status; logs the SQLSTATE of an
 * unexpected error (never the message: it may quote a value). */
pv_status pg_map_result(PGconn *c, const PGresult *r, enum pg_q q);

/* ---- columns of a binary result; false when the type does not fit ---- */

bool pg_col_i64(const PGresult *r, int row, int col, int64_t *out);
bool pg_col_bool(const PGresult *r, int row, int col, bool *out);
void pg_col_text(const PGresult *r, int row, int col, char *out, size_t outsz);
bool pg_col_bytes_fixed(const PGresult *r, int row, int col, unsigned char *out,
    size_t cap, size_t *len);
pv_status pg_col_bytes_dup(const PGresult *r, int row, int col,
    unsigned char **out, size_t *len);

/* ---- pg_conn.c ---- */

/* This thread's pair (connections made on first use by pg_exec). */
pv_status pg_thread_get(struct pg_store *s, struct pg_thread **out);
/* This thread's live connection to db, connecting if needed. */
pv_status pg_link_get(struct pg_store *s, struct pg_thread *t, enum pg_db db,
    struct pg_link **out);
/* Closes a lost connection so the next call makes a new one; a
 * transaction it carried is lost. */
void pg_link_drop(struct pg_thread *t, struct pg_link *l);
/* Before a statement on l: BEGIN / SAVEPOINT as the thread's
 * transaction needs (see struct pg_thread). */
pv_status pg_link_join_tx(struct pg_thread *t, struct pg_link *l,
    bool is_write);
/* Ends the thread's transaction as lost (fault injection). */
void pg_tx_abandon(struct pv_store *s);
/* A new connection with the backend's settings (client encoding,
 * application name, durable commits). */
pv_status pg_connect(const char *dsn, const char *password, PGconn **out);
/* The first line of a connection's error text (no secret: libpq never
 * prints the password), for a log line. */
void pg_conn_error(PGconn *c, char *out, size_t outsz);

/* ---- pg_schema.c ---- */

extern const int pg_schema_version[PG_NDB];
/* Reads the schema of db on c: PV_OK when it is this build's; else
 * PV_EINVAL with *why set (a constant string). */
pv_status pg_schema_check(PGconn *c, enum pg_db db, const char **why);

/* ---- the operations, as in store.h ---- */

/* pg_accounts.c */
pv_status pg_user_insert(struct pv_store *, struct pv_user *);
pv_status pg_user_get_by_name(struct pv_store *, const char *,
    struct pv_user *);
pv_status pg_user_get_by_id(struct pv_store *, int64_t, struct pv_user *);
pv_status pg_user_get_by_key_id(struct pv_store *, const char *,
    struct pv_user *);
pv_status pg_user_list(struct pv_store *, pv_user_cb, void *);
pv_status pg_user_attempt_reserve(struct pv_store *, int64_t, int64_t,
    const struct pv_lockout_rule *, struct pv_attempt *);
pv_status pg_user_attempt_refund(struct pv_store *, int64_t,
    const struct pv_attempt *);
pv_status pg_user_login_ok(struct pv_store *, int64_t, int64_t, const char *,
    bool, const char *, int64_t *);
pv_status pg_user_unlock(struct pv_store *, int64_t);
pv_status pg_user_totp_consume(struct pv_store *, int64_t,
    const unsigned char *, size_t, int64_t);
pv_status pg_user_mfa_begin(struct pv_store *, int64_t, const unsigned char *,
    size_t);
pv_status pg_user_mfa_enable(struct pv_store *, int64_t, const unsigned char *,
    size_t);
pv_status pg_user_set_password(struct pv_store *, int64_t, const char *,
    const char *, bool, const char *);
pv_status pg_user_set_access(struct pv_store *, int64_t, int64_t, const char *,
    bool, const char *);
pv_status pg_session_insert(struct pv_store *, const struct pv_session *);
pv_status pg_session_get(struct pv_store *, const unsigned char[PV_HASH_BYTES],
    struct pv_session *);
pv_status pg_session_touch(struct pv_store *, const char *, int64_t);
pv_status pg_session_delete(struct pv_store *, int64_t, const char *);
pv_status pg_session_delete_all(struct pv_store *, int64_t, const char *);
pv_status pg_session_list(struct pv_store *, int64_t, pv_session_cb, void *);
pv_status pg_recovery_replace(struct pv_store *, int64_t,
    const unsigned char (*)[PV_HASH_BYTES], size_t);
pv_status pg_recovery_consume(struct pv_store *, int64_t,
    const unsigned char[PV_HASH_BYTES], int64_t);

/* pg_access.c */
pv_status pg_careteam_add(struct pv_store *, int64_t, const char *);
pv_status pg_careteam_remove(struct pv_store *, int64_t, const char *);
pv_status pg_careteam_has(struct pv_store *, int64_t, const char *, bool *);
pv_status pg_careteam_count(struct pv_store *, int64_t, int64_t *);
pv_status pg_grant_insert(struct pv_store *, struct pv_grant *);
pv_status pg_grant_active(struct pv_store *, int64_t, const char *, int64_t,
    int64_t *);
pv_status pg_grant_list(struct pv_store *, bool, pv_grant_cb, void *);
pv_status pg_grant_get(struct pv_store *, int64_t, struct pv_grant *);
pv_status pg_grant_review(struct pv_store *, int64_t, int64_t);
pv_status pg_grant_end_user(struct pv_store *, int64_t, int64_t);
pv_status pg_nonce_claim(struct pv_store *, const unsigned char[PV_HASH_BYTES],
    int64_t, int64_t);
pv_status pg_nonce_expire(struct pv_store *, int64_t);

/* pg_records.c */
pv_status pg_resource_put(struct pv_store *, const struct pv_resource *);
pv_status pg_resource_get(struct pv_store *, const char *, const char *,
    int64_t, struct pv_resource *);
pv_status pg_resource_history(struct pv_store *, const char *, const char *,
    pv_resource_cb, void *);
pv_status pg_resource_search(struct pv_store *, const char *, const char *,
    int64_t, int64_t, pv_resource_cb, void *, int64_t *);
pv_status pg_resource_scan(struct pv_store *, pv_resource_cb, void *);
pv_status pg_resource_purge(struct pv_store *, const char *, const char *);
pv_status pg_patient_purge(struct pv_store *, const char *);
pv_status pg_index_replace(struct pv_store *, const char *, const char *,
    const unsigned char (*)[PV_HASH_BYTES], size_t);
pv_status pg_index_find(struct pv_store *, const char *,
    const unsigned char[PV_HASH_BYTES], pv_resource_cb, void *);
pv_status pg_hold_set(struct pv_store *, const char *, bool);
pv_status pg_hold_has(struct pv_store *, const char *, bool *);

/* pg_keys.c */
pv_status pg_dek_get(struct pv_store *, const char *, uint32_t *,
    unsigned char[PV_WRAPPED_DEK_BYTES]);
pv_status pg_dek_insert(struct pv_store *, const char *, uint32_t,
    const unsigned char[PV_WRAPPED_DEK_BYTES]);
pv_status pg_dek_rewrap(struct pv_store *, const char *, uint32_t, uint32_t,
    const unsigned char[PV_WRAPPED_DEK_BYTES]);
pv_status pg_dek_shred(struct pv_store *, const char *);
pv_status pg_dek_is_shredded(struct pv_store *, const char *, bool *);
pv_status pg_dek_count_version(struct pv_store *, uint32_t, int64_t *);
pv_status pg_dek_list_old(struct pv_store *, uint32_t, size_t,
    void (*)(void *, const char *, uint32_t, const unsigned char *), void *);
pv_status pg_kek_current_set(struct pv_store *, uint32_t);
pv_status pg_keys_version(struct pv_store *, int64_t *);
pv_status pg_keys_shred_epoch(struct pv_store *, int64_t *);
pv_status pg_compact(struct pv_store *);
pv_status pg_ping(struct pv_store *);

#endif
