/*
 * test_store.c — the store contract (store/store.h), run against both
 * backends: SQLite and PostgreSQL (tests/unit/storeharness.h). Each test
 * calls the typed pv_store_* functions only and checks what store.h
 * promises: conditional account changes, one-time TOTP steps and recovery
 * codes, sessions, care teams, resource versions (exactly the next one),
 * search and scan, the blind index, erasure, grants decided on an epoch,
 * legal holds, wrapped keys and their tombstones, transactions and
 * savepoints (a refused statement inside one does not spoil it), ping and
 * compact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "storeharness.h"

static struct pv_user
user_named(const char *name)
{
	struct pv_user u;

	memset(&u, 0, sizeof(u));
	strcpy(u.username, name);
	strcpy(u.role, "clinician");
	u.is_active = true;
	strcpy(u.pw_hash, "$argon2id$hash-1");
	u.created_at = 1000;
	return u;
}

static int64_t
add_user(struct pv_store *s, const char *name)
{
	struct pv_user u = user_named(name);

	assert_int_equal(pv_store_user_insert(s, &u), PV_OK);
	assert_true(u.id > 0);
	return u.id;
}

static void
count_user(void *arg, const struct pv_user *u)
{
	(void)u;
	(*(int *)arg)++;
}

static void
test_users(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	struct pv_user u = user_named("alice"), got;
	int n = 0;

	strcpy(u.key_id, "0123456789abcdef0123456789abcdef");
	u.has_pubkey = true;
	memset(u.pubkey, 7, sizeof(u.pubkey));
	strcpy(u.scopes, "system/*.read");
	assert_int_equal(pv_store_user_insert(s, &u), PV_OK);
	struct pv_user dup = user_named("alice");
	assert_int_equal(pv_store_user_insert(s, &dup), PV_EEXISTS);
	add_user(s, "bob");
	assert_int_equal(pv_store_user_get_by_name(s, "alice", &got), PV_OK);
	assert_int_equal(got.id, u.id);
	assert_string_equal(got.role, "clinician");
	assert_true(got.is_active);
	assert_true(got.has_pubkey);
	assert_memory_equal(got.pubkey, u.pubkey, sizeof(u.pubkey));
	assert_string_equal(got.scopes, "system/*.read");
	assert_int_equal(pv_store_user_get_by_id(s, u.id, &got), PV_OK);
	assert_string_equal(got.username, "alice");
	assert_int_equal(pv_store_user_get_by_key_id(s, u.key_id, &got), PV_OK);
	assert_int_equal(got.id, u.id);
	assert_int_equal(pv_store_user_get_by_name(s, "nobody", &got),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_user_list(s, count_user, &n), PV_OK);
	assert_int_equal(n, 2);
	/* access: only on the epoch it was decided on */
	assert_int_equal(pv_store_user_set_access(s, u.id, 0, "auditor", false,
			     ""),
	    PV_OK);
	assert_int_equal(pv_store_user_set_access(s, u.id, 0, "admin", true,
			     ""),
	    PV_ECONFLICT);
	assert_int_equal(pv_store_user_get_by_id(s, u.id, &got), PV_OK);
	assert_string_equal(got.role, "auditor");
	assert_false(got.is_active);
	assert_int_equal(got.authz_epoch, 1);
}

static void
test_lockout(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	struct pv_lockout_rule rule = { 3, 60, 3600 };
	struct pv_attempt a;
	int64_t id = add_user(s, "carol");
	int i;

	for (i = 1; i <= 2; i++) {
		assert_int_equal(pv_store_user_attempt_reserve(s, id, 5000,
				     &rule, &a),
		    PV_OK);
		assert_true(a.is_reserved);
		assert_int_equal(a.failed_count, i);
		assert_int_equal(a.locked_until, 0);
	}
	/* a refund gives the reservation back */
	assert_int_equal(pv_store_user_attempt_refund(s, id, &a), PV_OK);
	assert_int_equal(pv_store_user_attempt_reserve(s, id, 5000, &rule, &a),
	    PV_OK);
	assert_int_equal(a.failed_count, 2);
	assert_int_equal(pv_store_user_attempt_reserve(s, id, 5000, &rule, &a),
	    PV_OK);
	assert_int_equal(a.failed_count, 3);
	assert_int_equal(a.locked_until, 5060);
	/* locked: nothing counted */
	assert_int_equal(pv_store_user_attempt_reserve(s, id, 5001, &rule, &a),
	    PV_OK);
	assert_false(a.is_reserved);
	/* the lock ends; the next failure doubles the delay */
	assert_int_equal(pv_store_user_attempt_reserve(s, id, 5060, &rule, &a),
	    PV_OK);
	assert_true(a.is_reserved);
	assert_int_equal(a.locked_until, 5060 + 120);
	assert_int_equal(pv_store_user_unlock(s, id), PV_OK);
	assert_int_equal(pv_store_user_unlock(s, 999999), PV_ENOTFOUND);
	assert_int_equal(pv_store_user_attempt_reserve(s, id, 5061, &rule, &a),
	    PV_OK);
	assert_int_equal(a.failed_count, 1);
}

