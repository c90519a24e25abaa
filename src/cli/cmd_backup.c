/*
 * cmd_backup.c — `phivault backup keygen|verify|DIR` and `phivault
 * restore` (SQLite vaults; PostgreSQL backups are pgBackRest's job).
 *
 * Backups are sealed to a recovery public key (`backup keygen` makes the
 * pair; the secret "identity" file stays offline with the custodian), so
 * the host that stores them cannot read them. Records and keys are
 * separate files, meant for separate recipients and custody: restoring a
 * records backup over the current keys keeps erased patients erased
 * (their data keys are gone from the current key store). A restore is
 * recorded in the restored vault's audit trail.
 */
#include "cli/cli.h"
#include "audit/audit.h"
#include "audit/merkle.h"
#include "crypto/crypto.h"
#include "lifecycle/backup.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault backup keygen --out IDENTITY\n"
    "       phivault backup DIR --out FILE [--recipient PUBFILE] [--keys]\n"
    "       phivault backup verify FILE --identity IDENTITY "
    "[--checkpoint CP [--proof PROOF]]\n"
    "       phivault restore FILE --to DIR --identity IDENTITY\n"
    "                [--keys KEYSFILE [--keys-identity IDENTITY] | "
    "--keys-from VAULTDIR]\n"
    "\n"
    "keygen   a recovery key pair: the secret to IDENTITY (0600, keep it\n"
    "         offline), the public key printed (base64; save it to the\n"
    "         PUBFILE given to --recipient).\n"
    "backup   an online, consistent snapshot of a serving SQLite vault:\n"
    "         records database, audit trail, phivault.conf, tls/; with\n"
    "         --keys, keys/ instead (seal it to another recipient).\n"
    "verify   opens the backup and verifies its audit trail, held to the\n"
    "         published checkpoints in CP when given; a checkpoint\n"
    "         published after the backup needs PROOF, the answer of\n"
    "         GET /audit/proof/consistency?from=ENTRIES&to=SIZE saved\n"
    "         as it came (the backup's trail is a prefix of it).\n"
    "restore  into the new directory DIR; keys from a keys backup or from\n"
    "         the current vault (erased patients stay erased).\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return PV_EXIT_USAGE;
}

static int
keygen(int argc, char **argv)
{
	static const char *const names[] = { "out" };
	const char *out = NULL;
	char pk[64];
	size_t npos;
	pv_status st;

	if (!pv_cli_parse(argc, argv, names, &out, 1, NULL, NULL, 0, NULL, 0,
		&npos) ||
	    out == NULL)
		return usage();
	if ((st = pv_backup_keygen(out, pk, sizeof(pk))) != PV_OK) {
		fprintf(stderr, "phivault: cannot write the identity (%s)\n",
		    pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	printf("%s\n", pk);
	return PV_EXIT_OK;
}

/* Removes dir and the files one level below its subdirectories. */
static void
rm_tree(const char *dir, int depth)
{
	char p[PV_PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0 ||
			    pv_snprintf(p, sizeof(p), "%s/%s", dir,
				e->d_name) != PV_OK)
				continue;
			if (unlink(p) != 0 && depth > 0)
				rm_tree(p, depth - 1);
		}
		closedir(d);
	}
	rmdir(dir);
}

static pv_status
read_identity(const char *path, unsigned char **sk)
{
	pv_status st;

	if ((*sk = pv_secret_alloc(PV_BACKUP_SK_BYTES)) == NULL)
		return PV_ENOMEM;
	if ((st = pv_backup_read_key(path, *sk)) != PV_OK) {
		fprintf(stderr, "phivault: cannot read the identity file\n");
		pv_secret_free(*sk, PV_BACKUP_SK_BYTES);
		*sk = NULL;
	}
	return st;
}

static int
extract_failed(pv_status st)
{
	if (st == PV_EDENIED)
		fprintf(stderr,
		    "phivault: the backup does not open with this "
		    "identity, or it was changed or cut\n");
	else
		fprintf(stderr, "phivault: cannot read the backup (%s)\n",
		    pv_status_name(st));
	return PV_EXIT_FAIL;
}

