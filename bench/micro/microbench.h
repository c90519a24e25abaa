/*
 * microbench.h — a tiny harness for phivault's C micro-benchmarks
 * (bench/micro/NAME_bench.c, built with -DPV_BENCH=ON).
 *
 * A benchmark registers cases (a function that runs its operation n
 * times); the harness calibrates n so that one round takes about
 * --round-ms milliseconds, runs --rounds rounds and reports the median
 * (and min/max) nanoseconds per operation. Every case is bounded in time
 * by construction (n is derived from a measured calibration and capped),
 * and the whole program by an alarm (--max-seconds): a benchmark never
 * runs away on a loaded machine.
 *
 * Output: a table on stdout and a JSON document (machine, load average
 * at start and end, parameters, every case's rounds and median) written
 * to bench/results/<name>-<UTC>.json, or to --out FILE.
 *
 * Temporary vaults go under $TMPDIR (default /tmp) and are removed at
 * exit; the shell drivers point TMPDIR into their own temp dir so even a
 * killed run leaves nothing behind.
 *
 * Header-only (static functions): each benchmark is one translation unit.
 */
#ifndef PV_BENCH_MICROBENCH_H
#define PV_BENCH_MICROBENCH_H

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/vault.h"

#ifndef PV_BENCH_SOURCE_DIR
#define PV_BENCH_SOURCE_DIR "."
#endif

/* Header-only helpers: not every benchmark uses every one. */
#define MB_UNUSED __attribute__((unused))

/* Keeps the compiler from optimising a benchmarked result away. */
#define MB_KEEP(x) __asm__ __volatile__("" : : "g"(x) : "memory")

typedef void (*mb_fn)(void *arg, uint64_t n);

struct mb {
	const char *name;
	json_t *doc;		/* the result document */
	json_t *cases;		/* array */
	json_t *extra;		/* free-form results ("figures") */
	char out_path[1024];
	unsigned rounds;
	unsigned round_ms;
	unsigned max_seconds;
	char load0[64];
	char tmp_root[512];	/* removed at exit, "" = none */
	int argc;
	char **argv;		/* arguments left for the benchmark */
};

static struct mb mb_g;

static MB_UNUSED uint64_t
mb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static MB_UNUSED void
mb_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", mb_g.name != NULL ? mb_g.name : "bench");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static MB_UNUSED void
mb_read_loadavg(char *out, size_t outsz)
{
	FILE *f = fopen("/proc/loadavg", "r");
	char a[16] = "?", b[16] = "?", c[16] = "?";

	if (f != NULL) {
		if (fscanf(f, "%15s %15s %15s", a, b, c) != 3)
			strcpy(a, "?");
		fclose(f);
	}
	snprintf(out, outsz, "%s %s %s", a, b, c);
}

static MB_UNUSED void
mb_rm_tmp(void)
{
	char cmd[700];

	if (mb_g.tmp_root[0] == '\0' || getenv("MB_KEEP_TMP") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mb_g.tmp_root);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", mb_g.name,
		    mb_g.tmp_root);
	mb_g.tmp_root[0] = '\0';
}

static MB_UNUSED void
mb_on_alarm(int sig)
{
	static const char msg[] = "micro-benchmark: exceeded --max-seconds, "
	    "stopping\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(124);	/* the temp dir lives under the driver's TMPDIR */
}

/* A private temp dir (under $TMPDIR) removed at exit; returns its path. */
static MB_UNUSED const char *
mb_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (mb_g.tmp_root[0] != '\0')
		return mb_g.tmp_root;
	snprintf(mb_g.tmp_root, sizeof(mb_g.tmp_root), "%s/pv-micro-XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(mb_g.tmp_root) == NULL)
		mb_die("mkdtemp: %s", strerror(errno));
	atexit(mb_rm_tmp);
	return mb_g.tmp_root;
}

static MB_UNUSED void
mb_usage(const char *extra)
{
	printf("usage: %s [--rounds N] [--round-ms MS] [--max-seconds S] "
	    "[--out FILE.json]%s%s\n"
	    "  --rounds N       timed rounds per case (default 5); the median "
	    "is reported\n"
	    "  --round-ms MS    target length of one round (default 200)\n"
	    "  --max-seconds S  hard bound on the whole run (default 600)\n"
	    "  --out FILE       JSON result file (default "
	    "bench/results/%s-<UTC>.json)\n",
	    mb_g.name, extra != NULL ? " " : "", extra != NULL ? extra : "",
	    mb_g.name);
}

