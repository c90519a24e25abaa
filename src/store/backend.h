/*
 * store/backend.h — what a store backend implements. Included only by
 * the files of src/store/: outside the store, struct pv_store is opaque and
 * every call goes through the pv_store_* functions of store.h (store.c
 * dispatches them here). The meaning of each operation is documented on
 * its pv_store_* function in store.h.
 */
#ifndef PV_STORE_BACKEND_H
#define PV_STORE_BACKEND_H

#include "store/store.h"

struct pv_store_ops {
	void (*close)(struct pv_store *);
	pv_status (*begin)(struct pv_store *);
	/* True while this thread's connection is inside a transaction. */
	bool (*in_tx)(struct pv_store *);
	pv_status (*commit)(struct pv_store *);
	/* Must be harmless when no transaction is open. */
	void (*rollback)(struct pv_store *);
	pv_status (*savepoint)(struct pv_store *);
	pv_status (*release)(struct pv_store *);
	pv_status (*rollback_to)(struct pv_store *);

	pv_status (*user_insert)(struct pv_store *, struct pv_user *);
	pv_status (*user_get_by_name)(struct pv_store *, const char *,
	    struct pv_user *);
	pv_status (
	    *user_get_by_id)(struct pv_store *, int64_t, struct pv_user *);
	pv_status (*user_get_by_key_id)(struct pv_store *, const char *,
	    struct pv_user *);
	pv_status (*user_list)(struct pv_store *, pv_user_cb, void *);
	pv_status (*user_attempt_reserve)(struct pv_store *, int64_t id,
	    int64_t now, const struct pv_lockout_rule *, struct pv_attempt *a);
	pv_status (*user_attempt_refund)(struct pv_store *, int64_t id,
	    const struct pv_attempt *a);
	pv_status (*user_login_ok)(struct pv_store *, int64_t id, int64_t now,
	    const char *verified_hash, bool has_mfa, const char *new_hash,
	    int64_t *epoch);
	pv_status (*user_unlock)(struct pv_store *, int64_t id);
	pv_status (*user_totp_consume)(struct pv_store *, int64_t id,
	    const unsigned char *sealed, size_t sealed_len, int64_t step);
	pv_status (*user_mfa_begin)(struct pv_store *, int64_t id,
	    const unsigned char *sealed, size_t sealed_len);
	pv_status (*user_mfa_enable)(struct pv_store *, int64_t id,
	    const unsigned char *sealed, size_t sealed_len);
	pv_status (*user_set_password)(struct pv_store *, int64_t id,
	    const char *old_hash, const char *new_hash, bool has_mfa,
	    const char *session);
	pv_status (*user_set_access)(struct pv_store *, int64_t id,
	    int64_t epoch, const char *role, bool is_active,
	    const char *scopes);

	pv_status (
	    *session_insert)(struct pv_store *, const struct pv_session *);
	pv_status (*session_get)(struct pv_store *,
	    const unsigned char[PV_HASH_BYTES], struct pv_session *);
	pv_status (*session_touch)(struct pv_store *, const char *, int64_t);
	pv_status (*session_delete)(struct pv_store *, int64_t, const char *);
	pv_status (
	    *session_delete_all)(struct pv_store *, int64_t, const char *);
	pv_status (
	    *session_list)(struct pv_store *, int64_t, pv_session_cb, void *);

	pv_status (*recovery_replace)(struct pv_store *, int64_t,
	    const unsigned char (*)[PV_HASH_BYTES], size_t);
	pv_status (*recovery_consume)(struct pv_store *, int64_t,
	    const unsigned char[PV_HASH_BYTES], int64_t);

	pv_status (*careteam_add)(struct pv_store *, int64_t, const char *);
	pv_status (*careteam_remove)(struct pv_store *, int64_t, const char *);
	pv_status (
	    *careteam_has)(struct pv_store *, int64_t, const char *, bool *);
	pv_status (*careteam_count)(struct pv_store *, int64_t, int64_t *);

	pv_status (
	    *resource_put)(struct pv_store *, const struct pv_resource *);
	pv_status (*resource_get)(struct pv_store *, const char *, const char *,
	    int64_t, struct pv_resource *);
	pv_status (*resource_history)(struct pv_store *, const char *,
	    const char *, pv_resource_cb, void *);
	pv_status (*resource_search)(struct pv_store *, const char *,
	    const char *, int64_t, int64_t, pv_resource_cb, void *, int64_t *);
	pv_status (*resource_scan)(struct pv_store *, pv_resource_cb, void *);
	pv_status (
	    *resource_purge)(struct pv_store *, const char *, const char *);
	pv_status (*patient_purge)(struct pv_store *, const char *);
	pv_status (*index_replace)(struct pv_store *, const char *,
	    const char *, const unsigned char (*)[PV_HASH_BYTES], size_t);
	pv_status (*index_find)(struct pv_store *, const char *,
	    const unsigned char[PV_HASH_BYTES], pv_resource_cb, void *);

	pv_status (*grant_insert)(struct pv_store *, struct pv_grant *);
	pv_status (*grant_active)(struct pv_store *, int64_t, const char *,
	    int64_t, int64_t *);
	pv_status (*grant_list)(struct pv_store *, bool, pv_grant_cb, void *);
	pv_status (*grant_get)(struct pv_store *, int64_t, struct pv_grant *);
	pv_status (*grant_review)(struct pv_store *, int64_t, int64_t);
	pv_status (
	    *grant_end_user)(struct pv_store *, int64_t user_id, int64_t now);

	pv_status (*hold_set)(struct pv_store *, const char *, bool);
	pv_status (*hold_has)(struct pv_store *, const char *, bool *);

	pv_status (*dek_get)(struct pv_store *, const char *, uint32_t *,
	    unsigned char[PV_WRAPPED_DEK_BYTES]);
	pv_status (*dek_insert)(struct pv_store *, const char *, uint32_t,
	    const unsigned char[PV_WRAPPED_DEK_BYTES]);
	pv_status (*dek_rewrap)(struct pv_store *, const char *, uint32_t,
	    uint32_t, const unsigned char[PV_WRAPPED_DEK_BYTES]);
	pv_status (*dek_shred)(struct pv_store *, const char *);
	pv_status (*dek_is_shredded)(struct pv_store *, const char *, bool *);
	pv_status (*dek_count_version)(struct pv_store *, uint32_t, int64_t *);
	pv_status (*dek_list_old)(struct pv_store *, uint32_t, size_t,
	    void (*)(void *, const char *, uint32_t, const unsigned char *),
	    void *);
	pv_status (*kek_current_set)(struct pv_store *, uint32_t);
	pv_status (*keys_version)(struct pv_store *, int64_t *);
	pv_status (*keys_shred_epoch)(struct pv_store *, int64_t *);
	pv_status (*compact)(struct pv_store *);
	pv_status (*ping)(struct pv_store *);
	/* NULL when the backend serves one node (SQLite): store.c then
	 * answers PV_OK, the server's memory being the whole truth. */
	pv_status (*nonce_claim)(struct pv_store *,
	    const unsigned char[PV_HASH_BYTES], int64_t expires_at,
	    int64_t now);
	pv_status (*nonce_expire)(struct pv_store *, int64_t now);
	/* Several processes or nodes share the store. */
	bool is_shared;
};

struct pv_store {
	const struct pv_store_ops *ops;
};

#endif
