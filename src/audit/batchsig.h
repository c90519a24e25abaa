/*
 * batchsig.h — the batch signature that ends every group commit of the
 * audit log (private to src/audit and its tests).
 *
 * Defends against rewriting the trail without the signing key (red-team
 * finding 5): the hash chain and the Merkle tree are unkeyed, so anyone
 * who can write the log could edit an entry and recompute them, and the
 * signed checkpoints could simply be deleted. Now the last line of every
 * batch the writer appends carries, as its last field,
 *   ,"bsig":"<base64 Ed25519 signature: 88 characters>"}
 * The signature is by the vault's audit-signing key over
 *   "phivault-audit-batch-v1\n" || B
 * where B is the same line's bytes without that field (the line as it
 * was formatted, ending in "}"). B holds "prev", the chain over every
 * earlier line, so one valid signature authenticates its line and,
 * through the chain, the whole history before it. It is written in the
 * same write() and fdatasync as its batch, so every acknowledged entry
 * is covered. The Merkle leaf is the full line, bsig included.
 *
 * The prefix keeps these signatures apart from checkpoint signatures
 * ("phivault-audit-checkpoint-v1\n..."), which use the same key.
 *
 * Functions here only read their inputs; nothing is retained.
 */
#ifndef PV_AUDIT_BATCHSIG_H
#define PV_AUDIT_BATCHSIG_H

#include "crypto/crypto.h"

#define PV_BSIG_DOMAIN "phivault-audit-batch-v1\n"
#define PV_BSIG_FIELD ",\"bsig\":\""
#define PV_BSIG_B64_LEN 88 /* base64 of PV_SIG_BYTES, padded */
/* What the field adds to a line: ,"bsig":" + 88 + "} minus the "}". */
#define PV_BSIG_EXTRA (sizeof(PV_BSIG_FIELD) - 1 + PV_BSIG_B64_LEN + 1)
/* Longest line (without its newline) these functions accept. */
#define PV_BSIG_LINE_MAX 2048

/*
 * Signs line (len bytes, a JSON object ending in '}', no newline) and
 * appends the field in place; *len grows by PV_BSIG_EXTRA. cap is the
 * room at line. PV_ETOOBIG when it does not fit, PV_EINVAL when line
 * does not end in '}' or is longer than PV_BSIG_LINE_MAX.
 */
PV_MUST_CHECK pv_status pv_bsig_sign(char *line, size_t *len, size_t cap,
    const unsigned char sk[PV_SIGN_SK_BYTES]);

/* True when line (len bytes, no newline) ends with a bsig field. O(1). */
bool pv_bsig_present(const char *line, size_t len);

/*
 * PV_OK when line ends with a bsig field that verifies under pk;
 * PV_ENOTFOUND when it has none; PV_ECRYPTO when it does not verify (or
 * the line is too long to be ours).
 */
PV_MUST_CHECK pv_status pv_bsig_verify(const char *line, size_t len,
    const unsigned char pk[PV_SIGN_PK_BYTES]);

#endif