static MB_UNUSED unsigned
mb_uint_arg(const char *flag, const char *v, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = v != NULL ? strtoul(v, &end, 10) : 0;
	if (v == NULL || errno != 0 || *end != '\0' || x < lo || x > hi)
		mb_die("%s needs an integer in [%u, %u]", flag, lo, hi);
	return (unsigned)x;
}

/*
 * Parses the common flags; the others stay in mb_g.argc/argv for the
 * benchmark. extra_usage describes them for --help.
 */
static MB_UNUSED void
mb_init(const char *name, int argc, char **argv, const char *extra_usage)
{
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	int i;

	memset(&mb_g, 0, sizeof(mb_g));
	mb_g.name = name;
	mb_g.rounds = 5;
	mb_g.round_ms = 200;
	mb_g.max_seconds = 600;
	mb_g.argv = calloc((size_t)argc + 1, sizeof(char *));
	if (mb_g.argv == NULL)
		mb_die("out of memory");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			mb_g.rounds = mb_uint_arg("--rounds", argv[++i], 1, 1000);
		else if (strcmp(argv[i], "--round-ms") == 0 && i + 1 < argc)
			mb_g.round_ms = mb_uint_arg("--round-ms", argv[++i], 1,
			    60000);
		else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
			mb_g.max_seconds = mb_uint_arg("--max-seconds",
			    argv[++i], 1, 86400);
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			snprintf(mb_g.out_path, sizeof(mb_g.out_path), "%s",
			    argv[++i]);
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			mb_usage(extra_usage);
			exit(0);
		} else
			mb_g.argv[mb_g.argc++] = argv[i];
	}
	signal(SIGALRM, mb_on_alarm);
	alarm(mb_g.max_seconds);
	mb_read_loadavg(mb_g.load0, sizeof(mb_g.load0));
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (mb_g.out_path[0] == '\0') {
		snprintf(mb_g.out_path, sizeof(mb_g.out_path),
		    "%s/bench/results/%s-%s.json", PV_BENCH_SOURCE_DIR, name,
		    stamp);
		mkdir(PV_BENCH_SOURCE_DIR "/bench/results", 0755);
	}
	mb_g.doc = json_object();
	mb_g.cases = json_array();
	mb_g.extra = json_object();
	json_object_set_new(mb_g.doc, "benchmark", json_string(name));
	json_object_set_new(mb_g.doc, "timestamp", json_string(stamp));
	json_object_set_new(mb_g.doc, "params", json_pack("{s:i, s:i, s:i}",
	    "rounds", (json_int_t)mb_g.rounds, "round_ms",
	    (json_int_t)mb_g.round_ms, "max_seconds",
	    (json_int_t)mb_g.max_seconds));
	if (pv_crypto_init() != PV_OK)
		mb_die("pv_crypto_init failed");
}

/* The table header, printed before the first case. */
static MB_UNUSED void
mb_header(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	fflush(stderr);
	printf("\n%s: %u rounds of ~%u ms per case, median ns/op\n",
	    mb_g.name, mb_g.rounds, mb_g.round_ms);
	printf("%-46s %12s %12s %12s %12s\n", "case", "ns/op", "min", "max",
	    "ops/s");
	printf("%.*s\n", 98, "----------------------------------------------"
	    "------------------------------------------------------------");
	fflush(stdout);
}

static MB_UNUSED int
mb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Runs fn: calibrates n (doubling until a batch takes >= 1/10 of a round,
 * at most max_n), then --rounds rounds of n operations. Returns the
 * median ns/op and records the case. note (may be NULL) is stored with it.
 */
static MB_UNUSED double
mb_run(const char *label, mb_fn fn, void *arg, uint64_t max_n,
    const char *note)
{
	uint64_t n = 1, t0, dt = 0, target = (uint64_t)mb_g.round_ms * 1000000ull;
	double *per = calloc(mb_g.rounds, sizeof(double)), med;
	json_t *rounds = json_array();
	unsigned r;

	if (per == NULL)
		mb_die("out of memory");
	mb_header();
	if (max_n == 0)
		max_n = UINT64_MAX / 2;
	for (;;) {
		t0 = mb_now_ns();
		fn(arg, n);
		dt = mb_now_ns() - t0;
		if (dt >= target / 10 || n >= max_n)
			break;
		n *= 2;
	}
	if (dt > 0 && n < max_n) {
		uint64_t want = (uint64_t)((double)n * (double)target /
		    (double)dt);
		n = want < 1 ? 1 : want;
	}
	if (n > max_n)
		n = max_n;
	for (r = 0; r < mb_g.rounds; r++) {
		t0 = mb_now_ns();
		fn(arg, n);
		dt = mb_now_ns() - t0;
		per[r] = (double)dt / (double)n;
		json_array_append_new(rounds, json_real(per[r]));
	}
	qsort(per, mb_g.rounds, sizeof(double), mb_cmp_double);
	med = mb_g.rounds % 2 ? per[mb_g.rounds / 2] :
	    (per[mb_g.rounds / 2 - 1] + per[mb_g.rounds / 2]) / 2;
	printf("%-46s %12.1f %12.1f %12.1f %12.0f\n", label, med, per[0],
	    per[mb_g.rounds - 1], med > 0 ? 1e9 / med : 0);
	fflush(stdout);
	json_array_append_new(mb_g.cases, json_pack("{s:s, s:f, s:f, s:f, "
	    "s:f, s:I, s:o, s:s?}", "case", label, "ns_per_op", med,
	    "min_ns", per[0], "max_ns", per[mb_g.rounds - 1], "ops_per_s",
	    med > 0 ? 1e9 / med : 0.0, "iterations_per_round", (json_int_t)n,
	    "rounds_ns_per_op", rounds, "note", note));
	free(per);
	return med;
}

