/*
 * test_merkle.c — audit/merkle.c against RFC 6962 / RFC 9162.
 *
 * Known answers: the 8-leaf test tree of the certificate-transparency
 * reference code, as published in transparency-dev/merkle (the Go
 * successor of Trillian's merkle package): testonly/constants.go
 * (LeafInputs, NodeHashes, RootHashes, CompactTrees), the hash-valued
 * proofs of proof/verify_test.go, and the node-valued proofs of
 * proof/proof_test.go, resolved here to hashes through NodeHashes. The
 * values are copied as data; no code is.
 *
 * Properties, for every tree size 1..70: every audit path and every
 * consistency proof verifies, the compact range agrees with the root and
 * with a direct transcription of the RFC's recursive MTH, and changing any
 * byte of a proof, leaf or head, or the index, makes verification fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "audit/merkle.h"
#include "crypto/crypto.h"

#define KAT_LEAVES 8
#define PROP_MAX_N 70

/* testonly.LeafInputs() */
static const char *const kat_input_hex[KAT_LEAVES] = {
	"",
	"00",
	"10",
	"2021",
	"3031",
	"40414243",
	"5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

/* testonly.NodeHashes(): every perfect subtree, by level and index. */
static const char *const kat_level0_hex[] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
	"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
	"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
static const char *const kat_level1_hex[] = {
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
};
static const char *const kat_level2_hex[] = {
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};
static const char *const kat_level3_hex[] = {
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
static const char *const *const kat_node_hex[4] = {
	kat_level0_hex,
	kat_level1_hex,
	kat_level2_hex,
	kat_level3_hex,
};

/* testonly.RootHashes(): MTH(D[0:n]) for n = 0..8. */
static const char *const kat_root_hex[KAT_LEAVES + 1] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/*
 * A proof as its hashes' hex, concatenated ("" for an empty proof).
 * proof/verify_test.go numbers inclusion leaves from 1; index here is
 * 0-based.
 */
struct kat_hex_proof {
	size_t a, b; /* (index, size) or (m, n) */
	const char *hex;
};

/* proof/verify_test.go inclusionProofs */
static const struct kat_hex_proof kat_inclusion[] = {
	{ 0, 1, "" },
	{ 0, 8,
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e"
	    "4" },
	{ 5, 8,
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b"
	    "7" },
	{ 2, 3,
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c12"
	    "5" },
	{ 1, 5,
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6"
	    "b" },
};

/* proof/verify_test.go consistencyProofs */
static const struct kat_hex_proof kat_consistency[] = {
	{ 1, 1, "" },
	{ 1, 8,
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e"
	    "4" },
	{ 6, 8,
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b"
	    "7" },
	{ 2, 5,
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6"
	    "b" },
	{ 6, 7,
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
	    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b"
	    "7" },
};

/*
 * proof/proof_test.go TestInclusion and TestConsistency give proofs as
 * node ids (level, index) in the 8-leaf tree; "rehash" pairs there stand
 * for MTH(D[4:7]) = node(i, j), written NODE_4_7 here.
 */
#define NODE_4_7                                                               \
	{                                                                      \
		-1, 0                                                          \
	}
struct kat_node_proof {
	size_t a, b;
	size_t len;
	struct {
		int level, index;
	} node[4];
};

static const struct kat_node_proof kat_inclusion_nodes[] = {
	{ 0, 1, 0, { { 0, 0 } } },
	{ 0, 2, 1, { { 0, 1 } } },
	{ 1, 2, 1, { { 0, 0 } } },
	{ 1, 3, 2, { { 0, 0 }, { 0, 2 } } },
	{ 0, 7, 3, { { 0, 1 }, { 1, 1 }, NODE_4_7 } },
	{ 1, 7, 3, { { 0, 0 }, { 1, 1 }, NODE_4_7 } },
	{ 2, 7, 3, { { 0, 3 }, { 1, 0 }, NODE_4_7 } },
	{ 3, 7, 3, { { 0, 2 }, { 1, 0 }, NODE_4_7 } },
	{ 4, 7, 3, { { 0, 5 }, { 0, 6 }, { 2, 0 } } },
	{ 5, 7, 3, { { 0, 4 }, { 0, 6 }, { 2, 0 } } },
	{ 6, 7, 2, { { 1, 2 }, { 2, 0 } } },
	{ 2, 4, 2, { { 0, 3 }, { 1, 0 } } },
	{ 3, 5, 3, { { 0, 2 }, { 1, 0 }, { 0, 4 } } },
	{ 3, 6, 3, { { 0, 2 }, { 1, 0 }, { 1, 2 } } },
	{ 4, 6, 2, { { 0, 5 }, { 2, 0 } } },
};

static const struct kat_node_proof kat_consistency_nodes[] = {
	{ 1, 2, 1, { { 0, 1 } } },
	{ 1, 4, 2, { { 0, 1 }, { 1, 1 } } },
	{ 1, 6, 3, { { 0, 1 }, { 1, 1 }, { 1, 2 } } },
	{ 2, 3, 1, { { 0, 2 } } },
	{ 2, 8, 2, { { 1, 1 }, { 2, 1 } } },
	{ 3, 7, 4, { { 0, 2 }, { 0, 3 }, { 1, 0 }, NODE_4_7 } },
	{ 4, 7, 1, { NODE_4_7 } },
	{ 5, 7, 4, { { 0, 4 }, { 0, 5 }, { 0, 6 }, { 2, 0 } } },
	{ 6, 7, 3, { { 1, 2 }, { 0, 6 }, { 2, 0 } } },
	{ 7, 8, 4, { { 0, 6 }, { 0, 7 }, { 1, 2 }, { 2, 0 } } },
	{ 2, 4, 1, { { 1, 1 } } },
	{ 3, 5, 4, { { 0, 2 }, { 0, 3 }, { 1, 0 }, { 0, 4 } } },
	{ 3, 6, 4, { { 0, 2 }, { 0, 3 }, { 1, 0 }, { 1, 2 } } },
	{ 4, 6, 1, { { 1, 2 } } },
	{ 1, 7, 3, { { 0, 1 }, { 1, 1 }, NODE_4_7 } },
};

static void
hex32(const char *hex, pv_mhash out)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, PV_MERKLE_HASH_BYTES, hex,
			     strlen(hex), NULL, &len, NULL),
	    0);
	assert_int_equal(len, PV_MERKLE_HASH_BYTES);
}

