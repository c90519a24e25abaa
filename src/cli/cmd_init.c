/*
 * cmd_init.c — `phivault init DIR [--admin NAME] [--store DSN
 * [--keys-store DSN] [--password-file FILE]]`.
 *
 * Creates a vault and its first administrator. The password comes from
 * stdin; when stdin is a terminal a strong one is generated and printed
 * exactly once. It is checked against the policy before anything is
 * written, so a rejected password leaves no half-made vault behind.
 *
 * --store puts the vault on PostgreSQL. The keys live in another
 * database (possibly on another cluster: that is what makes an erasure
 * outlive a records backup): --keys-store names it; without it (SPEC.md
 * makes it optional) it is the records database's name + "_keys" on the
 * same server, which must exist, and the command prints which it used so
 * the choice is never hidden. The database password comes from
 * --password-file (recorded in [store] password_file) or libpq's
 * PGPASSFILE; never from the command line.
 */
#include "cli/cli.h"
#include "auth/auth.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault init DIR [--admin NAME]\n"
    "       phivault init DIR --store DSN [--keys-store DSN] "
    "[--password-file FILE]\n"
    "                 [--admin NAME]\n"
    "\n"
    "Creates a new vault in DIR (mode 0700): phivault.conf, the record\n"
    "database, keys/ (master key, audit-signing key), and a self-signed\n"
    "development certificate in tls/. Refuses to overwrite anything.\n"
    "\n"
    "  --admin NAME          name of the first admin account (default: "
    "admin)\n"
    "  --store DSN           records on PostgreSQL (libpq connection "
    "string,\n"
    "                        e.g. postgresql://phivault@db/records); "
    "creates the\n"
    "                        schemas when the databases are empty\n"
    "  --keys-store DSN      the keys database (another database, may "
    "be another\n"
    "                        cluster; default: the records database's "
    "name + _keys)\n"
    "  --password-file FILE  the database password (mode 0600); default: "
    "libpq's\n"
    "                        PGPASSFILE. A DSN must not carry a "
    "password.\n"
    "\n"
    "The admin password is read from stdin; when stdin is a terminal a\n"
    "random one is generated and printed once. The admin must enrol TOTP\n"
    "at first login (POST /auth/mfa/enroll).\n";

static void
generate_password(char *out, size_t outsz)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz"
				       "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	size_t i, n = 24;

	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	out[n] = '\0';
}

/* Checks the PostgreSQL flags into pg before anything is made. */
static int
store_flags(const char *const *vals, struct pv_config_pg *pg, char *pwpath,
    size_t pwsz, char keys_dsn[PV_CONF_STR_MAX])
{
	char err[256];

	memset(pg, 0, sizeof(*pg));
	if (vals[1] == NULL) {
		if (vals[2] != NULL || vals[3] != NULL) {
			fprintf(stderr,
			    "phivault: --keys-store and "
			    "--password-file need --store\n");
			return PV_EXIT_USAGE;
		}
		return PV_EXIT_OK;
	}
	pg->dsn = vals[1];
	pg->keys_dsn = vals[2];
	if (vals[2] == NULL) { /* SPEC.md: optional; <dbname>_keys */
		if (pv_store_pg_default_keys_dsn(vals[1], keys_dsn,
			PV_CONF_STR_MAX) != PV_OK) {
			fprintf(stderr,
			    "phivault: --store does not parse; name the keys "
			    "database with --keys-store\n");
			return PV_EXIT_USAGE;
		}
		pg->keys_dsn = keys_dsn;
		printf("keys database: %s\n", keys_dsn);
	}
	if (vals[3] != NULL) {
		if (!pv_cli_abs_path("--password-file", vals[3], pwpath, pwsz))
			return PV_EXIT_USAGE;
		pg->password_file = pwpath;
	}
	if (pv_config_check_pg(pg, err, sizeof(err)) != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		return PV_EXIT_USAGE;
	}
	return PV_EXIT_OK;
}

int
cmd_init(int argc, char **argv)
{
	static const char *const names[] = { "admin", "store", "keys-store",
		"password-file" };
	const char *vals[4], *pos[1];
	struct pv_config_pg pg;
	char pwpath[PV_PATH_MAX], keys_dsn[PV_CONF_STR_MAX];
	size_t npos;
	struct pv_vault *v = NULL;
	char *pw = NULL, err[256];
	bool is_generated = false;
	pv_pw_verdict verdict;
	int rc = PV_EXIT_FAIL;
	const char *admin;
	pv_status st;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, names, vals, PV_ARRAY_LEN(names), NULL,
		NULL, 0, pos, 1, &npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if ((rc = store_flags(vals, &pg, pwpath, sizeof(pwpath), keys_dsn)) !=
	    PV_EXIT_OK)
		return rc;
	rc = PV_EXIT_FAIL;
	admin = vals[0] != NULL ? vals[0] : "admin";
	if (!pv_username_is_valid(admin)) {
		fprintf(stderr, "phivault: invalid admin name\n");
		return PV_EXIT_USAGE;
	}
	if (pv_crypto_init() != PV_OK)
		return PV_EXIT_FAIL;
	pw = sodium_malloc(PV_PASSWORD_BUF);
	if (pw == NULL)
		return PV_EXIT_FAIL;
	if (isatty(STDIN_FILENO)) {
		generate_password(pw, PV_PASSWORD_BUF);
		is_generated = true;
	} else if (pv_cli_read_line(pw, PV_PASSWORD_BUF) != PV_OK) {
		fprintf(stderr,
		    "phivault: expected the admin password on stdin\n");
		goto done;
	}
	verdict = pv_password_check(pw, admin);
	if (verdict != PV_PW_OK) {
		fprintf(stderr, "phivault: %s\n",
		    pv_password_verdict_text(verdict));
		goto done;
	}
	st = pg.dsn != NULL ? pv_vault_create_pg(pos[0], &pg, err, sizeof(err))
			    : pv_vault_create(pos[0], err, sizeof(err));
	if (st != PV_OK) {
		fprintf(stderr, "phivault: %s\n", err);
		goto done;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		goto done;
	if ((st = pv_account_create(v, admin, "admin", NULL, pw, &verdict,
		 NULL)) != PV_OK) {
		fprintf(stderr,
		    "phivault: cannot create the admin account (%s)\n",
		    pv_status_name(st));
		goto done;
	}
	if (is_generated)
		printf("admin password for '%s' (shown once): %s\n", admin, pw);
	printf("vault created: %s\n", v->dir);
	rc = PV_EXIT_OK;
done:
	pv_vault_close(v);
	sodium_memzero(pw, PV_PASSWORD_BUF);
	sodium_free(pw);
	return rc;
}
