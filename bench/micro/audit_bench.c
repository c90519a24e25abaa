/*
 * audit_bench.c — issue 6: audit appends per second with group commit.
 *
 * Benchmark mode (default): a real temp vault, the audit trail opened as
 * the server opens it (keep_index on), then for each thread count T in
 * --threads (default 1,4,16,64,256): T threads call pv_audit_append (the
 * durable, waiting append every request ends with) in a loop for
 * --seconds; --rounds rounds each, alternating thread counts. Reported
 * per T: appends/s (median over rounds), entries per fsync (group-commit
 * batch size, from the phivault_audit_fsyncs_total and
 * phivault_audit_entries_total counters) and the append latency p50/p99.
 * One thread is one fsync per entry; many threads share each fsync.
 *
 * Fill mode: --fill N --vault DIR appends N entries to an existing vault
 * (made by `phivault init`) as fast as group commit allows, keeping up to
 * --window entries in flight through pv_audit_submit — used by
 * bench/audit.sh to build a large log for `phivault audit verify`.
 *
 * usage: audit_bench [--rounds N] [--seconds S] [--threads 1,4,16,...]
 *                    [--out FILE]
 *        audit_bench --fill N --vault DIR [--window W]
 */
#include "microbench.h"

#include <pthread.h>
#include <stdatomic.h>

#include "audit/audit.h"
#include "common/metrics.h"

#define MAX_THREADS 1024
#define LAT_CAP 100000 /* latency samples kept per thread */

struct worker {
	pthread_t t;
	struct pv_audit *a;
	unsigned idx;
	uint64_t n;
	uint32_t *lat_us; /* LAT_CAP samples */
	size_t lat_n;
	bool failed;
};

static atomic_bool g_stop;
static atomic_uint g_ready;

static void
event(struct pv_audit_event *ev, unsigned thread, uint64_t i)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = 1000 + thread;
	strcpy(ev->role, "clinician");
	strcpy(ev->action, "read");
	strcpy(ev->type, "Observation");
	pv_random_id(ev->id);
	snprintf(ev->patient, sizeof(ev->patient), "%032llx",
	    (unsigned long long)(i % 4096) * 2654435761ull);
	ev->outcome = "allowed";
	ev->reason = "careteam";
	strcpy(ev->src, "127.0.0.1");
	pv_random_id(ev->rid);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pv_audit_event ev;

	atomic_fetch_add(&g_ready, 1);
	while (!atomic_load(&g_stop)) {
		uint64_t t0 = mb_now_ns(), dt;

		event(&ev, w->idx, w->n);
		if (pv_audit_append(w->a, &ev) != PV_OK) {
			w->failed = true;
			break;
		}
		dt = (mb_now_ns() - t0) / 1000;
		if (w->lat_n < LAT_CAP)
			w->lat_us[w->lat_n++] =
			    dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		w->n++;
	}
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct run_result {
	double rate, per_fsync, p50_ms, p99_ms;
};

static struct run_result
run_threads(struct pv_audit *a, unsigned nthreads, double seconds)
{
	struct worker *w = calloc(nthreads, sizeof(*w));
	uint32_t *all;
	uint64_t total = 0, f0, e0, f1, e1, t0, dt;
	size_t lat_total = 0, k = 0;
	struct run_result r;
	unsigned i;

	if (w == NULL)
		mb_die("out of memory");
	atomic_store(&g_stop, false);
	atomic_store(&g_ready, 0);
	f0 = pv_metric_get(PV_M_AUDIT_FSYNCS);
	e0 = pv_metric_get(PV_M_AUDIT_ENTRIES);
	t0 = mb_now_ns();
	for (i = 0; i < nthreads; i++) {
		w[i].a = a;
		w[i].idx = i;
		w[i].lat_us = malloc(LAT_CAP * sizeof(uint32_t));
		if (w[i].lat_us == NULL ||
		    pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0)
			mb_die("cannot start thread %u", i);
	}
	while (atomic_load(&g_ready) < nthreads)
		usleep(100);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&g_stop, true);
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].failed)
			mb_die("pv_audit_append failed");
		total += w[i].n;
		lat_total += w[i].lat_n;
	}
	dt = mb_now_ns() - t0;
	f1 = pv_metric_get(PV_M_AUDIT_FSYNCS);
	e1 = pv_metric_get(PV_M_AUDIT_ENTRIES);
	all = malloc((lat_total + 1) * sizeof(uint32_t));
	if (all == NULL)
		mb_die("out of memory");
	for (i = 0; i < nthreads; i++) {
		memcpy(all + k, w[i].lat_us, w[i].lat_n * sizeof(uint32_t));
		k += w[i].lat_n;
		free(w[i].lat_us);
	}
	qsort(all, lat_total, sizeof(uint32_t), cmp_u32);
	r.rate = (double)total / ((double)dt / 1e9);
	r.per_fsync = f1 > f0 ? (double)(e1 - e0) / (double)(f1 - f0) : 0;
	r.p50_ms = lat_total ? all[lat_total / 2] / 1000.0 : 0;
	r.p99_ms =
	    lat_total ? all[(size_t)((double)lat_total * 0.99)] / 1000.0 : 0;
	free(all);
	free(w);
	return r;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- fill mode ---- */

