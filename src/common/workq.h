/*
 * workq.h — a bounded pool of worker threads.
 *
 * Used for work that must not run on an HTTP thread: Argon2id hashing
 * (tens of milliseconds of CPU and 19 MiB each), audited changes (the
 * write-ahead audit entry waits for an fsync), exports. The queue is bounded so
 * a flood of logins is refused with 503 instead of exhausting memory, and
 * the pool size bounds how many hashes run at once, leaving CPU for
 * record requests.
 */
#ifndef PV_COMMON_WORKQ_H
#define PV_COMMON_WORKQ_H

#include "common/pv.h"

struct pv_workq;
typedef void (*pv_work_fn)(void *arg);

/*
 * Starts nthreads workers with a queue of at most depth pending jobs.
 * nice_delta > 0 lowers the workers' scheduling priority (Linux per-thread
 * nice) so request threads win the CPU when both are runnable.
 */
PV_MUST_CHECK pv_status pv_workq_start(unsigned nthreads, size_t depth,
    int nice_delta, struct pv_workq **out);
/* Queues fn(arg); PV_EBUSY when the queue is full (fn is not called). */
PV_MUST_CHECK pv_status pv_workq_submit(struct pv_workq *q, pv_work_fn fn,
    void *arg);
/*
 * Refuses new jobs (submit answers PV_EBUSY), runs what is queued, joins
 * the workers; q stays valid for submit until pv_workq_stop. Idempotent,
 * NULL-safe. Lets the server finish queued work while its HTTP threads
 * can still answer (graceful shutdown).
 */
void pv_workq_drain(struct pv_workq *q);
/* pv_workq_drain, then frees q. NULL-safe. */
void pv_workq_stop(struct pv_workq *q);

#endif