/* The backup's tree (m entries, root) is a prefix of the published
 * checkpoint c: the proof file holds {"from":m,"to":size,"proof":[b64]}. */
static bool
prefix_proven(const char *proof_path, uint64_t m, const unsigned char *root,
    const struct pv_checkpoint *c)
{
	pv_mhash pf[PV_MERKLE_MAX_PROOF];
	json_t *j =
	    proof_path != NULL ? json_load_file(proof_path, 0, NULL) : NULL;
	json_t *arr = json_object_get(j, "proof"), *h;
	size_t i, n = 0, len;
	bool ok = j != NULL && json_is_array(arr) &&
	    json_integer_value(json_object_get(j, "from")) == (json_int_t)m &&
	    json_integer_value(json_object_get(j, "to")) ==
		(json_int_t)c->size &&
	    json_array_size(arr) <= PV_MERKLE_MAX_PROOF;

	json_array_foreach(arr, i, h)
	{
		if (!ok || !json_is_string(h) ||
		    pv_b64_decode(json_string_value(h), pf[n], sizeof(pf[n]),
			&len) != PV_OK ||
		    len != sizeof(pf[n]))
			ok = false;
		else
			n++;
	}
	json_decref(j);
	return ok &&
	    pv_merkle_verify_consistency((size_t)m, (size_t)c->size, root,
		c->root, pf, n) == PV_OK;
}

static int
verify_tree(const char *dir, const char *cp, const char *proof)
{
	struct pv_audit_loc loc = { .vault_dir = dir };
	struct pv_verify_report rep;
	unsigned char pk[PV_SIGN_PK_BYTES];
	char path[PV_PATH_MAX];
	pv_status st;

	if (pv_snprintf(path, sizeof(path), "%s/meta/audit.pub", dir) !=
		PV_OK ||
	    pv_backup_read_key(path, pk) != PV_OK) {
		fprintf(stderr, "phivault: the backup has no audit key\n");
		return PV_EXIT_FAIL;
	}
	st = pv_audit_verify(&loc, pk, cp != NULL ? PV_VERIFY_PREFIX : 0, cp,
	    &rep, NULL, NULL);
	if (st == PV_ENOTFOUND && cp != NULL) {
		fprintf(stderr, "phivault: cannot read the checkpoint file\n");
		return PV_EXIT_USAGE;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: cannot read the backup's trail\n");
		return PV_EXIT_FAIL;
	}
	if (!rep.is_ok) {
		printf("backup audit trail FAILED at entry %lld (%s): %s\n",
		    (long long)rep.bad_entry, rep.problem, rep.detail);
		return PV_EXIT_FAIL;
	}
	if (rep.has_past &&
	    !prefix_proven(proof, rep.entries, rep.root, &rep.past)) {
		printf("backup audit trail NOT PROVEN: the published "
		       "checkpoint covers %llu entries, the backup %llu; "
		       "%s\n",
		    (unsigned long long)rep.past.size,
		    (unsigned long long)rep.entries,
		    proof == NULL ? "give --proof (GET "
				    "/audit/proof/consistency?from=ENTRIES&"
				    "to=SIZE)"
				  : "the consistency proof does not hold");
		return PV_EXIT_FAIL;
	}
	printf("backup OK: %llu audit entries, %llu signed checkpoints%s\n",
	    (unsigned long long)rep.entries,
	    (unsigned long long)rep.checkpoints,
	    cp != NULL ? ", consistent with the published checkpoints" : "");
	return PV_EXIT_OK;
}

