/*
 * medium_file.c — the audit trail in files under DIR/audit (medium.h):
 * log.jsonl, checkpoints.jsonl, quarantine.jsonl and state.
 *
 * Guarantees: writers (the server and CLI commands, in any number of
 * processes) serialise on an exclusive flock of log.jsonl; append()
 * returns only after write() and fdatasync() of the whole buffer, and a
 * failed append is cut back off the file so the log never keeps half a
 * batch; a checkpoint line that could not be written whole is cut back
 * too; the quarantine is fdatasync'ed before the caller cuts the log.
 * Files are created 0600, never through a symlink.
 */
#include "audit/medium.h"

#include "audit/log_int.h"
#include "common/log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CP_TAIL_BYTES 8192 /* checkpoint lines are ~250 bytes */

struct file_medium {
	struct audit_medium base;
	int fd, cp_fd, state_fd;
	char log_path[1100], cp_path[1100], q_path[1100], state_path[1100];
};

static struct file_medium *
fm(struct audit_medium *m)
{
	return (struct file_medium *)m;
}

static pv_status
f_lock(struct audit_medium *m)
{
	return flock(fm(m)->fd, LOCK_EX) == 0 ? PV_OK : PV_EIO;
}

static pv_status
f_unlock(struct audit_medium *m, bool keep)
{
	(void)keep;
	flock(fm(m)->fd, LOCK_UN);
	return PV_OK;
}

static pv_status
f_size(struct audit_medium *m, off_t *out)
{
	struct stat sb;

	if (fstat(fm(m)->fd, &sb) != 0)
		return PV_EIO;
	*out = sb.st_size;
	return PV_OK;
}

static pv_status
f_read(struct audit_medium *m, void *buf, size_t len, off_t off)
{
	return pread(fm(m)->fd, buf, len, off) == (ssize_t)len ? PV_OK : PV_EIO;
}

static pv_status
f_append(struct audit_medium *m, const char *buf, size_t len, off_t at)
{
	struct file_medium *f = fm(m);

	if (lseek(f->fd, 0, SEEK_END) == at &&
	    audit_write_all(f->fd, buf, len) && fdatasync(f->fd) == 0)
		return PV_OK;
	if (ftruncate(f->fd, at) != 0)
		pv_log(PV_LOG_ERROR, "audit_truncate_failed", NULL,
		    (const char *)NULL);
	return PV_EUNAVAIL;
}

static pv_status
f_cut(struct audit_medium *m, off_t at)
{
	struct file_medium *f = fm(m);

	return ftruncate(f->fd, at) == 0 && fdatasync(f->fd) == 0 ? PV_OK
								  : PV_EIO;
}

static pv_status
f_cp_append(struct audit_medium *m, const char *line, size_t len, bool do_sync)
{
	struct file_medium *f = fm(m);
	off_t start;
	pv_status st = PV_EIO;

	if (len == 0) /* a sync only */
		return fdatasync(f->cp_fd) == 0 ? PV_OK : PV_EIO;
	start = lseek(f->cp_fd, 0, SEEK_END);
	if (start >= 0 && audit_write_all(f->cp_fd, line, len) &&
	    audit_write_all(f->cp_fd, "\n", 1)) {
		st = PV_OK;
	} else if (start >= 0 && ftruncate(f->cp_fd, start) != 0) {
		/* Never leave half a line (a full disk): the next head would
		 * be glued to it and `audit verify` would fail for good. */
		pv_log(PV_LOG_ERROR, "audit_truncate_failed", NULL,
		    (const char *)NULL);
	}
	if (do_sync)
		(void)fdatasync(f->cp_fd);
	return st;
}

/* The last line of the checkpoint file: reads its tail only. */
static pv_status
f_cp_last(struct audit_medium *m, char *out, size_t cap)
{
	char buf[CP_TAIL_BYTES + 1], *start;
	struct stat sb;
	int fd = fm(m)->cp_fd;
	size_t n;

	if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size <= 0)
		return PV_ENOTFOUND;
	n = sb.st_size < CP_TAIL_BYTES ? (size_t)sb.st_size : CP_TAIL_BYTES;
	if (pread(fd, buf, n, sb.st_size - (off_t)n) != (ssize_t)n)
		return PV_ENOTFOUND;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	start = memrchr(buf, '\n', n);
	start = start != NULL ? start + 1 : buf;
	return pv_strlcpy(out, start, cap) == PV_OK ? PV_OK : PV_ENOTFOUND;
}