static void
test_login_mfa_password(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	const unsigned char sealed[] = "sealed-totp-secret";
	const unsigned char other[] = "another-secret";
	struct pv_session sess;
	struct pv_user got;
	int64_t id = add_user(s, "dave"), epoch = -1;

	assert_int_equal(pv_store_user_login_ok(s, id, 7000, "$argon2id$hash-1",
			     false, "$argon2id$hash-2", &epoch),
	    PV_OK);
	assert_int_equal(epoch, 0);
	/* the hash moved (cost upgrade): the old one no longer logs in */
	assert_int_equal(pv_store_user_login_ok(s, id, 7001, "$argon2id$hash-1",
			     false, NULL, &epoch),
	    PV_ECONFLICT);
	assert_int_equal(pv_store_user_get_by_id(s, id, &got), PV_OK);
	assert_int_equal(got.last_login_at, 7000);
	/* MFA: pending, then on for exactly that secret */
	assert_int_equal(pv_store_user_mfa_begin(s, id, sealed, sizeof(sealed)),
	    PV_OK);
	assert_int_equal(pv_store_user_mfa_enable(s, id, other, sizeof(other)),
	    PV_ECONFLICT);
	assert_int_equal(pv_store_user_mfa_enable(s, id, sealed,
			     sizeof(sealed)),
	    PV_OK);
	assert_int_equal(pv_store_user_mfa_begin(s, id, other, sizeof(other)),
	    PV_ECONFLICT);
	/* a TOTP step once; an older one never */
	assert_int_equal(pv_store_user_totp_consume(s, id, sealed,
			     sizeof(sealed), 100),
	    PV_OK);
	assert_int_equal(pv_store_user_totp_consume(s, id, sealed,
			     sizeof(sealed), 100),
	    PV_EAUTH);
	assert_int_equal(pv_store_user_totp_consume(s, id, sealed,
			     sizeof(sealed), 99),
	    PV_EAUTH);
	assert_int_equal(pv_store_user_totp_consume(s, id, other, sizeof(other),
			     101),
	    PV_EAUTH);
	/* password change: hash, MFA state and the asking session */
	memset(&sess, 0, sizeof(sess));
	strcpy(sess.id, "00112233445566778899aabbccddeeff");
	memset(sess.token_hash, 1, sizeof(sess.token_hash));
	sess.user_id = id;
	assert_int_equal(pv_store_session_insert(s, &sess), PV_OK);
	assert_int_equal(pv_store_user_set_password(s, id, "$argon2id$hash-2",
			     "$argon2id$hash-3", false, NULL),
	    PV_ECONFLICT); /* MFA is on */
	assert_int_equal(pv_store_user_set_password(s, id, "$argon2id$hash-2",
			     "$argon2id$hash-3", true,
			     "ffffffffffffffffffffffffffffffff"),
	    PV_ECONFLICT); /* no such session */
	assert_int_equal(pv_store_user_set_password(s, id, "$argon2id$hash-2",
			     "$argon2id$hash-3", true, sess.id),
	    PV_OK);
	assert_int_equal(pv_store_user_set_password(s, id, "$argon2id$hash-2",
			     "$argon2id$hash-4", true, NULL),
	    PV_ECONFLICT); /* stale hash */
}

