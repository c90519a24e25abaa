/*
 * store.c — the store interface's dispatch, and the helpers every backend
 * shares. Guarantees: each pv_store_* call reaches exactly the backend
 * operation of the same name with its arguments unchanged; a savepoint
 * whose transaction is gone is reported, never silently continued.
 */
#include "store/backend.h"

#include <stdlib.h>

void
pv_resource_clear(struct pv_resource *r)
{
	free(r->sealed);
	r->sealed = NULL;
	r->sealed_len = 0;
}

void
pv_grant_clear(struct pv_grant *g)
{
	free(g->reason_sealed);
	g->reason_sealed = NULL;
	g->reason_sealed_len = 0;
}

pv_status
pv_store_in_savepoint(struct pv_store *s, bool (*fn)(void *arg), void *arg)
{
	bool keep;

	if (s->ops->savepoint(s) != PV_OK || !s->ops->in_tx(s))
		return PV_EIO;
	keep = fn(arg);
	if (!s->ops->in_tx(s))
		return PV_EIO;
	return (keep ? s->ops->release(s) : s->ops->rollback_to(s)) == PV_OK
	    ? PV_OK
	    : PV_EIO;
}

void
pv_store_close(struct pv_store *s)
{
	s->ops->close(s);
}

pv_status
pv_store_begin(struct pv_store *s)
{
	return s->ops->begin(s);
}

pv_status
pv_store_commit(struct pv_store *s)
{
	return s->ops->commit(s);
}

void
pv_store_rollback(struct pv_store *s)
{
	s->ops->rollback(s);
}

pv_status
pv_store_savepoint(struct pv_store *s)
{
	return s->ops->savepoint(s);
}

pv_status
pv_store_release(struct pv_store *s)
{
	return s->ops->release(s);
}

pv_status
pv_store_rollback_to(struct pv_store *s)
{
	return s->ops->rollback_to(s);
}

pv_status
pv_store_user_insert(struct pv_store *s, struct pv_user *u)
{
	return s->ops->user_insert(s, u);
}

pv_status
pv_store_user_get_by_name(struct pv_store *s, const char *name,
    struct pv_user *u)
{
	return s->ops->user_get_by_name(s, name, u);
}

pv_status
pv_store_user_get_by_id(struct pv_store *s, int64_t id, struct pv_user *u)
{
	return s->ops->user_get_by_id(s, id, u);
}

pv_status
pv_store_user_get_by_key_id(struct pv_store *s, const char *key_id,
    struct pv_user *u)
{
	return s->ops->user_get_by_key_id(s, key_id, u);
}

pv_status
pv_store_user_list(struct pv_store *s, pv_user_cb cb, void *arg)
{
	return s->ops->user_list(s, cb, arg);
}

pv_status
pv_store_user_attempt_reserve(struct pv_store *s, int64_t id, int64_t now,
    const struct pv_lockout_rule *rule, struct pv_attempt *a)
{
	return s->ops->user_attempt_reserve(s, id, now, rule, a);
}

pv_status
pv_store_user_attempt_refund(struct pv_store *s, int64_t id,
    const struct pv_attempt *a)
{
	return s->ops->user_attempt_refund(s, id, a);
}

pv_status
pv_store_user_login_ok(struct pv_store *s, int64_t id, int64_t now,
    const char *verified_hash, bool has_mfa, const char *new_hash,
    int64_t *epoch)
{
	return s->ops->user_login_ok(s, id, now, verified_hash, has_mfa,
	    new_hash, epoch);
}

pv_status
pv_store_user_unlock(struct pv_store *s, int64_t id)
{
	return s->ops->user_unlock(s, id);
}

pv_status
pv_store_user_totp_consume(struct pv_store *s, int64_t id,
    const unsigned char *sealed, size_t sealed_len, int64_t step)
{
	return s->ops->user_totp_consume(s, id, sealed, sealed_len, step);
}

pv_status
pv_store_user_mfa_begin(struct pv_store *s, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	return s->ops->user_mfa_begin(s, id, sealed, sealed_len);
}

pv_status
pv_store_user_mfa_enable(struct pv_store *s, int64_t id,
    const unsigned char *sealed, size_t sealed_len)
{
	return s->ops->user_mfa_enable(s, id, sealed, sealed_len);
}

