/*
 * backup_read.c — opening a backup file (backup.h): recovery key pairs,
 * and extraction.
 *
 * Guarantees: the whole file is authenticated (every chunk, the FINAL tag
 * on the last, nothing after it) in a first pass that writes nothing;
 * only then a second pass writes the files, each new (O_EXCL, never
 * through a symlink, 0600, directories 0700) and only under the known
 * vault paths, so a backup cannot write outside dir. Plaintext chunks are
 * in secret memory, wiped.
 */
#include "lifecycle/backup.h"

#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "PVBACKUP1\n"
#define MAGIC_LEN 10
#define SS_HDR crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_KEY crypto_secretstream_xchacha20poly1305_KEYBYTES
#define HDR_LEN (MAGIC_LEN + 1 + crypto_box_SEALBYTES + SS_KEY + SS_HDR)
#define CHUNK 65536
#define CT_MAX (CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES)

pv_status
pv_backup_keygen(const char *path, char *pk_b64, size_t pk_b64sz)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], *sk;
	char *line;
	pv_status st;
	int fd;
	FILE *f;

	if ((sk = pv_secret_alloc(crypto_box_SECRETKEYBYTES)) == NULL)
		return PV_ENOMEM;
	if ((line = pv_secret_alloc(64)) == NULL) {
		pv_secret_free(sk, crypto_box_SECRETKEYBYTES);
		return PV_ENOMEM;
	}
	crypto_box_keypair(pk, sk);
	if ((st = pv_b64_encode(sk, crypto_box_SECRETKEYBYTES, line, 64)) !=
		PV_OK ||
	    (st = pv_b64_encode(pk, sizeof(pk), pk_b64, pk_b64sz)) != PV_OK)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		st = errno == EEXIST ? PV_EEXISTS : PV_EIO;
		goto out;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		st = PV_EIO;
		goto out;
	}
	fprintf(f, "%s\n", line);
	st = fflush(f) == 0 && fsync(fd) == 0 ? PV_OK : PV_EIO;
	if (fclose(f) != 0)
		st = PV_EIO;
out:
	pv_secret_free(line, 64);
	pv_secret_free(sk, crypto_box_SECRETKEYBYTES);
	return st;
}

pv_status
pv_backup_read_key(const char *path, unsigned char out[32])
{
	char *line;
	size_t n = 0;
	pv_status st = PV_EINVAL;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return PV_ENOTFOUND;
	if ((line = pv_secret_alloc(128)) == NULL) {
		fclose(f);
		return PV_ENOMEM;
	}
	if (fgets(line, 128, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (pv_b64_decode(line, out, 32, &n) == PV_OK && n == 32)
			st = PV_OK;
	}
	fclose(f);
	pv_secret_free(line, 128);
	return st;
}

struct br {
	FILE *f;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char hdr[HDR_LEN];
	unsigned char *buf; /* CHUNK, secret memory */
	size_t n, pos;
	bool final;
	unsigned char ct[CT_MAX];
};

static pv_status
br_open(struct br *r, const char *in, const unsigned char *sk)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], key[SS_KEY];
	pv_status st = PV_EDENIED;

	if ((r->f = fopen(in, "rb")) == NULL)
		return PV_ENOTFOUND;
	if (fread(r->hdr, 1, HDR_LEN, r->f) != HDR_LEN ||
	    memcmp(r->hdr, MAGIC, MAGIC_LEN) != 0)
		return PV_EDENIED;
	crypto_scalarmult_base(pk, sk);
	if (crypto_box_seal_open(key, r->hdr + MAGIC_LEN + 1,
		crypto_box_SEALBYTES + SS_KEY, pk, sk) == 0 &&
	    crypto_secretstream_xchacha20poly1305_init_pull(&r->st,
		r->hdr + MAGIC_LEN + 1 + crypto_box_SEALBYTES + SS_KEY,
		key) == 0)
		st = PV_OK;
	sodium_memzero(key, sizeof(key));
	return st;
}

/* The next chunk into r->buf; PV_EDENIED on any fault. */
static pv_status
br_next(struct br *r)
{
	unsigned char len[4], tag;
	unsigned long long mlen;
	size_t clen;

	if (r->final)
		return PV_EDENIED; /* the archive claims more than FINAL */
	if (fread(len, 1, 4, r->f) != 4)
		return PV_EDENIED;
	clen = (size_t)len[0] << 24 | (size_t)len[1] << 16 |
	    (size_t)len[2] << 8 | len[3];
	if (clen > CT_MAX ||
	    clen < crypto_secretstream_xchacha20poly1305_ABYTES ||
	    fread(r->ct, 1, clen, r->f) != clen ||
	    crypto_secretstream_xchacha20poly1305_pull(&r->st, r->buf, &mlen,
		&tag, r->ct, clen, r->hdr, HDR_LEN) != 0)
		return PV_EDENIED;
	r->n = (size_t)mlen;
	r->pos = 0;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		r->final = true;
		if (fgetc(r->f) != EOF)
			return PV_EDENIED; /* bytes after the end */
	} else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return PV_EDENIED;
	return PV_OK;
}