static int
verify(int argc, char **argv)
{
	static const char *const names[] = { "identity", "checkpoint",
		"proof" };
	const char *o[3] = { NULL, NULL, NULL }, *pos[1];
	char tmp[PV_PATH_MAX];
	const char *td = getenv("TMPDIR");
	enum pv_backup_kind kind;
	unsigned char *sk;
	size_t npos;
	pv_status st;
	int rc;

	if (!pv_cli_parse(argc, argv, names, o, 3, NULL, NULL, 0, pos, 1,
		&npos) ||
	    npos != 1 || o[0] == NULL || (o[2] != NULL && o[1] == NULL))
		return usage();
	if (read_identity(o[0], &sk) != PV_OK)
		return PV_EXIT_FAIL;
	if (pv_snprintf(tmp, sizeof(tmp), "%s/phivault-verify-XXXXXX",
		td != NULL && td[0] != '\0' ? td : "/tmp") != PV_OK ||
	    mkdtemp(tmp) == NULL) {
		pv_secret_free(sk, PV_BACKUP_SK_BYTES);
		fprintf(stderr, "phivault: cannot make a scratch directory\n");
		return PV_EXIT_FAIL;
	}
	st = pv_backup_extract(pos[0], sk, tmp, &kind);
	pv_secret_free(sk, PV_BACKUP_SK_BYTES);
	if (st != PV_OK)
		rc = extract_failed(st);
	else if (kind == PV_BACKUP_KEYS) {
		printf(
		    "keys backup OK (authenticated; it has no audit trail)\n");
		rc = PV_EXIT_OK;
	} else
		rc = verify_tree(tmp, o[1], o[2]);
	rm_tree(tmp, 1);
	return rc;
}

/* --recipient FILE, else [backup] recovery_public_key. */
static bool
recipient(const struct pv_vault *v, const char *file,
    unsigned char pk[PV_BACKUP_PK_BYTES])
{
	size_t n = 0;

	if (file != NULL && pv_backup_read_key(file, pk) == PV_OK)
		return true;
	if (file == NULL && v->cfg.backup_recipient[0] != '\0' &&
	    pv_b64_decode(v->cfg.backup_recipient, pk, PV_BACKUP_PK_BYTES,
		&n) == PV_OK &&
	    n == PV_BACKUP_PK_BYTES)
		return true;
	fprintf(stderr,
	    file != NULL ? "phivault: cannot read the recipient key\n"
			 : "phivault: no --recipient and no valid [backup] "
			   "recovery_public_key\n");
	return false;
}

static int
create(int argc, char **argv)
{
	static const char *const names[] = { "out", "recipient" };
	static const char *const flag_n[] = { "keys" };
	const char *o[2] = { NULL, NULL }, *pos[1];
	unsigned char pk[PV_BACKUP_PK_BYTES];
	bool keys = false;
	struct pv_cli_change *c;
	struct pv_vault *v;
	size_t npos;
	pv_status st;

	if (!pv_cli_parse(argc, argv, names, o, 2, flag_n, &keys, 1, pos, 1,
		&npos) ||
	    npos != 1 || o[0] == NULL || (keys && o[1] == NULL))
		return usage();
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (!recipient(v, o[1], pk)) {
		pv_vault_close(v);
		return PV_EXIT_USAGE;
	}
	if (v->cfg.is_store_pg) {
		fprintf(stderr,
		    "phivault: PostgreSQL vaults are backed up "
		    "with pgBackRest (docs/OPERATIONS.md)\n");
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	if ((c = pv_cli_begin(v, keys ? "backup.keys" : "backup.records", NULL,
		 NULL, NULL)) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = pv_backup_create(v, keys ? PV_BACKUP_KEYS : PV_BACKUP_RECORDS, pk,
	    o[0]);
	pv_cli_end(c, st);
	pv_vault_close(v);
	if (st != PV_OK) {
		fprintf(stderr, "phivault: backup failed (%s)\n",
		    pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	printf("%s backup written to %s\n", keys ? "keys" : "records", o[0]);
	return PV_EXIT_OK;
}

int
cmd_backup(int argc, char **argv)
{
	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? usage() : PV_EXIT_OK;
	if (pv_crypto_init() != PV_OK)
		return PV_EXIT_FAIL;
	if (strcmp(argv[1], "keygen") == 0)
		return keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return verify(argc - 1, argv + 1);
	return create(argc, argv);
}
