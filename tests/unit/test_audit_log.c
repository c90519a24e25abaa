/*
 * test_audit_log.c — audit/log.c and verify.c on a real log in a temp
 * directory.
 *
 * - "count": omitted for one event, written in its place for N > 1,
 *   refused when negative, read back by verify, AuditEvent and the entry
 *   count helper.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/log.h"
#include "lifecycle/lifecycle.h"

static char dir[64];
static unsigned char pk[PV_SIGN_PK_BYTES], sk[PV_SIGN_SK_BYTES];

static int
setup(void **state)
{
	char path[128];

	(void)state;
	assert_int_equal(pv_crypto_init(), PV_OK);
	strcpy(dir, "/tmp/pv-unit-audit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	crypto_sign_keypair(pk, sk);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct pv_audit *
open_log(bool keep_index)
{
	struct pv_audit_opts o = { dir, sk, pk, "testkey", keep_index, 0 };
	struct pv_audit *a = NULL;

	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	return a;
}

static void
event(struct pv_audit_event *ev, const char *patient, int64_t count)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = 7;
	strcpy(ev->role, "clinician");
	strcpy(ev->action, "read");
	strcpy(ev->type, "Patient");
	strcpy(ev->patient, patient);
	ev->outcome = "allowed";
	ev->reason = "careteam";
	strcpy(ev->src, "127.0.0.1");
	pv_random_id(ev->rid);
	ev->count = count;
}

static char *
slurp(const char *name, size_t *len)
{
	char path[128], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/audit/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		*len = 0;
		return strdup("");
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Line i of a NUL-terminated log (a pointer into it) and its length. */
static const char *
line_at(const char *log, size_t i, size_t *len)
{
	const char *p = log, *nl;

	while (i-- > 0)
		p = strchr(p, '\n') + 1;
	nl = strchr(p, '\n');
	*len = (size_t)(nl - p);
	return p;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* ---- count ------------------------------------------------------------ */

static void
test_count_field(void **state)
{
	struct pv_verify_report rep;
	struct pv_auditevent_cache cache = { 0, "" };
	struct pv_audit_event ev;
	struct pv_audit *a;
	const char *l;
	size_t len, n;
	char *log;
	json_t *j, *ae;

	(void)state;
	a = open_log(false);
	event(&ev, "p1", 0);
	assert_int_equal(pv_audit_append(a, &ev), PV_OK);
	event(&ev, "p1", 1);
	assert_int_equal(pv_audit_append(a, &ev), PV_OK);
	event(&ev, "p1", 5);
	assert_int_equal(pv_audit_append(a, &ev), PV_OK);
	event(&ev, "p1", -1);
	assert_int_equal(pv_audit_submit(a, &ev, NULL, NULL), PV_EINVAL);
	pv_audit_close(a);

	log = slurp("log.jsonl", &n);
	assert_int_equal(count_lines(log), 3);
	l = line_at(log, 0, &len);
	assert_null(memmem(l, len, "count", 5));
	l = line_at(log, 1, &len);
	assert_null(memmem(l, len, "count", 5));
	l = line_at(log, 2, &len);
	assert_non_null(memmem(l, len, "\"nonce\":\"\",\"count\":5,\"prev\":\"",
	    29));
	j = json_loadb(l, len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(pv_audit_entry_count(j), 5);
	/* Actor 0 needs no account lookup (no store here). */
	json_object_set_new(j, "actor", json_integer(0));
	ae = pv_auditevent_from_entry(NULL, &cache, j);
	assert_non_null(ae);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(ae, "extension"), 0), "url")),
	    "urn:phivault:audit-count");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(ae, "extension"), 0), "valueInteger")), 5);
	json_decref(ae);
	json_decref(j);
	l = line_at(log, 0, &len);
	j = json_loadb(l, len, 0, NULL);
	assert_int_equal(pv_audit_entry_count(j), 1);
	json_object_set_new(j, "actor", json_integer(0));
	ae = pv_auditevent_from_entry(NULL, &cache, j);
	assert_null(json_object_get(ae, "extension"));
	json_decref(ae);
	json_decref(j);
	assert_int_equal(pv_audit_verify(dir, pk, &rep, NULL, NULL), PV_OK);
	assert_true(rep.is_ok);
	assert_int_equal(rep.entries, 3);
	free(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_count_field, setup,
		    teardown),
	};

	if (pv_crypto_init() != PV_OK)
		return 1;
	pv_log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
