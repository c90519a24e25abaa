/*
 * listener.c — phivault's own accept loop, used only when [proxy] trusted
 * is set: it reads the PROXY protocol v2 header of connections from
 * trusted proxies and hands every connection to libmicrohttpd with
 * MHD_add_connection, passing the *client's* address. Without [proxy]
 * trusted nothing here runs and libmicrohttpd accepts by itself, as
 * before (no cost).
 *
 * Why this shape: libmicrohttpd does not speak the PROXY protocol, and
 * everything that looks at the client address — the address rate limit,
 * the per-address connection cap, the login lockout by address, alerts,
 * the audit entry's src, the access log — reads it from libmicrohttpd
 * (MHD_CONNECTION_INFO_CLIENT_ADDRESS). Handing the socket over with the
 * header's address makes all of them see the client, with no change to
 * any of them. The daemon is started with MHD_USE_NO_LISTEN_SOCKET and
 * keeps its thread pool: libmicrohttpd 0.9.75 spreads added connections
 * over the pool's threads (checked: the pool's threads exist with no
 * listen socket; the header comment saying the pool is ignored is older
 * than that code). MHD_add_connection is safe from this thread because
 * the daemon uses inter-thread communication (MHD_ALLOW_SUSPEND_RESUME
 * enforces it).
 *
 * Rules (docs/SECURITY.md, "Behind a load balancer"):
 *  - a peer inside [proxy] trusted MUST start with a valid v2 header
 *    (proxyproto.c); otherwise the connection is closed, counted
 *    (phivault_proxy_refused_total) and logged with the peer's address
 *    and the rule, never any byte it sent. PROXY gives the header's
 *    source; LOCAL (health checks) keeps the proxy's own address;
 *  - a peer outside the list is handed over at once with its own
 *    address; a PROXY header it sends is not read here, so TLS fails on
 *    it like on any other garbage.
 * Bounds: one thread; every socket non-blocking; a trusted peer has
 * [proxy] header_timeout to send its header, else it is closed; at most
 * PV_LISTENER_PENDING connections wait for a header, beyond that a new
 * one from a trusted peer is closed at once (a stalling proxy cannot
 * hold more, and direct clients never wait behind it); the header is
 * read exactly, at most PV_PROXY_HDR_MAX bytes, so the TLS handshake
 * behind it stays in the socket for libmicrohttpd.
 */
#include "http/guard.h"
#include "http/proxyproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PV_LISTENER_PENDING 256
#define PV_LISTENER_ACCEPT_BURST 64 /* accepts per wake-up */
#define PV_LISTENER_BACKOFF_MS 100 /* out of descriptors: pause */

struct pending {
	int fd; /* -1: free */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint64_t deadline_ns;
	size_t got, need;
	uint8_t buf[PV_PROXY_HDR_MAX];
};

struct pv_listener {
	int lfd;
	int wake[2]; /* pipe: stop */
	pthread_t thread;
	bool has_thread;
	struct MHD_Daemon *daemon;
	const struct pv_netconf *nc;
	uint64_t header_ns;
	uint64_t backoff_until_ns;
	struct pending *pend; /* PV_LISTENER_PENDING */
	struct pollfd pfd[PV_LISTENER_PENDING + 2];
	size_t pfd_of[PV_LISTENER_PENDING + 2]; /* pfd index -> pend */
};

static void
peer_text(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	const void *a = ss->ss_family == AF_INET6
	    ? (const void *)&((const struct sockaddr_in6 *)(const void *)ss)
		  ->sin6_addr
	    : (const void *)&((const struct sockaddr_in *)(const void *)ss)
		  ->sin_addr;

	if (inet_ntop(ss->ss_family, a, out, (socklen_t)outsz) == NULL)
		PV_IGNORE(pv_strlcpy(out, "unknown", outsz));
}

static void
peer_ip(const struct sockaddr_storage *ss, uint8_t out[PV_IP_BYTES])
{
	if (ss->ss_family == AF_INET6)
		memcpy(out,
		    &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr,
		    PV_IP_BYTES);
	else
		pv_ip_from_v4((const uint8_t *)&(
				  (const struct sockaddr_in *)(const void *)ss)
				  ->sin_addr,
		    out);
}

/* Closes a connection that did not give a valid header. */
static void
refuse(struct pending *p, const char *why)
{
	char ip[PV_IP_MAX];

	peer_text(&p->peer, ip, sizeof(ip));
	pv_metric_inc(PV_M_PROXY_REFUSED);
	pv_log(PV_LOG_WARN, "proxy_header_refused", NULL, "peer", ip, "rule",
	    why, (const char *)NULL);
	close(p->fd);
	p->fd = -1;
}

