/*
 * conns.c — bounds on how long a slow client may hold a connection.
 *
 * Defends against slowloris-style starvation (outside review, issue 13,
 * finding 3): libmicrohttpd's idle timeout restarts on every byte, so a
 * client sending one byte every few seconds held a connection slot for
 * ever, and a few hundred of them from a handful of addresses starved
 * everyone else. Here every connection is in one state, each bounded:
 *   - awaiting a request head (from the connection's start, or from the
 *     end of its previous request): [server] header_timeout, absolute,
 *     counting the TLS handshake; when more than three quarters of
 *     [server] max_connections are open, heads get only
 *     PV_CONNS_PRESSURE_HEAD_MS (the slots go to clients that send);
 *   - receiving an accepted request's body: after [server] body_grace,
 *     the bytes received must keep up with [server] min_body_rate,
 *     measured as they arrive (a declared length buys no time);
 *   - draining the body of a refused request (read and dropped, so the
 *     refusal is not lost to a reset): header_timeout at most, and the
 *     pressure cut as for a head (the red-team pass after finding 3 held
 *     every slot with refused requests whose drain deadline, derived
 *     from a 4 MiB declared length, ran to 523 s);
 *   - sending the response: the grace plus its length at min_body_rate,
 *     so a client that reads one byte at a time cannot hold it either;
 *   - while a handler, worker or the audit writer has the request: none.
 * A thread (pv_conns_sweep, every PV_CONNS_SWEEP_MS) shuts down the socket
 * of every connection past its bound; libmicrohttpd then sees the
 * connection end and cleans it up as usual.
 *
 * Safety of shutdown() on a descriptor MHD owns: a connection is in the
 * registry from MHD's "started" notification to its "closed" one, and
 * MHD sends "closed" before it closes the socket; both notifications and
 * the sweep take the registry lock, so a descriptor is only ever shut
 * down while it still belongs to that connection.
 */
#include "http/guard.h"

#include <stdlib.h>
#include <sys/socket.h>

enum conn_mode {
	MODE_BUSY = 0, /* no bound */
	MODE_HEAD, /* deadline; pressure cut */
	MODE_DRAIN, /* deadline; pressure cut */
	MODE_BODY, /* rate measured on the bytes received */
	MODE_REPLY /* deadline */
};

struct pv_conn {
	struct pv_conn *prev, *next;
	int fd;
	_Atomic int mode;
	_Atomic uint64_t since_ns; /* the state began */
	_Atomic uint64_t deadline_ns; /* HEAD, DRAIN, REPLY */
	_Atomic uint64_t bytes; /* BODY: received so far */
};

struct pv_conns {
	pthread_mutex_t lock;
	struct pv_conn *head;
	size_t n;
	size_t pressure_n; /* more open than this: pressure */
	uint64_t head_ns; /* header_timeout */
	uint64_t body_grace_ns;
	uint64_t min_body_rate; /* bytes per second */
};

pv_status
pv_conns_new(const struct pv_config *cfg, struct pv_conns **out)
{
	struct pv_conns *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return PV_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->pressure_n = (size_t)cfg->max_connections * 3 / 4;
	c->head_ns = (uint64_t)cfg->header_timeout * 1000000000u;
	c->body_grace_ns = (uint64_t)cfg->body_grace * 1000000000u;
	c->min_body_rate = (uint64_t)cfg->min_body_rate;
	*out = c;
	return PV_OK;
}

