/*
 * storeharness.h — the store's unit tests run the same checks against
 * every backend: SQLite in a temp directory and PostgreSQL 15 in a
 * throw-away cluster (tests/pg/pgctl.sh). No mocks: both are the
 * production code.
 *
 * PostgreSQL: when PV_TEST_PG_DIR names a running pgctl.sh cluster (a
 * CTest fixture may start one), its env file is used; otherwise the
 * harness starts its own cluster in a temp directory and stops it at the
 * end. When the PostgreSQL binaries are not installed the PostgreSQL runs
 * are skipped (with a line saying so); scripts/deps test installs them.
 *
 * Each test gets fresh databases: a new directory (SQLite) or a new pair
 * of databases, records and keys, created and migrated (PostgreSQL).
 */
#ifndef PV_TESTS_STOREHARNESS_H
#define PV_TESTS_STOREHARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

enum sh_kind { SH_SQLITE, SH_PG };

struct sh_db {
	enum sh_kind kind;
	char dir[128]; /* SQLite: the temp directory */
	char dsn[64], keys_dsn[64]; /* PostgreSQL */
};

static char sh_pg_dir[128]; /* the cluster in use, "" when none */
static bool sh_pg_is_ours; /* started here: stopped at the end */
static bool sh_pg_is_missing; /* no PostgreSQL binaries */
static int sh_seq;

/* tests/pg/pgctl.sh, found from this file's path (CMake passes sources by
 * absolute path). */
static void
sh_pgctl(char *out, size_t outsz)
{
	const char *f = __FILE__, *cut = strstr(f, "tests/unit/");

	if (cut == NULL)
		snprintf(out, outsz, "tests/pg/pgctl.sh");
	else
		snprintf(out, outsz, "%.*stests/pg/pgctl.sh", (int)(cut - f),
		    f);
}

/* Runs `pgctl.sh VERB DIR [ARG]`, its chatter discarded. */
static inline int
sh_run(const char *verb, const char *dir, const char *arg)
{
	char ctl[512], cmd[1024];

	sh_pgctl(ctl, sizeof(ctl));
	snprintf(cmd, sizeof(cmd), "'%s' %s '%s' %s%s%s >/dev/null", ctl, verb,
	    dir, arg != NULL ? "'" : "", arg != NULL ? arg : "",
	    arg != NULL ? "'" : "");
	return system(cmd);
}

/* Exports PGHOST, PGPORT, PGUSER, PGPASSFILE from DIR/env. */
static bool
sh_load_env(const char *dir)
{
	char path[256], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/env", dir);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (eq == NULL)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	fclose(f);
	return true;
}

/* Group setup: a cluster to use, or none (PostgreSQL runs skipped). */
static bool
sh_pg_start(void)
{
	const char *given = getenv("PV_TEST_PG_DIR");

	if (sh_pg_dir[0] != '\0')
		return true;
	if (given != NULL && given[0] != '\0') {
		snprintf(sh_pg_dir, sizeof(sh_pg_dir), "%s", given);
		return sh_load_env(sh_pg_dir);
	}
	if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0) {
		sh_pg_is_missing = true;
		fprintf(stderr,
		    "storeharness: PostgreSQL 15 is not installed "
		    "(scripts/deps test): PostgreSQL runs skipped\n");
		return true;
	}
	strcpy(sh_pg_dir, "/tmp/pv-pg-XXXXXX");
	if (mkdtemp(sh_pg_dir) == NULL)
		return false;
	strcat(sh_pg_dir, "/pg");
	if (sh_run("start", sh_pg_dir, NULL) != 0)
		return false;
	sh_pg_is_ours = true;
	return sh_load_env(sh_pg_dir);
}

static void
sh_pg_stop(void)
{
	char parent[128];

	if (!sh_pg_is_ours)
		return;
	if (sh_run("stop", sh_pg_dir, NULL) != 0)
		fprintf(stderr, "storeharness: pgctl.sh stop failed\n");
	snprintf(parent, sizeof(parent), "%s", sh_pg_dir);
	parent[strlen(parent) - 3] = '\0'; /* strip "/pg" */
	rmdir(parent);
	sh_pg_dir[0] = '\0';
	sh_pg_is_ours = false;
}

/* Restarts the cluster (fast shutdown, same port); false if not ours to
 * restart or it failed. */
static inline bool
sh_pg_restart(void)
{
	return sh_pg_dir[0] != '\0' && sh_run("restart", sh_pg_dir, NULL) == 0;
}

