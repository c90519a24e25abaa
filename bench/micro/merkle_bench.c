/*
 * merkle_bench.c — the cost of an audit proof with and without the
 * subtree cache (src/audit/merkle.c, pv_merkle_cache).
 *
 * The server answers GET /audit/proof/inclusion and /consistency from the
 * leaf hashes it holds, under the audit tree's read lock, which the audit
 * writer (and so every PHI response) waits for. Without the cache a proof
 * re-hashes up to every leaf; with it, a proof looks up the subtrees of
 * 256 leaves and more.
 *
 * Cases, over --leaves N leaf hashes (default 1,000,000), the proved
 * index / old size cycling through the tree: inclusion and consistency
 * proofs without a cache and with it, the tree head with it; figures:
 * the time to build the cache over all N leaves at once and its size.
 *
 * usage: merkle_bench [--leaves N] [common flags, see --help]
 */
#include "microbench.h"

#include "audit/merkle.h"

struct ctx {
	pv_mhash *leaves;
	size_t n;
	const struct pv_merkle_cache *cache; /* NULL: none */
	uint64_t next;
};

/* Indices spread over the tree: a multiplicative walk mod n. */
static size_t
pick(struct ctx *c)
{
	c->next = c->next * 6364136223846793005ull + 1442695040888963407ull;
	return (size_t)((c->next >> 16) % c->n);
}

static void
c_inclusion(void *arg, uint64_t reps)
{
	struct ctx *c = arg;
	pv_mhash proof[PV_MERKLE_MAX_PROOF];
	size_t len;

	while (reps-- > 0) {
		if (pv_merkle_inclusion_proof_cached(c->leaves, c->cache, c->n,
			pick(c), proof, &len) != PV_OK)
			mb_die("inclusion proof failed");
		MB_KEEP(proof[0][0]);
	}
}

static void
c_consistency(void *arg, uint64_t reps)
{
	struct ctx *c = arg;
	pv_mhash proof[PV_MERKLE_MAX_PROOF];
	size_t len;

	while (reps-- > 0) {
		if (pv_merkle_consistency_proof_cached(c->leaves, c->cache,
			pick(c) + 1, c->n, proof, &len) != PV_OK)
			mb_die("consistency proof failed");
		MB_KEEP(proof[0][0]);
	}
}

static void
c_root(void *arg, uint64_t reps)
{
	struct ctx *c = arg;
	pv_mhash root;

	while (reps-- > 0) {
		if (pv_merkle_root_cached(c->leaves, c->cache,
			c->n - (reps & 255), root) != PV_OK)
			mb_die("root failed");
		MB_KEEP(root[0]);
	}
}

int
main(int argc, char **argv)
{
	struct pv_merkle_cache cache;
	struct ctx c = { NULL, 1000000, NULL, 1 };
	size_t i, j, bytes = 0;
	uint64_t t0;
	int k;

	mb_init("merkle_bench", argc, argv,
	    "  --leaves N   leaf hashes in the tree (default 1000000)\n");
	for (k = 0; k < mb_g.argc; k++) {
		if (strcmp(mb_g.argv[k], "--leaves") == 0 && k + 1 < mb_g.argc)
			c.n = mb_uint_arg("--leaves", mb_g.argv[++k], 1024,
			    100000000);
		else
			mb_die("unknown argument %s (see --help)",
			    mb_g.argv[k]);
	}
	c.leaves = malloc(c.n * sizeof(pv_mhash));
	if (c.leaves == NULL)
		mb_die("out of memory");
	for (i = 0; i < c.n; i++)
		pv_merkle_leaf_hash(&i, sizeof(i), c.leaves[i]);
	pv_merkle_cache_init(&cache);
	t0 = mb_now_ns();
	if (pv_merkle_cache_extend(&cache, c.leaves, c.n) != PV_OK)
		mb_die("cannot build the cache");
	mb_figure("leaves", json_integer((json_int_t)c.n));
	mb_figure("cache_build_ms",
	    json_real((double)(mb_now_ns() - t0) / 1e6));
	for (j = 0; j < PV_MERKLE_CACHE_LEVELS; j++)
		bytes += cache.len[j] * sizeof(pv_mhash);
	mb_figure("cache_bytes", json_integer((json_int_t)bytes));
	printf("%zu leaves; cache over them: %zu bytes, built in %.1f ms\n",
	    c.n, bytes, (double)(mb_now_ns() - t0) / 1e6);

	c.cache = NULL;
	mb_run("inclusion proof, no cache", c_inclusion, &c, 4,
	    "re-hashes the subtrees from the leaves");
	mb_run("consistency proof, no cache", c_consistency, &c, 4, NULL);
	c.cache = &cache;
	mb_run("inclusion proof, subtree cache", c_inclusion, &c, 0,
	    "what the server does");
	mb_run("consistency proof, subtree cache", c_consistency, &c, 0, NULL);
	mb_run("tree head, subtree cache", c_root, &c, 0, NULL);
	pv_merkle_cache_free(&cache);
	free(c.leaves);
	return mb_finish();
}
