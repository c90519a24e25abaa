/*
 * conns.c — absolute deadlines for slow clients.
 *
 * Defends against slowloris-style starvation (outside review, issue 13,
 * finding 3): libmicrohttpd's idle timeout restarts on every byte, so a
 * client sending one byte every few seconds held a connection slot for
 * ever, and a few hundred of them from a handful of addresses starved
 * everyone else. Here every connection carries a deadline:
 *   - awaiting a request head (from the connection's start, or from the
 *     end of its previous request): [server] header_timeout, absolute,
 *     counting the TLS handshake; when more than three quarters of
 *     [server] max_connections are open, heads get only
 *     PV_CONNS_PRESSURE_HEAD_MS (the slots go to clients that send);
 *   - receiving a body: a grace of [server] body_grace plus the declared
 *     length at [server] min_body_rate bytes per second;
 *   - sending the response: the same grace plus its length at
 *     min_body_rate, so a client that reads one byte at a time cannot
 *     hold the connection either;
 *   - while a handler, worker or the audit writer has the request: none.
 * A thread (pv_conns_sweep, every PV_CONNS_SWEEP_MS) shuts down the socket
 * of every connection past its deadline; libmicrohttpd then sees the
 * connection end and cleans it up as usual.
 *
 * Safety of shutdown() on a descriptor MHD owns: a connection is in the
 * registry from MHD's "started" notification to its "closed" one, and
 * MHD sends "closed" before it closes the socket; both notifications and
 * the sweep take the registry lock, so a descriptor is only ever shut
 * down while it still belongs to that connection.
 */
#include "http/internal.h"

#include <stdlib.h>
#include <sys/socket.h>

struct pv_conn {
	struct pv_conn *prev, *next;
	int fd;
	_Atomic int64_t deadline_ns;	/* 0 = none */
	_Atomic int64_t head_since_ns;	/* awaiting a head since; 0 = not */
};

struct pv_conns {
	pthread_mutex_t lock;
	struct pv_conn *head;
	size_t n;
	size_t pressure_n;		/* more open than this: pressure */
	uint64_t head_ns;		/* header_timeout */
	uint64_t body_grace_ns;
	uint64_t min_body_rate;		/* bytes per second */
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
		return;		/* untracked: only the idle timeout applies */
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
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

void
pv_conns_await_head(struct pv_conns *c, struct pv_conn *p)
{
	uint64_t now = pv_mono_ns();

	if (c == NULL || p == NULL)
		return;
	atomic_store(&p->head_since_ns, (int64_t)now);
	atomic_store(&p->deadline_ns, (int64_t)(now + c->head_ns));
}

void
pv_conns_await_transfer(struct pv_conns *c, struct pv_conn *p, uint64_t len)
{
	uint64_t now = pv_mono_ns(), secs;

	if (c == NULL || p == NULL)
		return;
	secs = c->min_body_rate > 0 ? len / c->min_body_rate + 1 : 0;
	if (secs > 86400)
		secs = 86400;
	atomic_store(&p->head_since_ns, 0);
	atomic_store(&p->deadline_ns, (int64_t)(now + c->body_grace_ns +
	    secs * 1000000000u));
}

void
pv_conns_busy(struct pv_conn *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->head_since_ns, 0);
	atomic_store(&p->deadline_ns, 0);
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
		int64_t dl = atomic_load(&p->deadline_ns);
		int64_t since = atomic_load(&p->head_since_ns);

		if (dl == 0)
			continue;
		if ((uint64_t)dl > now && !(is_pressed && since != 0 &&
		    now - (uint64_t)since > PV_CONNS_PRESSURE_HEAD_MS * 1000000u))
			continue;
		/* Past its deadline: end it (once). */
		atomic_store(&p->deadline_ns, 0);
		atomic_store(&p->head_since_ns, 0);
		shutdown(p->fd, SHUT_RDWR);
		cut++;
	}
	pthread_mutex_unlock(&c->lock);
	if (cut > 0)
		pv_metric_add(PV_M_SLOW_CLIENTS_CUT, cut);
	return cut;
}

size_t
pv_conns_count(struct pv_conns *c)
{
	size_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
