/*
 * merkle.c — RFC 6962 / RFC 9162 Merkle tree hashing for the audit log:
 * tree heads, audit paths, consistency proofs, their verifiers, and the
 * compact range the log keeps so that appending costs O(1) hashes.
 *
 * Defends against a log operator (or anyone holding the database)
 * silently rewriting, reordering or dropping past audit entries: a holder
 * of an older tree head checks a consistency proof and detects any change
 * to the prefix it saw; an inclusion proof shows one entry is under a
 * published head (RFC 9162 sections 2.1.3 and 2.1.4).
 *
 * Guarantees:
 *  - hashes are exactly RFC 6962 2.1 with SHA-256 (libsodium), checked
 *    against the certificate-transparency known answers in
 *    tests/unit/test_merkle.c;
 *  - the RFC's recursive definitions are walked as one root-to-leaf loop
 *    of at most 64 steps, and every subtree hash the walk needs is
 *    computed bottom-up by a compact range on the stack, so a proof over
 *    n leaves costs at most n - 1 node hashes, O(log n) stack and no
 *    heap (the one recursion, over a subtree cache that fell behind, is
 *    bounded by its 60 levels);
 *  - the verifiers follow RFC 9162 step by step, reject a proof with a
 *    component too many or too few (the sn == 0 checks), and compare the
 *    result with pv_ct_equal.
 *
 *  - with a subtree cache (pv_merkle_cache: the hash of every perfect,
 *    aligned subtree of 16 leaves or more, kept as the log grows) the
 *    walk looks those up instead of re-hashing their leaves, so a proof
 *    over n leaves costs O(log^2 n) lookups plus a few dozen node hashes
 *    (about 10 us over 1,000,000 leaves); without it (NULL), up to n - 1
 *    node hashes (0.5 to 0.7 s: bench/micro/merkle_bench.c has both).
 *    The cache changes the cost, never the result: a subtree it does not
 *    hold (not yet extended, not aligned) is hashed from the leaves.
 */
#include "audit/merkle.h"

#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)1 << PV_MERKLE_CACHE_SHIFT)

_Static_assert(PV_MERKLE_HASH_BYTES == crypto_hash_sha256_BYTES,
    "a Merkle hash is a SHA-256 digest");
_Static_assert(PV_MERKLE_HASH_BYTES == PV_HASH_BYTES,
    "pv_sha256 writes PV_HASH_BYTES");
_Static_assert(SIZE_MAX <= UINT64_MAX,
    "a tree of size_t leaves must fit a compact range");

/* RFC 6962 2.1: domain separation of leaves and interior nodes. */
#define MERKLE_LEAF_PREFIX 0x00
#define MERKLE_NODE_PREFIX 0x01

void
pv_merkle_leaf_hash(const void *data, size_t len, pv_mhash out)
{
	static const unsigned char prefix = MERKLE_LEAF_PREFIX;
	crypto_hash_sha256_state st;

	/*
	 * Incremental, so leaf data of any length is hashed without a copy.
	 * libsodium's SHA-256 cannot fail; its int result is always 0.
	 */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	if (len > 0)
		crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
	sodium_memzero(&st, sizeof(st)); /* the leaf may be PHI */
}

void
pv_merkle_node_hash(const pv_mhash l, const pv_mhash r, pv_mhash out)
{
	unsigned char buf[1 + 2 * PV_MERKLE_HASH_BYTES];

	/* Copied before hashing, so out may alias l or r. */
	buf[0] = MERKLE_NODE_PREFIX;
	memcpy(buf + 1, l, PV_MERKLE_HASH_BYTES);
	memcpy(buf + 1 + PV_MERKLE_HASH_BYTES, r, PV_MERKLE_HASH_BYTES);
	pv_sha256(out, buf, sizeof(buf));
}

/* RFC 6962 2.1: MTH({}) = SHA-256() */
static void
empty_root(pv_mhash out)
{
	pv_sha256(out, "", 0);
}

