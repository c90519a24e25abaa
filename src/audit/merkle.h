/*
 * merkle.h — the Merkle tree of the audit log, as RFC 6962 section 2.1
 * defines it and RFC 9162 section 2.1 restates it (private to src/audit).
 *
 * Guarantees: hashes are bit-for-bit those of RFC 6962 with SHA-256, so a
 * third-party Certificate Transparency verifier checks our proofs; leaf
 * and interior hashes are domain-separated (0x00 / 0x01 prefix) so a leaf
 * can never be passed off as a node (second-preimage attack on the tree);
 * proof generation without a cache does O(n) hashing, O(log n) stack and
 * no heap; the verifiers fail closed on any malformed size, index or
 * proof length.
 * With a subtree cache (pv_merkle_cache, kept by the audit log) a proof
 * costs O(log^2 n) lookups and a few dozen hashes instead.
 *
 * It does not sign tree heads or know what a leaf contains.
 *
 * Apart from the subtree cache (which allocates and is owned by its
 * caller), every function only reads its inputs and writes its outputs;
 * nothing is allocated, nothing is retained, and all are thread-safe.
 * Hashes here are public data (tree heads are published), not secrets.
 */
#ifndef PV_AUDIT_MERKLE_H
#define PV_AUDIT_MERKLE_H

#include "common/pv.h"

#define PV_MERKLE_HASH_BYTES 32 /* SHA-256 */
/*
 * Longest proof accepted or produced. An audit path has at most
 * ceil(log2 n) hashes and a consistency proof one more; with 32-byte
 * leaf hashes in memory, n < 2^59, so 64 is never reached by a proof of
 * ours. The verifiers refuse longer proofs outright.
 */
#define PV_MERKLE_MAX_PROOF 64

typedef unsigned char pv_mhash[PV_MERKLE_HASH_BYTES];

/*
 * RFC 6962 2.1: leaf = SHA-256(0x00 || data); node = SHA-256(0x01 || l ||
 * r); the empty tree's hash is SHA-256(""). data may be NULL when len is
 * 0. out may alias l or r.
 */
void pv_merkle_leaf_hash(const void *data, size_t len, pv_mhash out);
void pv_merkle_node_hash(const pv_mhash l, const pv_mhash r, pv_mhash out);

/*
 * MTH(D[0:n]) over the given leaf hashes (leaf hashes, not leaf data).
 * n may be 0 (leaves may then be NULL): out is SHA-256(""). O(n) hashing,
 * O(log n) stack. PV_EINVAL for a NULL array with n > 0.
 */
PV_MUST_CHECK pv_status pv_merkle_root(const pv_mhash *leaves, size_t n,
    pv_mhash out);

/*
 * RFC 6962 2.1.1 PATH(m, D[n]): the audit path of leaf m in the tree of
 * the first n leaves, nearest sibling first. proof must hold
 * PV_MERKLE_MAX_PROOF hashes; *proof_len gets the count. PV_EINVAL when
 * m >= n or a pointer is NULL. At most n - 1 node hashes.
 */
PV_MUST_CHECK pv_status pv_merkle_inclusion_proof(const pv_mhash *leaves,
    size_t n, size_t m, pv_mhash *proof, size_t *proof_len);

/*
 * RFC 6962 2.1.2 PROOF(m, D[n]) that the tree of the first m leaves is a
 * prefix of the tree of the first n, for 0 < m <= n (m == n gives an
 * empty proof). proof must hold PV_MERKLE_MAX_PROOF hashes; *proof_len
 * gets the count. PV_EINVAL on m == 0, m > n or a NULL pointer. At most
 * n - 1 node hashes.
 */
PV_MUST_CHECK pv_status pv_merkle_consistency_proof(const pv_mhash *leaves,
    size_t m, size_t n, pv_mhash *proof, size_t *proof_len);

/*
 * RFC 9162 2.1.3.2: PV_OK when proof shows leaf (a leaf hash) at index in
 * the tree of size leaves whose head is root; PV_ECRYPTO otherwise,
 * including index >= size and proof_len > PV_MERKLE_MAX_PROOF. proof may
 * be NULL when proof_len is 0.
 */
PV_MUST_CHECK pv_status pv_merkle_verify_inclusion(const pv_mhash leaf,
    size_t index, size_t size, const pv_mhash *proof, size_t proof_len,
    const pv_mhash root);