static size_t
unhex(const char *hex, unsigned char *out, size_t outsz)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, outsz, hex, strlen(hex), NULL,
			     &len, NULL),
	    0);
	return len;
}

/* Decodes a kat_hex_proof's hashes into out (room for 4); returns count. */
static size_t
kat_proof(const char *hex, pv_mhash *out)
{
	const size_t w = 2 * PV_MERKLE_HASH_BYTES;
	size_t len = strlen(hex), i;
	char one[2 * PV_MERKLE_HASH_BYTES + 1];

	assert_int_equal(len % w, 0);
	len /= w;
	assert_true(len <= 4);
	for (i = 0; i < len; i++) {
		memcpy(one, hex + i * w, w);
		one[w] = '\0';
		hex32(one, out[i]);
	}
	return len;
}

static void
kat_leaf_hashes(pv_mhash leaves[KAT_LEAVES])
{
	unsigned char buf[16];
	size_t i, len;

	for (i = 0; i < KAT_LEAVES; i++) {
		len = unhex(kat_input_hex[i], buf, sizeof(buf));
		pv_merkle_leaf_hash(len == 0 ? NULL : buf, len, leaves[i]);
	}
}

static void
kat_node(int level, int index, pv_mhash out)
{
	pv_mhash i, j;

	if (level < 0) {
		hex32(kat_node_hex[1][2], i);
		hex32(kat_node_hex[0][6], j);
		pv_merkle_node_hash(i, j, out);
		return;
	}
	assert_non_null(kat_node_hex[level][index]);
	hex32(kat_node_hex[level][index], out);
}

static int
setup(void **state)
{
	(void)state;
	return pv_crypto_init() == PV_OK ? 0 : -1;
}

/* --- RFC 6962 2.1 hashing -------------------------------------------- */

static void
test_leaf_and_node_hashes(void **state)
{
	pv_mhash leaves[KAT_LEAVES], want, got, l, r;
	size_t level, i;

	(void)state;
	kat_leaf_hashes(leaves);
	for (i = 0; i < KAT_LEAVES; i++) {
		hex32(kat_node_hex[0][i], want);
		assert_memory_equal(leaves[i], want, sizeof(want));
	}
	for (level = 1; level < 4; level++) {
		for (i = 0; i < ((size_t)KAT_LEAVES >> level); i++) {
			hex32(kat_node_hex[level - 1][2 * i], l);
			hex32(kat_node_hex[level - 1][2 * i + 1], r);
			pv_merkle_node_hash(l, r, got);
			hex32(kat_node_hex[level][i], want);
			assert_memory_equal(got, want, sizeof(want));
			/* out may alias an input */
			pv_merkle_node_hash(l, r, l);
			assert_memory_equal(l, want, sizeof(want));
			hex32(kat_node_hex[level - 1][2 * i], l);
			pv_merkle_node_hash(l, r, r);
			assert_memory_equal(r, want, sizeof(want));
		}
	}
}

static void
test_roots(void **state)
{
	pv_mhash leaves[KAT_LEAVES], want, got;
	size_t n;

	(void)state;
	kat_leaf_hashes(leaves);
	for (n = 0; n <= KAT_LEAVES; n++) {
		hex32(kat_root_hex[n], want);
		assert_int_equal(pv_merkle_root(leaves, n, got), PV_OK);
		assert_memory_equal(got, want, sizeof(want));
	}
	/* The empty tree needs no array. */
	hex32(kat_root_hex[0], want);
	assert_int_equal(pv_merkle_root(NULL, 0, got), PV_OK);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(pv_merkle_root(NULL, 1, got), PV_EINVAL);
	assert_int_equal(pv_merkle_root(leaves, 1, NULL), PV_EINVAL);
}

/* --- known-answer proofs --------------------------------------------- */

