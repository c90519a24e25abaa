/*
 * store/sqlite_int.h — what the files of the SQLite backend share:
 * included only by src/store/sqlite_*.c, so that nothing outside them
 * sees a sqlite3 type. Everyone else reaches the backend through the
 * pv_store_* functions of store/store.h.
 *
 *   sqlite_conn.c      connections, pragmas, migrations, statement cache,
 *                      transactions, compact, close, the ops table
 *   sqlite_stmt.c      every statement's text, bind/step/column helpers
 *   sqlite_accounts.c  users, sessions, recovery codes
 *   sqlite_access.c    care teams, break-glass grants
 *   sqlite_records.c   resources, blind index, legal holds, patient purge
 *   sqlite_keys.c      wrapped DEKs, KEK version, keys_version, shred epoch
 *
 * Guarantees: a table file gets a statement only by its id, through
 * sq_stmt (prepared once per connection from sq_sql_text, reset and its
 * bindings cleared before it is handed out); it never prepares SQL of
 * its own.
 *
 * Ownership of every pointer declared here:
 *  - struct sqlite_store is allocated by pv_store_open_sqlite and freed
 *    by sq_close (pv_store_close). It owns its connections (conns, a
 *    list guarded by lock) and the thread-local key tls; its other
 *    fields do not change after open. base.ops points at the static
 *    ops table (never freed).
 *  - struct conn owns db and every non-NULL stmt[] (conn_free finalizes
 *    them and closes db). Each conn is on s->conns and in its thread's
 *    tls slot; it is freed exactly once, by the thread-exit destructor
 *    (which first unlinks it) or by sq_close. next is a link of
 *    s->conns, not owned.
 *  - sq_conn_get and sq_stmt return borrowed pointers, valid on the
 *    calling thread until that thread exits or the store closes; a
 *    caller never frees, finalizes or shares them with another thread.
 *  - sq_bind_text and sq_bind_blob bind without copying (SQLITE_STATIC):
 *    the caller's value must outlive the statement's step and reset.
 *  - the column helpers copy into caller memory, except sq_col_blob_dup,
 *    whose *out is a new malloc'd buffer the caller frees (NULL when
 *    the column is empty or NULL).
 *  - sq_sql_text[] holds string literals (static, never freed).
 */
#ifndef PV_STORE_SQLITE_INT_H
#define PV_STORE_SQLITE_INT_H

#include "store/backend.h"

#include <pthread.h>
#include <sqlite3.h>

/* Every statement the backend prepares; its text is sq_sql_text[id]. */
enum sql_id {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
	Q_USER_INSERT,
	Q_USER_BY_NAME,
	Q_USER_BY_ID,
	Q_USER_BY_KEY,
	Q_USER_LIST,
	Q_USER_RESERVE,
	Q_USER_REFUND,
	Q_USER_LOGIN_OK,
	Q_USER_UNLOCK,
	Q_USER_TOTP_USE,
	Q_USER_MFA_BEGIN,
	Q_USER_MFA_ENABLE,
	Q_USER_SET_PW,
	Q_USER_SET_ACCESS,
	Q_SESS_INSERT,
	Q_SESS_GET,
	Q_SESS_TOUCH,
	Q_SESS_DELETE,
	Q_SESS_DELETE_ALL,
	Q_SESS_LIST,
	Q_REC_CLEAR,
	Q_REC_INSERT,
	Q_REC_CONSUME,
	Q_CT_ADD,
	Q_CT_REMOVE,
	Q_CT_HAS,
	Q_CT_COUNT,
	Q_RES_MAXVER,
	Q_RES_UNCURRENT,
	Q_RES_INSERT,
	Q_RES_GET_CUR,
	Q_RES_GET_VER,
	Q_RES_HISTORY,
	Q_RES_SEARCH,
	Q_RES_SEARCH_ALL,
	Q_RES_COUNT,
	Q_RES_COUNT_ALL,
	Q_RES_SCAN,
	Q_RES_PURGE,
	Q_IDX_PURGE,
	Q_PAT_PURGE_OLD,
	Q_PAT_PURGE_RES,
	Q_PAT_PURGE_CT,
	Q_PAT_PURGE_IDX,
	Q_PAT_PURGE_GRANTS,
	Q_IDX_DELETE,
	Q_IDX_INSERT,
	Q_IDX_FIND,
	Q_GRANT_INSERT,
	Q_GRANT_ACTIVE,
	Q_GRANT_LIST_ALL,
	Q_GRANT_LIST_OPEN,
	Q_GRANT_GET,
	Q_GRANT_REVIEW,
	Q_GRANT_END_USER,
	Q_HOLD_SET,
	Q_HOLD_CLEAR,
	Q_HOLD_HAS,
	Q_DEK_GET,
	Q_DEK_INSERT,
	Q_DEK_REWRAP,
	Q_DEK_DELETE,
	Q_DEK_TOMB,
	Q_DEK_IS_SHRED,
	Q_DEK_COUNT_VER,
	Q_DEK_LIST_OLD,
	Q_KEK_SET,
	Q_KEYS_VERSION,
	Q_KEYS_SHRED_EPOCH,
	Q_PING,
	Q_N
};