/*
 * RFC 6962 2.1: "k is the largest power of two smaller than n (i.e.,
 * k < n <= 2k)", for n >= 2. Written so that doubling k cannot overflow.
 */
static size_t
split(size_t n)
{
	size_t k = 1;

	while (k <= (n - 1) / 2)
		k <<= 1;
	return k;
}

/* MTH(D[lo:hi]) for lo < hi from the leaves: hi - lo - 1 node hashes. */
static void
leaves_root(const pv_mhash *leaves, size_t lo, size_t hi, pv_mhash out)
{
	struct pv_merkle_compact c;
	size_t i;

	pv_merkle_compact_init(&c);
	for (i = lo; i < hi; i++)
		pv_merkle_compact_append(&c, leaves[i]);
	pv_merkle_compact_root(&c, out);
}

static unsigned int
log2_exact(size_t k)
{
	unsigned int j = 0;

	while (((size_t)1 << j) < k)
		j++;
	return j;
}

/*
 * MTH of the k = 2^j leaves from p: from the cache when the subtree is
 * aligned (p a multiple of k), at least a chunk, and already cached
 * (always, for a cache extended over the leaves in use). An aligned
 * subtree the cache lacks (it fell behind on an allocation failure) is
 * built from its two halves, which lower levels may hold, so one missing
 * entry costs a few hashes, not a re-hash of its leaves; the recursion
 * is at most PV_MERKLE_CACHE_LEVELS deep. The rest comes from the leaves.
 */
static void
perfect_root(const pv_mhash *leaves, const struct pv_merkle_cache *c, size_t p,
    size_t k, pv_mhash out)
{
	pv_mhash l, r;

	if (c == NULL || k < CHUNK || p % k != 0) {
		leaves_root(leaves, p, p + k, out);
		return;
	}
	{
		unsigned int j = log2_exact(k) - PV_MERKLE_CACHE_SHIFT;

		if (j < PV_MERKLE_CACHE_LEVELS && p / k < c->len[j]) {
			memcpy(out, c->level[j][p / k], sizeof(pv_mhash));
			return;
		}
	}
	if (k == CHUNK) {
		leaves_root(leaves, p, p + k, out);
		return;
	}
	perfect_root(leaves, c, p, k / 2, l);
	perfect_root(leaves, c, p + k / 2, k / 2, r);
	pv_merkle_node_hash(l, r, out);
}

/* The largest power of two <= n, for n >= 1. */
static size_t
floor_pow2(size_t n)
{
	size_t k = 1;

	while (k <= n / 2)
		k <<= 1;
	return k;
}

/*
 * MTH(D[lo:hi]) for lo < hi: the perfect subtrees of the binary
 * decomposition of hi - lo, largest first, folded from the right (as in
 * pv_merkle_compact_root).
 */
static void
range_root(const pv_mhash *leaves, const struct pv_merkle_cache *c, size_t lo,
    size_t hi, pv_mhash out)
{
	pv_mhash parts[64];
	size_t np = 0, p = lo, k;

	while (p < hi && np < 64) {
		k = floor_pow2(hi - p);
		perfect_root(leaves, c, p, k, parts[np++]);
		p += k;
	}
	if (np == 0) { /* lo >= hi: not called so */
		empty_root(out);
		return;
	}
	memcpy(out, parts[np - 1], sizeof(pv_mhash));
	while (np-- > 1)
		pv_merkle_node_hash(parts[np - 1], out, out);
}

/* The walks collect siblings root first; RFC 6962 lists them leaf first. */
static void
reverse(pv_mhash *v, size_t n)
{
	pv_mhash t;
	size_t i;

	for (i = 0; i < n / 2; i++) {
		memcpy(t, v[i], sizeof(t));
		memcpy(v[i], v[n - 1 - i], sizeof(t));
		memcpy(v[n - 1 - i], t, sizeof(t));
	}
}

pv_status
pv_merkle_root_cached(const pv_mhash *leaves, const struct pv_merkle_cache *c,
    size_t n, pv_mhash out)
{
	if (out == NULL || (leaves == NULL && n > 0))
		return PV_EINVAL;
	if (n == 0)
		empty_root(out);
	else
		range_root(leaves, c, 0, n, out);
	return PV_OK;
}

