/*
 * vault_store.c — which store a vault opens, and how.
 *
 * [store] backend (common/config_store.c) picks it: SQLite, two files
 * inside the vault directory (phivault.db, keys/keys.db), or PostgreSQL,
 * two databases named by dsn and keys_dsn (SCALING.md).
 *
 * The PostgreSQL password never sits in phivault.conf. It is either
 * libpq's own (PGPASSFILE, ~/.pgpass: nothing passes through here) or
 * read from [store] password_file, which must be a regular file owned by
 * this user with mode 0600 or 0400 (group and others: nothing), like a
 * key file; anything else stops start-up. It is read into guarded memory
 * (sodium_malloc); after pv_store_open_pg the vault keeps it (for the
 * audit trail's connections, which live in the records database) and
 * wipes it at close; after pv_store_pg_migrate it is wiped at once. The
 * store keeps its own copy for the connections it makes later.
 *
 * Migrations: SQLite migrates on every open (store/sqlite_conn.c), as it
 * always did: one process per vault file set. PostgreSQL is shared by
 * every node, so a serving node never migrates: only `init --store` and
 * `db migrate` call pv_store_pg_migrate, and pv_store_open_pg refuses a
 * schema that is not this build's.
 */
#include "core/vault_int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...) PV_IGNORE(pv_snprintf(err, errsz, __VA_ARGS__))
#define PW_BUF (PV_VAULT_PG_PASSWORD_MAX + 2)

static pv_status
open_sqlite(const char *dir, const struct pv_config *cfg, struct pv_store **out)
{
	char db[PV_PATH_MAX], kdb[PV_PATH_MAX];
	struct pv_store_opts o;
	pv_status st;

	if ((st = pv_snprintf(db, sizeof(db), "%s/phivault.db", dir)) !=
		PV_OK ||
	    (st = pv_snprintf(kdb, sizeof(kdb), "%s/keys/keys.db", dir)) !=
		PV_OK)
		return st;
	o.db_path = db;
	o.keys_db_path = kdb;
	o.is_synchronous_full = strcmp(cfg->synchronous, "full") == 0;
	o.busy_timeout_ms = (int)cfg->busy_timeout_ms;
	return pv_store_open_sqlite(&o, out);
}

/* Reads all of fd (at most PV_VAULT_PG_PASSWORD_MAX + 1 bytes) into pw. */
static pv_status
read_password(int fd, char *pw, size_t *len)
{
	size_t n = 0;

	while (n < PW_BUF - 1) {
		ssize_t r = read(fd, pw + n, PW_BUF - 1 - n);

		if (r < 0)
			return PV_EIO;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > PV_VAULT_PG_PASSWORD_MAX)
		return PV_ETOOBIG;
	pw[n] = '\0';
	if (strlen(pw) != n)
		return PV_EINVAL; /* a NUL inside */
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	*len = n;
	return n > 0 ? PV_OK : PV_EINVAL;
}

/* A file only this user can read: regular, ours, mode 0600 or 0400. */
static pv_status
password_file_load(const char *dir, const char *rel, char *pw, char *err,
    size_t errsz)
{
	char path[PV_PATH_MAX];
	struct stat sb;
	size_t len = 0;
	pv_status st;
	int fd;

	st = rel[0] == '/' ? pv_strlcpy(path, rel, sizeof(path))
			   : pv_snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (st != PV_OK) {
		ERR("[store] password_file: path too long");
		return st;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ERR("[store] password_file: cannot open it");
		return PV_EIO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & 0177) != 0) {
		close(fd);
		ERR("[store] password_file must be a regular file owned by "
		    "this user with mode 0600 or 0400");
		return PV_EDENIED;
	}
	st = read_password(fd, pw, &len);
	close(fd);
	if (st != PV_OK)
		ERR("[store] password_file must hold one password of 1 to %d "
		    "bytes",
		    PV_VAULT_PG_PASSWORD_MAX);
	return st;
}

void
pv_vault_pg_release(struct pv_vault_pg *p)
{
	pv_secret_free(p->pw, PW_BUF); /* wipes */
	p->pw = NULL;
	p->o.password = NULL;
}

pv_status
pv_vault_pg_load(const char *dir, const struct pv_config_pg *pg,
    struct pv_vault_pg *p, char *err, size_t errsz)
{
	pv_status st;

