/*
 * backup.c — encrypted online backups of a SQLite vault (backup.h).
 *
 * Guarantees: the records database is copied by VACUUM INTO on its own
 * read-only connection (one read transaction: a consistent database while
 * the server writes); the audit log, checkpoints and quarantine are then
 * copied up to sizes taken under a shared flock of log.jsonl, which
 * writers hold exclusively while appending a batch and its checkpoint, so
 * no batch is cut in two. Plaintext exists only in a 0700 scratch
 * directory inside the vault (removed on every path) and in memory. A
 * backup file is authenticated as a whole before a single byte of it is
 * written out on restore.
 *
 * File format: "PVBACKUP1\n", kind byte, crypto_box_seal(stream key)
 * (80 bytes), secretstream header (24), then chunks: u32 big-endian
 * ciphertext length, ciphertext; the header bytes are the associated data
 * of every chunk; the last chunk is tagged FINAL and nothing may follow.
 * Archive inside: per file u16 path length, path, u64 size, bytes; a zero
 * path length ends it.
 */
#include "lifecycle/backup.h"

#include "crypto/crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "PVBACKUP1\n"
#define MAGIC_LEN 10
#define HDR_LEN                                                                \
	(MAGIC_LEN + 1 + crypto_box_SEALBYTES +                                \
	    crypto_secretstream_xchacha20poly1305_KEYBYTES +                   \
	    crypto_secretstream_xchacha20poly1305_HEADERBYTES)
#define CHUNK 65536
#define CT_MAX (CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES)

struct bw {
	FILE *f;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char hdr[HDR_LEN];
	unsigned char *buf; /* CHUNK, secret memory */
	size_t n;
	unsigned char ct[CT_MAX];
};

static pv_status
bw_flush(struct bw *w, unsigned char tag)
{
	unsigned long long clen;
	unsigned char len[4];

	if (crypto_secretstream_xchacha20poly1305_push(&w->st, w->ct, &clen,
		w->buf, w->n, w->hdr, HDR_LEN, tag) != 0)
		return PV_EIO;
	len[0] = (unsigned char)(clen >> 24);
	len[1] = (unsigned char)(clen >> 16);
	len[2] = (unsigned char)(clen >> 8);
	len[3] = (unsigned char)clen;
	if (fwrite(len, 1, 4, w->f) != 4 ||
	    fwrite(w->ct, 1, (size_t)clen, w->f) != (size_t)clen)
		return PV_EIO;
	w->n = 0;
	return PV_OK;
}

static pv_status
bw_put(struct bw *w, const void *p, size_t n)
{
	const unsigned char *s = p;
	pv_status st;

	while (n > 0) {
		size_t k = CHUNK - w->n < n ? CHUNK - w->n : n;

		memcpy(w->buf + w->n, s, k);
		w->n += k;
		s += k;
		n -= k;
		if (w->n == CHUNK &&
		    (st = bw_flush(w,
			 crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)) !=
			PV_OK)
			return st;
	}
	return PV_OK;
}

static pv_status
put_be(struct bw *w, uint64_t v, size_t n)
{
	unsigned char b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	return bw_put(w, b, n);
}

/* Adds name with the first limit bytes of path (limit < 0: all).
 * A missing file is skipped when optional. */
static pv_status
add_file(struct bw *w, const char *name, const char *path, off_t limit,
    bool optional)
{
	unsigned char buf[8192];
	struct stat sb;
	uint64_t left;
	pv_status st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return optional && errno == ENOENT ? PV_OK : PV_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return PV_EIO;
	}
	left =
	    (uint64_t)(limit >= 0 && limit < sb.st_size ? limit : sb.st_size);
	if ((st = put_be(w, strlen(name), 2)) != PV_OK ||
	    (st = bw_put(w, name, strlen(name))) != PV_OK ||
	    (st = put_be(w, left, 8)) != PV_OK) {
		close(fd);
		return st;
	}
	while (left > 0 && st == PV_OK) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t r = read(fd, buf, want);

		if (r <= 0) {
			st = PV_EIO; /* shrank under us: fail closed */
			break;
		}
		st = bw_put(w, buf, (size_t)r);
		left -= (uint64_t)r;
	}
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return st;
}

