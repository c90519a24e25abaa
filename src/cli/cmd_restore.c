/*
 * cmd_restore.c — `phivault restore FILE --to DIR --identity IDENTITY
 * [--keys KEYSFILE [--keys-identity IDENTITY] | --keys-from VAULTDIR]`.
 *
 * Restores a records backup (cmd_backup.c) into a new directory. The key
 * store comes from a keys backup (--keys) or, by default, from the
 * current vault (--keys-from, a consistent snapshot of its keys/): the
 * key store is never rolled back unless --keys is given, so a patient
 * erased after the backup was taken stays erased (tombstones win). The
 * restore is then recorded in the restored vault's audit trail
 * ("backup.restore"). On any failure the new directory is removed.
 */
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "lifecycle/backup.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault restore FILE --to DIR --identity IDENTITY\n"
    "           [--keys KEYSFILE [--keys-identity IDENTITY] | "
    "--keys-from VAULTDIR]\n"
    "\n"
    "Restores the records backup FILE into the new directory DIR. Keys\n"
    "come from the keys backup KEYSFILE, or from the current vault\n"
    "VAULTDIR (then patients erased since the backup stay erased).\n";

/* Removes dir and the files one level below its subdirectories. */
static void
rm_vault(const char *dir)
{
	static const char *const subs[] = { "keys", "tls", "audit", "meta",
		"" };
	char p[PV_PATH_MAX];

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		struct dirent *e;
		DIR *d;

		if (pv_snprintf(p, sizeof(p), "%s/%s", dir, subs[i]) != PV_OK ||
		    (d = opendir(p)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char f[PV_PATH_MAX];

			if (e->d_name[0] != '.' &&
			    pv_snprintf(f, sizeof(f), "%s/%s", p, e->d_name) ==
				PV_OK)
				unlink(f);
		}
		closedir(d);
		if (subs[i][0] != '\0')
			rmdir(p);
	}
	rmdir(dir);
}

/* A consistent copy of from's keys/ into dir/keys, through a keys
 * backup sealed to a throwaway key pair (one code path for snapshots). */
static pv_status
keys_from(const char *from, const char *dir)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], *sk;
	char tmp[PV_PATH_MAX];
	enum pv_backup_kind kind;
	struct pv_vault *v;
	pv_status st;

	if ((st = pv_snprintf(tmp, sizeof(tmp), "%s/.keys-transfer", dir)) !=
	    PV_OK)
		return st;
	if ((sk = pv_secret_alloc(crypto_box_SECRETKEYBYTES)) == NULL)
		return PV_ENOMEM;
	crypto_box_keypair(pk, sk);
	if ((st = pv_cli_open(from, &v)) == PV_OK) {
		st = pv_backup_create(v, PV_BACKUP_KEYS, pk, tmp);
		pv_vault_close(v);
	}
	if (st == PV_OK)
		st = pv_backup_extract(tmp, sk, dir, &kind);
	unlink(tmp);
	pv_secret_free(sk, crypto_box_SECRETKEYBYTES);
	return st;
}

static pv_status
extract(const char *file, const char *idpath, const char *dir,
    enum pv_backup_kind want)
{
	enum pv_backup_kind kind;
	unsigned char *sk;
	pv_status st;

	if ((sk = pv_secret_alloc(PV_BACKUP_SK_BYTES)) == NULL)
		return PV_ENOMEM;
	if ((st = pv_backup_read_key(idpath, sk)) != PV_OK)
		fprintf(stderr, "phivault: cannot read the identity file\n");
	else if ((st = pv_backup_extract(file, sk, dir, &kind)) != PV_OK)
		fprintf(stderr,
		    st == PV_EDENIED
			? "phivault: %s does not open with this identity, or "
			  "it was changed or cut\n"
			: "phivault: cannot restore %s\n",
		    file);
	else if (kind != want) {
		fprintf(stderr, "phivault: %s is not a %s backup\n", file,
		    want == PV_BACKUP_KEYS ? "keys" : "records");
		st = PV_EINVAL;
	}
	pv_secret_free(sk, PV_BACKUP_SK_BYTES);
	return st;
}

/* The restored vault records its own restore. */
static pv_status
record_restore(const char *dir)
{
	struct pv_cli_change *c;
	struct pv_vault *v;

	if (pv_cli_open(dir, &v) != PV_OK)
		return PV_EIO;
	c = pv_cli_begin(v, "backup.restore", NULL, NULL, NULL);
	if (c != NULL)
		pv_cli_end(c, PV_OK);
	pv_vault_close(v);
	return c != NULL ? PV_OK : PV_EIO;
}

static pv_status
restore(const char *const *o, const char *file)
{
	char path[PV_PATH_MAX];
	pv_status st;

	if ((st = extract(file, o[1], o[0], PV_BACKUP_RECORDS)) != PV_OK)
		return st;
	if (o[2] != NULL)
		st = extract(o[2], o[3] != NULL ? o[3] : o[1], o[0],
		    PV_BACKUP_KEYS);
	else if ((st = keys_from(o[4], o[0])) != PV_OK)
		fprintf(stderr, "phivault: cannot copy the current keys\n");
	if (st != PV_OK)
		return st;
	if ((st = pv_snprintf(path, sizeof(path), "%s/meta/audit.pub", o[0])) !=
	    PV_OK)
		return st;
	unlink(path);
	if ((st = pv_snprintf(path, sizeof(path), "%s/meta", o[0])) != PV_OK)
		return st;
	rmdir(path);
	if ((st = record_restore(o[0])) != PV_OK)
		fprintf(stderr, "phivault: the restored vault does not open\n");
	return st;
}

int
cmd_restore(int argc, char **argv)
{
	static const char *const names[] = { "to", "identity", "keys",
		"keys-identity", "keys-from" };
	const char *o[5], *pos[1];
	size_t npos;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (pv_crypto_init() != PV_OK)
		return PV_EXIT_FAIL;
	if (!pv_cli_parse(argc, argv, names, o, 5, NULL, NULL, 0, pos, 1,
		&npos) ||
	    npos != 1 || o[0] == NULL || o[1] == NULL ||
	    (o[2] == NULL) == (o[4] == NULL)) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (mkdir(o[0], 0700) != 0) {
		fprintf(stderr, "phivault: %s\n",
		    errno == EEXIST ? "the target directory already exists"
				    : "cannot create the target directory");
		return PV_EXIT_FAIL;
	}
	if (restore(o, pos[0]) != PV_OK) {
		rm_vault(o[0]);
		return PV_EXIT_FAIL;
	}
	printf("restored %s into %s\n", pos[0], o[0]);
	return PV_EXIT_OK;
}
