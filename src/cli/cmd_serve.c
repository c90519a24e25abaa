/*
 * cmd_serve.c — `phivault serve DIR [--listen HOST:PORT]`.
 *
 * Signals are blocked before any thread starts and taken synchronously
 * with sigwait, so no handler runs in an arbitrary thread: SIGTERM or
 * SIGINT starts a graceful stop (drain, flush the audit log, close the
 * store) and the process exits 0.
 */
#include "cli/cli.h"
#include "common/log.h"
#include "http/http.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

static const char usage_text[] =
    "usage: phivault serve DIR [--listen HOST:PORT]\n"
    "\n"
    "Runs the HTTPS server (TLS 1.3 only) on the vault in DIR. Logs JSON\n"
    "lines to stderr. SIGTERM finishes in-flight requests and exits 0.\n"
    "\n"
    "  --listen HOST:PORT   address to bind (default: [server] listen in\n"
    "                       phivault.conf, 127.0.0.1:8443); port 0 picks a\n"
    "                       free port, reported in the 'listening' log line\n";

int
cmd_serve(int argc, char **argv)
{
	static const char *const names[] = { "listen" };
	const char *vals[1], *pos[1];
	struct pv_vault *v = NULL;
	struct pv_server *srv = NULL;
	sigset_t set;
	char err[256], port[8];
	size_t npos;
	int sig = 0;

	if (pv_cli_wants_help(argc, argv, usage_text))
		return PV_EXIT_OK;
	if (!pv_cli_parse(argc, argv, names, vals, 1, NULL, NULL, 0, pos, 1,
		&npos) ||
	    npos != 1) {
		fputs(usage_text, stderr);
		return PV_EXIT_USAGE;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (pv_cli_open(pos[0], &v) != PV_OK)
		return PV_EXIT_FAIL;
	if (pv_server_start(v, vals[0] != NULL ? vals[0] : v->cfg.listen, &srv,
		err, sizeof(err)) != PV_OK) {
		pv_log(PV_LOG_ERROR, "startup_failed", NULL, "reason", err,
		    (const char *)NULL);
		pv_vault_close(v);
		return PV_EXIT_FAIL;
	}
	PV_IGNORE(pv_snprintf(port, sizeof(port), "%u", pv_server_port(srv)));
	pv_log(PV_LOG_INFO, "listening", NULL, "port", port,
	    (const char *)NULL);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		; /* SIGHUP: nothing to reload; settings apply per request */
	pv_log(PV_LOG_INFO, "stopping", NULL, "signal",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", (const char *)NULL);
	pv_server_stop(srv);
	pv_vault_close(v);
	pv_log(PV_LOG_INFO, "stopped", NULL, (const char *)NULL);
	return PV_EXIT_OK;
}