static void
check_inclusion_kat(const pv_mhash leaves[KAT_LEAVES], size_t index,
    size_t size, const pv_mhash *want, size_t want_len)
{
	pv_mhash proof[PV_MERKLE_MAX_PROOF], root;
	size_t len = 99;

	assert_int_equal(pv_merkle_inclusion_proof(leaves, size, index, proof,
			     &len),
	    PV_OK);
	assert_int_equal(len, want_len);
	if (len > 0)
		assert_memory_equal(proof, want, len * sizeof(pv_mhash));
	hex32(kat_root_hex[size], root);
	assert_int_equal(pv_merkle_verify_inclusion(leaves[index], index, size,
			     want, want_len, root),
	    PV_OK);
}

static void
check_consistency_kat(const pv_mhash leaves[KAT_LEAVES], size_t m, size_t n,
    const pv_mhash *want, size_t want_len)
{
	pv_mhash proof[PV_MERKLE_MAX_PROOF], root_m, root_n;
	size_t len = 99;

	assert_int_equal(pv_merkle_consistency_proof(leaves, m, n, proof, &len),
	    PV_OK);
	assert_int_equal(len, want_len);
	if (len > 0)
		assert_memory_equal(proof, want, len * sizeof(pv_mhash));
	hex32(kat_root_hex[m], root_m);
	hex32(kat_root_hex[n], root_n);
	assert_int_equal(pv_merkle_verify_consistency(m, n, root_m, root_n,
			     want, want_len),
	    PV_OK);
}

static void
test_inclusion_kat(void **state)
{
	pv_mhash leaves[KAT_LEAVES], want[4];
	size_t t, i, len;

	(void)state;
	kat_leaf_hashes(leaves);
	for (t = 0; t < PV_ARRAY_LEN(kat_inclusion); t++) {
		len = kat_proof(kat_inclusion[t].hex, want);
		check_inclusion_kat(leaves, kat_inclusion[t].a,
		    kat_inclusion[t].b, want, len);
	}
	for (t = 0; t < PV_ARRAY_LEN(kat_inclusion_nodes); t++) {
		for (i = 0; i < kat_inclusion_nodes[t].len; i++)
			kat_node(kat_inclusion_nodes[t].node[i].level,
			    kat_inclusion_nodes[t].node[i].index, want[i]);
		check_inclusion_kat(leaves, kat_inclusion_nodes[t].a,
		    kat_inclusion_nodes[t].b, want, kat_inclusion_nodes[t].len);
	}
}

static void
test_consistency_kat(void **state)
{
	pv_mhash leaves[KAT_LEAVES], want[4];
	size_t t, i, n, len;

	(void)state;
	kat_leaf_hashes(leaves);
	for (t = 0; t < PV_ARRAY_LEN(kat_consistency); t++) {
		len = kat_proof(kat_consistency[t].hex, want);
		check_consistency_kat(leaves, kat_consistency[t].a,
		    kat_consistency[t].b, want, len);
	}
	for (t = 0; t < PV_ARRAY_LEN(kat_consistency_nodes); t++) {
		for (i = 0; i < kat_consistency_nodes[t].len; i++)
			kat_node(kat_consistency_nodes[t].node[i].level,
			    kat_consistency_nodes[t].node[i].index, want[i]);
		check_consistency_kat(leaves, kat_consistency_nodes[t].a,
		    kat_consistency_nodes[t].b, want,
		    kat_consistency_nodes[t].len);
	}
	/* Same size: the proof is empty. */
	for (n = 1; n <= KAT_LEAVES; n++)
		check_consistency_kat(leaves, n, n, want, 0);
}

/* testonly.CompactTrees(), in our layout: nodes[level] per set bit. */
static void
test_compact_kat(void **state)
{
	struct pv_merkle_compact c;
	pv_mhash leaves[KAT_LEAVES], want, got, zero;
	size_t s;
	unsigned int level;

	(void)state;
	memset(zero, 0, sizeof(zero));
	kat_leaf_hashes(leaves);
	pv_merkle_compact_init(&c);
	pv_merkle_compact_root(&c, got);
	hex32(kat_root_hex[0], want);
	assert_memory_equal(got, want, sizeof(want));
	for (s = 1; s <= KAT_LEAVES; s++) {
		pv_merkle_compact_append(&c, leaves[s - 1]);
		assert_int_equal(c.size, s);
		for (level = 0; level < 64; level++) {
			if (((s >> level) & 1) == 0) {
				/* canonical: consumed slots are cleared */
				assert_memory_equal(c.nodes[level], zero,
				    sizeof(zero));
				continue;
			}
			hex32(kat_node_hex[level][(s >> level) - 1], want);
			assert_memory_equal(c.nodes[level], want, sizeof(want));
		}
		pv_merkle_compact_root(&c, got);
		hex32(kat_root_hex[s], want);
		assert_memory_equal(got, want, sizeof(want));
	}
}

/* --- verifier rejections (after proof/verify_test.go's probes) -------- */