extern const char *const sq_sql_text[Q_N];

/* One thread's connection to both databases (main and "k"). */
struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_N];
	struct conn *next;
};

struct sqlite_store {
	struct pv_store base; /* must be first */
	char db_path[1024];
	char keys_path[1024];
	bool is_full;
	int busy_ms;
	pthread_key_t tls;
	pthread_mutex_t lock; /* guards conns */
	struct conn *conns;
};

#define S(st) ((struct sqlite_store *)(st))

/* ---- sqlite_conn.c ---- */

/* This thread's connection, opened on first use. */
pv_status sq_conn_get(struct sqlite_store *s, struct conn **out);
/* The cached, reset statement q on this thread's connection; NULL when
 * the connection or the statement cannot be had. */
sqlite3_stmt *sq_stmt(struct pv_store *store, enum sql_id q);
/* Runs one of the transaction statements (Q_BEGIN ... Q_ROLLBACK_TO). */
pv_status sq_tx_simple(struct pv_store *store, enum sql_id q);

/* ---- sqlite_stmt.c: statement helpers; q NULL gives PV_EIO ---- */

pv_status sq_map_rc(int rc);
pv_status sq_run(sqlite3_stmt *q);
int sq_changes(struct pv_store *store);
pv_status sq_run_one(struct pv_store *store, sqlite3_stmt *q, pv_status none);
pv_status sq_one_int(sqlite3_stmt *q, int64_t *out, bool *found);
pv_status sq_pid_exec(struct pv_store *store, enum sql_id id, const char *pid);
void sq_bind_text(sqlite3_stmt *q, int i, const char *v);
void sq_bind_blob(sqlite3_stmt *q, int i, const void *v, size_t n);
void sq_col_text(sqlite3_stmt *q, int i, char *out, size_t outsz);
bool sq_col_blob_fixed(sqlite3_stmt *q, int i, unsigned char *out, size_t cap,
    size_t *len);
pv_status sq_col_blob_dup(sqlite3_stmt *q, int i, unsigned char **out,
    size_t *len);

/*
 * The operations, one per member of struct pv_store_ops; each does what
 * the pv_store_* function of the same name promises in store/store.h.
 */

/* ---- sqlite_accounts.c ---- */
pv_status sq_user_insert(struct pv_store *, struct pv_user *);
pv_status sq_user_get_by_name(struct pv_store *, const char *,
    struct pv_user *);
pv_status sq_user_get_by_id(struct pv_store *, int64_t, struct pv_user *);
pv_status sq_user_get_by_key_id(struct pv_store *, const char *,
    struct pv_user *);
pv_status sq_user_list(struct pv_store *, pv_user_cb, void *);
pv_status sq_user_attempt_reserve(struct pv_store *, int64_t, int64_t,
    const struct pv_lockout_rule *, struct pv_attempt *);
pv_status sq_user_attempt_refund(struct pv_store *, int64_t,
    const struct pv_attempt *);
pv_status sq_user_login_ok(struct pv_store *, int64_t, int64_t, const char *,
    bool, const char *, int64_t *);
pv_status sq_user_unlock(struct pv_store *, int64_t);
pv_status sq_user_totp_consume(struct pv_store *, int64_t,
    const unsigned char *, size_t, int64_t);
pv_status sq_user_mfa_begin(struct pv_store *, int64_t, const unsigned char *,
    size_t);
pv_status sq_user_mfa_enable(struct pv_store *, int64_t, const unsigned char *,
    size_t);
