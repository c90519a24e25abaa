/*
 * cmd_user.c — `phivault user add|list|disable|role|unlock|mfa`.
 *
 * Works on the vault files directly, also while `serve` runs: the server
 * reads accounts and sessions from the store on every request, so a
 * disable or role change takes effect from its next request (sessions
 * are deleted in the same transaction). Passwords come from stdin only;
 * on a terminal they are prompted for on stderr, not echoed, and asked
 * twice (prompt.c).
 */
#include "cli/cli.h"
#include "auth/auth.h"

#include <qrencode.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: phivault user add DIR --name NAME --role ROLE [--patient PID]\n"
    "       phivault user list DIR\n"
    "       phivault user disable DIR --name NAME\n"
    "       phivault user role DIR --name NAME --role ROLE\n"
    "       phivault user unlock DIR --name NAME\n"
    "       phivault user mfa DIR --name NAME\n"
    "       phivault user grant|revoke DIR --name NAME --permission "
    "restricted\n"
    "\n"
    "add      creates an account; the password is read from stdin (one\n"
    "         line, 12-128 characters, not a common password, not\n"
    "         containing the name); on a terminal it is asked for twice\n"
    "         and not echoed. ROLE is one of patient, clinician,\n"
    "         nurse, admin, auditor, researcher. A patient account needs\n"
    "         --patient, the id of its Patient resource.\n"
    "list     prints every account (name, role, status, MFA, last login).\n"
    "disable  disables the account and ends all its sessions at once.\n"
    "role     changes the role; the account's sessions end at once.\n"
    "unlock   clears a login lockout.\n"
    "grant    gives a staff account an extra permission; 'restricted'\n"
    "         clears it for restricted data (mental health, HIV, ...).\n"
    "revoke   takes it away again.\n"
    "mfa      starts TOTP enrolment for the account and prints the secret,\n"
    "         the otpauth:// URI and a QR code; the user then confirms with\n"
    "         POST /auth/mfa/confirm.\n";

enum { O_NAME, O_ROLE, O_PATIENT, O_PERM, O_N };
static const char *const opt_names[O_N] = { "name", "role", "patient",
	"permission" };

static int
user_add(const char *dir, const char **o)
{
	struct pv_cli_change *c;
	struct pv_vault *v = NULL;
	char *pw = NULL;
	pv_pw_verdict verdict;
	int rc = PV_EXIT_FAIL;
	pv_status st;

	if (o[O_NAME] == NULL || o[O_ROLE] == NULL) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (!pv_role_is_known(o[O_ROLE]) || strcmp(o[O_ROLE], "service") == 0) {
		fprintf(stderr,
		    "phivault: unknown role (service clients are "
		    "added with 'phivault client add')\n");
		return PV_EXIT_USAGE;
	}
	if ((strcmp(o[O_ROLE], "patient") == 0) != (o[O_PATIENT] != NULL)) {
		fprintf(stderr,
		    "phivault: --patient is required for, and only "
		    "for, role patient\n");
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(dir, &v) != PV_OK)
		return PV_EXIT_FAIL;
	if ((pw = sodium_malloc(PV_PASSWORD_BUF)) == NULL)
		goto done;
	/* on a terminal: prompted on stderr, not echoed, asked twice */
	st = pv_cli_read_secret("Password for the new account: ",
	    "Repeat the password: ", pw, PV_PASSWORD_BUF);
	if (st == PV_ECONFLICT) {
		fprintf(stderr, "phivault: the passwords do not match\n");
		goto done;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: expected the password on stdin\n");
		goto done;
	}
	if ((c = pv_cli_begin(v, "user.add", "User", NULL, o[O_PATIENT])) ==
	    NULL)
		goto done;
	st = pv_account_create(v, o[O_NAME], o[O_ROLE], o[O_PATIENT], pw,
	    &verdict, NULL);
	pv_cli_end(c, st);
	if (st == PV_EINVAL && verdict != PV_PW_OK)
		fprintf(stderr, "phivault: %s\n",
		    pv_password_verdict_text(verdict));
	else if (st == PV_EEXISTS)
		fprintf(stderr, "phivault: an account with that name exists\n");
	else if (st == PV_EINVAL)
		fprintf(stderr, "phivault: invalid name or patient id\n");
	else if (st != PV_OK)
		fprintf(stderr, "phivault: cannot create the account (%s)\n",
		    pv_status_name(st));
	else {
		printf("user %s created (role %s)\n", o[O_NAME], o[O_ROLE]);
		rc = PV_EXIT_OK;
	}
done:
	if (pw != NULL) {
		sodium_memzero(pw, PV_PASSWORD_BUF);
		sodium_free(pw);
	}
	pv_vault_close(v);
	return rc;
}

static void
print_user(void *arg, const struct pv_user *u)
{
	char created[32], last[32];

	(void)arg;
	pv_iso8601(u->created_at, created);
	if (u->last_login_at > 0)
		pv_iso8601(u->last_login_at, last);
	else
		strcpy(last, "never");
	printf("%-24s %-11s %-8s %-5s %-20s %-20s %s\n", u->username, u->role,
	    u->is_active ? "active" : "disabled", u->has_mfa ? "yes" : "no",
	    created, last, u->patient_id[0] ? u->patient_id : "-");
}