static void
test_verify_inclusion_rejects(void **state)
{
	pv_mhash leaves[KAT_LEAVES], proof[PV_MERKLE_MAX_PROOF + 2];
	pv_mhash root, empty, other, wrong_leaf;
	const pv_mhash *leaf;
	size_t t, i, idx, size, len;

	(void)state;
	kat_leaf_hashes(leaves);
	hex32(kat_root_hex[0], empty);
	pv_merkle_leaf_hash("WrongLeaf", 9, wrong_leaf);
	/* proof/verify_test.go sha256SomeHash */
	hex32("abacaba00000000000000000000000000"
	      "0000000000000000060061e00123456",
	    other);

	/* The single-entry tree: the root is the leaf, the path empty. */
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 0, 1, NULL, 0,
			     leaves[0]),
	    PV_OK);
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 0, 1, NULL, 0,
			     leaves[1]),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 0, 0, NULL, 0,
			     leaves[0]),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 1, 1, NULL, 0,
			     leaves[0]),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 2, 1, NULL, 0,
			     leaves[0]),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_inclusion(other, 0, 0, NULL, 0,
			     empty),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 0, 1, NULL, 1,
			     leaves[0]),
	    PV_ECRYPTO);

	for (t = 1; t < PV_ARRAY_LEN(kat_inclusion); t++) {
		idx = kat_inclusion[t].a;
		size = kat_inclusion[t].b;
		len = kat_proof(kat_inclusion[t].hex, proof + 1);
		leaf = &leaves[idx];
		hex32(kat_root_hex[size], root);
#define REJECT(ix, sz, lf, pf, ln, rt)                                         \
	assert_int_equal(pv_merkle_verify_inclusion((lf), (ix), (sz), (pf),    \
			     (ln), (rt)),                                      \
	    PV_ECRYPTO)
		assert_int_equal(pv_merkle_verify_inclusion(*leaf, idx, size,
				     proof + 1, len, root),
		    PV_OK);
		REJECT(idx - 1, size, *leaf, proof + 1, len, root);
		REJECT(idx + 1, size, *leaf, proof + 1, len, root);
		REJECT(idx ^ 2, size, *leaf, proof + 1, len, root);
		REJECT(idx, size * 2, *leaf, proof + 1, len, root);
		REJECT(idx, size / 2, *leaf, proof + 1, len, root);
		REJECT(idx, size, wrong_leaf, proof + 1, len, root);
		REJECT(idx, size, *leaf, proof + 1, len, empty);
		REJECT(idx, size, *leaf, proof + 1, len, other);
		REJECT(idx, size, *leaf, proof + 1, len - 1, root);
		/* trailing garbage, trailing root */
		memset(proof[len + 1], 0, sizeof(pv_mhash));
		REJECT(idx, size, *leaf, proof + 1, len + 1, root);
		memcpy(proof[len + 1], root, sizeof(pv_mhash));
		REJECT(idx, size, *leaf, proof + 1, len + 1, root);
		/* preceding garbage, preceding root */
		memset(proof[0], 0, sizeof(pv_mhash));
		REJECT(idx, size, *leaf, proof, len + 1, root);
		memcpy(proof[0], root, sizeof(pv_mhash));
		REJECT(idx, size, *leaf, proof, len + 1, root);
		/* one bit of each component */
		for (i = 1; i <= len; i++) {
			proof[i][0] ^= 8;
			REJECT(idx, size, *leaf, proof + 1, len, root);
			proof[i][0] ^= 8;
		}
		/* an inserted component */
		if (len > 1) {
			memcpy(proof[0], proof[1], sizeof(pv_mhash));
			memcpy(proof[1], other, sizeof(pv_mhash));
			REJECT(idx, size, *leaf, proof, len + 1, root);
		}
#undef REJECT
	}
	/* Longer than any tree: refused before it is looked at. */
	memset(proof, 0, sizeof(proof));
	assert_int_equal(pv_merkle_verify_inclusion(leaves[0], 0, SIZE_MAX,
			     proof, PV_MERKLE_MAX_PROOF + 1, root),
	    PV_ECRYPTO);
}

