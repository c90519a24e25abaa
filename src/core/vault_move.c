/*
 * vault_move.c — moving an SQLite vault to PostgreSQL (`phivault db
 * migrate-from-sqlite DIR --to DSN --keys-to DSN`, issue 15), so that
 * afterwards `serve DIR` runs on PostgreSQL with the same accounts,
 * sessions, records and keys, `audit verify DIR` passes, and every
 * checkpoint published before the move is consistent with the trail
 * after it.
 *
 * Nobody else has the vault meanwhile: every open vault holds a shared
 * flock on its directory (vault.c), and the caller must have made v's
 * exclusive (pv_vault_lock_exclusive) — refused while `serve` or any
 * other command has the vault open, and any open during the move fails.
 *
 * The steps, each checked before the next; DIR changes only at step 9:
 *  1. the file trail verifies (the same pv_audit_verify `audit verify`
 *     runs; an unsigned tail is a fault, as it is there);
 *  2. both databases are empty (no schema, or this build's with no
 *     vault data), get the schemas `init --store` creates, and stay
 *     locked against a second mover (pv_store_move_begin);
 *  3. every table is copied as stored — keys database first, one
 *     transaction each — and every table's row count is compared
 *     (pv_store_move_copy; store/move_tables.c maps every column);
 *  4. the trail's lines are copied byte for byte into the records
 *     database (pv_audit_import, one transaction);
 *  5. the caller's "moved" entry is appended through the new medium,
 *     signed with the vault's key, so the trail itself shows where it
 *     changed medium;
 *  6. the PostgreSQL trail verifies, with every entry of the files and
 *     that one more;
 *  7. the vault's audit key is registered in audit_nodes, self-endorsed,
 *     as `init --store` does (the trail's root signer);
 *  8. keys/audit-root.pub is written (the vault's audit-signing.pub);
 *  9. phivault.conf's [store] is switched to postgresql (dsn, keys_dsn,
 *     password_file; every other line kept): a temporary file, fsynced,
 *     read back, renamed over the old one, the directory fsynced. This
 *     rename is the move's commit point.
 * A failure before 9 removes audit-root.pub and audit/anchor.json (the
 * node's anchor, audit/anchor.c, that step 5's writer leaves; neither
 * may exist in DIR when the move starts) and empties both databases again (so
 * the move can simply be run again); DIR is as it was, but for the trail's own
 * entries about the attempt. Only when even emptying fails are the databases
 * left partly filled (err says so: drop and recreate them).
 *
 * After the commit point, pv_vault_move_remove_sqlite removes the SQLite
 * files: keys/keys.db (and its -wal, -shm) is overwritten with zeros,
 * fsynced and unlinked — it holds wrapped DEKs, and an erasure on
 * PostgreSQL would never shred those copies; phivault.db, its -wal and
 * -shm, and the file trail (audit/log.jsonl, checkpoints.jsonl,
 * quarantine.jsonl, state) are unlinked; audit/anchor.json stays, the
 * anchor of the node DIR now is. The operator keeps a backup
 * taken before the move if one is wanted (docs/SCALING.md, SECURITY.md).
 * A move interrupted between the rename and the removal leaves them
 * behind; pv_vault_has_sqlite_files tells, and the command run again
 * removes them.
 */
#include "common/log.h"
#include "core/vault_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...) PV_IGNORE(pv_snprintf(err, errsz, __VA_ARGS__))
#define CONF_MAX (1u << 20) /* phivault.conf is a few KiB */

static pv_status
join(const char *dir, const char *rel, char *out, size_t outsz)
{
	return pv_snprintf(out, outsz, "%s/%s", dir, rel);
}

/* ---- phivault.conf ------------------------------------------------- */

static pv_status
read_conf(int fd, char **out, size_t *len)
{
	struct stat sb;
	char *buf;
	size_t n = 0;

	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
	    (uint64_t)sb.st_size > CONF_MAX)
		return PV_EINVAL;
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		return PV_ENOMEM;
	while (n < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);

		if (r <= 0) {
			free(buf);
			return PV_EIO;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return PV_OK;
}

static pv_status
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return PV_EIO;
		s += w;
		n -= (size_t)w;
	}
	return PV_OK;
}