/*
 * RFC 9162 2.1.4.2: PV_OK when proof shows the tree of m leaves with head
 * root_m is a prefix of the tree of n leaves with head root_n; PV_ECRYPTO
 * otherwise. Edge cases the RFC leaves open, decided here:
 *  - m > n fails;
 *  - m == n holds iff the proof is empty and root_m == root_n;
 *  - m == 0 holds iff the proof is empty and root_m is the empty-tree
 *    hash (and root_n too when n == 0), so a client whose first view was
 *    the empty log needs no special case.
 * proof may be NULL when proof_len is 0.
 */
PV_MUST_CHECK pv_status pv_merkle_verify_consistency(size_t m, size_t n,
    const pv_mhash root_m, const pv_mhash root_n, const pv_mhash *proof,
    size_t proof_len);

/*
 * Compact range for an append-only log: the hashes of the perfect
 * subtrees that make up the tree of `size` leaves, O(log n) state and
 * O(1) amortised hashing per append. When bit i of size is set, nodes[i]
 * is MTH(D[s:s + 2^i]) with s = size & ~(2^(i+1) - 1), the perfect
 * subtree of 2^i leaves in that place of size's binary decomposition;
 * otherwise nodes[i] is all zeroes. The struct is thus a pure function of
 * the leaves and may be persisted and compared byte for byte.
 *
 * pv_merkle_compact_append does nothing when size is already UINT64_MAX
 * (2^64 - 1 appends, unreachable in practice); callers that care check
 * size first.
 */
struct pv_merkle_compact {
	uint64_t size;
	pv_mhash nodes[64];
};

void pv_merkle_compact_init(struct pv_merkle_compact *c);
void pv_merkle_compact_append(struct pv_merkle_compact *c, const pv_mhash leaf);
/* MTH of the leaves appended so far (SHA-256("") when none). */
void pv_merkle_compact_root(const struct pv_merkle_compact *c, pv_mhash out);

/*
 * Subtree cache beside a growing leaf array: level[j][i] is the hash of
 * the perfect, aligned subtree of leaves [i * 2^(s+j), (i+1) * 2^(s+j)),
 * s = PV_MERKLE_CACHE_SHIFT. With it, a root or proof over n leaves costs
 * O(log^2 n) lookups and a few dozen node hashes (the part of the walk
 * below 2^s leaves, and the unfinished last chunk) instead of up to
 * n - 1: about 10 us instead of 0.5 s over 1,000,000 leaves
 * (bench/micro/merkle_bench.c). Memory: 32 bytes per 2^(s-1) leaves, 4
 * bytes per leaf. The owner calls pv_merkle_cache_extend after appending
 * leaves and serialises it against readers (the audit log's tree_lock).
 * A cache that is behind, or missing (NULL), only makes the functions
 * below hash more: results never depend on it.
 */
#define PV_MERKLE_CACHE_SHIFT 4 /* smallest cached subtree: 16 */
#define PV_MERKLE_CACHE_LEVELS 60 /* s + 60 >= 64 bits of size */

struct pv_merkle_cache {
	pv_mhash *level[PV_MERKLE_CACHE_LEVELS]; /* malloc'd, owned */
	size_t len[PV_MERKLE_CACHE_LEVELS];
	size_t cap[PV_MERKLE_CACHE_LEVELS];
};

void pv_merkle_cache_init(struct pv_merkle_cache *c);
/* Frees every level; c is then empty (init state). */
void pv_merkle_cache_free(struct pv_merkle_cache *c);
/*
 * Brings the cache up to the first n leaves (leaves borrowed, read only).
 * PV_ENOMEM leaves it consistent but behind; a later call catches up.
 */
PV_MUST_CHECK pv_status pv_merkle_cache_extend(struct pv_merkle_cache *c,
    const pv_mhash *leaves, size_t n);

/* As pv_merkle_root / _inclusion_proof / _consistency_proof, with the
 * cache (may be NULL) built over the same leaves. */
PV_MUST_CHECK pv_status pv_merkle_root_cached(const pv_mhash *leaves,
    const struct pv_merkle_cache *c, size_t n, pv_mhash out);
PV_MUST_CHECK pv_status pv_merkle_inclusion_proof_cached(const pv_mhash *leaves,
    const struct pv_merkle_cache *c, size_t n, size_t m, pv_mhash *proof,
    size_t *proof_len);
PV_MUST_CHECK pv_status
pv_merkle_consistency_proof_cached(const pv_mhash *leaves,
    const struct pv_merkle_cache *c, size_t m, size_t n, pv_mhash *proof,
    size_t *proof_len);

#endif
