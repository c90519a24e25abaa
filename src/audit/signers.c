/*
 * signers.c — which keys may sign the audit trail (signers.h).
 *
 * Guarantees: the root key is always accepted; a registered key is
 * accepted only through a chain of endorsements from the root, each an
 * Ed25519 signature by an already accepted key over the domain string,
 * the key id and the public key, and only when its key id is the one its
 * public key gives. Checking a batch signature tries the accepted keys
 * (a deployment has a handful of nodes); a checkpoint names its key.
 */
#include "audit/signers.h"

#include "audit/batchsig.h"
#include "audit/medium.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define ENDORSE_DOMAIN "phivault-audit-node-v1"

void
audit_key_id(const unsigned char pk[PV_SIGN_PK_BYTES],
    char id[AUDIT_KEY_ID_LEN + 1])
{
	unsigned char fp[32];

	pv_sha256(fp, pk, PV_SIGN_PK_BYTES);
	sodium_bin2hex(id, AUDIT_KEY_ID_LEN + 1, fp, AUDIT_KEY_ID_LEN / 2);
}

_Static_assert(PV_AUDIT_KEY_ID_LEN == AUDIT_KEY_ID_LEN, "one key id length");

void
pv_audit_key_id(const unsigned char pk[PV_SIGN_PK_BYTES],
    char out[PV_AUDIT_KEY_ID_LEN + 1])
{
	audit_key_id(pk, out);
}

size_t
audit_endorsement_message(const char *key_id,
    const unsigned char pk[PV_SIGN_PK_BYTES], unsigned char out[128])
{
	size_t n = 0, idl = strnlen(key_id, AUDIT_KEY_ID_LEN);

	memcpy(out, ENDORSE_DOMAIN, sizeof(ENDORSE_DOMAIN)); /* with NUL */
	n += sizeof(ENDORSE_DOMAIN);
	memcpy(out + n, key_id, idl);
	n += idl;
	out[n++] = '\0';
	memcpy(out + n, pk, PV_SIGN_PK_BYTES);
	return n + PV_SIGN_PK_BYTES;
}

static bool
add(struct audit_signers *s, const unsigned char pk[PV_SIGN_PK_BYTES])
{
	if (audit_signers_has(s, pk) || s->n == AUDIT_SIGNERS_MAX)
		return false;
	memcpy(s->k[s->n].pk, pk, PV_SIGN_PK_BYTES);
	audit_key_id(pk, s->k[s->n].id);
	s->n++;
	return true;
}

bool
audit_signers_has(const struct audit_signers *s,
    const unsigned char pk[PV_SIGN_PK_BYTES])
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (sodium_memcmp(s->k[i].pk, pk, PV_SIGN_PK_BYTES) == 0)
			return true;
	return false;
}

static const unsigned char *
by_id(const struct audit_signers *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->k[i].id, id) == 0)
			return s->k[i].pk;
	return NULL;
}

struct row {
	char id[AUDIT_KEY_ID_LEN + 1], endorser[AUDIT_KEY_ID_LEN + 1];
	unsigned char pk[PV_SIGN_PK_BYTES], sig[PV_SIG_BYTES];
};

struct rows {
	struct row r[AUDIT_SIGNERS_MAX];
	size_t n;
	bool is_overflow;
};

static void
collect(void *arg, const char *key_id, const unsigned char pk[PV_SIGN_PK_BYTES],
    const char *endorser, const unsigned char sig[PV_SIG_BYTES])
{
	struct rows *t = arg;
	struct row *r;

	if (t->n == AUDIT_SIGNERS_MAX) {
		t->is_overflow = true;
		return;
	}
	r = &t->r[t->n];
	if (pv_strlcpy(r->id, key_id, sizeof(r->id)) != PV_OK ||
	    pv_strlcpy(r->endorser, endorser, sizeof(r->endorser)) != PV_OK)
		return; /* not one of ours: never accepted */
	memcpy(r->pk, pk, PV_SIGN_PK_BYTES);
	memcpy(r->sig, sig, PV_SIG_BYTES);
	t->n++;
}

