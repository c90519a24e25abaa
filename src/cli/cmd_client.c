/*
 * cmd_client.c — `phivault client add DIR --name NAME --scopes "S1 S2"`.
 *
 * Reads the client's raw 32-byte Ed25519 public key, base64, on stdin
 * (the private key never comes near the vault) and prints the new key id
 * alone on one line — the keyid the client puts in its signatures.
 */
#include "cli/cli.h"
#include "auth/auth.h"

#include <string.h>

static const char usage_text[] =
    "usage: phivault client add DIR --name NAME --scopes \"S1 S2\"\n"
    "\n"
    "Registers a service client (role service) that authenticates by RFC\n"
    "9421 HTTP Message Signatures with Ed25519. stdin: the raw 32-byte\n"
    "public key, base64. stdout: the key id. Scopes use SMART App Launch\n"
    "v2 syntax, e.g. \"system/Observation.rs patient/*.cruds\"; add\n"
    "\"phivault/restricted\" to clear the client for restricted data.\n"
    "patient/ and user/ scopes reach only patients on the client's care\n"
    "team (phivault careteam add --user NAME); system/ scopes reach all.\n";

int
cmd_client(int argc, char **argv)
{
	static const char *const names[] = { "name", "scopes" };
	const char *o[2], *pos[1];
	unsigned char pk[PV_SIGN_PK_BYTES];
	char line[128], key_id[PV_ID_HEX_LEN + 1];
	struct pv_cli_change *c;
	struct pv_vault *v;
	size_t npos, n = 0;
	pv_status st;

	if (argc < 2 || pv_cli_wants_help(argc, argv, usage_text))
		return argc < 2 ? (fputs(usage_text, stderr), PV_EXIT_USAGE)
				: PV_EXIT_OK;
	if (strcmp(argv[1], "add") != 0 ||
	    !pv_cli_parse(argc - 1, argv + 1, names, o, 2, NULL, NULL, 0, pos,
		1, &npos) ||
	    npos != 1 || o[0] == NULL || o[1] == NULL) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	if (pv_crypto_init() != PV_OK)
		return PV_EXIT_FAIL;
	if (pv_cli_read_line(line, sizeof(line)) != PV_OK ||
	    pv_b64_decode(line, pk, sizeof(pk), &n) != PV_OK ||
	    n != sizeof(pk)) {
		fprintf(stderr,
		    "phivault: expected the raw 32-byte Ed25519 "
		    "public key, base64, on stdin\n");
		return PV_EXIT_USAGE;
	}
	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if ((c = pv_cli_begin(v, "client.add", "User", NULL, NULL)) == NULL) {
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	st = pv_client_add(v, o[0], o[1], pk, key_id);
	pv_cli_end(c, st);
	pv_vault_close(v);
	if (st == PV_EINVAL) {
		fprintf(stderr,
		    "phivault: invalid name or scopes (SMART v2, "
		    "e.g. system/Observation.rs)\n");
		return PV_EXIT_USAGE;
	}
	if (st == PV_EEXISTS) {
		fprintf(stderr, "phivault: an account with that name exists\n");
		return PV_EXIT_FAIL;
	}
	if (st != PV_OK) {
		fprintf(stderr, "phivault: failed (%s)\n", pv_status_name(st));
		return PV_EXIT_FAIL;
	}
	puts(key_id);
	return PV_EXIT_OK;
}
