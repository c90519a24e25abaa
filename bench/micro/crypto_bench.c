/*
 * crypto_bench.c — issue 5: the per-request cost of record encryption
 * alone, in nanoseconds.
 *
 * Cases (all on one thread, a real temp vault for the DEK cases):
 *   - pv_aead_seal / pv_aead_open of a ~1 KiB FHIR Observation with the
 *     additional data records.c uses ("phivault-res-v1|type|id|ver|pid");
 *     the cipher is what phivault picks on this CPU (AES-256-GCM with
 *     AES-NI, else XChaCha20-Poly1305) — printed and stored in the JSON;
 *   - the other cipher, through libsodium directly, for comparison;
 *   - pv_dek_get, cache hit (the patient's DEK already unwrapped), and
 *     the keys.db data_version check every pv_dek_get starts with;
 *   - pv_dek_get, cache miss: cycling over more patients than the cache
 *     has slots, so (nearly) every call reads keys.db and unwraps the
 *     DEK under the master key;
 *   - pv_secret_alloc + pv_secret_free of a DEK buffer (guarded memory,
 *     several system calls), which records.c did once per record before
 *     it kept one guarded scratch buffer per thread;
 *   - "read path" = the thread's scratch key buffer + pv_dek_get (hit) +
 *     AD + pv_aead_open, wiped after use,
 *     and "write path" = the same with pv_aead_seal: the crypto a read or
 *     a write request pays as records.c does it, without JSON, SQLite row
 *     access, TLS or HTTP.
 *
 * usage: crypto_bench [--rounds N] [--round-ms MS] [--out FILE]
 *                     [--size BYTES] [--miss-patients N]
 */
#include "microbench.h"

#define DEFAULT_SIZE 1024
#define MAX_SIZE (1 << 20)

struct ctx {
	struct pv_vault *v;
	unsigned char *key; /* secret memory */
	unsigned char *pt, *ct, *out;
	size_t ptlen, ctlen;
	char ad[256];
	char pid[PV_ID_HEX_LEN + 1];
	char (*miss_ids)[PV_ID_HEX_LEN + 1];
	size_t miss_n, miss_i;
	unsigned char xnonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned char anonce[crypto_aead_aes256gcm_NPUBBYTES];
};

/* A realistic ~size-byte Observation (vital sign with a note, padded). */
static size_t
make_resource(unsigned char *buf, size_t size, const char *pid)
{
	int n = snprintf((char *)buf, size + 1,
	    "{\"resourceType\":\"Observation\",\"id\":"
	    "\"0f5c2d8e7a914b6c9d3e1f2a4b5c6d7e\",\"meta\":{\"versionId\":"
	    "\"1\",\"lastUpdated\":\"2026-11-25T17:10:43Z\"},\"status\":"
	    "\"final\",\"category\":[{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/observation-category\","
	    "\"code\":\"vital-signs\",\"display\":\"Vital Signs\"}]}],"
	    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
	    "\"8867-4\",\"display\":\"Heart rate\"}],\"text\":\"Heart rate\"},"
	    "\"subject\":{\"reference\":\"Patient/%s\"},"
	    "\"effectiveDateTime\":\"2026-11-24T08:30:00Z\",\"valueQuantity\":"
	    "{\"value\":72,\"unit\":\"/min\",\"system\":"
	    "\"http://unitsofmeasure.org\",\"code\":\"/min\"},\"note\":[{"
	    "\"text\":\"",
	    pid);
	size_t len = n > 0 ? (size_t)n : 0;

	while (len + 4 < size) {
		buf[len] = (unsigned char)('a' + (len % 26));
		len++;
	}
	memcpy(buf + len, "\"}]}", 4);
	len += 4;
	buf[len] = '\0';
	return len;
}

static void
c_seal(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if (pv_aead_seal(c->out, &len, c->pt, c->ptlen,
			(unsigned char *)c->ad, strlen(c->ad), c->key) != PV_OK)
			mb_die("seal failed");
		MB_KEEP(len);
	}
}

static void
c_open(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if (pv_aead_open(c->out, &len, c->ct, c->ctlen,
			(unsigned char *)c->ad, strlen(c->ad), c->key) != PV_OK)
			mb_die("open failed");
		MB_KEEP(len);
	}
}

static void
c_xchacha_seal(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	unsigned long long len;

	for (uint64_t i = 0; i < n; i++) {
		randombytes_buf(c->xnonce, sizeof(c->xnonce));
		crypto_aead_xchacha20poly1305_ietf_encrypt(c->out, &len, c->pt,
		    c->ptlen, (unsigned char *)c->ad, strlen(c->ad), NULL,
		    c->xnonce, c->key);
		MB_KEEP(len);
	}
}

