/*
 * vault.c — creating and opening a vault directory.
 *
 * Guarantees: create never overwrites (every file is O_EXCL, the directory
 * must be new or empty); open refuses a vault whose directories are
 * reachable by group or others, whose key files are not 0600, or whose
 * configuration has an unknown key — it fails closed at start-up rather
 * than run with keys an attacker on the host could have read.
 */
#include "core/vault_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void pv_dek_cache_free(struct pv_vault *v);
pv_status pv_dek_cache_init(struct pv_vault *v);

#define ERR(...) PV_IGNORE(pv_snprintf(err, errsz, __VA_ARGS__))

pv_status
pv_vault_path(const struct pv_vault *v, const char *rel, char *out,
    size_t outsz)
{
	return pv_snprintf(out, outsz, "%s/%s", v->dir, rel);
}

static pv_status
join(const char *dir, const char *rel, char *out, size_t outsz)
{
	return pv_snprintf(out, outsz, "%s/%s", dir, rel);
}

static bool
is_empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

pv_status
pv_vault_make_dir(const char *dir, const char *rel)
{
	char path[PV_PATH_MAX];
	pv_status st;

	if ((st = join(dir, rel, path, sizeof(path))) != PV_OK)
		return st;
	if (mkdir(path, 0700) != 0)
		return PV_EIO;
	return chmod(path, 0700) == 0 ? PV_OK : PV_EIO;
}

static pv_status
create_keys(const char *dir)
{
	unsigned char *sk = NULL, *ik = NULL;
	unsigned char pk[PV_SIGN_PK_BYTES];
	char keydir[PV_PATH_MAX], path[PV_PATH_MAX];
	pv_status st = PV_ENOMEM;

	if ((st = join(dir, "keys", keydir, sizeof(keydir))) != PV_OK ||
	    (st = pv_keyring_create(keydir)) != PV_OK)
		return st;
	sk = pv_secret_alloc(PV_SIGN_SK_BYTES);
	ik = pv_secret_alloc(PV_KEY_BYTES);
	if (sk == NULL || ik == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	crypto_sign_keypair(pk, sk);
	randombytes_buf(ik, PV_KEY_BYTES);
	if ((st = join(keydir, "audit-signing.key", path, sizeof(path))) !=
		PV_OK ||
	    (st = pv_keyfile_create(path, sk, PV_SIGN_SK_BYTES)) != PV_OK)
		goto done;
	if ((st = join(keydir, "audit-signing.pub", path, sizeof(path))) !=
		PV_OK ||
	    (st = pv_keyfile_create(path, pk, sizeof(pk))) != PV_OK)
		goto done;
	if ((st = join(keydir, "index.key", path, sizeof(path))) != PV_OK)
		goto done;
	st = pv_keyfile_create(path, ik, PV_KEY_BYTES);
done:
	pv_secret_free(sk, PV_SIGN_SK_BYTES);
	pv_secret_free(ik, PV_KEY_BYTES);
	return st;
}

pv_status
pv_vault_claim_dir(const char *dir, char *err, size_t errsz)
{
	struct stat sb;

	/* lstat: a symbolic link is refused, not followed (the keys would
	 * land wherever it points, and its target made 0700). */
	char bare[PV_PATH_MAX];
	size_t n;

	/* Without trailing slashes: lstat("link/") follows the link. */
	if (pv_strlcpy(bare, dir, sizeof(bare)) != PV_OK) {
		ERR("the vault path is too long");
		return PV_EINVAL;
	}
	for (n = strlen(bare); n > 1 && bare[n - 1] == '/'; n--)
		bare[n - 1] = '\0';
	if (lstat(bare, &sb) == 0) {
		if (S_ISLNK(sb.st_mode)) {
			ERR("refusing %s: it is a symbolic link; give the "
			    "real path",
			    "the vault path");
			return PV_EEXISTS;
		}
		if (!S_ISDIR(sb.st_mode) || !is_empty_dir(bare)) {
			ERR("refusing to overwrite: %s exists and is not an "
			    "empty directory",
			    "the vault path");
			return PV_EEXISTS;
		}
		if (chmod(bare, 0700) != 0) {
			ERR("cannot set the vault directory mode");
			return PV_EIO;
		}
	} else if (mkdir(bare, 0700) != 0) {
		ERR("cannot create the vault directory");
		return PV_EIO;
	}
	return PV_OK;
}

/* Layout, phivault.conf (pg: its [store]), keys and certificate. */
static pv_status
create_files(const char *dir, const struct pv_config_pg *pg, char *err,
    size_t errsz)
{
	static const char *const subdirs[] = { "keys", "tls", "audit" };
	char path[PV_PATH_MAX], key[PV_PATH_MAX];
	pv_status st;
	size_t i;
	int fd;

	for (i = 0; i < PV_ARRAY_LEN(subdirs); i++)
		if ((st = pv_vault_make_dir(dir, subdirs[i])) != PV_OK) {
			ERR("cannot create %s/", subdirs[i]);
			return st;
		}
	if ((st = join(dir, "phivault.conf", path, sizeof(path))) != PV_OK)
		return st;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || pv_config_write_default(fd, pg) != PV_OK ||
	    fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		ERR("cannot write phivault.conf");
		return PV_EIO;
	}
	close(fd);
	if ((st = create_keys(dir)) != PV_OK) {
		ERR("cannot create keys");
		return st;
	}
	if ((st = join(dir, "tls/cert.pem", path, sizeof(path))) != PV_OK ||
	    (st = join(dir, "tls/key.pem", key, sizeof(key))) != PV_OK ||
	    (st = pv_tlscert_generate(path, key)) != PV_OK) {
		ERR("cannot create the development certificate");
		return st;
	}
	return PV_OK;
}