/* Hands fd to libmicrohttpd as a connection from addr. */
static void
hand_over(struct pv_listener *l, int fd, const struct sockaddr *addr,
    socklen_t addr_len)
{
	/* On failure (a connection limit, memory) libmicrohttpd has closed
	 * the socket and logged why through our logger. */
	(void)MHD_add_connection(l->daemon, fd, addr, addr_len);
}

/* The header is complete: over to libmicrohttpd with the right address. */
static void
hand_over_proxied(struct pv_listener *l, struct pending *p,
    const struct pv_proxy_hdr *h)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	int fd = p->fd;

	p->fd = -1;
	if (h->is_local) {
		hand_over(l, fd, (const struct sockaddr *)&p->peer,
		    p->peer_len);
	} else if (h->is_v6) {
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons(h->src_port);
		memcpy(&s6.sin6_addr, h->src, 16);
		hand_over(l, fd, (const struct sockaddr *)&s6, sizeof(s6));
	} else {
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = htons(h->src_port);
		memcpy(&s4.sin_addr, h->src, 4);
		hand_over(l, fd, (const struct sockaddr *)&s4, sizeof(s4));
	}
}

/* Reads what p's header still needs (never more) and judges it. */
static void
read_header(struct pv_listener *l, struct pending *p)
{
	struct pv_proxy_hdr h;
	const char *why = NULL;
	ssize_t n;

	n = recv(p->fd, p->buf + p->got, p->need - p->got, 0);
	if (n == 0) {
		refuse(p, "closed before a complete PROXY header");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			refuse(p, "read error before a complete PROXY header");
		return;
	}
	p->got += (size_t)n;
	switch (pv_proxy_parse(p->buf, p->got, &h, &p->need, &why)) {
	case PV_PROXY_MORE:
		break;
	case PV_PROXY_DONE:
		hand_over_proxied(l, p, &h);
		break;
	case PV_PROXY_BAD:
		refuse(p, why);
		break;
	}
}

/* A new connection from a trusted peer: wait for its header. */
static void
await_header(struct pv_listener *l, int fd, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct pending *p = NULL;
	size_t i;

	for (i = 0; i < PV_LISTENER_PENDING && p == NULL; i++)
		if (l->pend[i].fd < 0)
			p = &l->pend[i];
	if (p == NULL) {
		struct pending tmp;

		tmp.fd = fd;
		tmp.peer = *ss;
		refuse(&tmp, "too many connections waiting for a PROXY header");
		return;
	}
	p->fd = fd;
	p->peer = *ss;
	p->peer_len = len;
	p->deadline_ns = pv_mono_ns() + l->header_ns;
	p->got = 0;
	p->need = PV_PROXY_FIXED_BYTES;
	read_header(l, p); /* the header may be there already */
}

static void
accept_some(struct pv_listener *l)
{
	int i;

	for (i = 0; i < PV_LISTENER_ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		uint8_t ip[PV_IP_BYTES];
		int fd = accept4(l->lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int e = errno;

			if (e == ECONNABORTED || e == EINTR)
				continue;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS ||
			    e == ENOMEM) {
				l->backoff_until_ns = pv_mono_ns() +
				    PV_LISTENER_BACKOFF_MS * 1000000ull;
				pv_log(PV_LOG_ERROR, "accept_failed", NULL,
				    "error", "out of descriptors or memory",
				    (const char *)NULL);
			}
			return; /* EAGAIN: nothing more to accept */
		}
		if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
			close(fd);
			continue;
		}
		peer_ip(&ss, ip);
		if (pv_netconf_is_trusted(l->nc, ip))
			await_header(l, fd, &ss, len);
		else
			hand_over(l, fd, (const struct sockaddr *)&ss, len);
	}
}

/* Poll timeout: until the nearest header deadline, at most 1 s. */
static int
poll_timeout_ms(const struct pv_listener *l, uint64_t now)
{
	uint64_t soonest = now + 1000000000ull;
	size_t i;

	if (l->backoff_until_ns > now && l->backoff_until_ns < soonest)
		soonest = l->backoff_until_ns;
	for (i = 0; i < PV_LISTENER_PENDING; i++)
		if (l->pend[i].fd >= 0 && l->pend[i].deadline_ns < soonest)
			soonest = l->pend[i].deadline_ns;
	return soonest <= now ? 0 : (int)((soonest - now) / 1000000u + 1);
}