static void
count_session(void *arg, const struct pv_session *x)
{
	(void)x;
	(*(int *)arg)++;
}

static struct pv_session
session_of(int64_t user, int k)
{
	struct pv_session x;

	memset(&x, 0, sizeof(x));
	snprintf(x.id, sizeof(x.id), "%032d", k);
	memset(x.token_hash, k, sizeof(x.token_hash));
	x.user_id = user;
	x.created_at = 100 + k;
	x.last_seen = 100 + k;
	x.expires_at = 10000;
	x.is_mfa_verified = k % 2 == 0;
	x.authz_epoch = 3;
	return x;
}

static void
test_sessions_recovery(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	int64_t id = add_user(s, "erin");
	struct pv_session a = session_of(id, 1), b = session_of(id, 2), got;
	unsigned char codes[3][PV_HASH_BYTES];
	int n = 0;

	assert_int_equal(pv_store_session_insert(s, &a), PV_OK);
	assert_int_equal(pv_store_session_insert(s, &b), PV_OK);
	assert_int_equal(pv_store_session_insert(s, &a), PV_EEXISTS);
	assert_int_equal(pv_store_session_get(s, b.token_hash, &got), PV_OK);
	assert_string_equal(got.id, b.id);
	assert_true(got.is_mfa_verified);
	assert_int_equal(got.authz_epoch, 3);
	assert_int_equal(pv_store_session_touch(s, b.id, 500), PV_OK);
	assert_int_equal(pv_store_session_get(s, b.token_hash, &got), PV_OK);
	assert_int_equal(got.last_seen, 500);
	assert_int_equal(pv_store_session_list(s, id, count_session, &n),
	    PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(pv_store_session_delete_all(s, id, b.id), PV_OK);
	assert_int_equal(pv_store_session_get(s, a.token_hash, &got),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_session_delete(s, id, b.id), PV_OK);
	assert_int_equal(pv_store_session_delete(s, id, b.id), PV_ENOTFOUND);
	assert_int_equal(pv_store_session_delete_all(s, id, NULL), PV_OK);
	/* recovery codes: each once */
	memset(codes, 0, sizeof(codes));
	codes[0][0] = 1;
	codes[1][0] = 2;
	codes[2][0] = 3;
	assert_int_equal(pv_store_recovery_replace(s, id,
			     (const unsigned char(*)[PV_HASH_BYTES])codes, 3),
	    PV_OK);
	assert_int_equal(pv_store_recovery_consume(s, id, codes[1], 9), PV_OK);
	assert_int_equal(pv_store_recovery_consume(s, id, codes[1], 9),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_recovery_replace(s, id,
			     (const unsigned char(*)[PV_HASH_BYTES])codes, 2),
	    PV_OK);
	assert_int_equal(pv_store_recovery_consume(s, id, codes[1], 9), PV_OK);
	assert_int_equal(pv_store_recovery_consume(s, id, codes[2], 9),
	    PV_ENOTFOUND);
}

static void
test_careteam_holds(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	int64_t id = add_user(s, "frank"), n = -1;
	bool has = false;

	assert_int_equal(pv_store_careteam_add(s, id, "p1"), PV_OK);
	assert_int_equal(pv_store_careteam_add(s, id, "p1"), PV_OK);
	assert_int_equal(pv_store_careteam_add(s, id, "p2"), PV_OK);
	assert_int_equal(pv_store_careteam_has(s, id, "p1", &has), PV_OK);
	assert_true(has);
	assert_int_equal(pv_store_careteam_count(s, id, &n), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(pv_store_careteam_remove(s, id, "p1"), PV_OK);
	assert_int_equal(pv_store_careteam_remove(s, id, "p1"), PV_ENOTFOUND);
	assert_int_equal(pv_store_careteam_has(s, id, "p1", &has), PV_OK);
	assert_false(has);
	assert_int_equal(pv_store_hold_set(s, "p2", true), PV_OK);
	assert_int_equal(pv_store_hold_set(s, "p2", true), PV_OK);
	assert_int_equal(pv_store_hold_has(s, "p2", &has), PV_OK);
	assert_true(has);
	assert_int_equal(pv_store_hold_set(s, "p2", false), PV_OK);
	assert_int_equal(pv_store_hold_has(s, "p2", &has), PV_OK);
	assert_false(has);
}

static pv_status
put(struct pv_store *s, const char *type, const char *id, int64_t v,
    const char *pid, const char *body)
{
	struct pv_resource r;
	pv_status st;

	memset(&r, 0, sizeof(r));
	strcpy(r.type, type);
	strcpy(r.id, id);
	strcpy(r.patient_id, pid);
	r.version = v;
	r.updated_at = 100 * v;
	r.sealed = (unsigned char *)(uintptr_t)body;
	r.sealed_len = body != NULL ? strlen(body) : 0;
	r.is_deleted = body == NULL;
	if ((st = pv_store_begin(s)) != PV_OK)
		return st;
	if ((st = pv_store_resource_put(s, &r)) != PV_OK) {
		pv_store_rollback(s);
		return st;
	}
	return pv_store_commit(s);
}

struct seen {
	int n;
	char ids[16][200];
};

static bool
see(void *arg, const struct pv_resource *r)
{
	struct seen *x = arg;

	if (x->n < 16)
		snprintf(x->ids[x->n], sizeof(x->ids[0]), "%s/%s/%lld", r->type,
		    r->id, (long long)r->version);
	x->n++;
	return true;
}

static bool
see_two(void *arg, const struct pv_resource *r)
{
	see(arg, r);
	return ((struct seen *)arg)->n < 2;
}

static void
test_resources(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	struct pv_resource r;
	struct seen x;
	int64_t total = 0;

	assert_int_equal(put(s, "Patient", "p1", 1, "p1", "v1"), PV_OK);
	assert_int_equal(put(s, "Patient", "p1", 1, "p1", "v1b"), PV_ECONFLICT);
	assert_int_equal(put(s, "Patient", "p1", 3, "p1", "v3"), PV_ECONFLICT);
	assert_int_equal(put(s, "Patient", "p1", 2, "p1", "v2"), PV_OK);
	assert_int_equal(put(s, "Observation", "o2", 1, "p1", "obs-b"), PV_OK);
	assert_int_equal(put(s, "Observation", "o1", 1, "p1", "obs-a"), PV_OK);
	assert_int_equal(put(s, "Observation", "o1", 2, "p1", NULL), PV_OK);
	assert_int_equal(put(s, "Observation", "o3", 1, "p2", "other"), PV_OK);
	/* current and by version */
	assert_int_equal(pv_store_resource_get(s, "Patient", "p1", 0, &r),
	    PV_OK);
	assert_int_equal(r.version, 2);
	assert_memory_equal(r.sealed, "v2", 2);
	pv_resource_clear(&r);
	assert_int_equal(pv_store_resource_get(s, "Patient", "p1", 1, &r),
	    PV_OK);
	assert_int_equal(r.sealed_len, 2);
	assert_memory_equal(r.sealed, "v1", 2);
	assert_int_equal(r.updated_at, 100);
	pv_resource_clear(&r);
	assert_int_equal(pv_store_resource_get(s, "Observation", "o1", 0, &r),
	    PV_OK);
	assert_true(r.is_deleted);
	assert_null(r.sealed);
	pv_resource_clear(&r);
	assert_int_equal(pv_store_resource_get(s, "Patient", "nope", 0, &r),
	    PV_ENOTFOUND);
	/* history: newest first */
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_resource_history(s, "Patient", "p1", see, &x),
	    PV_OK);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.ids[0], "Patient/p1/2");
	/* search: current, not deleted, by id; paging; every type */
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_resource_search(s, "p1", "Observation", 10, 0,
			     see, &x, &total),
	    PV_OK);
	assert_int_equal(total, 1);
	assert_string_equal(x.ids[0], "Observation/o2/1");
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_resource_search(s, "p1", NULL, 1, 1, see, &x,
			     &total),
	    PV_OK);
	assert_int_equal(total, 2);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.ids[0], "Patient/p1/2");
	/* scan: every current row, ordered by patient, type, id; stops */
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_resource_scan(s, see, &x), PV_OK);
	assert_int_equal(x.n, 4);
	assert_string_equal(x.ids[0], "Observation/o1/2");
	assert_string_equal(x.ids[3], "Observation/o3/1");
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_resource_scan(s, see_two, &x), PV_OK);
	assert_int_equal(x.n, 2);
	/* purge one resource */
	assert_int_equal(pv_store_resource_purge(s, "Observation", "o3"),
	    PV_OK);
	assert_int_equal(pv_store_resource_get(s, "Observation", "o3", 0, &r),
	    PV_ENOTFOUND);
}