pv_status
pv_store_user_set_password(struct pv_store *s, int64_t id, const char *old_hash,
    const char *new_hash, bool has_mfa, const char *session)
{
	return s->ops->user_set_password(s, id, old_hash, new_hash, has_mfa,
	    session);
}

pv_status
pv_store_user_set_access(struct pv_store *s, int64_t id, int64_t epoch,
    const char *role, bool is_active, const char *scopes)
{
	return s->ops->user_set_access(s, id, epoch, role, is_active, scopes);
}

pv_status
pv_store_session_insert(struct pv_store *s, const struct pv_session *sess)
{
	return s->ops->session_insert(s, sess);
}

pv_status
pv_store_session_get(struct pv_store *s,
    const unsigned char hash[PV_HASH_BYTES], struct pv_session *sess)
{
	return s->ops->session_get(s, hash, sess);
}

pv_status
pv_store_session_touch(struct pv_store *s, const char *id, int64_t now)
{
	return s->ops->session_touch(s, id, now);
}

pv_status
pv_store_session_delete(struct pv_store *s, int64_t user_id, const char *id)
{
	return s->ops->session_delete(s, user_id, id);
}

pv_status
pv_store_session_delete_all(struct pv_store *s, int64_t user_id,
    const char *except_id)
{
	return s->ops->session_delete_all(s, user_id, except_id);
}

pv_status
pv_store_session_list(struct pv_store *s, int64_t user_id, pv_session_cb cb,
    void *arg)
{
	return s->ops->session_list(s, user_id, cb, arg);
}

pv_status
pv_store_recovery_replace(struct pv_store *s, int64_t user_id,
    const unsigned char (*hashes)[PV_HASH_BYTES], size_t n)
{
	return s->ops->recovery_replace(s, user_id, hashes, n);
}

pv_status
pv_store_recovery_consume(struct pv_store *s, int64_t user_id,
    const unsigned char hash[PV_HASH_BYTES], int64_t now)
{
	return s->ops->recovery_consume(s, user_id, hash, now);
}

pv_status
pv_store_careteam_add(struct pv_store *s, int64_t user_id, const char *pid)
{
	return s->ops->careteam_add(s, user_id, pid);
}

pv_status
pv_store_careteam_remove(struct pv_store *s, int64_t user_id, const char *pid)
{
	return s->ops->careteam_remove(s, user_id, pid);
}

pv_status
pv_store_careteam_has(struct pv_store *s, int64_t user_id, const char *pid,
    bool *out)
{
	return s->ops->careteam_has(s, user_id, pid, out);
}

pv_status
pv_store_careteam_count(struct pv_store *s, int64_t user_id, int64_t *out)
{
	return s->ops->careteam_count(s, user_id, out);
}

pv_status
pv_store_resource_put(struct pv_store *s, const struct pv_resource *r)
{
	return s->ops->resource_put(s, r);
}

pv_status
pv_store_resource_get(struct pv_store *s, const char *type, const char *id,
    int64_t version, struct pv_resource *r)
{
	return s->ops->resource_get(s, type, id, version, r);
}

pv_status
pv_store_resource_history(struct pv_store *s, const char *type, const char *id,
    pv_resource_cb cb, void *arg)
{
	return s->ops->resource_history(s, type, id, cb, arg);
}

pv_status
pv_store_resource_search(struct pv_store *s, const char *pid, const char *type,
    int64_t limit, int64_t offset, pv_resource_cb cb, void *arg, int64_t *total)
{
	return s->ops->resource_search(s, pid, type, limit, offset, cb, arg,
	    total);
}

pv_status
pv_store_resource_scan(struct pv_store *s, pv_resource_cb cb, void *arg)
{
	return s->ops->resource_scan(s, cb, arg);
}

pv_status
pv_store_resource_purge(struct pv_store *s, const char *type, const char *id)
{
	return s->ops->resource_purge(s, type, id);
}

pv_status
pv_store_patient_purge(struct pv_store *s, const char *pid)
{
	return s->ops->patient_purge(s, pid);
}

pv_status
pv_store_index_replace(struct pv_store *s, const char *type, const char *id,
    const unsigned char (*digests)[PV_HASH_BYTES], size_t n)
{
	return s->ops->index_replace(s, type, id, digests, n);
}

pv_status
pv_store_index_find(struct pv_store *s, const char *type,
    const unsigned char digest[PV_HASH_BYTES], pv_resource_cb cb, void *arg)
{
	return s->ops->index_find(s, type, digest, cb, arg);
}

