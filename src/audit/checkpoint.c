/*
 * checkpoint.c — the signed tree heads of the audit trail
 * (DIR/audit/checkpoints.jsonl): their format and message, signing one
 * over every entry a writer holds, appending it, and reading the latest
 * back, for writers (who hold the log to it) and for `audit verify`;
 * and what clients are given to check the trail against a head: a fresh
 * signed head and RFC 6962 inclusion and consistency proofs.
 *
 * A checkpoint is {"size","root","signature","key_id","time"}: Ed25519
 * by the audit key over pv_checkpoint_message(),
 *   "phivault-audit-checkpoint-v1\n<size>\n<root base64>\n<time>\n",
 * a text apart from the batch signatures' "phivault-audit-batch-v1\n".
 *
 * Guarantees: a line is appended whole or not at all (a failed write is
 * cut back, so a full disk never glues two heads together); the file is
 * fdatasync'ed at least every cp_sync_interval and at close, so a power
 * loss can lose recent heads, never entries; the latest head is read
 * from the file's last 8 KiB only, not the whole file. Callers of the
 * audit_checkpoint_* functions hold the flock on the log and tree_lock,
 * as log_int.h says; the public functions take them. Proofs are over
 * durable entries only and need keep_index (the leaves).
 */
#include "audit/log_int.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CP_LINE_MAX 1024 /* checkpoint lines are ~250 bytes */

pv_status
pv_checkpoint_message(const struct pv_checkpoint *c, char *out, size_t outsz)
{
	char root[64];
	pv_status st;

	if ((st = pv_b64_encode(c->root, sizeof(c->root), root,
		 sizeof(root))) != PV_OK)
		return st;
	return pv_snprintf(out, outsz,
	    "phivault-audit-checkpoint-v1\n%llu\n%s\n%s\n",
	    (unsigned long long)c->size, root, c->time);
}

json_t *
pv_checkpoint_json(const struct pv_checkpoint *c)
{
	char root[64], sig[128];

	if (pv_b64_encode(c->root, sizeof(c->root), root, sizeof(root)) !=
		PV_OK ||
	    pv_b64_encode(c->sig, sizeof(c->sig), sig, sizeof(sig)) != PV_OK)
		return NULL;
	return json_pack("{s:I, s:s, s:s, s:s, s:s}", "size",
	    (json_int_t)c->size, "root", root, "signature", sig, "key_id",
	    c->key_id, "time", c->time);
}

pv_status
audit_checkpoint_sign(struct pv_audit *a, struct pv_checkpoint *c)
{
	char msg[256];
	pv_status st;

	memset(c, 0, sizeof(*c));
	c->size = a->size;
	pv_merkle_compact_root(&a->compact, c->root);
	audit_iso_ms(audit_now_ms(), c->time);
	PV_IGNORE(pv_strlcpy(c->key_id, a->key_id, sizeof(c->key_id)));
	if ((st = pv_checkpoint_message(c, msg, sizeof(msg))) != PV_OK)
		return st;
	pv_sign_detached(c->sig, msg, strlen(msg), a->sk);
	return PV_OK;
}

/* A signed head over the whole tree as one JSON line (malloc'd). */
static char *
signed_line(struct pv_audit *a)
{
	struct pv_checkpoint c;
	json_t *j;
	char *text;

	if (audit_checkpoint_sign(a, &c) != PV_OK)
		return NULL;
	j = pv_checkpoint_json(&c);
	text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)
			 : NULL;
	json_decref(j);
	return text;
}

void
audit_checkpoint_append(struct pv_audit *a, bool do_sync)
{
	char *text = NULL;

	if (do_sync || pv_now() - a->last_cp_sync >= a->cp_sync_interval) {
		do_sync = true;
		a->last_cp_sync = pv_now();
	}
	if (a->size == a->last_cp_size) { /* closing or idle: nothing new */
		if (!do_sync)
			return;
		PV_IGNORE(a->m->fn->cp_append(a->m, "", 0, true));
	} else {
		if ((text = signed_line(a)) == NULL)
			return;
		if (a->m->fn->cp_append(a->m, text, strlen(text), do_sync) !=
		    PV_OK) {
			pv_log(PV_LOG_WARN, "audit_checkpoint_write_failed",
			    NULL, (const char *)NULL);
			free(text);
			return;
		}
		a->last_cp_size = a->size;
	}
	/* The anchor (anchor.c) is refreshed at every sync, even when the
	 * trail's checkpoints had nothing new; saved by the caller once the
	 * commit is durable. */
	if (do_sync && a->anchor_path[0] != '\0' && a->size > 0 &&
	    (text != NULL || (text = signed_line(a)) != NULL))
		PV_IGNORE(
		    pv_strlcpy(a->anchor_due, text, sizeof(a->anchor_due)));
	free(text);
}

/*
 * The latest checkpoint, when it reaches past what was read already:
 * its signature must verify (else PV_ECRYPTO); *size gets its size, or 0
 * when there is nothing to hold the log to.
 */
