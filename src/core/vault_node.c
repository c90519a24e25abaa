/*
 * vault_node.c — `node add`: another node of a PostgreSQL vault.
 *
 * A node is a directory like the first one: the same phivault.conf (the
 * same databases and password file) and policy file, the same master
 * keys and index key (copied), the same pinned audit root
 * (keys/audit-root.pub), and its own TLS certificate and audit-signing key,
 * generated here and never copied. The new key is registered in audit_nodes,
 * endorsed by the source node's key, before this returns: a node whose key the
 * trail does not accept refuses to start (audit/log.c), so a half-made node
 * cannot serve.
 *
 * Guarantees: the new directory must be new or empty and is made 0700;
 * every file is written O_EXCL, mode 0600, and fsynced; the source must
 * be a PostgreSQL vault (an SQLite vault is one node by construction).
 * The keys copied are every regular file of the source's keys/ except
 * its own signing key pair; anything else there (a link, a directory) is
 * refused rather than followed.
 */
#include "core/vault_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...) PV_IGNORE(pv_snprintf(err, errsz, __VA_ARGS__))
#define NODE_FILE_MAX (64 * 1024) /* a key file or phivault.conf */

/* Reads a whole small file into secret memory; *n its length. */
static pv_status
read_small(const char *path, unsigned char **out, size_t *n)
{
	struct stat sb;
	ssize_t r;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return PV_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
	    sb.st_size > NODE_FILE_MAX ||
	    (*out = pv_secret_alloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return PV_EIO;
	}
	*n = (size_t)sb.st_size;
	while (got < *n && (r = read(fd, *out + got, *n - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != *n) {
		pv_secret_free(*out, *n + 1);
		*out = NULL;
		return PV_EIO;
	}
	return PV_OK;
}

/* from/rel copied to to/rel: exclusive, 0600, fsynced. */
static pv_status
copy_file(const char *from, const char *to, const char *rel)
{
	char src[PV_PATH_MAX], dst[PV_PATH_MAX];
	unsigned char *buf = NULL;
	size_t n = 0;
	pv_status st;

	if ((st = pv_snprintf(src, sizeof(src), "%s/%s", from, rel)) != PV_OK ||
	    (st = pv_snprintf(dst, sizeof(dst), "%s/%s", to, rel)) != PV_OK ||
	    (st = read_small(src, &buf, &n)) != PV_OK)
		return st;
	st = pv_keyfile_create(dst, buf, n);
	pv_secret_free(buf, n + 1);
	return st;
}

/* Not copied: the node's own key pair, and an SQLite key store left by
 * an interrupted move (wrapped keys an erasure on PostgreSQL would not
 * shred: never spread them). */
static bool
is_own_key(const char *name)
{
	return strcmp(name, "audit-signing.key") == 0 ||
	    strcmp(name, "audit-signing.pub") == 0;
}

static bool
is_sqlite_store(const char *name)
{
	return strncmp(name, "keys.db", 7) == 0;
}

/* Every shared key file of from/keys into to/keys. */
static pv_status
copy_keys(const char *from, const char *to, char *err, size_t errsz)
{
	char dir[PV_PATH_MAX], rel[PV_PATH_MAX];
	struct dirent *de;
	struct stat sb;
	pv_status st = PV_OK;
	DIR *d;

	if (pv_snprintf(dir, sizeof(dir), "%s/keys", from) != PV_OK ||
	    (d = opendir(dir)) == NULL) {
		ERR("cannot read the source vault's keys/");
		return PV_EIO;
	}
	while (st == PV_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || is_own_key(de->d_name))
			continue;
		if (is_sqlite_store(de->d_name)) {
			ERR("keys/ of the source still holds an SQLite key "
			    "store: finish the move first (phivault db "
			    "migrate-from-sqlite)");
			st = PV_EINVAL;
			break;
		}
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) !=
			0 ||
		    !S_ISREG(sb.st_mode)) {
			ERR("keys/ of the source holds something that is not "
			    "a regular file: refusing to copy it");
			st = PV_EINVAL;
		} else if ((st = pv_snprintf(rel, sizeof(rel), "keys/%s",
				de->d_name)) != PV_OK ||
		    (st = copy_file(from, to, rel)) != PV_OK)
			ERR("cannot copy a key file");
	}
	closedir(d);
	return st;
}

