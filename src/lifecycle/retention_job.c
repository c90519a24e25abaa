/*
 * retention_job.c — the periodic retention purge of a running server.
 *
 * Guarantees: a purge runs at most every [retention] purge_interval
 * seconds, never two at once; pv_retention_stop returns only after the
 * thread has ended (a purge in progress completes first, so no erasure is
 * left half-audited); a failed purge is logged and retried next interval.
 */
#include "lifecycle/retention_job.h"
#include "lifecycle/lifecycle.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct pv_retention {
	struct pv_vault *v;
	struct pv_audit *audit;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool is_stopping;
};

static void
purge_once(struct pv_retention *j)
{
	struct pv_purge_report rep = { 0, 0, 0, 0 };
	char a[24], b[24];

	if (pv_retention_purge(j->v, j->audit, pv_now(), false, NULL, NULL,
		&rep) != PV_OK)
		pv_log(PV_LOG_ERROR, "purge_failed", NULL, (const char *)NULL);
	PV_IGNORE(pv_snprintf(a, sizeof(a), "%zu", rep.resources_purged));
	PV_IGNORE(pv_snprintf(b, sizeof(b), "%zu", rep.patients_shredded));
	pv_log(PV_LOG_INFO, "purge", NULL, "resources_purged", a,
	    "patients_shredded", b, (const char *)NULL);
}

static void *
job_main(void *arg)
{
	struct pv_retention *j = arg;
	struct timespec ts;

	pthread_mutex_lock(&j->lock);
	while (!j->is_stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += j->v->cfg.purge_interval;
		pthread_cond_timedwait(&j->cv, &j->lock, &ts);
		if (j->is_stopping)
			break;
		pthread_mutex_unlock(&j->lock);
		purge_once(j);
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

pv_status
pv_retention_start(struct pv_vault *v, struct pv_audit *audit,
    struct pv_retention **out)
{
	struct pv_retention *j;

	*out = NULL;
	if (v->cfg.retention_n == 0)
		return PV_OK;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return PV_ENOMEM;
	j->v = v;
	j->audit = audit;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cv, NULL);
	if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
		pthread_cond_destroy(&j->cv);
		pthread_mutex_destroy(&j->lock);
		free(j);
		return PV_ENOMEM;
	}
	*out = j;
	return PV_OK;
}

void
pv_retention_stop(struct pv_retention *j)
{
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->lock);
	j->is_stopping = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->lock);
	free(j);
}