pv_status
pv_merkle_root(const pv_mhash *leaves, size_t n, pv_mhash out)
{
	return pv_merkle_root_cached(leaves, NULL, n, out);
}

/*
 * RFC 6962 2.1.1, with the recursion
 *	PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])	 for m < k
 *	PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k
 * unrolled: [lo, hi) is the subtree still holding leaf m; each step
 * records the hash of the half without it.
 */
pv_status
pv_merkle_inclusion_proof(const pv_mhash *leaves, size_t n, size_t m,
    pv_mhash *proof, size_t *proof_len)
{
	return pv_merkle_inclusion_proof_cached(leaves, NULL, n, m, proof,
	    proof_len);
}

pv_status
pv_merkle_inclusion_proof_cached(const pv_mhash *leaves,
    const struct pv_merkle_cache *c, size_t n, size_t m, pv_mhash *proof,
    size_t *proof_len)
{
	size_t lo = 0, hi = n, k, len = 0;

	if (leaves == NULL || proof == NULL || proof_len == NULL || m >= n)
		return PV_EINVAL;
	*proof_len = 0;
	while (hi - lo > 1) {
		/* Cannot happen: the depth of a tree in memory is < 59. */
		if (len == PV_MERKLE_MAX_PROOF)
			return PV_EINTERNAL;
		k = split(hi - lo);
		if (m < lo + k) {
			range_root(leaves, c, lo + k, hi, proof[len++]);
			hi = lo + k;
		} else {
			range_root(leaves, c, lo, lo + k, proof[len++]);
			lo += k;
		}
	}
	reverse(proof, len);
	*proof_len = len;
	return PV_OK;
}

/*
 * RFC 6962 2.1.2, PROOF(m, D[n]) = SUBPROOF(m, D[n], true), with
 *	SUBPROOF(m, D[m], true)  = {}
 *	SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *	SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])  m <= k
 *	SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
 * unrolled: [lo, hi) is the current subtree and old the number of its
 * leaves that belong to the old tree; is_old_root is b, true while the
 * old tree's head is itself a node on the walk (so the verifier has it).
 */
pv_status
pv_merkle_consistency_proof(const pv_mhash *leaves, size_t m, size_t n,
    pv_mhash *proof, size_t *proof_len)
{
	return pv_merkle_consistency_proof_cached(leaves, NULL, m, n, proof,
	    proof_len);
}

pv_status
pv_merkle_consistency_proof_cached(const pv_mhash *leaves,
    const struct pv_merkle_cache *c, size_t m, size_t n, pv_mhash *proof,
    size_t *proof_len)
{
	size_t lo = 0, hi = n, old = m, k, len = 0;
	bool is_old_root = true;

	if (leaves == NULL || proof == NULL || proof_len == NULL || m == 0 ||
	    m > n)
		return PV_EINVAL;
	*proof_len = 0;
	while (old != hi - lo) {
		if (len == PV_MERKLE_MAX_PROOF)
			return PV_EINTERNAL;
		k = split(hi - lo);
		if (old <= k) {
			range_root(leaves, c, lo + k, hi, proof[len++]);
			hi = lo + k;
		} else {
			range_root(leaves, c, lo, lo + k, proof[len++]);
			lo += k;
			old -= k;
			is_old_root = false;
		}
	}
	reverse(proof, len);
	if (!is_old_root) {
		/* SUBPROOF(m, D[m], false): the subtree comes first. */
		if (len == PV_MERKLE_MAX_PROOF)
			return PV_EINTERNAL;
		memmove(proof + 1, proof, len * sizeof(*proof));
		range_root(leaves, c, lo, hi, proof[0]);
		len++;
	}
	*proof_len = len;
	return PV_OK;
}