static pv_status
f_quarantine(struct audit_medium *m, const char *bytes, size_t len)
{
	int qfd = open(fm(m)->q_path,
	    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	pv_status st = PV_EIO;

	if (qfd < 0)
		return PV_EIO;
	/* A torn last line gets its newline here: one line per entry. */
	if (audit_write_all(qfd, bytes, len) &&
	    (len == 0 || bytes[len - 1] == '\n' ||
		audit_write_all(qfd, "\n", 1)) &&
	    fdatasync(qfd) == 0)
		st = PV_OK;
	close(qfd);
	return st;
}

static bool
f_state_load(struct audit_medium *m, void *rec, size_t n)
{
	int fd = fm(m)->state_fd;

	return fd >= 0 && pread(fd, rec, n, 0) == (ssize_t)n;
}

static void
f_state_save(struct audit_medium *m, const void *rec, size_t n)
{
	int fd = fm(m)->state_fd;

	if (fd >= 0 && pwrite(fd, rec, n, 0) != (ssize_t)n)
		pv_log(PV_LOG_WARN, "audit_state_write_failed", NULL,
		    (const char *)NULL);
}

/*
 * A writer appends a whole batch and its checkpoint under the exclusive
 * flock, so sizes taken under a shared one never cut a batch in two.
 * -1: read to the end (no flock on this file system).
 */
static pv_status
f_snapshot(struct audit_medium *m, FILE **log, off_t *log_size, FILE **cps,
    off_t *cp_size)
{
	struct file_medium *f = fm(m);
	struct stat sb;

	*log_size = *cp_size = -1;
	*cps = NULL;
	if ((*log = fopen(f->log_path, "r")) == NULL)
		return PV_ENOTFOUND;
	if (flock(fileno(*log), LOCK_SH) == 0) {
		if (fstat(fileno(*log), &sb) == 0)
			*log_size = sb.st_size;
		if (stat(f->cp_path, &sb) == 0)
			*cp_size = sb.st_size;
		flock(fileno(*log), LOCK_UN);
	}
	*cps = fopen(f->cp_path, "r"); /* none yet: NULL */
	return PV_OK;
}

static void
f_close(struct audit_medium *m)
{
	struct file_medium *f = fm(m);

	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->cp_fd >= 0)
		close(f->cp_fd);
	if (f->state_fd >= 0)
		close(f->state_fd);
	free(f);
}

static const struct audit_medium_ops file_ops = {
	.lock = f_lock,
	.unlock = f_unlock,
	.size = f_size,
	.read = f_read,
	.append = f_append,
	.cut = f_cut,
	.cp_append = f_cp_append,
	.cp_last = f_cp_last,
	.quarantine = f_quarantine,
	.state_load = f_state_load,
	.state_save = f_state_save,
	.snapshot = f_snapshot,
	.signers = NULL,
	.add_signer = NULL,
	.close = f_close,
};

pv_status
audit_medium_file_open(const char *dir, bool is_writer,
    struct audit_medium **out)
{
	struct file_medium *f = calloc(1, sizeof(*f));
	int flags = is_writer ? O_RDWR | O_CREAT | O_APPEND : O_RDONLY;

	*out = NULL;
	if (f == NULL)
		return PV_ENOMEM;
	f->base.fn = &file_ops;
	f->fd = f->cp_fd = f->state_fd = -1;
	if (pv_snprintf(f->log_path, sizeof(f->log_path), "%s/audit/log.jsonl",
		dir) != PV_OK ||
	    pv_snprintf(f->cp_path, sizeof(f->cp_path),
		"%s/audit/checkpoints.jsonl", dir) != PV_OK ||
	    pv_snprintf(f->state_path, sizeof(f->state_path), "%s/audit/state",
		dir) != PV_OK ||
	    pv_snprintf(f->q_path, sizeof(f->q_path),
		"%s/audit/quarantine.jsonl", dir) != PV_OK) {
		free(f);
		return PV_EINVAL;
	}
	f->fd = open(f->log_path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	f->cp_fd = open(f->cp_path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (is_writer)
		f->state_fd = open(f->state_path,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f->fd < 0 || (is_writer && f->cp_fd < 0)) {
		f_close(&f->base);
		return is_writer ? PV_EIO : PV_ENOTFOUND;
	}
	*out = &f->base;
	return PV_OK;
}

FILE *
audit_medium_file_quarantine(const char *dir)
{
	char path[1100];
	int fd;
	FILE *f;

	if (pv_snprintf(path, sizeof(path), "%s/audit/quarantine.jsonl", dir) !=
	    PV_OK)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return NULL;
	if ((f = fdopen(fd, "r")) == NULL)
		close(fd);
	return f;
}

pv_status
audit_medium_open(const struct pv_audit_loc *loc, bool is_writer,
    struct audit_medium **out)
{
	if (loc->dsn != NULL && loc->dsn[0] != '\0')
		return audit_medium_pg_open(loc->dsn, loc->password, out);
	return audit_medium_file_open(loc->vault_dir, is_writer, out);
}