/* Does an accepted key endorse r, and is r's id its key's? */
static bool
endorsed(const struct audit_signers *s, const struct row *r)
{
	unsigned char msg[128];
	char want[AUDIT_KEY_ID_LEN + 1];
	const unsigned char *by = by_id(s, r->endorser);
	size_t n;

	audit_key_id(r->pk, want);
	if (by == NULL || strcmp(want, r->id) != 0)
		return false;
	n = audit_endorsement_message(r->id, r->pk, msg);
	return pv_sign_verify(r->sig, msg, n, by) == PV_OK;
}

pv_status
audit_signers_load(struct audit_signers *s, struct audit_medium *m,
    const unsigned char root[PV_SIGN_PK_BYTES])
{
	struct rows *t;
	bool grew = true, is_ignored;
	size_t i;
	pv_status st;

	memset(s, 0, sizeof(*s));
	add(s, root);
	if (m == NULL || m->fn->signers == NULL)
		return PV_OK;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return PV_ENOMEM;
	if ((st = m->fn->signers(m, collect, t)) != PV_OK) {
		free(t);
		return st;
	}
	/* Fixpoint: an endorser may come later in the table. */
	while (grew) {
		grew = false;
		for (i = 0; i < t->n; i++)
			if (!audit_signers_has(s, t->r[i].pk) &&
			    endorsed(s, &t->r[i]) && add(s, t->r[i].pk))
				grew = true;
	}
	is_ignored = t->is_overflow;
	for (i = 0; i < t->n; i++)
		is_ignored |= !audit_signers_has(s, t->r[i].pk);
	if (is_ignored)
		pv_log(PV_LOG_WARN, "audit_unendorsed_signers_ignored", NULL,
		    (const char *)NULL);
	free(t);
	return PV_OK;
}

pv_status
audit_signers_bsig(const struct audit_signers *s, const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (pv_bsig_verify(line, len, s->k[i].pk) == PV_OK)
			return PV_OK;
	return PV_ECRYPTO;
}

bool
audit_signers_cp(const struct audit_signers *s, const struct pv_checkpoint *c)
{
	const unsigned char *pk = by_id(s, c->key_id);
	char msg[256];
	size_t i;

	if (pv_checkpoint_message(c, msg, sizeof(msg)) != PV_OK)
		return false;
	if (pk != NULL)
		return pv_sign_verify(c->sig, msg, strlen(msg), pk) == PV_OK;
	/* A key id that is no fingerprint (older or test trails): what
	 * counts is that an accepted key made the signature. */
	for (i = 0; i < s->n; i++)
		if (pv_sign_verify(c->sig, msg, strlen(msg), s->k[i].pk) ==
		    PV_OK)
			return true;
	return false;
}

pv_status
pv_audit_node_register(const struct pv_audit_loc *loc,
    const unsigned char endorser_sk[PV_SIGN_SK_BYTES],
    const unsigned char endorser_pk[PV_SIGN_PK_BYTES],
    const unsigned char new_pk[PV_SIGN_PK_BYTES])
{
	char id[AUDIT_KEY_ID_LEN + 1], by[AUDIT_KEY_ID_LEN + 1];
	unsigned char msg[128], sig[PV_SIG_BYTES];
	struct audit_medium *m;
	size_t n;
	pv_status st;

	if ((st = audit_medium_open(loc, true, &m)) != PV_OK)
		return st;
	if (m->fn->add_signer == NULL) {
		m->fn->close(m);
		return PV_EINVAL; /* files: the vault's key is the signer */
	}
	audit_key_id(new_pk, id);
	audit_key_id(endorser_pk, by);
	n = audit_endorsement_message(id, new_pk, msg);
	pv_sign_detached(sig, msg, n, endorser_sk);
	st = m->fn->add_signer(m, id, new_pk, by, sig);
	m->fn->close(m);
	return st;
}