static void
test_index_and_erasure(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	unsigned char d[2][PV_HASH_BYTES];
	struct pv_grant g;
	struct pv_resource r;
	struct seen x;
	int64_t id = add_user(s, "gina"), gid = 0;
	bool has = true;

	memset(d, 0, sizeof(d));
	d[0][0] = 0xaa;
	d[1][0] = 0xbb;
	assert_int_equal(put(s, "Patient", "p9", 1, "p9", "pat"), PV_OK);
	assert_int_equal(put(s, "Patient", "p9", 2, "p9", "pat2"), PV_OK);
	assert_int_equal(pv_store_index_replace(s, "Patient", "p9",
			     (const unsigned char(*)[PV_HASH_BYTES])d, 2),
	    PV_OK);
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_index_find(s, "Patient", d[1], see, &x),
	    PV_OK);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.ids[0], "Patient/p9/2");
	assert_int_equal(pv_store_index_replace(s, "Patient", "p9",
			     (const unsigned char(*)[PV_HASH_BYTES])d, 1),
	    PV_OK);
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_index_find(s, "Patient", d[1], see, &x),
	    PV_OK);
	assert_int_equal(x.n, 0);
	assert_int_equal(pv_store_careteam_add(s, id, "p9"), PV_OK);
	memset(&g, 0, sizeof(g));
	g.user_id = id;
	strcpy(g.patient_id, "p9");
	g.expires_at = 9999;
	g.reason_sealed = (unsigned char *)(uintptr_t) "sealed-reason";
	g.reason_sealed_len = 13;
	assert_int_equal(pv_store_grant_insert(s, &g), PV_OK);
	gid = g.id;
	/* erasure */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_patient_purge(s, "p9"), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_int_equal(pv_store_resource_get(s, "Patient", "p9", 0, &r),
	    PV_OK);
	assert_true(r.is_deleted);
	assert_null(r.sealed);
	pv_resource_clear(&r);
	assert_int_equal(pv_store_resource_get(s, "Patient", "p9", 1, &r),
	    PV_ENOTFOUND);
	memset(&x, 0, sizeof(x));
	assert_int_equal(pv_store_index_find(s, "Patient", d[0], see, &x),
	    PV_OK);
	assert_int_equal(x.n, 0);
	assert_int_equal(pv_store_careteam_has(s, id, "p9", &has), PV_OK);
	assert_false(has);
	assert_int_equal(pv_store_grant_get(s, gid, &g), PV_OK);
	assert_null(g.reason_sealed);
	pv_grant_clear(&g);
}