/* The node's own signing key pair; *pk its public half. */
static pv_status
own_signing_key(const char *to, unsigned char pk[PV_SIGN_PK_BYTES])
{
	unsigned char *sk = pv_secret_alloc(PV_SIGN_SK_BYTES);
	char path[PV_PATH_MAX];
	pv_status st;

	if (sk == NULL)
		return PV_ENOMEM;
	crypto_sign_keypair(pk, sk);
	if ((st = pv_snprintf(path, sizeof(path), "%s/keys/audit-signing.key",
		 to)) == PV_OK &&
	    (st = pv_keyfile_create(path, sk, PV_SIGN_SK_BYTES)) == PV_OK &&
	    (st = pv_snprintf(path, sizeof(path), "%s/keys/audit-signing.pub",
		 to)) == PV_OK)
		st = pv_keyfile_create(path, pk, PV_SIGN_PK_BYTES);
	pv_secret_free(sk, PV_SIGN_SK_BYTES);
	return st;
}

static pv_status
own_certificate(const char *to)
{
	char cert[PV_PATH_MAX], key[PV_PATH_MAX];
	pv_status st;

	if ((st = pv_snprintf(cert, sizeof(cert), "%s/tls/cert.pem", to)) !=
		PV_OK ||
	    (st = pv_snprintf(key, sizeof(key), "%s/tls/key.pem", to)) != PV_OK)
		return st;
	return pv_tlscert_generate(cert, key);
}

pv_status
pv_vault_node_add(struct pv_vault *from, const char *newdir,
    char key_id[PV_AUDIT_KEY_ID_LEN + 1], char *err, size_t errsz)
{
	static const char *const subdirs[] = { "keys", "tls", "audit" };
	unsigned char pk[PV_SIGN_PK_BYTES];
	const char *policy;
	pv_status st;
	size_t i;

	if (!from->cfg.is_store_pg) {
		ERR("node add needs a vault on PostgreSQL: an SQLite vault is "
		    "one node (see phivault db migrate-from-sqlite)");
		return PV_EINVAL;
	}
	/* A policy file inside the vault is the vault's policy: the node
	 * needs the same (a relative path is relative to the directory). */
	policy = from->cfg.policy_file;
	if (policy[0] != '\0' && policy[0] != '/' &&
	    (strchr(policy, '/') != NULL || policy[0] == '.')) {
		ERR("[authz] policy_file is a relative path with directories: "
		    "make it a file name in the vault directory or an "
		    "absolute path first");
		return PV_EINVAL;
	}
	if ((st = pv_vault_claim_dir(newdir, err, errsz)) != PV_OK)
		return st;
	for (i = 0; i < PV_ARRAY_LEN(subdirs); i++)
		if ((st = pv_vault_make_dir(newdir, subdirs[i])) != PV_OK) {
			ERR("cannot create %s/", subdirs[i]);
			return st;
		}
	if ((st = copy_file(from->dir, newdir, "phivault.conf")) != PV_OK) {
		ERR("cannot copy phivault.conf");
		return st;
	}
	if (policy[0] != '\0' && policy[0] != '/' &&
	    (st = copy_file(from->dir, newdir, policy)) != PV_OK) {
		ERR("cannot copy the policy file");
		return st;
	}
	if ((st = copy_keys(from->dir, newdir, err, errsz)) != PV_OK)
		return st;
	if ((st = own_signing_key(newdir, pk)) != PV_OK ||
	    (st = own_certificate(newdir)) != PV_OK) {
		ERR("cannot create the node's signing key or certificate");
		return st;
	}
	pv_audit_key_id(pk, key_id);
	st = pv_audit_node_register(&from->audit_loc, from->sign_sk,
	    from->sign_pk, pk);
	if (st != PV_OK)
		ERR("cannot register the node's audit-signing key (%s): "
		    "remove the new directory and retry",
		    pv_status_name(st));
	return st;
}
