/*
 * workq.c — fixed thread pool over a bounded ring of jobs.
 *
 * Guarantees: submit never blocks and never allocates (the ring is sized
 * at start); every accepted job runs exactly once, including those still
 * queued when stop is called.
 */
#include "common/workq.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct job {
	pv_work_fn fn;
	void *arg;
};

struct pv_workq {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct job *ring;
	size_t depth, head, n;
	bool is_stopping;
	int nice_delta;
	unsigned nthreads;
	pthread_t threads[];
};

static void *
worker(void *p)
{
	struct pv_workq *q = p;

	if (q->nice_delta > 0)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
		    q->nice_delta);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct job j;

		while (q->n == 0 && !q->is_stopping)
			pthread_cond_wait(&q->cv, &q->lock);
		if (q->n == 0)
			break;
		j = q->ring[q->head];
		q->head = (q->head + 1) % q->depth;
		q->n--;
		pthread_mutex_unlock(&q->lock);
		j.fn(j.arg);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

pv_status
pv_workq_start(unsigned nthreads, size_t depth, int nice_delta,
    struct pv_workq **out)
{
	struct pv_workq *q;
	unsigned i;

	*out = NULL;
	if (nthreads == 0 || nthreads > 256 || depth == 0 ||
	    depth > SIZE_MAX / sizeof(struct job))
		return PV_EINVAL;
	q = calloc(1, sizeof(*q) + nthreads * sizeof(pthread_t));
	if (q == NULL)
		return PV_ENOMEM;
	q->ring = calloc(depth, sizeof(struct job));
	if (q->ring == NULL) {
		free(q);
		return PV_ENOMEM;
	}
	q->depth = depth;
	q->nice_delta = nice_delta;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cv, NULL);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
			break;
		q->nthreads++;
	}
	if (q->nthreads == 0) {
		pv_workq_stop(q);
		return PV_EINTERNAL;
	}
	*out = q;
	return PV_OK;
}

pv_status
pv_workq_submit(struct pv_workq *q, pv_work_fn fn, void *arg)
{
	pv_status st = PV_OK;

	pthread_mutex_lock(&q->lock);
	if (q->is_stopping || q->n >= q->depth) {
		st = PV_EBUSY;
	} else {
		q->ring[(q->head + q->n) % q->depth] = (struct job){ fn, arg };
		q->n++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->lock);
	return st;
}

void
pv_workq_drain(struct pv_workq *q)
{
	unsigned i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->is_stopping = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0; /* joined: a second drain joins nothing */
}

void
pv_workq_stop(struct pv_workq *q)
{
	if (q == NULL)
		return;
	pv_workq_drain(q);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}