static void
test_verify_consistency_rejects(void **state)
{
	pv_mhash proof[PV_MERKLE_MAX_PROOF + 2], empty, r1, r2;
	pv_mhash root_m, root_n;
	size_t t, i, m, n, len;

	(void)state;
	hex32(kat_root_hex[0], empty);
	pv_merkle_leaf_hash("don't care 1", 12, r1);
	pv_merkle_leaf_hash("don't care 2", 12, r2);
	memcpy(proof[0], empty, sizeof(pv_mhash));

	/* proof/verify_test.go TestVerifyConsistency, with our m == 0 rule. */
	assert_int_equal(pv_merkle_verify_consistency(0, 0, empty, empty, NULL,
			     0),
	    PV_OK);
	assert_int_equal(pv_merkle_verify_consistency(0, 0, r1, r1, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(0, 0, empty, r1, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(0, 1, empty, r2, NULL, 0),
	    PV_OK);
	assert_int_equal(pv_merkle_verify_consistency(0, 1, r1, r2, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(1, 1, r2, r2, NULL, 0),
	    PV_OK);
	assert_int_equal(pv_merkle_verify_consistency(1, 1, r1, r2, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(1, 0, r1, r2, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(2, 1, r1, r2, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(1, 2, r1, r2, NULL, 0),
	    PV_ECRYPTO);
	/* RFC 9162 2.1.4.2 step 1, before anything reads proof[0]. */
	assert_int_equal(pv_merkle_verify_consistency(3, 4, r1, r2, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(1, 1, empty, r2, NULL, 0),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(0, 0, empty, empty, proof,
			     1),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(0, 1, empty, empty, proof,
			     1),
	    PV_ECRYPTO);
	assert_int_equal(pv_merkle_verify_consistency(1, 1, empty, empty, proof,
			     1),
	    PV_ECRYPTO);

	for (t = 1; t < PV_ARRAY_LEN(kat_consistency); t++) {
		m = kat_consistency[t].a;
		n = kat_consistency[t].b;
		len = kat_proof(kat_consistency[t].hex, proof + 1);
		hex32(kat_root_hex[m], root_m);
		hex32(kat_root_hex[n], root_n);
#define REJECT(a, b, ra, rb, pf, ln)                                           \
	assert_int_equal(pv_merkle_verify_consistency((a), (b), (ra), (rb),    \
			     (pf), (ln)),                                      \
	    PV_ECRYPTO)
		assert_int_equal(pv_merkle_verify_consistency(m, n, root_m,
				     root_n, proof + 1, len),
		    PV_OK);
		REJECT(m - 1, n, root_m, root_n, proof + 1, len);
		REJECT(m + 1, n, root_m, root_n, proof + 1, len);
		REJECT(m ^ 2, n, root_m, root_n, proof + 1, len);
		REJECT(m, n * 2, root_m, root_n, proof + 1, len);
		REJECT(m, n / 2, root_m, root_n, proof + 1, len);
		REJECT(m, n, r1, root_n, proof + 1, len);
		REJECT(m, n, root_m, r2, proof + 1, len);
		REJECT(m, n, root_n, root_m, proof + 1, len);
		REJECT(m, n, root_m, root_n, proof + 1, 0);
		REJECT(m, n, root_m, root_n, proof + 1, len - 1);
		/* trailing garbage, root_m, root_n */
		memset(proof[len + 1], 0, sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof + 1, len + 1);
		memcpy(proof[len + 1], root_m, sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof + 1, len + 1);
		memcpy(proof[len + 1], root_n, sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof + 1, len + 1);
		/* preceding garbage, root_m, root_n, proof[0] */
		memset(proof[0], 0, sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof, len + 1);
		memcpy(proof[0], root_m, sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof, len + 1);
		memcpy(proof[0], root_n, sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof, len + 1);
		memcpy(proof[0], proof[1], sizeof(pv_mhash));
		REJECT(m, n, root_m, root_n, proof, len + 1);
		for (i = 1; i <= len; i++) {
			proof[i][0] ^= 16;
			REJECT(m, n, root_m, root_n, proof + 1, len);
			proof[i][0] ^= 16;
		}
#undef REJECT
	}
	memset(proof, 0, sizeof(proof));
	assert_int_equal(pv_merkle_verify_consistency(3, SIZE_MAX, r1, r2,
			     proof, PV_MERKLE_MAX_PROOF + 1),
	    PV_ECRYPTO);
}

static void
test_generator_rejects(void **state)
{
	pv_mhash leaves[KAT_LEAVES], proof[PV_MERKLE_MAX_PROOF];
	size_t len;

	(void)state;
	kat_leaf_hashes(leaves);
	assert_int_equal(pv_merkle_inclusion_proof(leaves, 0, 0, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_inclusion_proof(leaves, 8, 8, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_inclusion_proof(leaves, 3, SIZE_MAX, proof,
			     &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_inclusion_proof(NULL, 8, 0, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_inclusion_proof(leaves, 8, 0, NULL, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_inclusion_proof(leaves, 8, 0, proof, NULL),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_consistency_proof(leaves, 0, 8, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_consistency_proof(leaves, 0, 0, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_consistency_proof(leaves, 5, 4, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_consistency_proof(NULL, 1, 8, proof, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_consistency_proof(leaves, 1, 8, NULL, &len),
	    PV_EINVAL);
	assert_int_equal(pv_merkle_consistency_proof(leaves, 1, 8, proof, NULL),
	    PV_EINVAL);
}

/* --- properties over every small tree -------------------------------- */

/* RFC 6962 2.1 MTH, transcribed as written: the oracle for n > 8. */
static void
rfc_mth(const pv_mhash *d, size_t n, pv_mhash out)
{
	pv_mhash l, r;
	size_t k = 1;

	if (n == 0) {
		pv_sha256(out, "", 0);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], sizeof(pv_mhash));
		return;
	}
	while (k * 2 < n)
		k *= 2;
	rfc_mth(d, k, l);
	rfc_mth(d + k, n - k, r);
	pv_merkle_node_hash(l, r, out);
}

static void
prop_leaves(pv_mhash *leaves, size_t n)
{
	unsigned char data[24] = "phivault merkle leaf ";
	size_t i;

	for (i = 0; i < n; i++) {
		data[21] = (unsigned char)(i >> 8);
		data[22] = (unsigned char)i;
		data[23] = (unsigned char)(i * 7);
		pv_merkle_leaf_hash(data, sizeof(data), leaves[i]);
	}
}

/* ceil(log2 n) */
static size_t
depth(size_t n)
{
	size_t d = 0;

	while (((size_t)1 << d) < n)
		d++;
	return d;
}

static bool
is_near_pow2(size_t n)
{
	return (n & (n - 1)) == 0 || ((n - 1) & (n - 2)) == 0 ||
	    (n & (n + 1)) == 0;
}

static void
test_compact_matches_root(void **state)
{
	static pv_mhash leaves[4099];
	struct pv_merkle_compact c;
	pv_mhash got, want;
	size_t n;

	(void)state;
	prop_leaves(leaves, PV_ARRAY_LEN(leaves));
	pv_merkle_compact_init(&c);
	for (n = 0; n <= PV_ARRAY_LEN(leaves); n++) {
		if (n > 0)
			pv_merkle_compact_append(&c, leaves[n - 1]);
		assert_int_equal(c.size, n);
		/* Every small size, and around each power of two. */
		if (n > 256 && !is_near_pow2(n) && n != PV_ARRAY_LEN(leaves))
			continue;
		pv_merkle_compact_root(&c, got);
		assert_int_equal(pv_merkle_root(leaves, n, want), PV_OK);
		if (memcmp(got, want, sizeof(got)) != 0)
			fail_msg("compact root differs at n=%zu", n);
		if (n <= PROP_MAX_N || n == PV_ARRAY_LEN(leaves)) {
			rfc_mth(leaves, n, got);
			if (memcmp(got, want, sizeof(got)) != 0)
				fail_msg("root is not RFC MTH at n=%zu", n);
		}
	}
}

static void
test_compact_full(void **state)
{
	struct pv_merkle_compact c, before;
	pv_mhash leaf;

	(void)state;
	pv_merkle_leaf_hash("x", 1, leaf);
	pv_merkle_compact_init(&c);
	c.size = UINT64_MAX - 1;
	pv_merkle_compact_append(&c, leaf);
	assert_true(c.size == UINT64_MAX);
	assert_memory_equal(c.nodes[0], leaf, sizeof(leaf));
	memcpy(&before, &c, sizeof(c));
	pv_merkle_compact_append(&c, leaf);
	assert_memory_equal(&c, &before, sizeof(c));
	pv_merkle_compact_root(&c, leaf); /* folds all 64 levels */
}

static void
test_inclusion_properties(void **state)
{
	pv_mhash leaves[PROP_MAX_N], roots[PROP_MAX_N + 1];
	pv_mhash proof[PV_MERKLE_MAX_PROOF + 1], forged;
	size_t n, m, j, len, b;

	(void)state;
	prop_leaves(leaves, PROP_MAX_N);
	for (n = 0; n <= PROP_MAX_N; n++)
		assert_int_equal(pv_merkle_root(leaves, n, roots[n]), PV_OK);
	for (n = 1; n <= PROP_MAX_N; n++) {
		for (m = 0; m < n; m++) {
			assert_int_equal(pv_merkle_inclusion_proof(leaves, n, m,
					     proof, &len),
			    PV_OK);
			assert_true(len <= depth(n));
			if (pv_merkle_verify_inclusion(leaves[m], m, n, proof,
				len, roots[n]) != PV_OK)
				fail_msg("inclusion m=%zu n=%zu refused", m, n);
			/* Any other index fails. */
			for (j = 0; j < n; j++)
				if (j != m &&
				    pv_merkle_verify_inclusion(leaves[m], j, n,
					proof, len, roots[n]) == PV_OK)
					fail_msg("inclusion m=%zu n=%zu holds "
						 "at index %zu",
					    m, n, j);
			/* Any byte of any component, of the leaf, the head. */
			for (j = 0; j < len; j++) {
				for (b = 0; b < PV_MERKLE_HASH_BYTES; b++) {
					proof[j][b] ^= 0x01;
					if (pv_merkle_verify_inclusion(leaves
									   [m],
						m, n, proof, len,
						roots[n]) == PV_OK)
						fail_msg("inclusion m=%zu "
							 "n=%zu holds with "
							 "proof[%zu][%zu] "
							 "changed",
						    m, n, j, b);
					proof[j][b] ^= 0x01;
				}
			}
			for (b = 0; b < PV_MERKLE_HASH_BYTES; b++) {
				leaves[m][b] ^= 0x80;
				assert_int_equal(
				    pv_merkle_verify_inclusion(leaves[m], m, n,
					proof, len, roots[n]),
				    PV_ECRYPTO);
				leaves[m][b] ^= 0x80;
				roots[n][b] ^= 0x80;
				assert_int_equal(
				    pv_merkle_verify_inclusion(leaves[m], m, n,
					proof, len, roots[n]),
				    PV_ECRYPTO);
				roots[n][b] ^= 0x80;
			}
			/* A component short, or one too many. */
			if (len > 0)
				assert_int_equal(
				    pv_merkle_verify_inclusion(leaves[m], m, n,
					proof, len - 1, roots[n]),
				    PV_ECRYPTO);
			memcpy(proof[len], leaves[0], sizeof(pv_mhash));
			assert_int_equal(pv_merkle_verify_inclusion(leaves[m],
					     m, n, proof, len + 1, roots[n]),
			    PV_ECRYPTO);
			/*
			 * The same, with a forged head that accounts for the
			 * extra component: only the RFC 9162 "sn is 0, stop
			 * and fail" check catches a path longer than the tree.
			 */
			pv_merkle_node_hash(proof[len], roots[n], forged);
			assert_int_equal(pv_merkle_verify_inclusion(leaves[m],
					     m, n, proof, len + 1, forged),
			    PV_ECRYPTO);
		}
	}
}

static void
test_consistency_properties(void **state)
{
	pv_mhash leaves[PROP_MAX_N], roots[PROP_MAX_N + 1];
	pv_mhash proof[PV_MERKLE_MAX_PROOF + 1], root_m, root_n;
	size_t n, m, j, len, b;

	(void)state;
	prop_leaves(leaves, PROP_MAX_N);
	for (n = 0; n <= PROP_MAX_N; n++)
		assert_int_equal(pv_merkle_root(leaves, n, roots[n]), PV_OK);
	for (n = 1; n <= PROP_MAX_N; n++) {
		for (m = 1; m <= n; m++) {
			assert_int_equal(pv_merkle_consistency_proof(leaves, m,
					     n, proof, &len),
			    PV_OK);
			assert_true(len <= depth(n) + 1);
			assert_true((m == n) == (len == 0));
			if (pv_merkle_verify_consistency(m, n, roots[m],
				roots[n], proof, len) != PV_OK)
				fail_msg("consistency m=%zu n=%zu rejected", m,
				    n);
			for (j = 0; j < len; j++) {
				for (b = 0; b < PV_MERKLE_HASH_BYTES; b++) {
					proof[j][b] ^= 0x01;
					if (pv_merkle_verify_consistency(m, n,
						roots[m], roots[n], proof,
						len) == PV_OK)
						fail_msg("consistency m=%zu "
							 "n=%zu holds with "
							 "proof[%zu][%zu] "
							 "changed",
						    m, n, j, b);
					proof[j][b] ^= 0x01;
				}
			}
			/* Copies: with m == n both heads are roots[n]. */
			memcpy(root_m, roots[m], sizeof(root_m));
			memcpy(root_n, roots[n], sizeof(root_n));
			for (b = 0; b < PV_MERKLE_HASH_BYTES; b++) {
				root_m[b] ^= 0x80;
				assert_int_equal(pv_merkle_verify_consistency(m,
						     n, root_m, root_n, proof,
						     len),
				    PV_ECRYPTO);
				root_m[b] ^= 0x80;
				root_n[b] ^= 0x80;
				assert_int_equal(pv_merkle_verify_consistency(m,
						     n, root_m, root_n, proof,
						     len),
				    PV_ECRYPTO);
				root_n[b] ^= 0x80;
			}
			if (m < n)
				assert_int_equal(pv_merkle_verify_consistency(m,
						     n, roots[n], roots[m],
						     proof, len),
				    PV_ECRYPTO);
			if (len > 0)
				assert_int_equal(pv_merkle_verify_consistency(m,
						     n, roots[m], roots[n],
						     proof, len - 1),
				    PV_ECRYPTO);
			memcpy(proof[len], leaves[0], sizeof(pv_mhash));
			assert_int_equal(pv_merkle_verify_consistency(m, n,
					     roots[m], roots[n], proof,
					     len + 1),
			    PV_ECRYPTO);
			/* With forged heads, as in the inclusion test. */
			pv_merkle_node_hash(proof[len], roots[m], root_m);
			pv_merkle_node_hash(proof[len], roots[n], root_n);
			assert_int_equal(pv_merkle_verify_consistency(m, n,
					     root_m, root_n, proof, len + 1),
			    PV_ECRYPTO);
		}
	}
}

/* A bigger tree: a few proofs of every shape still verify. */
static void
test_larger_tree(void **state)
{
	static pv_mhash leaves[5000];
	pv_mhash proof[PV_MERKLE_MAX_PROOF], root_m, root_n;
	static const size_t sizes[] = { 1024, 1025, 4095, 4096, 4097, 5000 };
	size_t s, n, m, len;

	(void)state;
	prop_leaves(leaves, PV_ARRAY_LEN(leaves));
	for (s = 0; s < PV_ARRAY_LEN(sizes); s++) {
		n = sizes[s];
		assert_int_equal(pv_merkle_root(leaves, n, root_n), PV_OK);
		for (m = 0; m < n; m += 97) {
			assert_int_equal(pv_merkle_inclusion_proof(leaves, n, m,
					     proof, &len),
			    PV_OK);
			assert_true(len <= depth(n));
			assert_int_equal(pv_merkle_verify_inclusion(leaves[m],
					     m, n, proof, len, root_n),
			    PV_OK);
		}
		assert_int_equal(pv_merkle_inclusion_proof(leaves, n, n - 1,
				     proof, &len),
		    PV_OK);
		assert_int_equal(pv_merkle_verify_inclusion(leaves[n - 1],
				     n - 1, n, proof, len, root_n),
		    PV_OK);
		for (m = 1; m <= n; m += 89) {
			assert_int_equal(pv_merkle_root(leaves, m, root_m),
			    PV_OK);
			assert_int_equal(pv_merkle_consistency_proof(leaves, m,
					     n, proof, &len),
			    PV_OK);
			assert_int_equal(pv_merkle_verify_consistency(m, n,
					     root_m, root_n, proof, len),
			    PV_OK);
		}
	}
}

/* ---- subtree cache: same results, fewer hashes ------------------------- */

/* Checks root, audit paths and consistency proofs over the first n
 * leaves with cache c against the cache-free functions. */
static void
check_cached_matches(const pv_mhash *leaves, const struct pv_merkle_cache *c,
    size_t n)
{
	pv_mhash want_root, got_root, want[PV_MERKLE_MAX_PROOF],
	    got[PV_MERKLE_MAX_PROOF];
	size_t picks[] = { 0, 1, 15, 16, 17, 255, 256, 257, n / 3, n / 2,
		n - 257, n - 17, n - 2, n - 1 };
	size_t i, wl, gl;

	assert_int_equal(pv_merkle_root(leaves, n, want_root), PV_OK);
	assert_int_equal(pv_merkle_root_cached(leaves, c, n, got_root), PV_OK);
	assert_memory_equal(want_root, got_root, sizeof(want_root));
	for (i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		size_t m = picks[i];

		if (m >= n)
			continue;
		assert_int_equal(pv_merkle_inclusion_proof(leaves, n, m, want,
				     &wl),
		    PV_OK);
		assert_int_equal(pv_merkle_inclusion_proof_cached(leaves, c, n,
				     m, got, &gl),
		    PV_OK);
		assert_int_equal(wl, gl);
		assert_memory_equal(want, got, wl * sizeof(pv_mhash));
		assert_int_equal(pv_merkle_verify_inclusion(leaves[m], m, n,
				     (const pv_mhash *)got, gl, got_root),
		    PV_OK);
		if (m == 0)
			continue;
		assert_int_equal(pv_merkle_consistency_proof(leaves, m, n, want,
				     &wl),
		    PV_OK);
		assert_int_equal(pv_merkle_consistency_proof_cached(leaves, c,
				     m, n, got, &gl),
		    PV_OK);
		assert_int_equal(wl, gl);
		assert_memory_equal(want, got, wl * sizeof(pv_mhash));
	}
}

static void
test_cache_matches(void **state)
{
	size_t sizes[] = { 1, 2, 15, 16, 17, 33, 255, 256, 257, 511, 512, 513,
		1024, 1025, 3 * 256 + 17, 4096, 4096 + 300, 9000 };
	size_t nmax = 9000, i;
	pv_mhash *leaves = malloc(nmax * sizeof(pv_mhash));
	struct pv_merkle_cache full, step, behind;

	(void)state;
	assert_non_null(leaves);
	for (i = 0; i < nmax; i++)
		pv_merkle_leaf_hash(&i, sizeof(i), leaves[i]);
	pv_merkle_cache_init(&full);
	pv_merkle_cache_init(&step);
	pv_merkle_cache_init(&behind);
	/* Extended leaf by leaf (as the audit log does) or all at once: the
	 * same levels. */
	for (i = 1; i <= 5000; i++)
		assert_int_equal(pv_merkle_cache_extend(&step, leaves, i),
		    PV_OK);
	assert_int_equal(pv_merkle_cache_extend(&full, leaves, 5000), PV_OK);
	for (i = 0; i < PV_MERKLE_CACHE_LEVELS; i++) {
		assert_int_equal(step.len[i], full.len[i]);
		if (full.len[i] > 0)
			assert_memory_equal(step.level[i], full.level[i],
			    full.len[i] * sizeof(pv_mhash));
	}
	assert_int_equal(full.len[0], 5000 >> PV_MERKLE_CACHE_SHIFT);
	assert_int_equal(full.len[12 - PV_MERKLE_CACHE_SHIFT], 5000 / 4096);
	assert_int_equal(pv_merkle_cache_extend(&full, leaves, nmax), PV_OK);
	assert_int_equal(pv_merkle_cache_extend(&behind, leaves, 3000), PV_OK);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		check_cached_matches(leaves, &full, sizes[i]); /* ahead */
		check_cached_matches(leaves, &behind, sizes[i]); /* behind */
	}
	/* A level missing above cached ones (an extend that failed midway):
	 * still the same results, built from the halves. */
	{
		size_t keep = full.len[12 - PV_MERKLE_CACHE_SHIFT];

		full.len[12 - PV_MERKLE_CACHE_SHIFT] = 0;
		check_cached_matches(leaves, &full, 9000);
		full.len[12 - PV_MERKLE_CACHE_SHIFT] = keep;
	}
	/* A cache holding a wrong subtree changes the answer: it is used
	 * (the subtree of the first 4096 leaves). */
	full.level[12 - PV_MERKLE_CACHE_SHIFT][0][0] ^= 1;
	{
		pv_mhash want, got;

		assert_int_equal(pv_merkle_root(leaves, 4096, want), PV_OK);
		assert_int_equal(pv_merkle_root_cached(leaves, &full, 4096,
				     got),
		    PV_OK);
		assert_memory_not_equal(want, got, sizeof(want));
	}
	pv_merkle_cache_free(&full);
	pv_merkle_cache_free(&step);
	pv_merkle_cache_free(&behind);
	assert_int_equal(full.len[0], 0);
	free(leaves);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_and_node_hashes),
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_inclusion_kat),
		cmocka_unit_test(test_consistency_kat),
		cmocka_unit_test(test_compact_kat),
		cmocka_unit_test(test_verify_inclusion_rejects),
		cmocka_unit_test(test_verify_consistency_rejects),
		cmocka_unit_test(test_generator_rejects),
		cmocka_unit_test(test_compact_matches_root),
		cmocka_unit_test(test_compact_full),
		cmocka_unit_test(test_inclusion_properties),
		cmocka_unit_test(test_consistency_properties),
		cmocka_unit_test(test_larger_tree),
		cmocka_unit_test(test_cache_matches),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