/* VACUUM INTO on a read-only connection: one consistent read. */
static pv_status
db_snapshot(const char *db, const char *to)
{
	sqlite3 *c = NULL;
	sqlite3_stmt *s = NULL;
	pv_status st = PV_EIO;

	if (sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_busy_timeout(c, 10000) == SQLITE_OK &&
	    sqlite3_prepare_v2(c, "VACUUM INTO ?1", -1, &s, NULL) ==
		SQLITE_OK &&
	    sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE)
		st = PV_OK;
	sqlite3_finalize(s);
	sqlite3_close(c);
	return st;
}

static pv_status
add_db(struct bw *w, const char *name, const char *db, const char *scratch)
{
	char tmp[PV_PATH_MAX];
	pv_status st;

	if ((st = pv_snprintf(tmp, sizeof(tmp), "%s/snap.db", scratch)) !=
	    PV_OK)
		return st;
	unlink(tmp);
	if ((st = db_snapshot(db, tmp)) == PV_OK)
		st = add_file(w, name, tmp, -1, false);
	unlink(tmp);
	return st;
}

/* Every regular file of DIR/sub (one level), keys.db via snapshot. */
static pv_status
add_dir(struct bw *w, const char *vdir, const char *sub, const char *scratch)
{
	char path[PV_PATH_MAX], name[300];
	struct dirent *e;
	pv_status st = PV_OK;
	DIR *d;

	if ((st = pv_snprintf(path, sizeof(path), "%s/%s", vdir, sub)) != PV_OK)
		return st;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? PV_OK : PV_EIO;
	while (st == PV_OK && (e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		size_t l = strlen(n);

		if (n[0] == '.' || (l > 4 && strcmp(n + l - 4, "-wal") == 0) ||
		    (l > 4 && strcmp(n + l - 4, "-shm") == 0) ||
		    (l > 8 && strcmp(n + l - 8, "-journal") == 0))
			continue;
		if ((st = pv_snprintf(path, sizeof(path), "%s/%s/%s", vdir, sub,
			 n)) != PV_OK ||
		    (st = pv_snprintf(name, sizeof(name), "%s/%s", sub, n)) !=
			PV_OK)
			break;
		if (l > 3 && strcmp(n + l - 3, ".db") == 0)
			st = add_db(w, name, path, scratch);
		else
			st = add_file(w, name, path, -1, true);
	}
	closedir(d);
	return st;
}

/* The trail up to sizes taken under the shared flock (medium_file.c). */
static pv_status
add_audit(struct bw *w, const char *vdir)
{
	static const char *const f[] = { "log.jsonl", "checkpoints.jsonl",
		"quarantine.jsonl", "state" };
	char path[PV_PATH_MAX], name[64];
	off_t size[4];
	struct stat sb;
	pv_status st;
	int fd;

	if ((st = pv_snprintf(path, sizeof(path), "%s/audit/log.jsonl",
		 vdir)) != PV_OK)
		return st;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return PV_EIO;
	if (flock(fd, LOCK_SH) != 0) {
		close(fd);
		return PV_EIO;
	}
	for (size_t i = 0; i < 4; i++) {
		size[i] = -1;
		if (pv_snprintf(path, sizeof(path), "%s/audit/%s", vdir,
			f[i]) == PV_OK &&
		    stat(path, &sb) == 0)
			size[i] = sb.st_size;
	}
	flock(fd, LOCK_UN);
	close(fd);
	for (size_t i = 0; i < 4; i++) {
		if (size[i] < 0)
			continue;
		if ((st = pv_snprintf(path, sizeof(path), "%s/audit/%s", vdir,
			 f[i])) != PV_OK ||
		    (st = pv_snprintf(name, sizeof(name), "audit/%s", f[i])) !=
			PV_OK ||
		    (st = add_file(w, name, path, size[i], false)) != PV_OK)
			return st;
	}
	return PV_OK;
}

static pv_status
add_records(struct bw *w, struct pv_vault *v, const char *scratch)
{
	char path[PV_PATH_MAX], pk[64];
	pv_status st;

	if ((st = pv_snprintf(path, sizeof(path), "%s/phivault.db", v->dir)) !=
		PV_OK ||
	    (st = add_db(w, "phivault.db", path, scratch)) != PV_OK ||
	    (st = add_audit(w, v->dir)) != PV_OK ||
	    (st = pv_snprintf(path, sizeof(path), "%s/phivault.conf",
		 v->dir)) != PV_OK ||
	    (st = add_file(w, "phivault.conf", path, -1, false)) != PV_OK ||
	    (st = add_dir(w, v->dir, "tls", scratch)) != PV_OK)
		return st;
	/* The trail's public key, for `backup verify` (public data). */
	if ((st = pv_b64_encode(v->audit_root_pk, PV_SIGN_PK_BYTES, pk,
		 sizeof(pk))) != PV_OK ||
	    (st = pv_snprintf(path, sizeof(path), "%s/audit.pub", scratch)) !=
		PV_OK)
		return st;
	{
		FILE *f = fopen(path, "w");

		if (f == NULL)
			return PV_EIO;
		fprintf(f, "%s\n", pk);
		if (fclose(f) != 0)
			return PV_EIO;
	}
	st = add_file(w, "meta/audit.pub", path, -1, false);
	unlink(path);
	return st;
}

static pv_status
begin(struct bw *w, enum pv_backup_kind kind,
    const unsigned char pk[PV_BACKUP_PK_BYTES])
{
	unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	unsigned char *p = w->hdr;

	memcpy(p, MAGIC, MAGIC_LEN);
	p[MAGIC_LEN] = (unsigned char)kind;
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_box_seal(p + MAGIC_LEN + 1, key, sizeof(key), pk);
	crypto_secretstream_xchacha20poly1305_init_push(&w->st,
	    p + MAGIC_LEN + 1 + crypto_box_SEALBYTES + sizeof(key), key);
	sodium_memzero(key, sizeof(key));
	return fwrite(w->hdr, 1, HDR_LEN, w->f) == HDR_LEN ? PV_OK : PV_EIO;
}

static void
rm_scratch(const char *scratch)
{
	char p[PV_PATH_MAX];

	if (pv_snprintf(p, sizeof(p), "%s/snap.db", scratch) == PV_OK)
		unlink(p);
	if (pv_snprintf(p, sizeof(p), "%s/audit.pub", scratch) == PV_OK)
		unlink(p);
	rmdir(scratch);
}

pv_status
pv_backup_create(struct pv_vault *v, enum pv_backup_kind kind,
    const unsigned char pk[PV_BACKUP_PK_BYTES], const char *out)
{
	struct bw *w;
	char scratch[PV_PATH_MAX];
	pv_status st;
	int fd;

	if (v->cfg.is_store_pg)
		return PV_EINVAL;
	if ((st = pv_snprintf(scratch, sizeof(scratch), "%s/.backup-XXXXXX",
		 v->dir)) != PV_OK)
		return st;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return PV_ENOMEM;
	if ((w->buf = pv_secret_alloc(CHUNK)) == NULL) {
		free(w);
		return PV_ENOMEM;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || (w->f = fdopen(fd, "wb")) == NULL) {
		st = fd < 0 && errno == EEXIST ? PV_EEXISTS : PV_EIO;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (mkdtemp(scratch) == NULL) {
		st = PV_EIO;
		goto out;
	}
	if ((st = begin(w, kind, pk)) == PV_OK)
		st = kind == PV_BACKUP_KEYS
		    ? add_dir(w, v->dir, "keys", scratch)
		    : add_records(w, v, scratch);
	if (st == PV_OK && (st = put_be(w, 0, 2)) == PV_OK)
		st = bw_flush(w,
		    crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	if (st == PV_OK && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
		st = PV_EIO;
	rm_scratch(scratch);
out:
	if (w->f != NULL && fclose(w->f) != 0 && st == PV_OK)
		st = PV_EIO;
	if (st != PV_OK && w->f != NULL)
		unlink(out);
	sodium_memzero(&w->st, sizeof(w->st));
	pv_secret_free(w->buf, CHUNK);
	free(w);
	return st;
}
