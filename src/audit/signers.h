/*
 * signers.h — the keys that may sign the audit trail (batch signatures
 * and checkpoints). Not an API: only src/audit includes it.
 *
 * On files there is one: the vault's own key. On PostgreSQL every node
 * signs with its own key (`phivault node add` makes it), so a writer
 * catching up, and `audit verify`, must accept each registered node key
 * — and only those: the registry lives in the database (audit_nodes), so
 * a row alone proves nothing. A key is accepted when it is the root key
 * (keys/audit-root.pub, the key `phivault init` made, pinned in every
 * node's key directory) or when an accepted key endorsed it: an Ed25519
 * signature over "phivault-audit-node-v1", its key id and public key.
 * Someone who can write the database but holds no node's signing key
 * cannot add a signer.
 */
#ifndef PV_AUDIT_SIGNERS_H
#define PV_AUDIT_SIGNERS_H

#include "audit/audit.h"

#define AUDIT_SIGNERS_MAX 64
#define AUDIT_KEY_ID_LEN 16 /* hex of the first 8 bytes of SHA-256(pk) */

struct audit_medium;

struct audit_signers {
	size_t n;
	struct {
		char id[AUDIT_KEY_ID_LEN + 1];
		unsigned char pk[PV_SIGN_PK_BYTES];
	} k[AUDIT_SIGNERS_MAX];
};

/* The key id of pk (hex, AUDIT_KEY_ID_LEN characters). */
void audit_key_id(const unsigned char pk[PV_SIGN_PK_BYTES],
    char id[AUDIT_KEY_ID_LEN + 1]);
/* The message an endorsement signs (out holds at least 128 bytes). */
size_t audit_endorsement_message(const char *key_id,
    const unsigned char pk[PV_SIGN_PK_BYTES], unsigned char out[128]);
/*
 * s = {root}, plus, when m keeps a registry, every registered key whose
 * endorsement chain leads to root. Unendorsed rows are ignored (and
 * logged once per load).
 */
PV_MUST_CHECK pv_status audit_signers_load(struct audit_signers *s,
    struct audit_medium *m, const unsigned char root[PV_SIGN_PK_BYTES]);
bool audit_signers_has(const struct audit_signers *s,
    const unsigned char pk[PV_SIGN_PK_BYTES]);
/* PV_OK when an accepted key made line's batch signature, else
 * PV_ECRYPTO. */
PV_MUST_CHECK pv_status audit_signers_bsig(const struct audit_signers *s,
    const char *line, size_t len);
/* True when the key c->key_id names is accepted and signed c. */
bool audit_signers_cp(const struct audit_signers *s,
    const struct pv_checkpoint *c);

#endif