/* Right-shifts fn and sn until LSB(fn) is set or fn is 0 (RFC 9162). */
static void
shift_to_set_bit(size_t *fn, size_t *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

/* RFC 9162 2.1.3.2, step by step. */
pv_status
pv_merkle_verify_inclusion(const pv_mhash leaf, size_t index, size_t size,
    const pv_mhash *proof, size_t proof_len, const pv_mhash root)
{
	pv_mhash r;
	size_t fn, sn, i;

	if (leaf == NULL || root == NULL || proof_len > PV_MERKLE_MAX_PROOF ||
	    (proof == NULL && proof_len > 0))
		return PV_ECRYPTO;
	/* 1. */
	if (index >= size)
		return PV_ECRYPTO;
	/* 2., 3. */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, sizeof(r));
	/* 4. */
	for (i = 0; i < proof_len; i++) {
		/* a. a component more than the tree has levels */
		if (sn == 0)
			return PV_ECRYPTO;
		/* b. */
		if ((fn & 1) != 0 || fn == sn) {
			pv_merkle_node_hash(proof[i], r, r);
			if ((fn & 1) == 0)
				shift_to_set_bit(&fn, &sn);
		} else
			pv_merkle_node_hash(r, proof[i], r);
		/* c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. sn != 0: a component short. */
	if (sn != 0 || !pv_ct_equal(r, root, sizeof(r)))
		return PV_ECRYPTO;
	return PV_OK;
}

/*
 * RFC 9162 2.1.4.2, step by step, plus the cases m == 0 and m == n that
 * the algorithm leaves out (decided in merkle.h).
 */
pv_status
pv_merkle_verify_consistency(size_t m, size_t n, const pv_mhash root_m,
    const pv_mhash root_n, const pv_mhash *proof, size_t proof_len)
{
	pv_mhash fr, sr, empty;
	size_t fn, sn, i;

	if (root_m == NULL || root_n == NULL ||
	    proof_len > PV_MERKLE_MAX_PROOF ||
	    (proof == NULL && proof_len > 0) || m > n)
		return PV_ECRYPTO;
	if (m == 0) {
		empty_root(empty);
		if (proof_len != 0 ||
		    !pv_ct_equal(root_m, empty, sizeof(empty)))
			return PV_ECRYPTO;
		if (n == 0 && !pv_ct_equal(root_n, empty, sizeof(empty)))
			return PV_ECRYPTO;
		return PV_OK;
	}
	if (m == n) {
		if (proof_len != 0 || !pv_ct_equal(root_m, root_n, sizeof(fr)))
			return PV_ECRYPTO;
		return PV_OK;
	}
	/* 1. */
	if (proof_len == 0)
		return PV_ECRYPTO;
	/*
	 * 2. When m is a power of two, the old head is a node of the new tree
	 * and the proof omits it: start from root_m as if prepended, else
	 * from proof[0].
	 */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root_m, sizeof(fr));
		i = 0;
	} else {
		memcpy(fr, proof[0], sizeof(fr));
		i = 1;
	}
	/* 5. */
	memcpy(sr, fr, sizeof(sr));
	/* 3. */
	fn = m - 1;
	sn = n - 1;
	/* 4. */
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 6. */
	for (; i < proof_len; i++) {
		/* a. */
		if (sn == 0)
			return PV_ECRYPTO;
		/* b. */
		if ((fn & 1) != 0 || fn == sn) {
			pv_merkle_node_hash(proof[i], fr, fr);
			pv_merkle_node_hash(proof[i], sr, sr);
			if ((fn & 1) == 0)
				shift_to_set_bit(&fn, &sn);
		} else
			pv_merkle_node_hash(sr, proof[i], sr);
		/* c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. Both heads, and no component short. */
	if (sn != 0 || !pv_ct_equal(fr, root_m, sizeof(fr)) ||
	    !pv_ct_equal(sr, root_n, sizeof(sr)))
		return PV_ECRYPTO;
	return PV_OK;
}

void
pv_merkle_compact_init(struct pv_merkle_compact *c)
{
	memset(c, 0, sizeof(*c));
}