pv_status
audit_checkpoint_pending(struct pv_audit *a, struct pv_checkpoint *c,
    uint64_t *size)
{
	pv_status st;

	*size = 0;
	st = audit_checkpoint_last(a->m, c);
	if (st == PV_ENOTFOUND || (st == PV_OK && c->size <= a->size))
		return PV_OK;
	if (st != PV_OK)
		return st;
	if (!audit_signers_cp(&a->signers, c) &&
	    (a->m->fn->signers == NULL ||
		audit_signers_load(&a->signers, a->m, a->root_pk) != PV_OK ||
		!audit_signers_cp(&a->signers, c))) {
		pv_log(PV_LOG_ERROR, "audit_checkpoint_mismatch", NULL,
		    (const char *)NULL);
		return PV_ECRYPTO;
	}
	*size = c->size;
	return PV_OK;
}

bool
audit_checkpoint_parse(const char *line, struct pv_checkpoint *c)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *root, *sig, *time_s, *kid;
	size_t n;
	bool ok = false;

	memset(c, 0, sizeof(*c));
	if (j == NULL)
		return false;
	root = json_string_value(json_object_get(j, "root"));
	sig = json_string_value(json_object_get(j, "signature"));
	time_s = json_string_value(json_object_get(j, "time"));
	kid = json_string_value(json_object_get(j, "key_id"));
	if (json_is_integer(json_object_get(j, "size")) && root != NULL &&
	    sig != NULL && time_s != NULL && kid != NULL &&
	    json_integer_value(json_object_get(j, "size")) >= 0 &&
	    pv_b64_decode(root, c->root, sizeof(c->root), &n) == PV_OK &&
	    n == sizeof(c->root) &&
	    pv_b64_decode(sig, c->sig, sizeof(c->sig), &n) == PV_OK &&
	    n == sizeof(c->sig) &&
	    pv_strlcpy(c->time, time_s, sizeof(c->time)) == PV_OK &&
	    pv_strlcpy(c->key_id, kid, sizeof(c->key_id)) == PV_OK) {
		c->size =
		    (uint64_t)json_integer_value(json_object_get(j, "size"));
		ok = true;
	}
	json_decref(j);
	return ok;
}

pv_status
audit_checkpoint_last(struct audit_medium *m, struct pv_checkpoint *out)
{
	char line[CP_LINE_MAX];

	pv_status st = m->fn->cp_last(m, line, sizeof(line));

	if (st != PV_OK) /* PV_ENOTFOUND: none yet */
		return st;
	/* A line that does not parse: not found. */
	return audit_checkpoint_parse(line, out) ? PV_OK : PV_ENOTFOUND;
}

pv_status
pv_audit_latest_checkpoint(const struct pv_audit_loc *loc,
    struct pv_checkpoint *out)
{
	struct audit_medium *m;
	pv_status st;

	if ((st = audit_medium_open(loc, false, &m)) != PV_OK)
		return st == PV_ENOTFOUND ? PV_ENOTFOUND : st;
	st = audit_checkpoint_last(m, out);
	m->fn->close(m);
	return st;
}

/* ---- heads and proofs for clients ------------------------------------ */

/*
 * "Every entry appended before the request" includes what another
 * process (the CLI) appended: read it in first, under the writers' lock.
 */
pv_status
pv_audit_checkpoint(struct pv_audit *a, struct pv_checkpoint *out)
{
	pv_status st;

	if ((st = a->m->fn->lock(a->m)) != PV_OK)
		return st;
	pthread_rwlock_wrlock(&a->tree_lock);
	st = audit_catch_up(a, false);
	if (st == PV_OK)
		st = audit_checkpoint_sign(a, out);
	st = audit_unlock(a, st);
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}

pv_status
pv_audit_inclusion(struct pv_audit *a, uint64_t index, uint64_t size,
    unsigned char (*proof)[PV_AUDIT_HASH_BYTES], size_t *proof_len)
{
	pv_status st;

	pthread_rwlock_rdlock(&a->tree_lock);
	if (!a->keep_index || size > a->size || index >= size)
		st = PV_EINVAL;
	else
		st = pv_merkle_inclusion_proof_cached((const pv_mhash *)
							  a->leaves,
		    &a->mcache, (size_t)size, (size_t)index, (pv_mhash *)proof,
		    proof_len);
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}

pv_status
pv_audit_consistency(struct pv_audit *a, uint64_t from, uint64_t to,
    unsigned char (*proof)[PV_AUDIT_HASH_BYTES], size_t *proof_len)
{
	pv_status st;

	pthread_rwlock_rdlock(&a->tree_lock);
	if (!a->keep_index || to > a->size || from == 0 || from > to)
		st = PV_EINVAL;
	else
		st = pv_merkle_consistency_proof_cached((const pv_mhash *)
							    a->leaves,
		    &a->mcache, (size_t)from, (size_t)to, (pv_mhash *)proof,
		    proof_len);
	pthread_rwlock_unlock(&a->tree_lock);
	return st;
}
