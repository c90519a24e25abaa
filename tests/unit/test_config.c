/* Unit tests for common/config.c: defaults, parsing, fail-closed errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static char path[64];

static void
write_conf(const char *text)
{
	FILE *f;

	strcpy(path, "/tmp/pv-test-conf-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static void
test_defaults(void **state)
{
	struct pv_config c;

	(void)state;
	pv_config_defaults(&c);
	assert_string_equal(c.listen, "127.0.0.1:8443");
	assert_int_equal(c.session_idle_timeout, 15 * 60);
	assert_int_equal(c.session_lifetime, 12 * 3600);
	assert_int_equal(c.max_body, 1 << 20);
	assert_int_equal(c.replay_window, 300);
	assert_int_equal(c.break_glass_duration, 3600);
	assert_true(c.argon2_memlimit_kib >= 19 * 1024);
	assert_true(c.argon2_opslimit >= 2);
	assert_true(c.ratelimit_enabled);
	assert_true(pv_config_list_has(c.mfa_required_roles, "clinician"));
	assert_true(pv_config_list_has(c.mfa_required_roles, "auditor"));
	assert_false(pv_config_list_has(c.mfa_required_roles, "patient"));
}

static void
test_durations(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(pv_config_parse_duration("90", &v), PV_OK);
	assert_int_equal(v, 90);
	assert_int_equal(pv_config_parse_duration("15m", &v), PV_OK);
	assert_int_equal(v, 900);
	assert_int_equal(pv_config_parse_duration("12h", &v), PV_OK);
	assert_int_equal(v, 43200);
	assert_int_equal(pv_config_parse_duration("2d", &v), PV_OK);
	assert_int_equal(v, 172800);
	assert_int_equal(pv_config_parse_duration("7y", &v), PV_OK);
	assert_int_equal(v, 7 * 365 * 86400LL);
	assert_int_equal(pv_config_parse_duration("", &v), PV_EINVAL);
	assert_int_equal(pv_config_parse_duration("-1", &v), PV_EINVAL);
	assert_int_equal(pv_config_parse_duration("5x", &v), PV_EINVAL);
	assert_int_equal(pv_config_parse_duration("5mm", &v), PV_EINVAL);
	assert_int_equal(pv_config_parse_duration("99999999999999999999y", &v),
	    PV_EINVAL);
}

static void
test_load_overrides(void **state)
{
	struct pv_config c;
	char err[128];

	(void)state;
	write_conf("[server]\nlisten = 127.0.0.1:9999\nmax_body = 2048\n"
		   "[auth]\nsession_idle_timeout = 3s\n"
		   "mfa_required_roles = admin\n[ratelimit]\nenabled = false\n"
		   "[retention]\nObservation = 10y\nPatient = 30d\n");
	pv_config_defaults(&c);
	assert_int_equal(pv_config_load(&c, path, err, sizeof(err)), PV_OK);
	assert_string_equal(c.listen, "127.0.0.1:9999");
	assert_int_equal(c.max_body, 2048);
	assert_int_equal(c.session_idle_timeout, 3);
	assert_false(c.ratelimit_enabled);
	assert_false(pv_config_list_has(c.mfa_required_roles, "clinician"));
	assert_int_equal(c.retention_n, 2);
	assert_string_equal(c.retention[0].type, "Observation");
	assert_int_equal(c.retention[1].keep_seconds, 30 * 86400);
	unlink(path);
}

static void
expect_rejected(const char *text, const char *why)
{
	struct pv_config c;
	char err[128];

	write_conf(text);
	pv_config_defaults(&c);
	assert_int_equal(pv_config_load(&c, path, err, sizeof(err)), PV_EINVAL);
	assert_non_null(strstr(err, why));
	unlink(path);
}

static void
test_fail_closed(void **state)
{
	(void)state;
	expect_rejected("[auth]\nsesion_idle_timeout = 5m\n",
	    "unknown setting");
	expect_rejected("[nosuch]\nx = 1\n", "unknown setting");
	expect_rejected("[server]\nmax_body = lots\n", "expected an integer");
	expect_rejected("[server]\nmax_body = 10\n", "out of range");
	expect_rejected("[ratelimit]\nenabled = maybe\n", "true or false");
	expect_rejected("[auth]\nsession_lifetime = forever\n", "duration");
	expect_rejected("[retention]\nObservation = soon\n", "duration");
	/* Lists of names: a typo must stop start-up, not weaken a control. */
	expect_rejected("[auth]\nmfa_required_roles = clinician,nurses\n",
	    "unknown role 'nurses'");
	expect_rejected("[retention]\nObservations = 7y\n",
	    "unknown resource type");
	expect_rejected("[deid]\nquasi_identifiers = birth_year,zip5\n",
	    "'zip5'");
	expect_rejected("[minimization]\ndrop_fields = "
			"Patient.photo,Pateint.x\n",
	    "'Pateint.x'");
	expect_rejected("[alerts]\nsnoop_patients = 1000\n", "out of range");
}

