/*
 * keyfile.c — key material on disk.
 *
 * Guarantees: key files are created exclusively (never overwritten, never
 * through a symlink) with mode 0600 and fsynced together with their
 * directory; a key file that is group- or world-accessible, not a regular
 * file, or of the wrong length is refused rather than used.
 */
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pv_status
fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd;
	pv_status st = PV_EIO;

	if (copy == NULL)
		return PV_ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		if (fsync(fd) == 0)
			st = PV_OK;
		close(fd);
	}
	free(copy);
	return st;
}

pv_status
pv_keyfile_create(const char *path, const unsigned char *key, size_t n)
{
	int fd;
	size_t off = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return errno == EEXIST ? PV_EEXISTS : PV_EIO;
	while (off < n) {
		ssize_t w = write(fd, key + off, n - off);
		if (w <= 0) {
			close(fd);
			(void)unlink(path);
			return PV_EIO;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		close(fd);
		(void)unlink(path);
		return PV_EIO;
	}
	close(fd);
	return fsync_parent(path);
}

pv_status
pv_keyfile_read(const char *path, unsigned char *out, size_t n)
{
	struct stat sb;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 077) != 0 || sb.st_uid != geteuid() ||
	    sb.st_size != (off_t)n) {
		close(fd);
		return PV_EDENIED;
	}
	while (off < n) {
		ssize_t r = read(fd, out + off, n - off);
		if (r <= 0) {
			close(fd);
			sodium_memzero(out, n);
			return PV_EIO;
		}
		off += (size_t)r;
	}
	close(fd);
	return PV_OK;
}

pv_status
pv_keyfile_destroy(const char *path, size_t n)
{
	unsigned char zero[64] = { 0 };
	size_t off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
	while (off < n) {
		size_t chunk = n - off < sizeof(zero) ? n - off : sizeof(zero);
		ssize_t w = write(fd, zero, chunk);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	(void)fsync(fd);
	close(fd);
	if (unlink(path) != 0)
		return PV_EIO;
	return fsync_parent(path);
}