/*
 * A binary counter whose digits are subtree hashes: appending carries
 * through the trailing 1 bits of size, merging equal-sized perfect
 * subtrees, so n appends cost n - popcount(n) node hashes in all.
 */
void
pv_merkle_compact_append(struct pv_merkle_compact *c, const pv_mhash leaf)
{
	pv_mhash h;
	unsigned int level = 0;

	/* Bit 64 does not exist; also keeps the shift below defined. */
	if (c->size == UINT64_MAX)
		return;
	memcpy(h, leaf, sizeof(h));
	while (((c->size >> level) & 1) != 0) {
		pv_merkle_node_hash(c->nodes[level], h, h);
		/* Consumed: keep the struct canonical (see merkle.h). */
		memset(c->nodes[level], 0, sizeof(c->nodes[level]));
		level++;
	}
	memcpy(c->nodes[level], h, sizeof(h));
	c->size++;
}

/*
 * The perfect subtrees, largest (leftmost) first, are the set bits of
 * size from the top; RFC 6962's split at the largest power of two makes
 * MTH = node(P1, node(P2, ... node(Pk-1, Pk))), folded here from the
 * smallest (rightmost) up.
 */
void
pv_merkle_compact_root(const struct pv_merkle_compact *c, pv_mhash out)
{
	pv_mhash r;
	unsigned int level = 0;

	if (c->size == 0) {
		empty_root(out);
		return;
	}
	while (((c->size >> level) & 1) == 0)
		level++;
	memcpy(r, c->nodes[level], sizeof(r));
	for (level++; level < 64; level++)
		if (((c->size >> level) & 1) != 0)
			pv_merkle_node_hash(c->nodes[level], r, r);
	memcpy(out, r, sizeof(r));
}

/* ---- subtree cache ------------------------------------------------------ */

void
pv_merkle_cache_init(struct pv_merkle_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void
pv_merkle_cache_free(struct pv_merkle_cache *c)
{
	unsigned int j;

	for (j = 0; j < PV_MERKLE_CACHE_LEVELS; j++)
		free(c->level[j]);
	pv_merkle_cache_init(c);
}

/* Appends h to level j, growing it. */
static pv_status
cache_push(struct pv_merkle_cache *c, unsigned int j, const pv_mhash h)
{
	if (c->len[j] == c->cap[j]) {
		size_t ncap = c->cap[j] ? c->cap[j] * 2 : 64;
		pv_mhash *nl;

		if (ncap > SIZE_MAX / sizeof(pv_mhash))
			return PV_ENOMEM;
		nl = realloc(c->level[j], ncap * sizeof(pv_mhash));
		if (nl == NULL)
			return PV_ENOMEM;
		c->level[j] = nl;
		c->cap[j] = ncap;
	}
	memcpy(c->level[j][c->len[j]++], h, sizeof(pv_mhash));
	return PV_OK;
}

/*
 * Level 0 from the leaves, one chunk at a time; each higher level from
 * pairs of the one below. Every level catches up on its own, so a push
 * that failed earlier is simply retried.
 */
pv_status
pv_merkle_cache_extend(struct pv_merkle_cache *c, const pv_mhash *leaves,
    size_t n)
{
	pv_mhash h;
	unsigned int j;
	pv_status st;

	if (c == NULL || (leaves == NULL && n > 0))
		return PV_EINVAL;
	while ((c->len[0] + 1) * CHUNK <= n) {
		leaves_root(leaves, c->len[0] * CHUNK, (c->len[0] + 1) * CHUNK,
		    h);
		if ((st = cache_push(c, 0, h)) != PV_OK)
			return st;
	}
	for (j = 0; j + 1 < PV_MERKLE_CACHE_LEVELS; j++) {
		while (c->len[j + 1] < c->len[j] / 2) {
			size_t i = c->len[j + 1];

			pv_merkle_node_hash(c->level[j][2 * i],
			    c->level[j][2 * i + 1], h);
			if ((st = cache_push(c, j + 1, h)) != PV_OK)
				return st;
		}
	}
	return PV_OK;
}
