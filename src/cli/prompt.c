/*
 * prompt.c — reading a secret from stdin, without echo on a terminal.
 *
 * Threat (outside review, issue 13, finding 15): `phivault user add`
 * read the password from a terminal with echo on, so it stood on the
 * screen, in the scrollback and in any recording of the session.
 *
 * Guarantees, when stdin is a terminal:
 *   - the prompt goes to stderr (stdout may be a file or a pipe);
 *   - echo is off while the secret is typed, and the terminal's previous
 *     settings are restored on every path out: success, end of input,
 *     an over-long line, and the signals that end or stop a process at a
 *     prompt (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGPIPE,
 *     SIGTSTP, SIGTTIN, SIGTTOU). Their handler only records the signal;
 *     read() then fails with EINTR (no SA_RESTART), the terminal and the
 *     previous handlers are restored, the partial secret is wiped, and
 *     the signal is raised again, so the process ends (or stops) exactly
 *     as it would have. After a stop and SIGCONT the prompt starts over
 *     (the scheme of OpenBSD's readpassphrase(3));
 *   - a new secret is asked for twice, and refused unless both match.
 * When stdin is not a terminal nothing changes: one line is read, no
 * prompt, so scripts and `printf '%s\n' pw | phivault user add` work.
 *
 * Not guaranteed: SIGKILL cannot be caught, so a terminal whose process
 * is killed with it keeps echo off (`stty sane` repairs it). Keystrokes
 * are still seen by the terminal emulator and the kernel's tty buffer.
 */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const int prompt_signals[] = { SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT,
	SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU };
#define NSIGNALS PV_ARRAY_LEN(prompt_signals)

static volatile sig_atomic_t caught;

static void
on_signal(int sig)
{
	caught = sig;
}

static void
say(const char *s)
{
	size_t n = strlen(s);
	ssize_t w;

	while (n > 0 &&
	    ((w = write(STDERR_FILENO, s, n)) > 0 || (w < 0 && errno == EINTR)))
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		}
}

/*
 * Reads up to a newline into buf with echo off. PV_OK, PV_EINVAL (end of
 * input, empty, or a signal the process survived), PV_ETOOBIG, PV_EIO.
 */
static pv_status
read_hidden(const char *prompt, char *buf, size_t bufsz)
{
	struct sigaction sa, saved[NSIGNALS];
	struct termios saved_term, term;
	size_t i, n;
	pv_status st;
	int sig;
	char c;

restart:
	st = PV_EINVAL;
	n = 0;
	caught = 0;
	if (tcgetattr(STDIN_FILENO, &saved_term) != 0)
		return PV_EIO;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal; /* no SA_RESTART: read() returns */
	for (i = 0; i < NSIGNALS; i++)
		(void)sigaction(prompt_signals[i], &sa, &saved[i]);
	term = saved_term;
	term.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	/* TCSAFLUSH: what was typed ahead, and echoed, is not the secret */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &term) != 0) {
		st = PV_EIO;
		goto restore;
	}
	say(prompt);
	while (caught == 0) {
		ssize_t r = read(STDIN_FILENO, &c, 1);

		if (r < 0 && errno == EINTR)
			continue; /* caught is set, or a harmless signal */
		if (r <= 0 || c == '\n' || c == '\r') {
			st = n > 0 ? PV_OK : PV_EINVAL;
			break;
		}
		if (n + 1 >= bufsz) {
			st = PV_ETOOBIG;
			break;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	say("\n"); /* the Enter key was not echoed */
restore:
	while (tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_term) != 0 &&
	    errno == EINTR && caught != SIGTTOU)
		;
	for (i = 0; i < NSIGNALS; i++)
		(void)sigaction(prompt_signals[i], &saved[i], NULL);
	if ((sig = caught) == 0) {
		if (st != PV_OK)
			sodium_memzero(buf, bufsz);
		return st;
	}
	/* Die (or stop) of the signal as if no handler had been there. */
	sodium_memzero(buf, bufsz);
	(void)raise(sig);
	if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
		goto restart; /* continued: ask again */
	return PV_EINVAL;
}

pv_status
pv_cli_read_secret(const char *prompt, const char *again, char *buf,
    size_t bufsz)
{
	char *copy = NULL;
	pv_status st;

	if (!isatty(STDIN_FILENO))
		return pv_cli_read_line(buf, bufsz);
	if ((st = read_hidden(prompt, buf, bufsz)) != PV_OK || again == NULL)
		return st;
	if ((copy = sodium_malloc(bufsz)) == NULL) {
		st = PV_ENOMEM;
		goto done;
	}
	if ((st = read_hidden(again, copy, bufsz)) != PV_OK)
		goto done;
	if (strlen(buf) != strlen(copy) ||
	    sodium_memcmp(buf, copy, strlen(buf)) != 0)
		st = PV_ECONFLICT;
done:
	if (copy != NULL) {
		sodium_memzero(copy, bufsz);
		sodium_free(copy);
	}
	if (st != PV_OK)
		sodium_memzero(buf, bufsz);
	return st;
}