void
pv_conns_free(struct pv_conns *c)
{
	struct pv_conn *p, *next;

	if (c == NULL)
		return;
	for (p = c->head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
pv_conns_opened(struct pv_conns *c, struct MHD_Connection *conn,
    void **socket_ctx)
{
	const union MHD_ConnectionInfo *ci;
	struct pv_conn *p;

	*socket_ctx = NULL;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (c == NULL || ci == NULL || (p = calloc(1, sizeof(*p))) == NULL)
		return; /* untracked: only the idle timeout applies */
	p->fd = ci->connect_fd;
	pv_conns_await_head(c, p);
	pthread_mutex_lock(&c->lock);
	p->next = c->head;
	if (c->head != NULL)
		c->head->prev = p;
	c->head = p;
	c->n++;
	pthread_mutex_unlock(&c->lock);
	*socket_ctx = p;
}

void
pv_conns_closed(struct pv_conns *c, void **socket_ctx)
{
	struct pv_conn *p = *socket_ctx;

	if (c == NULL || p == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		c->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	c->n--;
	pthread_mutex_unlock(&c->lock);
	free(p);
	*socket_ctx = NULL;
}

struct pv_conn *
pv_conns_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static void
set_mode(struct pv_conn *p, enum conn_mode m, uint64_t now, uint64_t dl)
{
	/* Mode last: the sweep never sees a new mode with the previous
	 * state's clock (it reads the mode first). */
	atomic_store(&p->mode, MODE_BUSY);
	atomic_store(&p->since_ns, now);
	atomic_store(&p->deadline_ns, dl);
	atomic_store(&p->bytes, 0);
	atomic_store(&p->mode, (int)m);
}

void
pv_conns_await_head(struct pv_conns *c, struct pv_conn *p)
{
	uint64_t now = pv_mono_ns();

	if (c != NULL && p != NULL)
		set_mode(p, MODE_HEAD, now, now + c->head_ns);
}

void
pv_conns_await_body(struct pv_conns *c, struct pv_conn *p)
{
	if (c != NULL && p != NULL)
		set_mode(p, MODE_BODY, pv_mono_ns(), 0);
}

void
pv_conns_body_progress(struct pv_conn *p, size_t n)
{
	if (p != NULL)
		atomic_fetch_add(&p->bytes, (uint64_t)n);
}

void
pv_conns_await_drain(struct pv_conns *c, struct pv_conn *p)
{
	uint64_t now = pv_mono_ns();

	if (c != NULL && p != NULL)
		set_mode(p, MODE_DRAIN, now, now + c->head_ns);
}

void
pv_conns_await_reply(struct pv_conns *c, struct pv_conn *p, uint64_t len)
{
	uint64_t now = pv_mono_ns(), secs;

	if (c == NULL || p == NULL)
		return;
	secs = c->min_body_rate > 0 ? len / c->min_body_rate + 1 : 86400;
	if (secs > 86400)
		secs = 86400;
	set_mode(p, MODE_REPLY, now,
	    now + c->body_grace_ns + secs * 1000000000u);
}

void
pv_conns_busy(struct pv_conn *p)
{
	if (p != NULL)
		atomic_store(&p->mode, MODE_BUSY);
}

/* True when p has overstayed its state at now. */
static bool
is_late(const struct pv_conns *c, struct pv_conn *p, uint64_t now,
    bool is_pressed)
{
	int mode = atomic_load(&p->mode);
	uint64_t since = atomic_load(&p->since_ns), elapsed, owed;

	if (mode == MODE_BUSY || now < since)
		return false;
	elapsed = now - since;
	switch (mode) {
	case MODE_HEAD:
	case MODE_DRAIN:
		if (is_pressed &&
		    elapsed > (uint64_t)PV_CONNS_PRESSURE_HEAD_MS * 1000000u)
			return true;
		return now > atomic_load(&p->deadline_ns);
	case MODE_REPLY:
		return now > atomic_load(&p->deadline_ns);
	case MODE_BODY:
		if (c->min_body_rate == 0 || elapsed <= c->body_grace_ns)
			return false;
		owed = (elapsed - c->body_grace_ns) / 1000000u *
		    c->min_body_rate / 1000u;
		return atomic_load(&p->bytes) < owed;
	default:
		return false;
	}
}

size_t
pv_conns_sweep(struct pv_conns *c)
{
	uint64_t now = pv_mono_ns();
	struct pv_conn *p;
	size_t cut = 0;
	bool is_pressed;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	is_pressed = c->n > c->pressure_n;
	for (p = c->head; p != NULL; p = p->next) {
		if (!is_late(c, p, now, is_pressed))
			continue;
		/* Past its bound: end it (once). */
		atomic_store(&p->mode, MODE_BUSY);
		shutdown(p->fd, SHUT_RDWR);
		cut++;
	}
	pthread_mutex_unlock(&c->lock);
	if (cut > 0)
		pv_metric_add(PV_M_SLOW_CLIENTS_CUT, cut);
	return cut;
}