/* A new, empty, unmigrated database; its DSN into dsn. */
static bool
sh_pg_createdb(const char *what, char *dsn, size_t dsnsz)
{
	char name[48];

	snprintf(name, sizeof(name), "%s_%d_%d", what, (int)getpid(), ++sh_seq);
	if (sh_run("createdb", sh_pg_dir, name) != 0)
		return false;
	snprintf(dsn, dsnsz, "dbname=%s", name);
	return true;
}

static struct pv_store_pg_opts
sh_pg_opts(const struct sh_db *d)
{
	struct pv_store_pg_opts o = { d->dsn, d->keys_dsn, NULL };

	return o;
}

/* Fresh databases for one test: false when they cannot be had. */
static bool
sh_db_make(struct sh_db *d, enum sh_kind kind, bool migrate)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	if (kind == SH_SQLITE) {
		char keys[160];

		strcpy(d->dir, "/tmp/pv-store-XXXXXX");
		if (mkdtemp(d->dir) == NULL)
			return false;
		snprintf(keys, sizeof(keys), "%s/keys", d->dir);
		return mkdir(keys, 0700) == 0;
	}
	if (!sh_pg_createdb("rec", d->dsn, sizeof(d->dsn)) ||
	    !sh_pg_createdb("keys", d->keys_dsn, sizeof(d->keys_dsn)))
		return false;
	if (migrate) {
		struct pv_store_pg_opts o = sh_pg_opts(d);
		char err[256];
		int from, to;

		if (pv_store_pg_migrate(&o, &from, &to, err, sizeof(err)) !=
		    PV_OK) {
			fprintf(stderr, "storeharness: migrate: %s\n", err);
			return false;
		}
	}
	return true;
}

/* Opens a store (one "node") on d's databases. */
static pv_status
sh_open(const struct sh_db *d, struct pv_store **out)
{
	if (d->kind == SH_SQLITE) {
		char db[200], keys[200];
		struct pv_store_opts o = { db, keys, true, 5000 };

		snprintf(db, sizeof(db), "%s/phivault.db", d->dir);
		snprintf(keys, sizeof(keys), "%s/keys/keys.db", d->dir);
		return pv_store_open_sqlite(&o, out);
	}
	struct pv_store_pg_opts o = sh_pg_opts(d);

	return pv_store_open_pg(&o, out);
}

static void
sh_db_drop(struct sh_db *d)
{
	char cmd[256];

	if (d->kind == SH_SQLITE && d->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "storeharness: cleanup failed\n");
	}
	/* PostgreSQL databases go with the cluster. */
}

/* cmocka state for a test run on one backend. */
struct sh_case {
	enum sh_kind kind;
	struct sh_db db;
	struct pv_store *s;
};

static int
sh_case_setup(void **state, enum sh_kind kind)
{
	struct sh_case *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->kind = kind;
	*state = c;
	if (kind == SH_PG && sh_pg_is_missing)
		return 0; /* the test skips itself */
	if (!sh_db_make(&c->db, kind, true) || sh_open(&c->db, &c->s) != PV_OK)
		return -1;
	return 0;
}

static int
sh_case_teardown(void **state)
{
	struct sh_case *c = *state;

	if (c->s != NULL)
		pv_store_close(c->s);
	sh_db_drop(&c->db);
	free(c);
	return 0;
}

static int
sh_setup_sqlite(void **state)
{
	return sh_case_setup(state, SH_SQLITE);
}

static int
sh_setup_pg(void **state)
{
	return sh_case_setup(state, SH_PG);
}

static int
sh_group_setup(void **state)
{
	(void)state;
	if (pv_crypto_init() != PV_OK)
		return -1;
	return sh_pg_start() ? 0 : -1;
}

static int
sh_group_teardown(void **state)
{
	(void)state;
	sh_pg_stop();
	return 0;
}

/* At the top of a test: its case, or a skip when PostgreSQL is absent. */
#define SH_CASE(state)                                                         \
	({                                                                     \
		struct sh_case *c_ = *(state);                                 \
		if (c_->kind == SH_PG && sh_pg_is_missing)                     \
			skip();                                                \
		c_;                                                            \
	})

/* Both backends: one test entry per backend. */
#define SH_BOTH(fn)                                                            \
	cmocka_unit_test_setup_teardown(fn, sh_setup_sqlite,                   \
	    sh_case_teardown),                                                 \
	    cmocka_unit_test_setup_teardown(fn, sh_setup_pg, sh_case_teardown)
#define SH_PG_ONLY(fn)                                                         \
	cmocka_unit_test_setup_teardown(fn, sh_setup_pg, sh_case_teardown)

#endif