static void
c_xchacha_open(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	unsigned long long len;
	unsigned char *ct = c->ct + c->ctlen; /* scratch after the blob */
	unsigned long long clen;

	randombytes_buf(c->xnonce, sizeof(c->xnonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, c->pt, c->ptlen,
	    (unsigned char *)c->ad, strlen(c->ad), NULL, c->xnonce, c->key);
	for (uint64_t i = 0; i < n; i++) {
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(c->out, &len,
			NULL, ct, clen, (unsigned char *)c->ad, strlen(c->ad),
			c->xnonce, c->key) != 0)
			mb_die("xchacha open failed");
		MB_KEEP(len);
	}
}

static void
c_aesgcm_seal(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	unsigned long long len;

	for (uint64_t i = 0; i < n; i++) {
		randombytes_buf(c->anonce, sizeof(c->anonce));
		crypto_aead_aes256gcm_encrypt(c->out, &len, c->pt, c->ptlen,
		    (unsigned char *)c->ad, strlen(c->ad), NULL, c->anonce,
		    c->key);
		MB_KEEP(len);
	}
}

static void
c_dek_hit(void *arg, uint64_t n)
{
	struct ctx *c = arg;

	for (uint64_t i = 0; i < n; i++)
		if (pv_dek_get(c->v, c->pid, false, c->key) != PV_OK)
			mb_die("dek_get (hit) failed");
}

static void
c_dek_miss(void *arg, uint64_t n)
{
	struct ctx *c = arg;

	for (uint64_t i = 0; i < n; i++) {
		if (pv_dek_get(c->v, c->miss_ids[c->miss_i], false, c->key) !=
		    PV_OK)
			mb_die("dek_get (miss) failed");
		c->miss_i = (c->miss_i + 1) % c->miss_n;
	}
}

static void
c_keys_version(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	int64_t kv;

	for (uint64_t i = 0; i < n; i++) {
		if (pv_store_keys_version(c->v->store, &kv) != PV_OK)
			mb_die("keys_version failed");
		MB_KEEP(kv);
	}
}

static void
make_ad(struct ctx *c)
{
	if (pv_snprintf(c->ad, sizeof(c->ad), "phivault-res-v1|%s|%s|%lld|%s",
		"Observation", "0f5c2d8e7a914b6c9d3e1f2a4b5c6d7e", 1LL,
		c->pid) != PV_OK)
		mb_die("ad");
}

static void
c_secret(void *arg, uint64_t n)
{
	unsigned char *k;

	(void)arg;
	for (uint64_t i = 0; i < n; i++) {
		if ((k = pv_secret_alloc(PV_DEK_BYTES)) == NULL)
			mb_die("pv_secret_alloc failed");
		MB_KEEP(k);
		pv_secret_free(k, PV_DEK_BYTES);
	}
}

/* As fhir/records.c opens a row: a guarded DEK buffer per record. */
static void
c_read_path(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	unsigned char *dek;
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if ((dek = pv_secret_key_scratch()) == NULL)
			mb_die("pv_secret_key_scratch failed");
		make_ad(c);
		if (pv_dek_get(c->v, c->pid, false, dek) != PV_OK ||
		    pv_aead_open(c->out, &len, c->ct, c->ctlen,
			(unsigned char *)c->ad, strlen(c->ad), dek) != PV_OK)
			mb_die("read path failed");
		sodium_memzero(dek, PV_DEK_BYTES);
		MB_KEEP(len);
	}
}

static void
c_write_path(void *arg, uint64_t n)
{
	struct ctx *c = arg;
	unsigned char *dek;
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if ((dek = pv_secret_key_scratch()) == NULL)
			mb_die("pv_secret_key_scratch failed");
		make_ad(c);
		if (pv_dek_get(c->v, c->pid, false, dek) != PV_OK ||
		    pv_aead_seal(c->out, &len, c->pt, c->ptlen,
			(unsigned char *)c->ad, strlen(c->ad), dek) != PV_OK)
			mb_die("write path failed");
		sodium_memzero(dek, PV_DEK_BYTES);
		MB_KEEP(len);
	}
}