static void
count_grant(void *arg, const struct pv_grant *g)
{
	(void)g;
	(*(int *)arg)++;
}

static void
test_grants(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	struct pv_grant g, got;
	int64_t id = add_user(s, "hank"), active = 0;
	int n = 0;

	memset(&g, 0, sizeof(g));
	g.user_id = id;
	strcpy(g.patient_id, "p1");
	g.created_at = 100;
	g.expires_at = 200;
	g.reason_sealed = (unsigned char *)(uintptr_t) "why";
	g.reason_sealed_len = 3;
	g.holder_epoch = 1; /* stale: the user is at 0 */
	assert_int_equal(pv_store_grant_insert(s, &g), PV_ECONFLICT);
	g.holder_epoch = 0;
	g.id = 123456789;
	assert_int_equal(pv_store_grant_insert(s, &g), PV_OK);
	assert_int_equal(g.id, 123456789);
	g.id = 0;
	assert_int_equal(pv_store_grant_insert(s, &g), PV_OK);
	assert_true(g.id > 0 && g.id != 123456789);
	assert_int_equal(pv_store_grant_active(s, id, "p1", 150, &active),
	    PV_OK);
	assert_true(active > 0);
	assert_int_equal(pv_store_grant_active(s, id, "p1", 250, &active),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_grant_get(s, 123456789, &got), PV_OK);
	assert_int_equal(got.reason_sealed_len, 3);
	assert_memory_equal(got.reason_sealed, "why", 3);
	pv_grant_clear(&got);
	assert_int_equal(pv_store_grant_review(s, 123456789, 300), PV_OK);
	assert_int_equal(pv_store_grant_review(s, 123456789, 301),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_grant_list(s, true, count_grant, &n), PV_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(pv_store_grant_list(s, false, count_grant, &n), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(pv_store_grant_end_user(s, id, 120), PV_OK);
	assert_int_equal(pv_store_grant_active(s, id, "p1", 150, &active),
	    PV_ENOTFOUND);
}

static void
collect_old(void *arg, const char *id, uint32_t v, const unsigned char *w)
{
	(void)id;
	(void)v;
	(void)w;
	(*(int *)arg)++;
}

static void
test_keys(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	unsigned char w[PV_WRAPPED_DEK_BYTES], got[PV_WRAPPED_DEK_BYTES];
	int64_t n = -1, e0 = -1, e1 = -1;
	uint32_t v = 0;
	bool gone = true;
	int old = 0;

	memset(w, 0x5a, sizeof(w));
	assert_int_equal(pv_store_keys_shred_epoch(s, &e0), PV_OK);
	assert_int_equal(pv_store_dek_insert(s, "k1", 1, w), PV_OK);
	assert_int_equal(pv_store_dek_insert(s, "k1", 1, w), PV_EEXISTS);
	assert_int_equal(pv_store_dek_get(s, "k1", &v, got), PV_OK);
	assert_int_equal(v, 1);
	assert_memory_equal(got, w, sizeof(w));
	assert_int_equal(pv_store_dek_get(s, "k0", &v, got), PV_ENOTFOUND);
	assert_int_equal(pv_store_dek_insert(s, "k2", 1, w), PV_OK);
	/* rotation: no new key under the old version; rewrap once */
	assert_int_equal(pv_store_kek_current_set(s, 2), PV_OK);
	assert_int_equal(pv_store_kek_current_set(s, 1), PV_OK); /* no-op */
	assert_int_equal(pv_store_dek_insert(s, "k3", 1, w), PV_ECONFLICT);
	assert_int_equal(pv_store_dek_list_old(s, 2, 10, collect_old, &old),
	    PV_OK);
	assert_int_equal(old, 2);
	w[0] = 0x11;
	assert_int_equal(pv_store_dek_rewrap(s, "k1", 1, 2, w), PV_OK);
	assert_int_equal(pv_store_dek_rewrap(s, "k1", 1, 2, w), PV_ECONFLICT);
	assert_int_equal(pv_store_dek_count_version(s, 2, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(pv_store_dek_get(s, "k1", &v, got), PV_OK);
	assert_int_equal(v, 2);
	assert_int_equal(got[0], 0x11);
	/* shred: the key gone for good, the epoch moved */
	assert_int_equal(pv_store_dek_is_shredded(s, "k1", &gone), PV_OK);
	assert_false(gone);
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_dek_shred(s, "k1"), PV_OK);
	assert_int_equal(pv_store_keys_shred_epoch(s, &e1), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_true(e1 > e0);
	assert_int_equal(pv_store_keys_shred_epoch(s, &e0), PV_OK);
	assert_int_equal(e0, e1);
	assert_int_equal(pv_store_dek_get(s, "k1", &v, got), PV_ENOTFOUND);
	assert_int_equal(pv_store_dek_is_shredded(s, "k1", &gone), PV_OK);
	assert_true(gone);
	assert_int_equal(pv_store_dek_insert(s, "k1", 2, w), PV_ECONFLICT);
	assert_int_equal(pv_store_dek_count_version(s, 2, &n), PV_OK);
	assert_int_equal(n, 0);
	/* a shred of an id that never had a key leaves a tombstone */
	assert_int_equal(pv_store_dek_shred(s, "k9"), PV_OK);
	assert_int_equal(pv_store_dek_is_shredded(s, "k9", &gone), PV_OK);
	assert_true(gone);
	assert_int_equal(pv_store_dek_insert(s, "k9", 2, w), PV_ECONFLICT);
	assert_int_equal(pv_store_compact(s), PV_OK);
	assert_int_equal(pv_store_ping(s), PV_OK);
}

struct two_users {
	struct pv_store *s;
	bool second_ok;
};

static bool
insert_second(void *arg)
{
	struct two_users *t = arg;
	struct pv_user u = user_named("second");

	t->second_ok = pv_store_user_insert(t->s, &u) == PV_OK;
	return t->second_ok;
}

static bool
insert_then_refuse(void *arg)
{
	struct two_users *t = arg;
	struct pv_user u = user_named("undone");

	return pv_store_user_insert(t->s, &u) != PV_OK;
}

static void
test_transactions(void **state)
{
	struct sh_case *c = SH_CASE(state);
	struct pv_store *s = c->s;
	unsigned char w[PV_WRAPPED_DEK_BYTES], got[PV_WRAPPED_DEK_BYTES];
	struct two_users t = { s, false };
	struct pv_user u = user_named("first"), dup = user_named("first");
	uint32_t v;

	memset(w, 3, sizeof(w));
	pv_store_rollback(s); /* none open: nothing happens */
	/* a rolled-back transaction leaves nothing, in both databases */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_user_insert(s, &u), PV_OK);
	assert_int_equal(pv_store_dek_insert(s, "tx1", 1, w), PV_OK);
	pv_store_rollback(s);
	assert_int_equal(pv_store_user_get_by_name(s, "first", &u),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_dek_get(s, "tx1", &v, got), PV_ENOTFOUND);
	/* a refused statement does not spoil the transaction (the DEK
	 * get-or-create path: insert -> exists -> read it) */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_user_insert(s, &u), PV_OK);
	assert_int_equal(pv_store_user_insert(s, &dup), PV_EEXISTS);
	assert_int_equal(pv_store_dek_insert(s, "tx1", 1, w), PV_OK);
	assert_int_equal(pv_store_dek_insert(s, "tx1", 1, w), PV_EEXISTS);
	assert_int_equal(pv_store_dek_get(s, "tx1", &v, got), PV_OK);
	/* savepoints: kept, and undone alone */
	assert_int_equal(pv_store_in_savepoint(s, insert_second, &t), PV_OK);
	assert_true(t.second_ok);
	assert_int_equal(pv_store_in_savepoint(s, insert_then_refuse, &t),
	    PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	assert_int_equal(pv_store_user_get_by_name(s, "first", &u), PV_OK);
	assert_int_equal(pv_store_user_get_by_name(s, "second", &u), PV_OK);
	assert_int_equal(pv_store_user_get_by_name(s, "undone", &u),
	    PV_ENOTFOUND);
	assert_int_equal(pv_store_dek_get(s, "tx1", &v, got), PV_OK);
	/* a commit with nothing written, and a second begin refused */
	assert_int_equal(pv_store_begin(s), PV_OK);
	assert_int_equal(pv_store_commit(s), PV_OK);
	/* the nonce cache: global on a shared store, the server's own on
	 * one node */
	unsigned char nd[PV_HASH_BYTES];
	memset(nd, 9, sizeof(nd));
	assert_int_equal(pv_store_nonce_claim(s, nd, 200, 100), PV_OK);
	assert_int_equal(pv_store_nonce_claim(s, nd, 300, 150),
	    pv_store_is_shared(s) ? PV_EEXISTS : PV_OK);
	assert_int_equal(pv_store_nonce_claim(s, nd, 400, 300), PV_OK);
	assert_int_equal(pv_store_nonce_expire(s, 1000), PV_OK);
	assert_int_equal(pv_store_nonce_claim(s, nd, 1200, 1100), PV_OK);
	assert_true(pv_store_is_shared(s) == (c->kind == SH_PG));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SH_BOTH(test_users),
		SH_BOTH(test_lockout),
		SH_BOTH(test_login_mfa_password),
		SH_BOTH(test_sessions_recovery),
		SH_BOTH(test_careteam_holds),
		SH_BOTH(test_resources),
		SH_BOTH(test_index_and_erasure),
		SH_BOTH(test_grants),
		SH_BOTH(test_keys),
		SH_BOTH(test_transactions),
	};

	return cmocka_run_group_tests(tests, sh_group_setup, sh_group_teardown);
}
