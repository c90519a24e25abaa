/*
 * cmd_init.c — `phivault init DIR [--admin NAME]`.
 *
 * Creates a vault and its first administrator. The password comes from
 * stdin; when stdin is a terminal a strong one is generated and printed
 * exactly once. It is checked against the policy before anything is
 * written, so a rejected password leaves no half-made vault behind.
 */
#include "cli/cli.h"
#include "auth/auth.h"

#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault init DIR [--admin NAME]\n"
    "\n"
    "Creates a new vault in DIR (mode 0700): phivault.conf, the record\n"
    "database, keys/ (master key, audit-signing key), and a self-signed\n"
    "development certificate in tls/. Refuses to overwrite anything.\n"
    "\n"
    "  --admin NAME   name of the first admin account (default: admin)\n"
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

int
cmd_init(int argc, char **argv)
{
	static const char *const names[] = { "admin" };
	const char *vals[1], *pos[1];
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
	if (!pv_cli_parse(argc, argv, names, vals, 1, NULL, NULL, 0, pos, 1,
		&npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
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
	if ((st = pv_vault_create(pos[0], err, sizeof(err))) != PV_OK) {
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