int
main(int argc, char **argv)
{
	struct ctx c;
	size_t size = DEFAULT_SIZE, miss_n = 20000, i;
	uint64_t t0;
	int a;
	char label[96];
	const char *cipher, *other;

	mb_init("crypto_bench", argc, argv,
	    "[--size BYTES] [--miss-patients N]");
	for (a = 0; a < mb_g.argc; a++) {
		if (strcmp(mb_g.argv[a], "--size") == 0 && a + 1 < mb_g.argc)
			size =
			    mb_uint_arg("--size", mb_g.argv[++a], 64, MAX_SIZE);
		else if (strcmp(mb_g.argv[a], "--miss-patients") == 0 &&
		    a + 1 < mb_g.argc)
			miss_n = mb_uint_arg("--miss-patients", mb_g.argv[++a],
			    8192, 1000000);
		else
			mb_die("unknown argument %s (see --help)",
			    mb_g.argv[a]);
	}
	memset(&c, 0, sizeof(c));
	c.v = mb_vault_open("v", NULL, NULL, 0);
	c.key = pv_secret_alloc(PV_DEK_BYTES);
	c.pt = malloc(size + 1);
	c.ct = malloc(2 * (size + 256));
	c.out = malloc(size + 256);
	c.miss_ids = calloc(miss_n, sizeof(*c.miss_ids));
	if (c.key == NULL || c.pt == NULL || c.ct == NULL || c.out == NULL ||
	    c.miss_ids == NULL)
		mb_die("out of memory");
	pv_random_id(c.pid);
	c.ptlen = make_resource(c.pt, size, c.pid);
	make_ad(&c);
	if (pv_dek_get(c.v, c.pid, true, c.key) != PV_OK)
		mb_die("cannot create a DEK");
	if (pv_aead_seal(c.ct, &c.ctlen, c.pt, c.ptlen, (unsigned char *)c.ad,
		strlen(c.ad), c.key) != PV_OK)
		mb_die("seal failed");

	/* DEKs for the miss case, in one transaction (setup, not timed). */
	t0 = mb_now_ns();
	if (pv_store_begin(c.v->store) != PV_OK)
		mb_die("begin");
	for (i = 0; i < miss_n; i++) {
		pv_random_id(c.miss_ids[i]);
		if (pv_dek_get(c.v, c.miss_ids[i], true, c.key) != PV_OK)
			mb_die("cannot create DEK %zu", i);
	}
	if (pv_store_commit(c.v->store) != PV_OK)
		mb_die("commit");
	c.miss_n = miss_n;
	if (pv_dek_get(c.v, c.pid, false, c.key) != PV_OK) /* back to ours */
		mb_die("dek_get");
	fprintf(stderr, "crypto_bench: %zu DEKs created in %.1f s\n", miss_n,
	    (double)(mb_now_ns() - t0) / 1e9);

	cipher = pv_crypto_has_aes() ? "AES-256-GCM" : "XChaCha20-Poly1305";
	other = pv_crypto_has_aes() ? "XChaCha20-Poly1305" : "AES-256-GCM";
	mb_figure("record_cipher", json_string(cipher));
	mb_figure("resource_bytes", json_integer((json_int_t)c.ptlen));
	mb_figure("sealed_bytes", json_integer((json_int_t)c.ctlen));
	mb_figure("dek_miss_patients", json_integer((json_int_t)miss_n));

	snprintf(label, sizeof(label), "pv_aead_seal %zu B (%s)", c.ptlen,
	    cipher);
	mb_run(label, c_seal, &c, 0, "phivault's record cipher on this CPU");
	snprintf(label, sizeof(label), "pv_aead_open %zu B (%s)", c.ptlen,
	    cipher);
	mb_run(label, c_open, &c, 0, NULL);
	snprintf(label, sizeof(label), "libsodium %s seal %zu B", other,
	    c.ptlen);
	if (pv_crypto_has_aes()) {
		mb_run(label, c_xchacha_seal, &c, 0,
		    "the fallback cipher "
		    "(CPU without AES-NI), libsodium directly");
		snprintf(label, sizeof(label), "libsodium %s open %zu B", other,
		    c.ptlen);
		mb_run(label, c_xchacha_open, &c, 0, NULL);
	} else if (crypto_aead_aes256gcm_is_available()) {
		mb_run(label, c_aesgcm_seal, &c, 0, NULL);
	}
	mb_run("pv_dek_get, cache hit", c_dek_hit, &c, 0,
	    "includes the keys.db data_version check");
	mb_run("  of which: keys.db data_version check", c_keys_version, &c, 0,
	    "store keys_version (PRAGMA k.data_version), which every "
	    "pv_dek_get runs before looking in the cache");
	snprintf(label, sizeof(label), "pv_dek_get, cache miss (%zu ids)",
	    miss_n);
	mb_run(label, c_dek_miss, &c, 0,
	    "keys.db row read + unwrap under the "
	    "master key; cycling over more ids than the 4096-slot cache");
	mb_run("pv_secret_alloc + pv_secret_free (32 B)", c_secret, &c, 0,
	    "guarded memory (sodium_malloc: mmap, mprotect, mlock...); "
	    "records.c takes one per record for the DEK");
	mb_run("read path: scratch + dek hit + AD + open", c_read_path, &c, 0,
	    "the crypto of one encrypted read, as records.c does it");
	mb_run("write path: scratch + dek hit + AD + seal", c_write_path, &c, 0,
	    "the crypto of one encrypted write (DEK exists)");

	pv_secret_free(c.key, PV_DEK_BYTES);
	free(c.pt);
	free(c.ct);
	free(c.out);
	free(c.miss_ids);
	pv_vault_close(c.v);
	return mb_finish();
}