/* The written phivault.conf must read back as the vault it describes. */
static pv_status
check_conf(const char *dir, const struct pv_config_pg *pg, char *err,
    size_t errsz)
{
	struct pv_config cfg;
	char path[PV_PATH_MAX], cerr[256];
	pv_status st;

	pv_config_defaults(&cfg);
	if ((st = join(dir, "phivault.conf", path, sizeof(path))) != PV_OK ||
	    (st = pv_config_load(&cfg, path, cerr, sizeof(cerr))) != PV_OK) {
		ERR("phivault.conf: %s", cerr);
		return PV_EINVAL;
	}
	if (pg != NULL &&
	    (!cfg.is_store_pg || strcmp(cfg.store_dsn, pg->dsn) != 0 ||
		strcmp(cfg.store_keys_dsn, pg->keys_dsn) != 0)) {
		ERR("phivault.conf: [store] does not read back as written");
		return PV_EINTERNAL;
	}
	return PV_OK;
}

pv_status
pv_vault_create(const char *dir, char *err, size_t errsz)
{
	struct pv_config cfg;
	struct pv_store *store = NULL;
	char real[PV_PATH_MAX], *pw = NULL;
	pv_status st;

	if ((st = pv_vault_claim_dir(dir, err, errsz)) != PV_OK ||
	    (st = create_files(dir, NULL, err, errsz)) != PV_OK ||
	    (st = check_conf(dir, NULL, err, errsz)) != PV_OK)
		return st;
	pv_config_defaults(&cfg);
	if ((st = pv_strlcpy(real, dir, sizeof(real))) != PV_OK ||
	    (st = pv_vault_store_open(real, &cfg, &store, &pw, err, errsz)) !=
		PV_OK) {
		ERR("cannot create the databases");
		return st;
	}
	pv_vault_password_free(pw);
	pv_store_close(store);
	return PV_OK;
}

/*
 * A PostgreSQL vault's first node: its signing key becomes the trail's
 * root signer, pinned in keys/audit-root.pub (copied to every node by
 * `node add`) and registered, self-endorsed, in audit_nodes.
 */