/* [store]: the backend switch and PostgreSQL's connection settings. */
static void
test_store(void **state)
{
	struct pv_config c;
	char err[256];

	(void)state;
	pv_config_defaults(&c);
	write_conf(
	    "[store]\nbackend = postgresql\n"
	    "dsn = host=/tmp dbname=rec\n"
	    "keys_dsn = postgresql://u@db:5433/keys?sslmode=verify-full\n"
	    "password_file = pgpassword\n");
	assert_int_equal(pv_config_load(&c, path, err, sizeof(err)), PV_OK);
	unlink(path);
	assert_true(c.is_store_pg);
	assert_string_equal(c.store_dsn, "host=/tmp dbname=rec");
	assert_string_equal(c.store_password_file, "pgpassword");
	pv_config_defaults(&c);
	assert_false(c.is_store_pg);
	assert_string_equal(c.store_backend, "sqlite");

	expect_rejected("[store]\nbackend = mysql\n", "sqlite or postgresql");
	expect_rejected("[store]\ndsn = dbname=a\n", "need backend");
	expect_rejected("[store]\nbackend = postgresql\ndsn = dbname=a\n",
	    "keys_dsn is required");
	expect_rejected("[store]\nbackend = postgresql\nkeys_dsn = dbname=a\n",
	    "dsn is required");
	expect_rejected("[store]\nbackend = postgresql\ndsn = dbname=a\n"
			"keys_dsn = dbname=a\n",
	    "another database");
	expect_rejected("[store]\nbackend = postgresql\n"
			"dsn = dbname=a password=x\nkeys_dsn = dbname=k\n",
	    "must not carry a password");
	expect_rejected("[store]\nbackend = postgresql\n"
			"dsn = dbname=a\nkeys_dsn = dbname=k PassWord=x\n",
	    "must not carry a password");

	/* Every form libpq reads a password from, and look-alikes. */
	assert_true(pv_config_dsn_has_password("postgresql://u:pw@h/db"));
	assert_true(pv_config_dsn_has_password("postgres://u:@h/db"));
	assert_true(pv_config_dsn_has_password("postgresql://h/db?password=x"));
	assert_true(
	    pv_config_dsn_has_password("postgresql://h/db?p%61ssword=x"));
	assert_true(pv_config_dsn_has_password("host=h password = x"));
	assert_true(pv_config_dsn_has_password("host=h PASSWORD='x'"));
	assert_false(pv_config_dsn_has_password("postgresql://u@h:5432/db"));
	assert_false(pv_config_dsn_has_password("postgresql://[::1]:5432/db"));
	assert_false(pv_config_dsn_has_password("host=h passfile=/p user=u"));
	assert_false(pv_config_dsn_has_password("dbname=rec"));
}

/* pg_check: one line that reads back, as `init --store` writes it. */
static void
test_store_init_values(void **state)
{
	struct pv_config_pg pg = { "dbname=a", "dbname=k", NULL };
	char err[256];

	(void)state;
	assert_int_equal(pv_config_check_pg(&pg, err, sizeof(err)), PV_OK);
	pg.dsn = "dbname=a\n[auth]";
	assert_int_equal(pv_config_check_pg(&pg, err, sizeof(err)), PV_EINVAL);
	pg.dsn = "dbname=a ; comment";
	assert_int_equal(pv_config_check_pg(&pg, err, sizeof(err)), PV_EINVAL);
	pg.dsn = " dbname=a";
	assert_int_equal(pv_config_check_pg(&pg, err, sizeof(err)), PV_EINVAL);
	pg.dsn = "dbname=a";
	pg.password_file = "/p\nx";
	assert_int_equal(pv_config_check_pg(&pg, err, sizeof(err)), PV_EINVAL);
	/* The error never quotes a DSN. */
	pg.password_file = NULL;
	pg.keys_dsn = "postgresql://secretuser:pw@h/k";
	assert_int_equal(pv_config_check_pg(&pg, err, sizeof(err)), PV_EINVAL);
	assert_null(strstr(err, "secretuser"));
}

