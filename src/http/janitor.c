/*
 * janitor.c — the server's housekeeping thread.
 *
 * Every PV_CONNS_SWEEP_MS it ends the connections past their deadline
 * (conns.c, slow clients) and once a second it writes the aggregate audit
 * entries of unauthenticated refusals whose interval ended (denials.c).
 * On a shared store (PostgreSQL) it also deletes, once a minute, the
 * nonce claims whose window has passed (every node does; the DELETE is
 * idempotent), so the replay table stays the size of one window.
 * It holds no lock of its own across those calls. The sweep and the
 * flush never block on the network or the disk (both queue or shut down
 * and return); the nonce expiry waits for the database like any store
 * call: a host that vanishes fails it within ~30 s (TCP keepalives and
 * tcp_user_timeout, store/pg_conn.c), but a database that answers and
 * holds a lock on the nonces table delays the sweep meanwhile.
 */
#include "http/guard.h"

#include <time.h>

static void
expire_nonces(struct pv_server *srv)
{
	struct pv_store *s = srv->vault->store;

	if (pv_store_is_shared(s) &&
	    pv_store_nonce_expire(s, pv_now()) != PV_OK)
		pv_log(PV_LOG_WARN, "nonces_expire_failed", NULL,
		    (const char *)NULL);
}

static void *
janitor_main(void *arg)
{
	struct pv_server *srv = arg;
	struct timespec ts;
	unsigned tick = 0;

	pthread_mutex_lock(&srv->janitor_lock);
	while (!atomic_load(&srv->is_stopping)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += PV_CONNS_SWEEP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->janitor_cv, &srv->janitor_lock,
		    &ts);
		if (atomic_load(&srv->is_stopping))
			break;
		pthread_mutex_unlock(&srv->janitor_lock);
		PV_IGNORE(pv_conns_sweep(srv->conns));
		if (++tick % (1000 / PV_CONNS_SWEEP_MS) == 0)
			pv_denials_flush(srv->denials, pv_now(), false);
		if (tick % (60000 / PV_CONNS_SWEEP_MS) == 0)
			expire_nonces(srv);
		pthread_mutex_lock(&srv->janitor_lock);
	}
	pthread_mutex_unlock(&srv->janitor_lock);
	return NULL;
}

pv_status
pv_janitor_start(struct pv_server *srv)
{
	pthread_mutex_init(&srv->janitor_lock, NULL);
	pthread_cond_init(&srv->janitor_cv, NULL);
	if (pthread_create(&srv->janitor, NULL, janitor_main, srv) != 0)
		return PV_ENOMEM;
	srv->has_janitor = true;
	return PV_OK;
}

void
pv_janitor_stop(struct pv_server *srv)
{
	if (!srv->has_janitor)
		return;
	pthread_mutex_lock(&srv->janitor_lock);
	pthread_cond_broadcast(&srv->janitor_cv);
	pthread_mutex_unlock(&srv->janitor_lock);
	pthread_join(srv->janitor, NULL);
	srv->has_janitor = false;
}