	memset(p, 0, sizeof(*p));
	if ((st = pv_config_check_pg(pg, err, errsz)) != PV_OK)
		return st;
	p->o.dsn = pg->dsn;
	p->o.keys_dsn = pg->keys_dsn;
	if (pg->password_file == NULL || pg->password_file[0] == '\0')
		return PV_OK; /* libpq's PGPASSFILE or ~/.pgpass */
	if ((p->pw = pv_secret_alloc(PW_BUF)) == NULL)
		return PV_ENOMEM;
	if ((st = password_file_load(dir, pg->password_file, p->pw, err,
		 errsz)) != PV_OK) {
		pv_vault_pg_release(p);
		return st;
	}
	p->o.password = p->pw;
	return PV_OK;
}

static void
conf_pg(const struct pv_config *cfg, struct pv_config_pg *pg)
{
	pg->dsn = cfg->store_dsn;
	pg->keys_dsn = cfg->store_keys_dsn;
	pg->password_file = cfg->store_password_file;
}

pv_status
pv_vault_store_open(const char *dir, const struct pv_config *cfg,
    struct pv_store **out, char **password, char *err, size_t errsz)
{
	struct pv_config_pg pg;
	struct pv_vault_pg p;
	pv_status st;

	*out = NULL;
	*password = NULL;
	if (!cfg->is_store_pg) {
		if ((st = open_sqlite(dir, cfg, out)) != PV_OK)
			ERR("cannot open the databases");
		return st;
	}
	conf_pg(cfg, &pg);
	if ((st = pv_vault_pg_load(dir, &pg, &p, err, errsz)) != PV_OK)
		return st;
	st = pv_store_open_pg(&p.o, out);
	if (st == PV_OK && p.pw != NULL) {
		/* The audit trail's connections need it too (vault.h). */
		*password = p.pw;
		p.pw = NULL;
	}
	pv_vault_pg_release(&p);
	if (st != PV_OK)
		ERR("cannot open the PostgreSQL databases (%s): see the log; "
		    "after an upgrade run 'phivault db migrate'",
		    pv_status_name(st));
	return st;
}

pv_status
pv_vault_store_migrate_pg(const char *dir, const struct pv_config_pg *pg,
    int *from, int *to, char *err, size_t errsz)
{
	char merr[256] = "";
	struct pv_vault_pg p;
	pv_status st;

	if ((st = pv_vault_pg_load(dir, pg, &p, err, errsz)) != PV_OK)
		return st;
	st = pv_store_pg_migrate(&p.o, from, to, merr, sizeof(merr));
	pv_vault_pg_release(&p);
	if (st != PV_OK)
		ERR("cannot migrate the PostgreSQL databases: %s",
		    merr[0] != '\0' ? merr : pv_status_name(st));
	return st;
}

static void
count_user(void *arg, const struct pv_user *u)
{
	(void)u;
	(*(size_t *)arg)++;
}

static void
count_dek(void *arg, const char *key_id, uint32_t v, const unsigned char *w)
{
	(void)key_id;
	(void)v;
	(void)w;
	(*(size_t *)arg)++;
}

pv_status
pv_vault_store_init_pg(const char *dir, const struct pv_config_pg *pg,
    char *err, size_t errsz)
{
	struct pv_store *s = NULL;
	struct pv_vault_pg p;
	size_t users = 0, deks = 0;
	int from = 0, to = 0;
	pv_status st;

	if ((st = pv_vault_store_migrate_pg(dir, pg, &from, &to, err, errsz)) !=
	    PV_OK)
		return st;
	if ((st = pv_vault_pg_load(dir, pg, &p, err, errsz)) != PV_OK)
		return st;
	st = pv_store_open_pg(&p.o, &s);
	pv_vault_pg_release(&p);
	if (st != PV_OK) {
		ERR("cannot open the PostgreSQL databases (%s)",
		    pv_status_name(st));
		return st;
	}
	if ((st = pv_store_user_list(s, count_user, &users)) == PV_OK)
		st = pv_store_dek_list_old(s, UINT32_MAX, 1, count_dek, &deks);
	pv_store_close(s);
	if (st != PV_OK) {
		ERR("cannot read the PostgreSQL databases (%s)",
		    pv_status_name(st));
		return st;
	}
	if (users > 0 || deks > 0) {
		ERR("the databases already hold a vault (accounts or keys); "
		    "another node of it is made with 'phivault node add'");
		return PV_EEXISTS;
	}
	return PV_OK;
}

void
pv_vault_password_free(char *pw)
{
	pv_secret_free(pw, PW_BUF);
}