static int
user_list(const char *dir)
{
	struct pv_vault *v;
	pv_status st;

	if (pv_cli_open(dir, &v) != PV_OK)
		return PV_EXIT_FAIL;
	printf("%-24s %-11s %-8s %-5s %-20s %-20s %s\n", "NAME", "ROLE",
	    "STATUS", "MFA", "CREATED", "LAST LOGIN", "PATIENT");
	st = pv_store_user_list(v->store, print_user, NULL);
	pv_vault_close(v);
	return st == PV_OK ? PV_EXIT_OK : PV_EXIT_FAIL;
}

static int
report(pv_status st, const char *done_msg)
{
	if (st == PV_ENOTFOUND) {
		fprintf(stderr, "phivault: no such account\n");
		return PV_EXIT_FAIL;
	}
	if (st == PV_EINVAL) {
		fprintf(stderr,
		    "phivault: not allowed (unknown role, or a "
		    "patient account changing role)\n");
		return PV_EXIT_USAGE;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: failed (%s)\n", pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	puts(done_msg);
	return PV_EXIT_OK;
}

static pv_status
unlock(struct pv_vault *v, const char *name)
{
	struct pv_user u;
	pv_status st;

	if ((st = pv_store_user_get_by_name(v->store, name, &u)) != PV_OK)
		return st;
	st = pv_store_user_unlock(v->store, u.id);
	sodium_memzero(&u, sizeof(u));
	return st;
}

/* Prints a QR code with Unicode half blocks (two modules per glyph). */
static void
print_qr(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int x, y, w, quiet = 2;

	if (qr == NULL)
		return;
	w = qr->width;
	for (y = -quiet; y < w + quiet; y += 2) {
		for (x = -quiet; x < w + quiet; x++) {
			bool top = y >= 0 && y < w && x >= 0 && x < w &&
			    (qr->data[y * w + x] & 1);
			bool bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
			    (qr->data[(y + 1) * w + x] & 1);
			/* Dark modules print as spaces on a light block. */
			fputs(top ? (bot ? " " : "\u2584")
				  : (bot ? "\u2580" : "\u2588"),
			    stdout);
		}
		fputc('\n', stdout);
	}
	QRcode_free(qr);
}

static int
user_mfa(struct pv_vault *v, const char *name)
{
	struct pv_user u;
	char secret[64], uri[256];
	pv_status st;

	if ((st = pv_store_user_get_by_name(v->store, name, &u)) != PV_OK)
		return report(st, "");
	if (u.has_mfa) {
		fprintf(stderr, "phivault: MFA is already enabled\n");
		return PV_EXIT_FAIL;
	}
	if ((st = pv_totp_enroll(v, &u, secret, sizeof(secret), uri,
		 sizeof(uri))) != PV_OK)
		return report(st, "");
	printf("secret: %s\nuri:    %s\n\n", secret, uri);
	if (isatty(STDOUT_FILENO))
		print_qr(uri);
	puts("\nScan the code, then confirm with POST /auth/mfa/confirm.");
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(uri, sizeof(uri));
	sodium_memzero(&u, sizeof(u));
	return PV_EXIT_OK;
}

int
cmd_user(int argc, char **argv)
{
	const char *o[O_N], *pos[2];
	struct pv_cli_change *c;
	char ref[24], action[32];
	struct pv_vault *v;
	size_t npos;
	const char *sub;
	pv_status st;
	int rc;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	sub = argv[1];
	if (!pv_cli_parse(argc - 1, argv + 1, opt_names, o, O_N, NULL, NULL, 0,
		pos, 1, &npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (strcmp(sub, "add") == 0)
		return user_add(pos[0], o);
	if (strcmp(sub, "list") == 0)
		return user_list(pos[0]);
	if (strcmp(sub, "disable") != 0 && strcmp(sub, "role") != 0 &&
	    strcmp(sub, "unlock") != 0 && strcmp(sub, "mfa") != 0 &&
	    strcmp(sub, "grant") != 0 && strcmp(sub, "revoke") != 0) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (o[O_NAME] == NULL ||
	    (strcmp(sub, "role") == 0 && o[O_ROLE] == NULL) ||
	    ((strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0) &&
		o[O_PERM] == NULL)) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	pv_cli_user_ref(v, o[O_NAME], ref);
	PV_IGNORE(pv_snprintf(action, sizeof(action), "user.%s", sub));
	if ((c = pv_cli_begin(v, action, "User", ref, NULL)) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	if (strcmp(sub, "disable") == 0) {
		st = pv_account_disable(v, o[O_NAME]);
		rc = report(st, "account disabled; its sessions are revoked");
	} else if (strcmp(sub, "role") == 0) {
		st = pv_account_set_role(v, o[O_NAME], o[O_ROLE]);
		rc = report(st,
		    "role changed; the account's sessions are "
		    "revoked");
	} else if (strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0) {
		bool grant = strcmp(sub, "grant") == 0;

		st = pv_account_permission(v, o[O_NAME], o[O_PERM], grant);
		rc = report(st,
		    grant ? "permission granted; the account's "
			    "sessions are revoked"
			  : "permission revoked; the "
			    "account's sessions are revoked");
	} else if (strcmp(sub, "unlock") == 0) {
		st = unlock(v, o[O_NAME]);
		rc = report(st, "account unlocked");
	} else {
		rc = user_mfa(v, o[O_NAME]);
		st = rc == PV_EXIT_OK ? PV_OK : PV_EINVAL;
	}
	pv_cli_end(c, st);
	pv_vault_close(v);
	return rc;
}