/* A free-form figure (e.g. appends/s of a threaded run) for the JSON. */
static MB_UNUSED void
mb_figure(const char *key, json_t *value)
{
	json_object_set_new(mb_g.extra, key, value);
}

static MB_UNUSED void
mb_env_json(void)
{
	char load1[64], model[256] = "unknown", line[512], commit[64] = "unknown";
	FILE *f;

	mb_read_loadavg(load1, sizeof(load1));
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "model name", 10) == 0) {
				char *c = strchr(line, ':');

				if (c != NULL) {
					snprintf(model, sizeof(model), "%s",
					    c + 2);
					model[strcspn(model, "\n")] = '\0';
				}
				break;
			}
		fclose(f);
	}
	if ((f = popen("git -C '" PV_BENCH_SOURCE_DIR "' rev-parse HEAD "
	    "2>/dev/null", "r")) != NULL) {
		if (fgets(commit, sizeof(commit), f) == NULL)
			strcpy(commit, "unknown");
		commit[strcspn(commit, "\n")] = '\0';
		pclose(f);
	}
	json_object_set_new(mb_g.doc, "machine", json_pack("{s:I, s:s, s:s, "
	    "s:s}", "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
	    "cpu_model", model, "loadavg_start", mb_g.load0, "loadavg_end",
	    load1));
	json_object_set_new(mb_g.doc, "source", json_pack("{s:s}", "commit",
	    commit));
	json_object_set_new(mb_g.doc, "libsodium", json_string(
	    sodium_version_string()));
}

/* Writes the JSON document and prints where; returns the exit status. */
static MB_UNUSED int
mb_finish(void)
{
	char tmp[1100];

	mb_env_json();
	json_object_set_new(mb_g.doc, "cases", mb_g.cases);
	json_object_set_new(mb_g.doc, "figures", mb_g.extra);
	snprintf(tmp, sizeof(tmp), "%s.tmp", mb_g.out_path);
	if (json_dump_file(mb_g.doc, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(
	    6)) != 0 || rename(tmp, mb_g.out_path) != 0)
		mb_die("cannot write %s", mb_g.out_path);
	printf("load average at start: %s, at end: %s (%ld CPUs)\n",
	    mb_g.load0, json_string_value(json_object_get(json_object_get(
	    mb_g.doc, "machine"), "loadavg_end")),
	    sysconf(_SC_NPROCESSORS_ONLN));
	printf("results: %s\n", mb_g.out_path);
	json_decref(mb_g.doc);
	free(mb_g.argv);
	return 0;
}

/*
 * A real vault under the private temp dir (the production store, keyring
 * and key files, as tests/unit/testvault.h does). extra_conf may be NULL.
 */
static MB_UNUSED struct pv_vault *
mb_vault_open(const char *sub, const char *extra_conf, char *dir_out,
    size_t dir_outsz)
{
	struct pv_vault *v = NULL;
	char dir[700], err[256], path[800];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", mb_tmpdir(), sub);
	if (pv_vault_create(dir, err, sizeof(err)) != PV_OK)
		mb_die("vault create: %s", err);
	if (extra_conf != NULL) {
		snprintf(path, sizeof(path), "%s/phivault.conf", dir);
		if ((f = fopen(path, "a")) == NULL)
			mb_die("cannot append to %s", path);
		fputs(extra_conf, f);
		fclose(f);
	}
	if (pv_vault_open(dir, &v, err, sizeof(err)) != PV_OK)
		mb_die("vault open: %s", err);
	if (dir_out != NULL)
		snprintf(dir_out, dir_outsz, "%s", dir);
	return v;
}

#endif