static pv_status load_secret(const char *dir, const char *rel,
    unsigned char **out, size_t n);

static pv_status
pin_audit_root(const char *dir, char *err, size_t errsz)
{
	struct pv_vault *v = NULL;
	unsigned char *pk = NULL;
	char path[PV_PATH_MAX];
	pv_status st;

	if ((st = load_secret(dir, "keys/audit-signing.pub", &pk,
		 PV_SIGN_PK_BYTES)) == PV_OK &&
	    (st = join(dir, "keys/audit-root.pub", path, sizeof(path))) ==
		PV_OK)
		st = pv_keyfile_create(path, pk, PV_SIGN_PK_BYTES);
	pv_secret_free(pk, PV_SIGN_PK_BYTES);
	if (st == PV_OK && (st = pv_vault_open(dir, &v, err, errsz)) != PV_OK)
		return st;
	if (st == PV_OK)
		st = pv_audit_node_register(&v->audit_loc, v->sign_sk,
		    v->sign_pk, v->sign_pk);
	if (st != PV_OK)
		ERR("cannot register the audit signing key (%s)",
		    pv_status_name(st));
	pv_vault_close(v);
	return st;
}

pv_status
pv_vault_create_pg(const char *dir, const struct pv_config_pg *pg, char *err,
    size_t errsz)
{
	struct stat sb;
	pv_status st;

	if ((st = pv_config_check_pg(pg, err, errsz)) != PV_OK)
		return st;
	/* The databases first: a wrong DSN or password, or databases that
	 * belong to another vault, leave nothing behind on disk. */
	if (stat(dir, &sb) == 0 &&
	    (!S_ISDIR(sb.st_mode) || !is_empty_dir(dir))) {
		ERR("refusing to overwrite: %s exists and is not an empty "
		    "directory",
		    "the vault path");
		return PV_EEXISTS;
	}
	if (pg->password_file != NULL && pg->password_file[0] != '\0' &&
	    pg->password_file[0] != '/') {
		ERR("--password-file must be an absolute path");
		return PV_EINVAL;
	}
	if ((st = pv_vault_store_init_pg(dir, pg, err, errsz)) != PV_OK)
		return st;
	if ((st = pv_vault_claim_dir(dir, err, errsz)) != PV_OK ||
	    (st = create_files(dir, pg, err, errsz)) != PV_OK ||
	    (st = check_conf(dir, pg, err, errsz)) != PV_OK)
		return st;
	return pin_audit_root(dir, err, errsz);
}

/* A directory that group or others can enter exposes keys: refuse. */
static pv_status
check_private_dir(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return PV_ENOTFOUND;
	if ((sb.st_mode & 077) != 0 || sb.st_uid != geteuid())
		return PV_EDENIED;
	return PV_OK;
}

static pv_status
load_secret(const char *dir, const char *rel, unsigned char **out, size_t n)
{
	char path[PV_PATH_MAX];
	pv_status st;

	*out = pv_secret_alloc(n);
	if (*out == NULL)
		return PV_ENOMEM;
	if ((st = join(dir, rel, path, sizeof(path))) != PV_OK)
		return st;
	return pv_keyfile_read(path, *out, n);
}

/*
 * v->audit_loc and v->audit_root_pk: on PostgreSQL the trail is in the
 * records database and its root signer is keys/audit-root.pub (written by
 * `init --store`, copied by `node add`); on files the vault's own key.
 */
