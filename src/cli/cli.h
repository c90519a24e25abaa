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
int cmd_compliance(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

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

/* A path given with flag as an absolute path (a file that must exist;
 * phivault.conf outlives the working directory); false after printing
 * why. */
bool pv_cli_abs_path(const char *flag, const char *in, char *out, size_t outsz);

/* Opens the vault at dir, printing the reason on failure. */
PV_MUST_CHECK pv_status pv_cli_open(const char *dir, struct pv_vault **out);

/*
 * Reads one line from stdin into buf (secret memory recommended), strips
 * the newline. Returns PV_EINVAL on EOF/empty, PV_ETOOBIG when longer
 * than bufsz - 1.
 */
PV_MUST_CHECK pv_status pv_cli_read_line(char *buf, size_t bufsz);

/*
 * prompt.c: reads a secret (a password) into buf (secret memory). When
 * stdin is a terminal, writes prompt to stderr and reads with echo off,
 * restoring the terminal on every path (signals included: the signal is
 * re-raised after); with again non-NULL, asks a second time with that
 * prompt and fails with PV_ECONFLICT unless both match (for a new
 * secret). When stdin is not a terminal, it is pv_cli_read_line. Also
 * PV_EINVAL on EOF/empty/interrupted, PV_ETOOBIG, PV_EIO, PV_ENOMEM; buf
 * is wiped on failure.
 */
PV_MUST_CHECK pv_status pv_cli_read_secret(const char *prompt,
    const char *again, char *buf, size_t bufsz);

/*
 * Admin actions from the command line are audited write-ahead, like the
 * server's changes: pv_cli_begin makes the entry (actor 0, role
 * "operator", source "local") durable before anything changes and
 * returns NULL (after printing why) when it cannot — the caller must
 * then change nothing. pv_cli_end records a follow-up entry when the
 * action failed, and frees. type/id/patient name the target (may be NULL).
 */
struct pv_cli_change;
/* The event pv_cli_begin records (ev is filled; a fresh request id). */
void pv_cli_event(struct pv_audit_event *ev, const char *action,
    const char *type, const char *id, const char *patient);
struct pv_cli_change *pv_cli_begin(struct pv_vault *v, const char *action,
    const char *type, const char *id, const char *patient);
void pv_cli_end(struct pv_cli_change *c, pv_status result);

/* The account's numeric id as text (the audit trail names no one), "" if
 * there is no such account. */
void pv_cli_user_ref(struct pv_vault *v, const char *name, char out[24]);

#endif