/* n bytes into out (NULL: skip, fd >= 0: also written to fd). */
static pv_status
br_get(struct br *r, unsigned char *out, uint64_t n, int fd)
{
	pv_status st;

	while (n > 0) {
		size_t k;

		if (r->pos == r->n && (st = br_next(r)) != PV_OK)
			return st;
		k = r->n - r->pos < n ? r->n - r->pos : (size_t)n;
		if (out != NULL) {
			memcpy(out, r->buf + r->pos, k);
			out += k;
		}
		if (fd >= 0 && write(fd, r->buf + r->pos, k) != (ssize_t)k)
			return PV_EIO;
		r->pos += k;
		n -= k;
	}
	return PV_OK;
}

static uint64_t
be(const unsigned char *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* Only these paths, one level, no dot files. */
static bool
name_ok(const char *n)
{
	static const char *const dirs[] = { "keys/", "tls/", "audit/",
		"meta/" };
	const char *base = NULL;

	if (strcmp(n, "phivault.conf") == 0 || strcmp(n, "phivault.db") == 0)
		return true;
	for (size_t i = 0; i < 4; i++)
		if (strncmp(n, dirs[i], strlen(dirs[i])) == 0)
			base = n + strlen(dirs[i]);
	return base != NULL && base[0] != '\0' && base[0] != '.' &&
	    strchr(base, '/') == NULL;
}

static pv_status
open_out(const char *dir, const char *name, int *fd)
{
	char path[PV_PATH_MAX], sub[16];
	const char *slash = strchr(name, '/');
	pv_status st;

	if (slash != NULL) {
		size_t l = (size_t)(slash - name);

		memcpy(sub, name, l);
		sub[l] = '\0';
		if ((st = pv_snprintf(path, sizeof(path), "%s/%s", dir, sub)) !=
		    PV_OK)
			return st;
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return PV_EIO;
	}
	if ((st = pv_snprintf(path, sizeof(path), "%s/%s", dir, name)) != PV_OK)
		return st;
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (*fd < 0)
		return errno == EEXIST ? PV_EEXISTS : PV_EIO;
	return PV_OK;
}

/* One pass over the archive; dir NULL: authenticate only. */
static pv_status
walk(struct br *r, const char *dir)
{
	unsigned char b[8];
	char name[300];
	pv_status st;

	for (;;) {
		uint64_t nl, size;
		int fd = -1;

		if ((st = br_get(r, b, 2, -1)) != PV_OK)
			return st;
		if ((nl = be(b, 2)) == 0)
			break;
		if (nl >= sizeof(name) ||
		    (st = br_get(r, (unsigned char *)name, nl, -1)) != PV_OK ||
		    (st = br_get(r, b, 8, -1)) != PV_OK)
			return st != PV_OK ? st : PV_EDENIED;
		name[nl] = '\0';
		size = be(b, 8);
		if (!name_ok(name))
			return PV_EDENIED;
		if (dir != NULL && (st = open_out(dir, name, &fd)) != PV_OK)
			return st;
		st = br_get(r, NULL, size, fd);
		if (fd >= 0 && fsync(fd) != 0 && st == PV_OK)
			st = PV_EIO;
		if (fd >= 0 && close(fd) != 0 && st == PV_OK)
			st = PV_EIO;
		if (st != PV_OK)
			return st;
	}
	/* The end marker must be the end of the FINAL chunk. */
	return r->final && r->pos == r->n ? PV_OK : PV_EDENIED;
}

static pv_status
pass(const char *in, const unsigned char *sk, const char *dir,
    enum pv_backup_kind *kind)
{
	struct br *r = calloc(1, sizeof(*r));
	pv_status st;

	if (r == NULL)
		return PV_ENOMEM;
	if ((r->buf = pv_secret_alloc(CHUNK)) == NULL) {
		free(r);
		return PV_ENOMEM;
	}
	if ((st = br_open(r, in, sk)) == PV_OK) {
		*kind = (enum pv_backup_kind)r->hdr[MAGIC_LEN];
		st = *kind == PV_BACKUP_RECORDS || *kind == PV_BACKUP_KEYS
		    ? walk(r, dir)
		    : PV_EDENIED;
	}
	if (r->f != NULL)
		fclose(r->f);
	sodium_memzero(&r->st, sizeof(r->st));
	pv_secret_free(r->buf, CHUNK);
	free(r);
	return st;
}

pv_status
pv_backup_extract(const char *in, const unsigned char sk[PV_BACKUP_SK_BYTES],
    const char *dir, enum pv_backup_kind *kind)
{
	pv_status st;

	if ((st = pass(in, sk, NULL, kind)) != PV_OK)
		return st;
	return pass(in, sk, dir, kind);
}