static pv_status
audit_where(struct pv_vault *v, char *err, size_t errsz)
{
	unsigned char *root = NULL;
	pv_status st;

	v->audit_loc.vault_dir = v->dir;
	v->audit_loc.dsn = v->cfg.is_store_pg ? v->cfg.store_dsn : NULL;
	v->audit_loc.password = v->db_password;
	memcpy(v->audit_root_pk, v->sign_pk, PV_SIGN_PK_BYTES);
	if (!v->cfg.is_store_pg)
		return PV_OK;
	st =
	    load_secret(v->dir, "keys/audit-root.pub", &root, PV_SIGN_PK_BYTES);
	if (st == PV_OK)
		memcpy(v->audit_root_pk, root, PV_SIGN_PK_BYTES);
	else
		ERR("cannot load keys/audit-root.pub (mode 0600): the audit "
		    "trail's root signer");
	pv_secret_free(root, PV_SIGN_PK_BYTES);
	return st;
}

/* v->dir (real path, private) and v->cfg (loaded and checked). */
static pv_status
open_conf(const char *dir, struct pv_vault *v, char *err, size_t errsz)
{
	char path[PV_PATH_MAX], cerr[256];
	char *real = realpath(dir, NULL);
	pv_status st;

	if (real == NULL || pv_strlcpy(v->dir, real, sizeof(v->dir)) != PV_OK) {
		free(real);
		ERR("no vault at that path");
		return PV_ENOTFOUND;
	}
	free(real);
	if ((st = check_private_dir(v->dir)) != PV_OK ||
	    (st = join(v->dir, "keys", path, sizeof(path))) != PV_OK ||
	    (st = check_private_dir(path)) != PV_OK) {
		ERR("vault directories must exist, be owned by this user and "
		    "have mode 0700");
		return st;
	}
	pv_config_defaults(&v->cfg);
	if ((st = join(v->dir, "phivault.conf", path, sizeof(path))) != PV_OK ||
	    (st = pv_config_load(&v->cfg, path, cerr, sizeof(cerr))) != PV_OK) {
		ERR("phivault.conf: %s", cerr);
		return st;
	}
	return PV_OK;
}

/*
 * The directory lock (vault.h): shared for every open vault, taken
 * without waiting, so an open during a move fails at once instead of
 * waiting for a vault that will have changed under it.
 */
static pv_status
lock_dir(struct pv_vault *v, char *err, size_t errsz)
{
	v->dir_fd = open(v->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dir_fd < 0) {
		ERR("cannot open the vault directory");
		return PV_EIO;
	}
	v->has_dir_fd = true;
	if (flock(v->dir_fd, LOCK_SH | LOCK_NB) == 0)
		return PV_OK;
	if (errno == EWOULDBLOCK) {
		ERR("the vault is being moved to PostgreSQL (phivault db "
		    "migrate-from-sqlite); try again when that has finished");
		return PV_EBUSY;
	}
	ERR("cannot lock the vault directory");
	return PV_EIO;
}

pv_status
pv_vault_lock_exclusive(struct pv_vault *v, char *err, size_t errsz)
{
	if (!v->has_dir_fd)
		return PV_EINTERNAL;
	/* A conversion may drop the shared lock first; on failure the
	 * caller gives up on the vault anyway. */
	if (flock(v->dir_fd, LOCK_EX | LOCK_NB) == 0) {
		v->is_exclusive = true;
		return PV_OK;
	}
	if (errno == EWOULDBLOCK) {
		ERR("the vault is in use (a running 'phivault serve' or "
		    "another command has it open): stop it first");
		return PV_EBUSY;
	}
	ERR("cannot lock the vault directory");
	return PV_EIO;
}

