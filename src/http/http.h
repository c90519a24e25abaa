/*
 * http.h — the HTTPS server (libmicrohttpd + GnuTLS, TLS 1.3 only).
 *
 * pv_server_start binds, loads the certificate and starts the thread
 * pool; pv_server_stop stops accepting, lets in-flight requests finish
 * (bounded by [server] shutdown_grace), then joins every thread.
 */
#ifndef PV_HTTP_HTTP_H
#define PV_HTTP_HTTP_H

#include "core/vault.h"

struct pv_server;

/*
 * Starts serving vault v on listen ("host:port", IPv4 or [IPv6]). v is
 * borrowed and must outlive the server. On failure err gets a reason.
 */
PV_MUST_CHECK pv_status pv_server_start(struct pv_vault *v, const char *listen,
    struct pv_server **out, char *err, size_t errsz);

/* The port actually bound (useful with port 0). */
uint16_t pv_server_port(const struct pv_server *s);

/* Graceful stop: quiesce, drain in-flight requests, free everything. */
void pv_server_stop(struct pv_server *s);

#endif