/* The new text must read back as exactly this PostgreSQL vault. */
static pv_status
check_written(const char *path, const struct pv_config_pg *to)
{
	struct pv_config cfg;
	char cerr[256];

	pv_config_defaults(&cfg);
	if (pv_config_load(&cfg, path, cerr, sizeof(cerr)) != PV_OK ||
	    !cfg.is_store_pg || strcmp(cfg.store_dsn, to->dsn) != 0 ||
	    strcmp(cfg.store_keys_dsn, to->keys_dsn) != 0)
		return PV_EINTERNAL;
	return PV_OK;
}

/* Step 9: the commit point (see the top of the file). */
static pv_status
switch_conf(struct pv_vault *v, const struct pv_config_pg *to, char *err,
    size_t errsz)
{
	char path[PV_PATH_MAX], tmp[PV_PATH_MAX], *text = NULL, *next = NULL;
	size_t len = 0;
	pv_status st;
	int fd;

	if ((st = join(v->dir, "phivault.conf", path, sizeof(path))) != PV_OK ||
	    (st = join(v->dir, "phivault.conf.moving", tmp, sizeof(tmp))) !=
		PV_OK)
		return st;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		ERR("cannot read phivault.conf");
		return PV_EIO;
	}
	st = read_conf(fd, &text, &len);
	close(fd);
	if (st == PV_OK)
		st = pv_config_store_rewrite(text, len, to, &next);
	free(text);
	if (st != PV_OK) {
		ERR("cannot rewrite phivault.conf (%s)", pv_status_name(st));
		return st;
	}
	(void)unlink(tmp); /* a leftover of an interrupted move */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	st = fd < 0 ? PV_EIO : write_all(fd, next, strlen(next));
	if (st == PV_OK && fsync(fd) != 0)
		st = PV_EIO;
	if (fd >= 0)
		close(fd);
	free(next);
	if (st == PV_OK && (st = check_written(tmp, to)) != PV_OK) {
		ERR("the new phivault.conf does not read back as written");
	} else if (st == PV_OK && rename(tmp, path) != 0) {
		st = PV_EIO;
	} else if (st == PV_OK) {
		/* The rename is done (the vault is on PostgreSQL now, so
		 * the move must not be undone); say so if it may not be
		 * durable: re-running the move finishes it either way. */
		if (fsync(v->dir_fd) != 0)
			pv_log(PV_LOG_WARN, "vault_move_dir_sync_failed", NULL,
			    (const char *)NULL);
		return PV_OK;
	}
	if (err != NULL && errsz > 0 && err[0] == '\0')
		ERR("cannot write phivault.conf");
	(void)unlink(tmp);
	return st;
}

/* ---- the move ------------------------------------------------------ */

/* Steps 1 and 6: the trail at loc verifies; *entries gets its size. */
static pv_status
trail_verifies(struct pv_vault *v, const struct pv_audit_loc *loc,
    uint64_t *entries)
{
	struct pv_verify_report rep;
	pv_status st =
	    pv_audit_verify(loc, v->sign_pk, 0, NULL, &rep, NULL, NULL);

	if (st != PV_OK)
		return st;
	*entries = rep.entries;
	return rep.is_ok ? PV_OK : PV_ECRYPTO;
}

/* Step 5: the move's own entry, written through the new medium. */
static pv_status
append_moved(struct pv_vault *v, const struct pv_audit_loc *loc,
    const struct pv_audit_event *ev)
{
	struct pv_audit_opts ao = { loc, v->sign_sk, v->sign_pk, v->sign_key_id,
		false, 0, v->sign_pk };
	struct pv_audit *a = NULL;
	pv_status st;

	if ((st = pv_audit_open(&ao, &a)) != PV_OK)
		return st;
	st = pv_audit_append(a, ev);
	pv_audit_close(a);
	return st;
}

/* What the move adds to DIR before its commit point (removed again when
 * it fails): the trail's root signer, and the node's anchor that the
 * move's own entry leaves (audit/anchor.c) when its writer closes. */
static const char *const ours[] = { "keys/audit-root.pub",
	"audit/anchor.json" };

