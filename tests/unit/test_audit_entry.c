/*
 * test_audit_entry.c — audit/entry.c, the line format of an audit entry
 * and the one parser of it.
 *
 * - known answer: an event encodes to exactly the bytes the log has
 *   always held (the chain, the leaves and the signatures cover them),
 *   with "count" only for N > 1;
 * - round trip: parsing an encoded line gives back the entry;
 * - the parser refuses what the chain relies on being right (not one
 *   object, a duplicate key, no integer "seq", no string "prev", a
 *   "count" of 1 or a non-integer) and is lenient about the rest;
 * - the encoder refuses a value that would need escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "audit/entry.h"

#define TS_MS 1700000000123LL /* 2023-11-14T22:13:20.123Z */

static void
event(struct pv_audit_event *ev, int64_t count)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = 7;
	strcpy(ev->role, "clinician");
	strcpy(ev->action, "read");
	strcpy(ev->type, "Patient");
	strcpy(ev->id, "r1");
	strcpy(ev->patient, "p1");
	ev->outcome = "allowed";
	ev->reason = "careteam";
	strcpy(ev->src, "127.0.0.1");
	strcpy(ev->rid, "rid1");
	ev->grant = 3;
	strcpy(ev->nonce, "abcd");
	ev->count = count;
}

static void
encode(const struct pv_audit_event *ev, uint64_t seq, char *out, size_t outsz)
{
	const unsigned char chain[PV_AUDIT_HASH_BYTES] = { 0 };
	struct audit_entry e;
	size_t len;

	assert_int_equal(audit_entry_from_event(ev, TS_MS, seq, chain, &e),
	    PV_OK);
	assert_int_equal(audit_entry_format(&e, out, outsz, &len), PV_OK);
	assert_int_equal(len, strlen(out));
}

static void
test_known_answer(void **state)
{
	struct pv_audit_event ev;
	char line[AUDIT_LINE_MAX];

	(void)state;
	event(&ev, 0);
	encode(&ev, 5, line, sizeof(line));
	assert_string_equal(line,
	    "{\"seq\":5,\"ts\":\"2023-11-14T22:13:20.123Z\","
	    "\"actor\":7,\"role\":\"clinician\",\"action\":\"read\","
	    "\"type\":\"Patient\",\"id\":\"r1\",\"patient\":\"p1\","
	    "\"outcome\":\"allowed\",\"reason\":\"careteam\","
	    "\"src\":\"127.0.0.1\",\"rid\":\"rid1\",\"grant\":3,"
	    "\"nonce\":\"abcd\","
	    "\"prev\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}");
	event(&ev, 1);
	encode(&ev, 5, line, sizeof(line));
	assert_null(strstr(line, "count"));
	event(&ev, 4);
	encode(&ev, 5, line, sizeof(line));
	assert_non_null(strstr(line,
	    ",\"nonce\":\"abcd\",\"count\":4,"
	    "\"prev\":\""));
}

static void
test_round_trip(void **state)
{
	const unsigned char chain[PV_AUDIT_HASH_BYTES] = { 1, 2, 3 };
	struct pv_audit_event ev;
	struct audit_entry in, out;
	char line[AUDIT_LINE_MAX];
	json_t *j;
	size_t len;

	(void)state;
	event(&ev, 9);
	assert_int_equal(audit_entry_from_event(&ev, TS_MS, 42, chain, &in),
	    PV_OK);
	assert_int_equal(audit_entry_format(&in, line, sizeof(line), &len),
	    PV_OK);
	assert_true(audit_entry_parse(line, &out, &j));
	assert_memory_equal(&in, &out, sizeof(in));
	assert_int_equal(pv_audit_entry_count(j), 9);
	json_decref(j);
	/* A trailing newline (as getline leaves it) is fine. */
	strcat(line, "\n");
	assert_true(audit_entry_parse(line, &out, NULL));
	assert_int_equal(out.seq, 42);
}

/*
 * The canonical fast path (no json wanted) reads exactly what the general
 * path reads, for canonical lines and for lines of another shape that
 * fall back to it: the same struct either way.
 */