struct filler {
	pthread_mutex_t m;
	pthread_cond_t c;
	uint64_t outstanding, done, failed;
};

static void
fill_done(void *arg, pv_status st)
{
	struct filler *f = arg;

	pthread_mutex_lock(&f->m);
	f->outstanding--;
	f->done++;
	if (st != PV_OK)
		f->failed++;
	pthread_cond_signal(&f->c);
	pthread_mutex_unlock(&f->m);
}

static int
fill(const char *dir, uint64_t n, uint64_t window)
{
	struct pv_vault *v = NULL;
	struct pv_audit *a = NULL;
	struct filler f = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		0, 0, 0 };
	struct pv_audit_event ev;
	char err[256];
	uint64_t i, t0, f0;
	double secs;

	if (pv_crypto_init() != PV_OK ||
	    pv_vault_open(dir, &v, err, sizeof(err)) != PV_OK)
		mb_die("cannot open vault %s: %s", dir, err);
	{
		struct pv_audit_opts o = PV_VAULT_AUDIT_OPTS(v, false, 0);

		if (pv_audit_open(&o, &a) != PV_OK)
			mb_die("cannot open the audit log of %s", dir);
	}
	t0 = mb_now_ns();
	f0 = pv_metric_get(PV_M_AUDIT_FSYNCS);
	for (i = 0; i < n; i++) {
		event(&ev, (unsigned)(i % 64), i);
		pthread_mutex_lock(&f.m);
		while (f.outstanding >= window)
			pthread_cond_wait(&f.c, &f.m);
		f.outstanding++;
		pthread_mutex_unlock(&f.m);
		while (pv_audit_submit(a, &ev, fill_done, &f) != PV_OK) {
			usleep(1000); /* queue full: let the writer drain */
		}
		if (isatty(2) && i % 50000 == 0)
			fprintf(stderr, "\raudit_bench: %llu/%llu",
			    (unsigned long long)i, (unsigned long long)n);
	}
	pthread_mutex_lock(&f.m);
	while (f.outstanding > 0)
		pthread_cond_wait(&f.c, &f.m);
	pthread_mutex_unlock(&f.m);
	secs = (double)(mb_now_ns() - t0) / 1e9;
	pv_audit_close(a);
	if (isatty(2))
		fputc('\n', stderr);
	printf("audit_bench: appended %llu entries in %.2f s (%.0f/s, %llu "
	       "group commits, %llu failed)\n",
	    (unsigned long long)f.done, secs, (double)f.done / secs,
	    (unsigned long long)(pv_metric_get(PV_M_AUDIT_FSYNCS) - f0),
	    (unsigned long long)f.failed);
	pv_vault_close(v);
	return f.failed == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	unsigned threads[64], nt = 0, i, r;
	double seconds = 2;
	uint64_t fill_n = 0, window = 16384;
	const char *vault = NULL, *list = "1,4,16,64,256";
	struct pv_vault *v;
	struct pv_audit *a = NULL;
	int k;

	/* Fill mode takes its own flags; everything else goes to mb_init. */
	for (k = 1; k < argc; k++)
		if (strcmp(argv[k], "--fill") == 0)
			break;
	if (k < argc) {
		for (k = 1; k < argc; k++) {
			if (strcmp(argv[k], "--fill") == 0 && k + 1 < argc)
				fill_n = strtoull(argv[++k], NULL, 10);
			else if (strcmp(argv[k], "--vault") == 0 &&
			    k + 1 < argc)
				vault = argv[++k];
			else if (strcmp(argv[k], "--window") == 0 &&
			    k + 1 < argc)
				window = strtoull(argv[++k], NULL, 10);
			else
				mb_die("fill mode: unknown argument %s",
				    argv[k]);
		}
		if (fill_n == 0 || vault == NULL || window == 0 ||
		    window > 60000)
			mb_die("usage: audit_bench --fill N --vault DIR "
			       "[--window 1..60000]");
		alarm(3600);
		return fill(vault, fill_n, window);
	}

	mb_init("audit_bench", argc, argv,
	    "[--seconds S] [--threads 1,4,16,64,256] | --fill N --vault DIR "
	    "[--window W]");
	for (k = 0; k < mb_g.argc; k++) {
		if (strcmp(mb_g.argv[k], "--seconds") == 0 && k + 1 < mb_g.argc)
			seconds =
			    mb_uint_arg("--seconds", mb_g.argv[++k], 1, 600);
		else if (strcmp(mb_g.argv[k], "--threads") == 0 &&
		    k + 1 < mb_g.argc)
			list = mb_g.argv[++k];
		else
			mb_die("unknown argument %s (see --help)",
			    mb_g.argv[k]);
	}
	{
		char buf[256], *save = NULL, *tok;

		snprintf(buf, sizeof(buf), "%s", list);
		for (tok = strtok_r(buf, ",", &save); tok != NULL && nt < 64;
		     tok = strtok_r(NULL, ",", &save))
			threads[nt++] =
			    mb_uint_arg("--threads", tok, 1, MAX_THREADS);
		if (nt == 0)
			mb_die("--threads: empty list");
	}
	if ((double)nt * mb_g.rounds * (seconds + 1) + 30 >
	    (double)mb_g.max_seconds)
		mb_die("threads x rounds x seconds exceeds --max-seconds");
	v = mb_vault_open("v", NULL, NULL, 0);
	{
		struct pv_audit_opts o = PV_VAULT_AUDIT_OPTS(v, true, 0);

		if (pv_audit_open(&o, &a) != PV_OK)
			mb_die("cannot open the audit log");
	}
	{
		double rate[64][64], fs[64][64], p50[64][64], p99[64][64];
		json_t *rows = json_array();
		double base = 0;

		if (mb_g.rounds > 64)
			mb_die("--rounds: at most 64 here");
		/* A short warm-up (file growth, page cache), not recorded. */
		(void)run_threads(a, 4, 0.5);
		for (r = 0; r < mb_g.rounds; r++)
			for (i = 0; i < nt; i++) {
				struct run_result x =
				    run_threads(a, threads[i], seconds);

				rate[i][r] = x.rate;
				fs[i][r] = x.per_fsync;
				p50[i][r] = x.p50_ms;
				p99[i][r] = x.p99_ms;
				fprintf(stderr,
				    "audit_bench: round %u, %u "
				    "threads: %.0f appends/s, %.1f per fsync\n",
				    r + 1, threads[i], x.rate, x.per_fsync);
			}
		printf("\naudit_bench: pv_audit_append (durable: waits for the "
		       "group commit's fdatasync), %.0f s x %u rounds, "
		       "medians\n",
		    seconds, mb_g.rounds);
		printf("%8s %14s %12s %14s %10s %10s\n", "threads", "appends/s",
		    "vs 1 thread", "entries/fsync", "p50 ms", "p99 ms");
		printf("%.*s\n", 73,
		    "-----------------------------------------"
		    "----------------------------------------");
		for (i = 0; i < nt; i++)
			if (threads[i] == 1)
				base = median(rate[i], mb_g.rounds);
		for (i = 0; i < nt; i++) {
			double mr = median(rate[i], mb_g.rounds);
			double mf = median(fs[i], mb_g.rounds);
			double m50 = median(p50[i], mb_g.rounds);
			double m99 = median(p99[i], mb_g.rounds);
			json_t *rr = json_array();
			char speed[32] = "n/a";

			if (base > 0)
				snprintf(speed, sizeof(speed), "%.1fx",
				    mr / base);
			for (r = 0; r < mb_g.rounds; r++)
				json_array_append_new(rr,
				    json_real(rate[i][r]));
			printf("%8u %14.0f %12s %14.1f %10.3f %10.3f\n",
			    threads[i], mr, speed, mf, m50, m99);
			json_array_append_new(rows,
			    json_pack("{s:i, s:f, s:f, "
				      "s:f, s:f, s:f, s:o}",
				"threads", (json_int_t)threads[i],
				"appends_per_s", mr, "speedup_vs_1_thread",
				base > 0 ? mr / base : 0.0, "entries_per_fsync",
				mf, "latency_p50_ms", m50, "latency_p99_ms",
				m99, "rounds_appends_per_s", rr));
		}
		mb_figure("append_concurrency", rows);
		mb_figure("seconds_per_run", json_real(seconds));
		mb_figure("log_entries_written",
		    json_integer((json_int_t)pv_audit_size(a)));
	}
	pv_audit_close(a);
	pv_vault_close(v);
	return mb_finish();
}