static pv_status
preconditions(struct pv_vault *v, char *err, size_t errsz)
{
	char path[PV_PATH_MAX];
	struct stat sb;
	pv_status st;
	size_t i;

	if (v->cfg.is_store_pg) {
		ERR("the vault is on PostgreSQL already");
		return PV_EINVAL;
	}
	if (!v->is_exclusive) {
		ERR("the vault must be locked for the move");
		return PV_EINTERNAL;
	}
	/* Neither belongs to an SQLite vault: both are written by a move,
	 * so one found here is left by a move that was killed before its
	 * commit point (and would not match this one). */
	for (i = 0; i < PV_ARRAY_LEN(ours); i++) {
		if ((st = join(v->dir, ours[i], path, sizeof(path))) != PV_OK)
			return st;
		if (lstat(path, &sb) == 0 || errno != ENOENT) {
			ERR("%s exists in an SQLite vault (left by an "
			    "interrupted move?): remove it, the move writes it",
			    ours[i]);
			return PV_EEXISTS;
		}
	}
	return PV_OK;
}

/* Steps 2 to 9 once the source has verified; *sm is the caller's. */
static pv_status
move_steps(struct pv_vault *v, struct pv_vault_move *m,
    const struct pv_vault_pg *p, struct pv_store_move **sm, char *err,
    size_t errsz)
{
	struct pv_audit_loc to = { v->dir, p->o.dsn, p->pw };
	struct pv_store_opts from;
	char db[PV_PATH_MAX], kdb[PV_PATH_MAX], root[PV_PATH_MAX];
	uint64_t after = 0;
	pv_status st;

	if ((st = join(v->dir, "phivault.db", db, sizeof(db))) != PV_OK ||
	    (st = join(v->dir, "keys/keys.db", kdb, sizeof(kdb))) != PV_OK ||
	    (st = join(v->dir, "keys/audit-root.pub", root, sizeof(root))) !=
		PV_OK)
		return st;
	from.db_path = db;
	from.keys_db_path = kdb;
	from.is_synchronous_full = true;
	from.busy_timeout_ms = (int)v->cfg.busy_timeout_ms;
	if ((st = pv_store_move_begin(&p->o, sm, err, errsz)) != PV_OK ||
	    (st = pv_store_move_copy(*sm, &from, &m->rows, err, errsz)) !=
		PV_OK)
		return st;
	if ((st = pv_audit_import(&v->audit_loc, &to, &m->trail)) != PV_OK) {
		ERR("cannot copy the audit trail (%s)", pv_status_name(st));
		return st;
	}
	if ((st = append_moved(v, &to, m->moved)) != PV_OK) {
		ERR("cannot write the move's entry to the new audit trail (%s)",
		    pv_status_name(st));
		return st;
	}
	if ((st = trail_verifies(v, &to, &after)) != PV_OK ||
	    after != m->trail.entries + 1) {
		ERR("the audit trail does not verify in PostgreSQL (%llu "
		    "entries, %llu copied)",
		    (unsigned long long)after,
		    (unsigned long long)m->trail.entries);
		return st != PV_OK ? st : PV_ECONFLICT;
	}
	m->entries = after;
	if ((st = pv_audit_node_register(&to, v->sign_sk, v->sign_pk,
		 v->sign_pk)) != PV_OK) {
		ERR("cannot register the audit signing key (%s)",
		    pv_status_name(st));
		return st;
	}
	if ((st = pv_keyfile_create(root, v->sign_pk, PV_SIGN_PK_BYTES)) !=
	    PV_OK) {
		ERR("cannot write keys/audit-root.pub");
		return st;
	}
	return switch_conf(v, m->to, err, errsz);
}

pv_status
pv_vault_move_to_pg(struct pv_vault *v, struct pv_vault_move *m, char *err,
    size_t errsz)
{
	struct pv_store_move *sm = NULL;
	struct pv_vault_pg p;
	char path[PV_PATH_MAX];
	uint64_t before = 0;
	pv_status st, cst;
	size_t i;

	memset(&m->rows, 0, sizeof(m->rows));
	memset(&m->trail, 0, sizeof(m->trail));
	m->entries = 0;
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if ((st = preconditions(v, err, errsz)) != PV_OK ||
	    (st = pv_vault_pg_load(v->dir, m->to, &p, err, errsz)) != PV_OK)
		return st;
	if ((st = trail_verifies(v, &v->audit_loc, &before)) != PV_OK) {
		ERR("the vault's audit trail does not verify (run phivault "
		    "audit verify): not moved");
		pv_vault_pg_release(&p);
		return st;
	}
	st = move_steps(v, m, &p, &sm, err, errsz);
	if (st == PV_OK && m->trail.entries != before)
		st = PV_EINTERNAL; /* step 1 and 4 saw different trails */
	pv_vault_pg_release(&p);
	if (st == PV_OK)
		return pv_store_move_end(sm, true);
	for (i = 0; i < PV_ARRAY_LEN(ours); i++)
		if (join(v->dir, ours[i], path, sizeof(path)) == PV_OK)
			(void)unlink(path); /* absent at the start */
	if ((cst = pv_store_move_end(sm, false)) != PV_OK) {
		size_t n = err != NULL ? strnlen(err, errsz) : 0;

		if (n + 1 < errsz)
			PV_IGNORE(pv_snprintf(err + n, errsz - n,
			    "%sthe databases could not be emptied again: drop "
			    "and recreate them before another try",
			    n > 0 ? "; " : ""));
	}
	return st;
}