pv_status
pv_store_grant_insert(struct pv_store *s, struct pv_grant *g)
{
	return s->ops->grant_insert(s, g);
}

pv_status
pv_store_grant_active(struct pv_store *s, int64_t user_id, const char *pid,
    int64_t now, int64_t *grant_id)
{
	return s->ops->grant_active(s, user_id, pid, now, grant_id);
}

pv_status
pv_store_grant_list(struct pv_store *s, bool only_open, pv_grant_cb cb,
    void *arg)
{
	return s->ops->grant_list(s, only_open, cb, arg);
}

pv_status
pv_store_grant_get(struct pv_store *s, int64_t id, struct pv_grant *g)
{
	return s->ops->grant_get(s, id, g);
}

pv_status
pv_store_grant_review(struct pv_store *s, int64_t id, int64_t now)
{
	return s->ops->grant_review(s, id, now);
}

pv_status
pv_store_grant_end_user(struct pv_store *s, int64_t user_id, int64_t now)
{
	return s->ops->grant_end_user(s, user_id, now);
}

pv_status
pv_store_compact(struct pv_store *s)
{
	return s->ops->compact(s);
}

pv_status
pv_store_hold_set(struct pv_store *s, const char *pid, bool on)
{
	return s->ops->hold_set(s, pid, on);
}

pv_status
pv_store_hold_has(struct pv_store *s, const char *pid, bool *out)
{
	return s->ops->hold_has(s, pid, out);
}

pv_status
pv_store_dek_get(struct pv_store *s, const char *key_id, uint32_t *version,
    unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	return s->ops->dek_get(s, key_id, version, wrapped);
}

pv_status
pv_store_dek_insert(struct pv_store *s, const char *key_id, uint32_t version,
    const unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	return s->ops->dek_insert(s, key_id, version, wrapped);
}

pv_status
pv_store_dek_rewrap(struct pv_store *s, const char *key_id, uint32_t old_v,
    uint32_t new_v, const unsigned char wrapped[PV_WRAPPED_DEK_BYTES])
{
	return s->ops->dek_rewrap(s, key_id, old_v, new_v, wrapped);
}

pv_status
pv_store_dek_shred(struct pv_store *s, const char *key_id)
{
	return s->ops->dek_shred(s, key_id);
}

pv_status
pv_store_dek_is_shredded(struct pv_store *s, const char *key_id, bool *out)
{
	return s->ops->dek_is_shredded(s, key_id, out);
}

pv_status
pv_store_dek_count_version(struct pv_store *s, uint32_t v, int64_t *out)
{
	return s->ops->dek_count_version(s, v, out);
}

pv_status
pv_store_dek_list_old(struct pv_store *s, uint32_t below, size_t limit,
    void (*cb)(void *, const char *, uint32_t, const unsigned char *),
    void *arg)
{
	return s->ops->dek_list_old(s, below, limit, cb, arg);
}

pv_status
pv_store_kek_current_set(struct pv_store *s, uint32_t v)
{
	return s->ops->kek_current_set(s, v);
}

pv_status
pv_store_keys_version(struct pv_store *s, int64_t *out)
{
	return s->ops->keys_version(s, out);
}

pv_status
pv_store_ping(struct pv_store *s)
{
	return s->ops->ping(s);
}

pv_status
pv_store_keys_shred_epoch(struct pv_store *s, int64_t *out)
{
	return s->ops->keys_shred_epoch(s, out);
}

/*
 * SQLite serves one node: the server's in-memory nonce cache (reloaded
 * from the audit trail at start) sees every request there is, so the
 * store has nothing to add and these answer PV_OK. A shared backend
 * (PostgreSQL) keeps the claims in a table, so that a replay to another
 * node is refused by the insert.
 */
pv_status
pv_store_nonce_claim(struct pv_store *s,
    const unsigned char digest[PV_HASH_BYTES], int64_t expires_at, int64_t now)
{
	if (s->ops->nonce_claim == NULL)
		return PV_OK;
	return s->ops->nonce_claim(s, digest, expires_at, now);
}

pv_status
pv_store_nonce_expire(struct pv_store *s, int64_t now)
{
	if (s->ops->nonce_expire == NULL)
		return PV_OK;
	return s->ops->nonce_expire(s, now);
}

bool
pv_store_is_shared(const struct pv_store *s)
{
	return s->ops->is_shared;
}