static void
expire(struct pv_listener *l, uint64_t now)
{
	size_t i;

	for (i = 0; i < PV_LISTENER_PENDING; i++) {
		struct pending *p = &l->pend[i];

		if (p->fd >= 0 && now >= p->deadline_ns)
			refuse(p, "no complete PROXY header in time");
	}
}

static void *
listener_main(void *arg)
{
	struct pv_listener *l = arg;

	for (;;) {
		uint64_t now = pv_mono_ns();
		nfds_t n = 0;
		size_t i;

		l->pfd[n++] = (struct pollfd){ l->wake[0], POLLIN, 0 };
		if (now >= l->backoff_until_ns)
			l->pfd[n++] = (struct pollfd){ l->lfd, POLLIN, 0 };
		for (i = 0; i < PV_LISTENER_PENDING; i++) {
			if (l->pend[i].fd < 0)
				continue;
			l->pfd_of[n] = i;
			l->pfd[n++] =
			    (struct pollfd){ l->pend[i].fd, POLLIN, 0 };
		}
		if (poll(l->pfd, n, poll_timeout_ms(l, now)) < 0 &&
		    errno != EINTR)
			break;
		if (l->pfd[0].revents != 0)
			break; /* stop */
		for (i = 1; i < n; i++) {
			struct pending *p;

			if (l->pfd[i].revents == 0)
				continue;
			if (l->pfd[i].fd == l->lfd) {
				accept_some(l);
				continue;
			}
			p = &l->pend[l->pfd_of[i]];
			if (p->fd != l->pfd[i].fd)
				continue;
			read_header(l, p);
		}
		expire(l, pv_mono_ns());
	}
	return NULL;
}

static pv_status
open_socket(const struct sockaddr_storage *ss, int *out)
{
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int fd, on = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return PV_EIO;
	/* As libmicrohttpd does for its own socket: a restart may bind the
	 * port again at once; an IPv6 socket is IPv6 only. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (ss->ss_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) !=
		    0) ||
	    bind(fd, (const struct sockaddr *)ss, len) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		close(fd);
		return PV_EIO;
	}
	*out = fd;
	return PV_OK;
}

pv_status
pv_listener_open(struct pv_server *srv, const struct sockaddr_storage *ss)
{
	const struct pv_netconf *nc = &srv->vault->cfg.net;
	struct pv_listener *l;
	size_t i;

	if (nc->trusted_n == 0)
		return PV_OK; /* libmicrohttpd listens by itself */
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return PV_ENOMEM;
	l->lfd = l->wake[0] = l->wake[1] = -1;
	l->nc = nc;
	l->header_ns = (uint64_t)nc->header_timeout * 1000000000ull;
	l->pend = calloc(PV_LISTENER_PENDING, sizeof(*l->pend));
	srv->listener = l;
	if (l->pend == NULL)
		return PV_ENOMEM;
	for (i = 0; i < PV_LISTENER_PENDING; i++)
		l->pend[i].fd = -1;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return PV_EIO;
	return open_socket(ss, &l->lfd);
}

pv_status
pv_listener_run(struct pv_server *srv)
{
	struct pv_listener *l = srv->listener;
	const union MHD_DaemonInfo *di;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (l == NULL) {
		di =
		    MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
		srv->port = di != NULL ? di->port : 0;
		return PV_OK;
	}
	if (getsockname(l->lfd, (struct sockaddr *)&ss, &len) != 0)
		return PV_EIO;
	srv->port = ntohs(ss.ss_family == AF_INET6
		? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
		: ((struct sockaddr_in *)(void *)&ss)->sin_port);
	l->daemon = srv->daemon;
	if (pthread_create(&l->thread, NULL, listener_main, l) != 0)
		return PV_ENOMEM;
	l->has_thread = true;
	return PV_OK;
}

void
pv_listener_stop(struct pv_server *srv)
{
	struct pv_listener *l = srv->listener;
	size_t i;

	if (l == NULL)
		return;
	if (l->has_thread) {
		ssize_t w;

		do
			w = write(l->wake[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(l->thread, NULL);
	}
	for (i = 0; l->pend != NULL && i < PV_LISTENER_PENDING; i++)
		if (l->pend[i].fd >= 0)
			close(l->pend[i].fd);
	if (l->lfd >= 0)
		close(l->lfd);
	if (l->wake[0] >= 0)
		close(l->wake[0]);
	if (l->wake[1] >= 0)
		close(l->wake[1]);
	free(l->pend);
	free(l);
	srv->listener = NULL;
}