pv_status sq_user_set_password(struct pv_store *, int64_t, const char *,
    const char *, bool, const char *);
pv_status sq_user_set_access(struct pv_store *, int64_t, int64_t, const char *,
    bool, const char *);
pv_status sq_session_insert(struct pv_store *, const struct pv_session *);
pv_status sq_session_get(struct pv_store *, const unsigned char[PV_HASH_BYTES],
    struct pv_session *);
pv_status sq_session_touch(struct pv_store *, const char *, int64_t);
pv_status sq_session_delete(struct pv_store *, int64_t, const char *);
pv_status sq_session_delete_all(struct pv_store *, int64_t, const char *);
pv_status sq_session_list(struct pv_store *, int64_t, pv_session_cb, void *);
pv_status sq_recovery_replace(struct pv_store *, int64_t,
    const unsigned char (*)[PV_HASH_BYTES], size_t);
pv_status sq_recovery_consume(struct pv_store *, int64_t,
    const unsigned char[PV_HASH_BYTES], int64_t);

/* ---- sqlite_access.c ---- */
pv_status sq_careteam_add(struct pv_store *, int64_t, const char *);
pv_status sq_careteam_remove(struct pv_store *, int64_t, const char *);
pv_status sq_careteam_has(struct pv_store *, int64_t, const char *, bool *);
pv_status sq_careteam_count(struct pv_store *, int64_t, int64_t *);
pv_status sq_grant_insert(struct pv_store *, struct pv_grant *);
pv_status sq_grant_active(struct pv_store *, int64_t, const char *, int64_t,
    int64_t *);
pv_status sq_grant_list(struct pv_store *, bool, pv_grant_cb, void *);
pv_status sq_grant_get(struct pv_store *, int64_t, struct pv_grant *);
pv_status sq_grant_review(struct pv_store *, int64_t, int64_t);
pv_status sq_grant_end_user(struct pv_store *, int64_t, int64_t);

/* ---- sqlite_records.c ---- */
pv_status sq_resource_put(struct pv_store *, const struct pv_resource *);
pv_status sq_resource_get(struct pv_store *, const char *, const char *,
    int64_t, struct pv_resource *);
pv_status sq_resource_history(struct pv_store *, const char *, const char *,
    pv_resource_cb, void *);
pv_status sq_resource_search(struct pv_store *, const char *, const char *,
    int64_t, int64_t, pv_resource_cb, void *, int64_t *);
pv_status sq_resource_scan(struct pv_store *, pv_resource_cb, void *);
pv_status sq_resource_purge(struct pv_store *, const char *, const char *);
pv_status sq_patient_purge(struct pv_store *, const char *);
pv_status sq_index_replace(struct pv_store *, const char *, const char *,
    const unsigned char (*)[PV_HASH_BYTES], size_t);
pv_status sq_index_find(struct pv_store *, const char *,
    const unsigned char[PV_HASH_BYTES], pv_resource_cb, void *);
pv_status sq_hold_set(struct pv_store *, const char *, bool);
pv_status sq_hold_has(struct pv_store *, const char *, bool *);

/* ---- sqlite_keys.c ---- */
pv_status sq_dek_get(struct pv_store *, const char *, uint32_t *,
    unsigned char[PV_WRAPPED_DEK_BYTES]);
pv_status sq_dek_insert(struct pv_store *, const char *, uint32_t,
    const unsigned char[PV_WRAPPED_DEK_BYTES]);
pv_status sq_dek_rewrap(struct pv_store *, const char *, uint32_t, uint32_t,
    const unsigned char[PV_WRAPPED_DEK_BYTES]);
pv_status sq_dek_shred(struct pv_store *, const char *);
pv_status sq_dek_is_shredded(struct pv_store *, const char *, bool *);
pv_status sq_dek_count_version(struct pv_store *, uint32_t, int64_t *);
pv_status sq_dek_list_old(struct pv_store *, uint32_t, size_t,
    void (*)(void *, const char *, uint32_t, const unsigned char *), void *);
pv_status sq_kek_current_set(struct pv_store *, uint32_t);
pv_status sq_keys_version(struct pv_store *, int64_t *);
pv_status sq_ping(struct pv_store *);
pv_status sq_keys_shred_epoch(struct pv_store *, int64_t *);

#endif
