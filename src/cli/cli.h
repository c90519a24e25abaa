/*
 * cli.h — subcommands and the helpers they share.
 *
 * Exit status contract (SPEC.md): 0 success, 1 a failed check or
 * operation, 2 bad usage. Secrets (passwords, keys) are read from stdin
 * only, never from argv, so they cannot appear in `ps` or shell history.
 */
#ifndef PV_CLI_CLI_H
#define PV_CLI_CLI_H

#include "core/vault.h"

#include <stdio.h>

#define PV_EXIT_OK 0
#define PV_EXIT_FAIL 1
#define PV_EXIT_USAGE 2

struct pv_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_careteam(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_erase(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_access_review(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_incident(int argc, char **argv);
int cmd_deid(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_purge(int argc, char **argv);

/* True when argv holds -h or --help (prints usage and the caller exits 0). */
bool pv_cli_wants_help(int argc, char **argv, const char *usage);

/*
 * Minimal long-option parser: for "--name VALUE" pairs listed in names,
 * stores pointers into values[i] (borrowed from argv); flags listed in
 * flag_names set flags[i]. Positional arguments go to pos (max npos).
 * Returns false (after printing why) on anything unknown or missing.
 */
bool pv_cli_parse(int argc, char **argv, const char *const *names,
    const char **values, size_t nnames, const char *const *flag_names,
    bool *flags, size_t nflags, const char **pos, size_t npos,
    size_t *npos_out);

/* Opens the vault at dir, printing the reason on failure. */
PV_MUST_CHECK pv_status pv_cli_open(const char *dir, struct pv_vault **out);

/*
 * Reads one line from stdin into buf (secret memory recommended), strips
 * the newline. Returns PV_EINVAL on EOF/empty, PV_ETOOBIG when longer
 * than bufsz - 1.
 */
PV_MUST_CHECK pv_status pv_cli_read_line(char *buf, size_t bufsz);

/*
 * Records an admin action taken from the command line in the audit trail
 * (actor 0, role "operator", source "local"). A failure to audit is
 * reported on stderr: the action already happened, the operator must know.
 */
void pv_cli_audit(struct pv_vault *v, const char *action, const char *type,
    const char *id, const char *patient, pv_status result);

#endif
