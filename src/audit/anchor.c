/*
 * anchor.c — a node's own memory of how far the shared trail reached.
 *
 * On PostgreSQL the trail, its checkpoints and the resume state all live
 * in the database, so whoever administers the database could cut the end
 * off all three together and a node starting afresh would find a shorter
 * but self-consistent trail (outside attack on issue 15, finding 1). The
 * anchor is a copy of a signed checkpoint this node made, kept in its own
 * directory (DIR/audit/anchor.json, 0600, replaced atomically), which the
 * database cannot reach. Opening the trail holds it to the anchor like to
 * the latest checkpoint in the database: the log must reach the anchor's
 * size and have the anchor's root there, else the trail was truncated or
 * rolled back and the node refuses to start (PV_ECRYPTO, fail closed).
 *
 * Written after the commit that made its checkpoint durable, when the
 * checkpoints are synced (every [audit] checkpoint_interval and at
 * shutdown), so it never names entries the database does not hold; what
 * was appended after the last anchor is held only by the database's own
 * checkpoints. A deliberate restore of older databases (disaster
 * recovery) therefore needs the operator to remove the anchor: that is
 * the point. Files media need none (the trail and the anchor would sit
 * side by side) and have none.
 */
#include "audit/log_int.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ANCHOR_MAX 1024

pv_status
audit_anchor_init(struct pv_audit *a, const struct pv_audit_loc *loc)
{
	if (!a->m->is_transactional || loc->vault_dir == NULL)
		return PV_OK;
	return pv_snprintf(a->anchor_path, sizeof(a->anchor_path),
	    "%s/audit/anchor.json", loc->vault_dir);
}

pv_status
audit_anchor_load(const struct pv_audit *a, struct pv_checkpoint *c)
{
	char buf[ANCHOR_MAX + 1];
	ssize_t n;
	int fd;

	if (a->anchor_path[0] == '\0')
		return PV_ENOTFOUND;
	fd = open(a->anchor_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PV_ENOTFOUND : PV_EIO;
	n = read(fd, buf, ANCHOR_MAX);
	close(fd);
	if (n <= 0 || n == ANCHOR_MAX)
		return PV_ECRYPTO;
	buf[n] = '\0';
	return audit_checkpoint_parse(buf, c) ? PV_OK : PV_ECRYPTO;
}

/* A temporary file written and synced, renamed over path, the
 * directory synced: readers see the old anchor or the new, whole. */
static pv_status
replace_file(const char *path, const char *text, size_t len)
{
	char tmp[AUDIT_PATH_MAX + 32], dir[AUDIT_PATH_MAX], *slash;
	pv_status st = PV_EIO;
	int fd, dfd;
	bool ok;

	/* Per process: serve and a CLI command may both refresh it. */
	if (pv_snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) !=
		PV_OK ||
	    pv_strlcpy(dir, path, sizeof(dir)) != PV_OK ||
	    (slash = strrchr(dir, '/')) == NULL)
		return PV_EINVAL;
	*slash = '\0';
	PV_IGNORE(unlink(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return PV_EIO;
	ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	if (close(fd) == 0 && ok && rename(tmp, path) == 0)
		st = PV_OK;
	if (st != PV_OK) {
		PV_IGNORE(unlink(tmp));
		return st;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) != 0)
			st = PV_EIO;
		close(dfd);
	}
	return st;
}

void
audit_anchor_save(struct pv_audit *a)
{
	if (a->anchor_path[0] == '\0' || a->anchor_due[0] == '\0')
		return;
	if (replace_file(a->anchor_path, a->anchor_due,
		strlen(a->anchor_due)) != PV_OK)
		pv_log(PV_LOG_WARN, "audit_anchor_write_failed", NULL,
		    (const char *)NULL);
	a->anchor_due[0] = '\0';
}