/* Loads text (via a temp file) into c; the load's status. */
static pv_status
load_text(const char *text, struct pv_config *c)
{
	char err[256];
	pv_status st;

	write_conf(text);
	pv_config_defaults(c);
	st = pv_config_load(c, path, err, sizeof(err));
	unlink(path);
	return st;
}

/* db migrate-from-sqlite: [store] switched, everything else kept. */
static void
test_store_rewrite(void **state)
{
	static const char before[] =
	    "# phivault.conf\n"
	    "[server]\nlisten = 127.0.0.1:9443\n\n"
	    "[store]\nsynchronous = normal\n# password_file = x\n"
	    "busy_timeout_ms = 100\n\n"
	    "[auth]\nsession_lifetime = 2h\n"
	    "[store]\n  backend = sqlite\nsynchronous = full\n"
	    "[ratelimit]\nlogin_per_minute = 6000";
	struct pv_config_pg pg = { "host=/tmp dbname=rec", "dbname=k",
		"/etc/pgpw" };
	struct pv_config c;
	char *out = NULL, *again = NULL;

	(void)state;
	assert_int_equal(pv_config_store_rewrite(before, strlen(before), &pg,
			     &out),
	    PV_OK);
	/* It reads back as a PostgreSQL vault with every other setting. */
	assert_int_equal(load_text(out, &c), PV_OK);
	assert_true(c.is_store_pg);
	assert_string_equal(c.store_dsn, "host=/tmp dbname=rec");
	assert_string_equal(c.store_keys_dsn, "dbname=k");
	assert_string_equal(c.store_password_file, "/etc/pgpw");
	assert_string_equal(c.listen, "127.0.0.1:9443");
	assert_int_equal(c.session_lifetime, 2 * 3600);
	assert_int_equal(c.busy_timeout_ms, 100);
	assert_string_equal(c.synchronous, "full"); /* the later one wins */
	/* The old backend line is gone, comments and other lines stay,
	 * and the last line (no newline) is kept as it was. */
	assert_null(strstr(out, "backend = sqlite"));
	assert_non_null(strstr(out, "# password_file = x\n"));
	assert_non_null(strstr(out, "[store]\n# moved from SQLite"));
	assert_non_null(strstr(out, "login_per_minute = 6000"));
	assert_int_equal(strstr(out, "backend =") - out,
	    strstr(out, "backend = postgresql") - out);
	/* Idempotent: a second rewrite gives the same text. */
	assert_int_equal(pv_config_store_rewrite(out, strlen(out), &pg, &again),
	    PV_OK);
	assert_string_equal(out, again);
	free(again);
	free(out);

	/* No [store] at all: appended; no password_file: none written. */
	pg.password_file = NULL;
	assert_int_equal(pv_config_store_rewrite("[auth]\nhash_workers = 1", 23,
			     &pg, &out),
	    PV_OK);
	assert_string_equal(out,
	    "[auth]\nhash_workers = 1\n\n[store]\n"
	    "# moved from SQLite by phivault db migrate-from-sqlite\n"
	    "backend = postgresql\ndsn = host=/tmp dbname=rec\n"
	    "keys_dsn = dbname=k\n");
	assert_int_equal(load_text(out, &c), PV_OK);
	assert_true(c.is_store_pg);
	assert_string_equal(c.store_password_file, "");
	free(out);
	/* A NUL inside is refused. */
	assert_int_equal(pv_config_store_rewrite("[store]\0x", 9, &pg, &out),
	    PV_EINVAL);
	assert_null(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_load_overrides),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_store_init_values),
		cmocka_unit_test(test_store_rewrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