/* ---- after the commit point ---------------------------------------- */

/* Zeros over the whole file, fsynced, then unlinked; none: PV_OK. */
static pv_status
shred_file(const char *path)
{
	static const char zeros[65536];
	struct stat sb;
	off_t done = 0;
	pv_status st = PV_OK;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? PV_OK : PV_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		st = PV_EIO;
	while (st == PV_OK && done < sb.st_size) {
		size_t n = sb.st_size - done < (off_t)sizeof(zeros)
		    ? (size_t)(sb.st_size - done)
		    : sizeof(zeros);

		if (pwrite(fd, zeros, n, done) != (ssize_t)n)
			st = PV_EIO;
		done += (off_t)n;
	}
	if (st == PV_OK && fsync(fd) != 0)
		st = PV_EIO;
	close(fd);
	if (st == PV_OK && unlink(path) != 0)
		st = PV_EIO;
	return st;
}

static pv_status
remove_file(const char *path)
{
	return unlink(path) == 0 || errno == ENOENT ? PV_OK : PV_EIO;
}

static const char *const shred[] = { "keys/keys.db", "keys/keys.db-wal",
	"keys/keys.db-shm" };
static const char *const unlinked[] = { "phivault.db", "phivault.db-wal",
	"phivault.db-shm", "audit/log.jsonl", "audit/checkpoints.jsonl",
	"audit/quarantine.jsonl", "audit/state" };

bool
pv_vault_has_sqlite_files(const struct pv_vault *v)
{
	char path[PV_PATH_MAX];
	struct stat sb;
	size_t i;

	for (i = 0; i < PV_ARRAY_LEN(shred) + PV_ARRAY_LEN(unlinked); i++) {
		const char *rel = i < PV_ARRAY_LEN(shred)
		    ? shred[i]
		    : unlinked[i - PV_ARRAY_LEN(shred)];

		if (join(v->dir, rel, path, sizeof(path)) == PV_OK &&
		    lstat(path, &sb) == 0)
			return true;
	}
	return false;
}

pv_status
pv_vault_move_remove_sqlite(struct pv_vault *v, char *err, size_t errsz)
{
	char path[PV_PATH_MAX];
	const char *failed = NULL;
	pv_status st;
	size_t i;
	int fd;

	/* Its connections first: SQLite must not write what is erased. */
	if (v->store != NULL) {
		pv_store_close(v->store);
		v->store = NULL;
	}
	for (i = 0; i < PV_ARRAY_LEN(shred); i++)
		if ((st = join(v->dir, shred[i], path, sizeof(path))) !=
			PV_OK ||
		    (st = shred_file(path)) != PV_OK)
			failed = failed != NULL ? failed : shred[i];
	for (i = 0; i < PV_ARRAY_LEN(unlinked); i++)
		if ((st = join(v->dir, unlinked[i], path, sizeof(path))) !=
			PV_OK ||
		    (st = remove_file(path)) != PV_OK)
			failed = failed != NULL ? failed : unlinked[i];
	(void)fsync(v->dir_fd);
	if (join(v->dir, "keys", path, sizeof(path)) == PV_OK &&
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	if (failed != NULL) {
		ERR("moved, but %s could not be removed: remove it by hand%s",
		    failed,
		    strncmp(failed, "keys/", 5) == 0
			? " (overwrite it first: it holds wrapped data keys)"
			: "");
		return PV_EIO;
	}
	return PV_OK;
}
