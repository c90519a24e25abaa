/*
 * import.c — copies a vault's audit trail from its files into an empty
 * PostgreSQL trail, byte for byte (pv_audit_import, for `phivault db
 * migrate-from-sqlite`).
 *
 * Guarantees:
 *  - The entry lines reach audit_log exactly as log.jsonl holds them, in
 *    order, each with its sequence number and its byte offset in the file
 *    (medium_pg.c's append computes both from the offset the batch starts
 *    at), so the leaves, the hash chain, the Merkle tree and every batch
 *    signature are the same: a checkpoint published before the move is
 *    consistent with the trail after it (an RFC 6962 consistency proof
 *    from its size verifies), and `audit verify` runs unchanged.
 *  - The checkpoint lines go to audit_checkpoints in file order, the
 *    quarantined lines to audit_quarantine (one row per line, moved_at
 *    the time of the move), each unchanged.
 *  - All of it happens inside one writers' section of the target — one
 *    transaction under the trail's advisory lock — so the PostgreSQL
 *    trail gets all of it or nothing; and only into a trail that is empty
 *    (no entry, no checkpoint): PV_EEXISTS otherwise.
 *  - What is copied is one snapshot of the files (medium.h's snapshot: a
 *    whole batch and its checkpoint, never half). A log that does not end
 *    with a newline (a torn line: pv_audit_open cuts those) or holds a NUL
 *    is refused (PV_EINVAL), never patched.
 * Not copied: the file trail's resume state (a writer's hint, MACed per
 * medium; the first writer on PostgreSQL reads the trail once).
 */
#include "audit/medium.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 20) /* log bytes per append; lines are < 8 KiB */

/* Appends the log stream of f (size bytes, -1: to its end) to m. */
static pv_status
copy_log(FILE *f, off_t size, struct audit_medium *m,
    struct pv_audit_import_report *rep)
{
	char *buf = malloc(CHUNK);
	size_t have = 0;
	off_t at = 0, left = size;
	pv_status st = PV_OK;

	if (buf == NULL)
		return PV_ENOMEM;
	while (st == PV_OK) {
		size_t want = CHUNK - have, got, cut, i;
		char *nl;

		if (left >= 0 && (off_t)want > left)
			want = (size_t)left;
		got = fread(buf + have, 1, want, f);
		if (got < want && ferror(f)) {
			st = PV_EIO;
			break;
		}
		if (left >= 0)
			left -= (off_t)got;
		have += got;
		if (have == 0)
			break; /* the end */
		if ((nl = memrchr(buf, '\n', have)) == NULL) {
			/* no whole line in a full buffer, or a torn end */
			st = PV_EINVAL;
			break;
		}
		cut = (size_t)(nl - buf) + 1;
		if (memchr(buf, '\0', cut) != NULL) {
			st = PV_EINVAL;
			break;
		}
		for (i = 0; i < cut; i++)
			rep->entries += buf[i] == '\n';
		if ((st = m->fn->append(m, buf, cut, at)) != PV_OK)
			break;
		at += (off_t)cut;
		rep->bytes += cut;
		memmove(buf, buf + cut, have - cut);
		have -= cut;
		if (got == 0 && have > 0)
			st = PV_EINVAL; /* bytes after the last newline */
	}
	free(buf);
	return st;
}

/* Calls put(m, line, len) for every line of f up to size bytes (-1: its
 * end); keep_nl passes each line with its newline. */
static pv_status
copy_lines(FILE *f, off_t size, struct audit_medium *m, bool keep_nl,
    pv_status (*put)(struct audit_medium *, const char *, size_t), uint64_t *n)
{
	char *line = NULL;
	size_t cap = 0;
	off_t used = 0;
	pv_status st = PV_OK;
	ssize_t len;

	while (st == PV_OK && (size < 0 || used < size) &&
	    (len = getline(&line, &cap, f)) > 0) {
		used += len;
		if (line[len - 1] != '\n' || (size >= 0 && used > size) ||
		    memchr(line, '\0', (size_t)len) != NULL) {
			st = PV_EINVAL;
			break;
		}
		if ((st = put(m, line, (size_t)len - (keep_nl ? 0 : 1))) ==
		    PV_OK)
			(*n)++;
	}
	if (st == PV_OK && ferror(f))
		st = PV_EIO;
	free(line);
	return st;
}

static pv_status
put_checkpoint(struct audit_medium *m, const char *line, size_t len)
{
	return m->fn->cp_append(m, line, len, false);
}

static pv_status
put_quarantine(struct audit_medium *m, const char *line, size_t len)
{
	return m->fn->quarantine(m, line, len);
}

/* The target must hold no trail yet (caller holds its writers' lock). */
static pv_status
target_is_empty(struct audit_medium *m)
{
	char probe[64];
	off_t size = 0;
	pv_status st;

	if ((st = m->fn->size(m, &size)) != PV_OK)
		return st;
	if (size != 0 ||
	    m->fn->cp_last(m, probe, sizeof(probe)) != PV_ENOTFOUND)
		return PV_EEXISTS;
	return PV_OK;
}

pv_status
pv_audit_import(const struct pv_audit_loc *from, const struct pv_audit_loc *to,
    struct pv_audit_import_report *rep)
{
	struct audit_medium *src = NULL, *dst = NULL;
	FILE *log = NULL, *cps = NULL, *q = NULL;
	off_t log_size = -1, cp_size = -1;
	bool is_locked = false;
	pv_status st;

	memset(rep, 0, sizeof(*rep));
	if ((from->dsn != NULL && from->dsn[0] != '\0') || to->dsn == NULL ||
	    to->dsn[0] == '\0')
		return PV_EINVAL; /* files -> PostgreSQL only */
	if ((st = audit_medium_open(from, false, &src)) != PV_OK ||
	    (st = src->fn->snapshot(src, &log, &log_size, &cps, &cp_size)) !=
		PV_OK)
		goto done;
	q = audit_medium_file_quarantine(from->vault_dir);
	if ((st = audit_medium_open(to, true, &dst)) != PV_OK ||
	    (st = dst->fn->lock(dst)) != PV_OK)
		goto done;
	is_locked = true;
	if ((st = target_is_empty(dst)) != PV_OK ||
	    (st = copy_log(log, log_size, dst, rep)) != PV_OK)
		goto done;
	if (cps != NULL &&
	    (st = copy_lines(cps, cp_size, dst, false, put_checkpoint,
		 &rep->checkpoints)) != PV_OK)
		goto done;
	if (q != NULL &&
	    (st = copy_lines(q, -1, dst, true, put_quarantine,
		 &rep->quarantined)) != PV_OK)
		goto done;
	is_locked = false;
	st = dst->fn->unlock(dst, true); /* the commit */
done:
	if (is_locked)
		(void)dst->fn->unlock(dst, false);
	if (log != NULL)
		fclose(log);
	if (cps != NULL)
		fclose(cps);
	if (q != NULL)
		fclose(q);
	if (dst != NULL)
		dst->fn->close(dst);
	if (src != NULL)
		src->fn->close(src);
	return st;
}