static void
test_fast_path_agrees(void **state)
{
	const unsigned char chain[PV_AUDIT_HASH_BYTES] = { 9, 8, 7 };
	static const char *const other[] = {
		/* keys reordered, spaces, count 1 written, leading zero */
		"{\"ts\":\"x\",\"seq\":3,\"prev\":\"p\"}",
		"{\"seq\": 3,\"prev\":\"p\"}",
		"{\"seq\":3,\"ts\":\"t\",\"actor\":0,\"role\":\"\","
		"\"action\":\"a\",\"type\":\"\",\"id\":\"\",\"patient\":\"\","
		"\"outcome\":\"o\",\"reason\":\"r\",\"src\":\"s\","
		"\"rid\":\"\",\"grant\":0,\"nonce\":\"\",\"count\":2,"
		"\"prev\":\"p\",\"extra\":1}",
		"{\"seq\":03,\"prev\":\"p\"}",
		"{\"seq\":3,\"ts\":\"a\\u0041\",\"prev\":\"p\"}",
	};
	struct pv_audit_event ev;
	struct audit_entry in, fast, slow;
	char line[AUDIT_LINE_MAX];
	json_t *j;
	size_t i, len;
	int64_t counts[] = { 0, 1, 2, 1000000 };

	(void)state;
	for (i = 0; i < PV_ARRAY_LEN(counts); i++) {
		event(&ev, counts[i]);
		ev.actor = -(int64_t)i;
		assert_int_equal(audit_entry_from_event(&ev, TS_MS, i * 1000,
				     chain, &in),
		    PV_OK);
		assert_int_equal(audit_entry_format(&in, line, sizeof(line),
				     &len),
		    PV_OK);
		assert_true(audit_entry_parse(line, &fast, NULL));
		assert_true(audit_entry_parse(line, &slow, &j));
		json_decref(j);
		assert_memory_equal(&fast, &slow, sizeof(fast));
		assert_memory_equal(&in, &fast, sizeof(in));
	}
	for (i = 0; i < PV_ARRAY_LEN(other); i++) {
		bool a = audit_entry_parse(other[i], &fast, NULL);
		bool b = audit_entry_parse(other[i], &slow, &j);

		json_decref(j);
		assert_int_equal(a, b);
		assert_memory_equal(&fast, &slow, sizeof(fast));
	}
}

static void
test_parse_refuses(void **state)
{
	static const char *bad[] = {
		"",
		"[1]",
		"{\"seq\":1,\"prev\":\"x\"} x",
		"{\"seq\":1,\"prev\":\"x\",\"seq\":2}",
		"{\"prev\":\"x\"}",
		"{\"seq\":\"1\",\"prev\":\"x\"}",
		"{\"seq\":1}",
		"{\"seq\":1,\"prev\":2}",
		"{\"seq\":1,\"prev\":\"x\",\"count\":1}",
		"{\"seq\":1,\"prev\":\"x\",\"count\":\"3\"}",
	};
	struct audit_entry e;
	json_t *j = (json_t *)&e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(audit_entry_parse(bad[i], &e, &j));
		assert_null(j);
		assert_int_equal(e.seq, 0);
	}
}

static void
test_parse_lenient(void **state)
{
	struct audit_entry e;
	char longprev[100];

	(void)state;
	/* Wrong types and values too long are empty; seq as written. */
	assert_true(
	    audit_entry_parse("{\"seq\":-3,\"prev\":\"x\",\"patient\":7,"
			      "\"role\":\"abcdefghijklmnopqrstuvwxyz\","
			      "\"actor\":\"1\"}",
		&e, NULL));
	assert_int_equal(e.seq, -3);
	assert_string_equal(e.prev, "x");
	assert_string_equal(e.patient, "");
	assert_string_equal(e.role, "");
	assert_int_equal(e.actor, 0);
	assert_int_equal(e.count, 1);
	/* A prev too long for a chain value matches none. */
	memset(longprev, 'A', sizeof(longprev));
	longprev[sizeof(longprev) - 1] = '\0';
	{
		char line[256];

		snprintf(line, sizeof(line), "{\"seq\":0,\"prev\":\"%s\"}",
		    longprev);
		assert_true(audit_entry_parse(line, &e, NULL));
		assert_string_equal(e.prev, "");
	}
}

static void
test_format_refuses(void **state)
{
	struct pv_audit_event ev;
	const unsigned char chain[PV_AUDIT_HASH_BYTES] = { 0 };
	struct audit_entry e;
	char line[AUDIT_LINE_MAX];
	size_t len;

	(void)state;
	event(&ev, 0);
	strcpy(ev.id, "a\"b");
	assert_int_equal(audit_entry_from_event(&ev, TS_MS, 0, chain, &e),
	    PV_OK);
	assert_int_equal(audit_entry_format(&e, line, sizeof(line), &len),
	    PV_EINVAL);
	event(&ev, 0);
	ev.reason = NULL;
	assert_int_equal(audit_entry_from_event(&ev, TS_MS, 0, chain, &e),
	    PV_EINVAL);
	event(&ev, 0);
	assert_int_equal(audit_entry_from_event(&ev, TS_MS, 0, chain, &e),
	    PV_OK);
	assert_int_not_equal(audit_entry_format(&e, line, 64, &len), PV_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_lenient),
		cmocka_unit_test(test_format_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