pv_status
pv_vault_open(const char *dir, struct pv_vault **out, char *err, size_t errsz)
{
	struct pv_vault *v;
	char path[PV_PATH_MAX];
	unsigned char *pk = NULL, fp[PV_HASH_BYTES];
	pv_status st;

	*out = NULL;
	if ((st = pv_crypto_init()) != PV_OK) {
		ERR("libsodium failed to initialise");
		return st;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return PV_ENOMEM;
	if ((st = open_conf(dir, v, err, errsz)) != PV_OK ||
	    (st = lock_dir(v, err, errsz)) != PV_OK)
		goto fail;
	if ((st = join(v->dir, "keys", path, sizeof(path))) != PV_OK ||
	    (st = pv_keyring_open(path, &v->keyring)) != PV_OK) {
		ERR("cannot load the master key (keys/master-N.key, mode "
		    "0600)");
		goto fail;
	}
	if ((st = load_secret(v->dir, "keys/index.key", &v->index_key,
		 PV_KEY_BYTES)) != PV_OK ||
	    (st = load_secret(v->dir, "keys/audit-signing.key", &v->sign_sk,
		 PV_SIGN_SK_BYTES)) != PV_OK ||
	    (st = load_secret(v->dir, "keys/audit-signing.pub", &pk,
		 PV_SIGN_PK_BYTES)) != PV_OK) {
		ERR("cannot load keys (files under keys/ must be mode 0600)");
		pv_secret_free(pk, PV_SIGN_PK_BYTES);
		goto fail;
	}
	memcpy(v->sign_pk, pk, PV_SIGN_PK_BYTES);
	pv_secret_free(pk, PV_SIGN_PK_BYTES);
	pv_sha256(fp, v->sign_pk, PV_SIGN_PK_BYTES);
	sodium_bin2hex(v->sign_key_id, sizeof(v->sign_key_id), fp,
	    PV_SIGN_KEY_ID_LEN / 2);
	if ((st = pv_vault_store_open(v->dir, &v->cfg, &v->store,
		 &v->db_password, err, errsz)) != PV_OK)
		goto fail;
	if ((st = audit_where(v, err, errsz)) != PV_OK ||
	    (st = pv_dek_cache_init(v)) != PV_OK)
		goto fail;
	*out = v;
	return PV_OK;
fail:
	pv_vault_close(v);
	return st;
}

pv_status
pv_vault_migrate(const char *dir, struct pv_vault_migration *m, char *err,
    size_t errsz)
{
	struct pv_vault *v;
	struct pv_config_pg pg;
	pv_status st;

	memset(m, 0, sizeof(*m));
	if ((st = pv_crypto_init()) != PV_OK) {
		ERR("libsodium failed to initialise");
		return st;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return PV_ENOMEM;
	if ((st = open_conf(dir, v, err, errsz)) != PV_OK)
		goto done;
	if (!v->cfg.is_store_pg) {
		struct pv_vault *opened = NULL;

		/* SQLite migrates whenever the vault is opened. */
		st = pv_vault_open(dir, &opened, err, errsz);
		pv_vault_close(opened);
		goto done;
	}
	m->is_pg = true;
	pg.dsn = v->cfg.store_dsn;
	pg.keys_dsn = v->cfg.store_keys_dsn;
	pg.password_file = v->cfg.store_password_file;
	st = pv_vault_store_migrate_pg(v->dir, &pg, &m->from, &m->to, err,
	    errsz);
done:
	pv_vault_close(v);
	return st;
}

void
pv_vault_close(struct pv_vault *v)
{
	if (v == NULL)
		return;
	pv_dek_cache_free(v);
	if (v->store != NULL)
		pv_store_close(v->store);
	pv_keyring_close(v->keyring);
	pv_vault_password_free(v->db_password);
	pv_secret_free(v->index_key, PV_KEY_BYTES);
	pv_secret_free(v->sign_sk, PV_SIGN_SK_BYTES);
	if (v->has_dir_fd)
		close(v->dir_fd); /* releases the lock */
	free(v);
}

void
pv_vault_subkey(const struct pv_vault *v, const char *purpose, uint64_t id,
    unsigned char out[PV_KEY_BYTES])
{
	char ctx[crypto_kdf_CONTEXTBYTES] = { 0 };
	size_t n = strlen(purpose);

	memcpy(ctx, purpose, n < sizeof(ctx) ? n : sizeof(ctx));
	crypto_kdf_derive_from_key(out, PV_KEY_BYTES, id, ctx, v->index_key);
}
