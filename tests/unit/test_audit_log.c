/*
 * test_audit_log.c — audit/log.c, batchsig.c, tail.c, index.c and
 * verify.c on a real log in a temp directory.
 *
 * - the batch signature: a known answer computed with openssl (Ed25519
 *   over "phivault-audit-batch-v1\n" || the line without the field), and
 *   any changed byte, a wrong key or a missing field refused;
 * - "count": omitted for one event, written in its place for N > 1,
 *   refused when negative, read back by verify, AuditEvent and the entry
 *   count helper;
 * - every batch ends with a signed line; verify names a rewrite (chain
 *   recomputed, signatures kept) at its first entry whatever the batch,
 *   and an unsigned tail unless told to accept it;
 * - a writer never signs over an unsigned tail: on open it is
 *   quarantined and recorded, also when a forged resume state (an
 *   unkeyed checksum, as the old format had) points past it;
 * - AuditEvent pages: the same entries as a full scan at every offset,
 *   the index's total, and only the page's lines parsed.
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
#include "audit/batchsig.h"
#include "audit/merkle.h"
#include "common/log.h"
#include "common/metrics.h"
#include "report/report.h"

static char dir[64];
static const struct pv_audit_loc loc = { dir, NULL, NULL };
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
	struct pv_audit_opts o = { &loc, sk, pk, "testkey", keep_index, 0,
		NULL };
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

static void
append_n(struct pv_audit *a, const char *patient, int n)
{
	struct pv_audit_event ev;

	while (n-- > 0) {
		event(&ev, patient, 0);
		assert_int_equal(pv_audit_append(a, &ev), PV_OK);
	}
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

static void
spill(const char *name, const char *buf, size_t len, const char *mode)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit/%s", dir, name);
	f = fopen(path, mode);
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
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

/* ---- the batch signature ------------------------------------------- */

#define KAT_LINE                                                               \
	"{\"seq\":0,\"ts\":\"2026-01-01T00:00:00.000Z\",\"actor\":0,"          \
	"\"role\":\"system\",\"action\":\"purge\",\"type\":\"\",\"id\":\"\","  \
	"\"patient\":\"\",\"outcome\":\"allowed\",\"reason\":\"\",\"src\":"    \
	"\"local\",\"rid\":\"00112233445566778899aabbccddeeff\",\"grant\":0,"  \
	"\"nonce\":\"\",\"prev\":"                                             \
	"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}"
/* openssl pkeyutl -sign -rawin, seed 00 01 .. 1f, over the domain || line */
#define KAT_SIG                                                                \
	"YYNEsmz92MA0JaC46PjPbmg4iDlIZahFnTvxl34nJeNK5QQcAbl/jXoAHcsi"         \
	"tMOHDURWzSFj8jEVkthLfqcqAw=="

static void
test_bsig_known_answer(void **state)
{
	unsigned char seed[32], kpk[PV_SIGN_PK_BYTES], ksk[PV_SIGN_SK_BYTES];
	char line[PV_BSIG_LINE_MAX + 1] = KAT_LINE, want[PV_BSIG_LINE_MAX];
	size_t len = strlen(line), i;

	(void)state;
	for (i = 0; i < sizeof(seed); i++)
		seed[i] = (unsigned char)i;
	crypto_sign_seed_keypair(kpk, ksk, seed);
	assert_false(pv_bsig_present(line, len));
	assert_int_equal(pv_bsig_verify(line, len, kpk), PV_ENOTFOUND);
	assert_int_equal(pv_bsig_sign(line, &len, sizeof(line), ksk), PV_OK);
	snprintf(want, sizeof(want), "%.*s,\"bsig\":\"%s\"}",
	    (int)strlen(KAT_LINE) - 1, KAT_LINE, KAT_SIG);
	assert_string_equal(line, want);
	assert_int_equal(len, strlen(KAT_LINE) + PV_BSIG_EXTRA);
	assert_true(pv_bsig_present(line, len));
	assert_int_equal(pv_bsig_verify(line, len, kpk), PV_OK);
	assert_int_equal(pv_bsig_verify(line, len, pk), PV_ECRYPTO);
	/* Any changed byte, in the entry or in the signature, is refused. */
	for (i = 0; i < len; i++) {
		char c = line[i];

		line[i] = (char)(c == 'A' ? 'B' : c == '"' ? '\'' : 'A');
		assert_int_not_equal(pv_bsig_verify(line, len, kpk), PV_OK);
		line[i] = c;
	}
	assert_int_equal(pv_bsig_verify(line, len, kpk), PV_OK);
	/* No room, or not a line of ours: refused before signing. */
	strcpy(want, KAT_LINE);
	len = strlen(want);
	assert_int_equal(pv_bsig_sign(want, &len, len + 10, ksk), PV_ETOOBIG);
	want[len - 1] = ' ';
	assert_int_equal(pv_bsig_sign(want, &len, sizeof(want), ksk),
	    PV_EINVAL);
	/* The field anywhere but at the end is not a signature. */
	len = strlen(line);
	memcpy(want, line, len);
	want[len] = ' ';
	assert_false(pv_bsig_present(want, len + 1));
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
	assert_non_null(
	    memmem(l, len, "\"nonce\":\"\",\"count\":5,\"prev\":\"", 29));
	j = json_loadb(l, len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(pv_audit_entry_count(j), 5);
	/* Actor 0 needs no account lookup (no store here). */
	json_object_set_new(j, "actor", json_integer(0));
	ae = pv_auditevent_from_entry(NULL, &cache, j);
	assert_non_null(ae);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(ae, "extension"),
				    0),
				"url")),
	    "urn:phivault:audit-count");
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(json_object_get(ae,
								"extension"),
						 0),
				 "valueInteger")),
	    5);
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
	assert_int_equal(pv_audit_verify(&loc, pk, 0, NULL, &rep, NULL, NULL),
	    PV_OK);
	assert_true(rep.is_ok);
	assert_int_equal(rep.entries, 3);
	assert_int_equal(rep.signed_entries, 3);
	free(log);
}

/* ---- batches, rewrites and unsigned tails -------------------------------- */

/*
 * Rewrites the log as an attacker without the key would: entry k's
 * outcome changed, every later "prev" recomputed; bsig fields from
 * strip_from on removed (SIZE_MAX: kept, and then invalid).
 */
static void
rechain(size_t k, size_t strip_from)
{
	unsigned char chain[PV_AUDIT_HASH_BYTES] = { 0 };
	size_t n, len, i, nl_n, off = 0;
	char *log = slurp("log.jsonl", &n), *out = malloc(n + 16);
	pv_mhash leaf;

	nl_n = count_lines(log);
	for (i = 0; i < nl_n; i++) {
		char line[PV_BSIG_LINE_MAX + 1], *p;
		const char *src = line_at(log, i, &len);

		memcpy(line, src, len);
		line[len] = '\0';
		if (i == k && (p = strstr(line, "\"allowed\"")) != NULL)
			memcpy(p, "\"Allowed\"", 9);
		if (i >= strip_from && pv_bsig_present(line, len)) {
			len -= PV_BSIG_EXTRA;
			line[len - 1] = '}';
			line[len] = '\0';
		}
		if (i > k || i > strip_from) {
			char b64[64];

			assert_int_equal(pv_b64_encode(chain, sizeof(chain),
					     b64, sizeof(b64)),
			    PV_OK);
			p = strstr(line, "\"prev\":\"") + 8;
			memcpy(p, b64, strlen(b64));
		}
		pv_merkle_leaf_hash(line, len, leaf);
		pv_audit_chain_next(chain, leaf);
		memcpy(out + off, line, len);
		out[off + len] = '\n';
		off += len + 1;
	}
	spill("log.jsonl", out, off, "wb");
	spill("checkpoints.jsonl", "", 0, "wb");
	free(log);
	free(out);
}

static void
test_rewrite_named(void **state)
{
	struct pv_verify_report rep;
	struct pv_audit *a;
	size_t n, len, i;
	char *log;

	(void)state;
	a = open_log(true);
	append_n(a, "p1", 40); /* one batch, one signature each */
	pv_audit_close(a);
	log = slurp("log.jsonl", &n);
	for (i = 0; i < 40; i++) {
		const char *l = line_at(log, i, &len);

		assert_int_equal(pv_bsig_verify(l, len, pk), PV_OK);
	}
	free(log);
	/* Entry 25 rewritten, signatures kept: named by the binary search
	 * (they cannot be recomputed without the key). */
	rechain(25, SIZE_MAX);
	assert_int_equal(pv_audit_verify(&loc, pk, 0, NULL, &rep, NULL, NULL),
	    PV_OK);
	assert_false(rep.is_ok);
	assert_string_equal(rep.problem, "forged");
	assert_int_equal(rep.bad_entry, 25);
	assert_int_equal(rep.signed_entries, 25);
	assert_non_null(strstr(rep.detail, "entry 25 does not verify"));
	assert_int_equal(pv_audit_verify(&loc, pk,
			     PV_VERIFY_ALLOW_UNSIGNED_TAIL, NULL, &rep, NULL,
			     NULL),
	    PV_OK);
	assert_string_equal(rep.problem, "forged");
	/* A writer refuses it. */
	{
		struct pv_audit_opts o = { &loc, sk, pk, "testkey", true, 0,
			NULL };
		struct pv_audit *b = NULL;

		assert_int_equal(pv_audit_open(&o, &b), PV_ECRYPTO);
		assert_null(b);
	}
	/* The same with the now-invalid signatures stripped: an unsigned
	 * tail from 25 on, reported unless accepted. */
	teardown(NULL);
	setup(NULL);
	a = open_log(true);
	append_n(a, "p1", 40);
	pv_audit_close(a);
	rechain(25, 25);
	assert_int_equal(pv_audit_verify(&loc, pk, 0, NULL, &rep, NULL, NULL),
	    PV_OK);
	assert_false(rep.is_ok);
	assert_string_equal(rep.problem, "unsigned");
	assert_int_equal(rep.bad_entry, 25);
	assert_int_equal(pv_audit_verify(&loc, pk,
			     PV_VERIFY_ALLOW_UNSIGNED_TAIL, NULL, &rep, NULL,
			     NULL),
	    PV_OK);
	assert_true(rep.is_ok);
	assert_int_equal(rep.entries, 40);
	assert_int_equal(rep.signed_entries, 25);
	/* Entry 0 rewritten: nothing is covered. */
	teardown(NULL);
	setup(NULL);
	a = open_log(true);
	append_n(a, "p1", 5);
	pv_audit_close(a);
	rechain(0, SIZE_MAX);
	assert_int_equal(pv_audit_verify(&loc, pk, 0, NULL, &rep, NULL, NULL),
	    PV_OK);
	assert_string_equal(rep.problem, "forged");
	assert_int_equal(rep.bad_entry, 0);
}

/*
 * Entries after the last signature (complete lines that continue the
 * chain, then a torn one) are moved to quarantine.jsonl by the next
 * writer, never signed over; a signed record says how many.
 */
static void
check_quarantined(size_t kept, size_t moved, const char *tail, size_t tail_len)
{
	struct pv_verify_report rep;
	size_t n, len;
	char *q, *log;
	const char *l;

	q = slurp("quarantine.jsonl", &n);
	assert_int_equal(n, tail_len + (tail[tail_len - 1] != '\n'));
	assert_memory_equal(q, tail, tail_len);
	free(q);
	log = slurp("log.jsonl", &n);
	assert_int_equal(count_lines(log), kept + 1);
	l = line_at(log, kept, &len);
	assert_non_null(memmem(l, len, "\"action\":\"audit.quarantine\"", 27));
	assert_int_equal(pv_bsig_verify(l, len, pk), PV_OK);
	free(log);
	assert_int_equal(pv_audit_verify(&loc, pk, 0, NULL, &rep, NULL, NULL),
	    PV_OK);
	assert_true(rep.is_ok);
	assert_int_equal(rep.quarantines, 1);
	assert_int_equal(rep.quarantined, moved);
}

/* Appends n lines that continue the chain, without a signature. */
static char *
forge_tail(size_t n, const char *torn, size_t *out_len)
{
	unsigned char chain[PV_AUDIT_HASH_BYTES] = { 0 };
	size_t len, i, lines, off = 0;
	char *log = slurp("log.jsonl", &len), *out = calloc(1, 4096);
	pv_mhash leaf;

	lines = count_lines(log);
	for (i = 0; i < lines; i++) {
		const char *l = line_at(log, i, &len);

		pv_merkle_leaf_hash(l, len, leaf);
		pv_audit_chain_next(chain, leaf);
	}
	for (i = 0; i < n; i++) {
		char b64[64], *l = out + off;

		assert_int_equal(pv_b64_encode(chain, sizeof(chain), b64,
				     sizeof(b64)),
		    PV_OK);
		len = (size_t)sprintf(l,
		    "{\"seq\":%zu,\"ts\":\"2026-01-01T00:00:"
		    "00.000Z\",\"actor\":9,\"role\":\"admin\",\"action\":"
		    "\"read\","
		    "\"type\":\"\",\"id\":\"\",\"patient\":\"p1\",\"outcome\":"
		    "\"allowed\",\"reason\":\"\",\"src\":\"local\",\"rid\":"
		    "\"x\","
		    "\"grant\":0,\"nonce\":\"\",\"prev\":\"%s\"}",
		    lines + i, b64);
		pv_merkle_leaf_hash(l, len, leaf);
		pv_audit_chain_next(chain, leaf);
		l[len] = '\n';
		off += len + 1;
	}
	strcpy(out + off, torn);
	off += strlen(torn);
	spill("log.jsonl", out, off, "ab");
	free(log);
	*out_len = off;
	return out;
}

static void
test_tail_quarantined_on_open(void **state)
{
	struct pv_verify_report rep;
	struct pv_audit *a;
	size_t tl, n;
	char *tail, *log;

	(void)state;
	a = open_log(true);
	append_n(a, "p1", 3);
	pv_audit_close(a);
	/* Only a torn line: cut, as before, and nothing recorded. */
	spill("log.jsonl", "{\"seq\":3,\"ts", 12, "ab");
	a = open_log(true);
	assert_int_equal(pv_audit_size(a), 3);
	pv_audit_close(a);
	log = slurp("log.jsonl", &n);
	assert_int_equal(count_lines(log), 3);
	assert_int_equal(log[n - 1], '\n');
	free(log);
	/* Two unsigned entries and a torn line: verify names the first
	 * unsigned entry (not the later torn one); the server quarantines. */
	tail = forge_tail(2, "{\"seq\":5,\"ts", &tl);
	assert_int_equal(pv_audit_verify(&loc, pk, 0, NULL, &rep, NULL, NULL),
	    PV_OK);
	assert_string_equal(rep.problem, "unsigned");
	assert_int_equal(rep.bad_entry, 3);
	a = open_log(true);
	assert_int_equal(pv_audit_size(a), 4);
	pv_audit_close(a);
	check_quarantined(3, 2, tail, tl);
	free(tail);
}

/* The resume state's layout (log.c), to forge one. */
struct forged_state {
	char magic[32];
	uint64_t size;
	int64_t end;
	unsigned char chain[PV_AUDIT_HASH_BYTES];
	struct pv_merkle_compact compact;
	unsigned char check[PV_AUDIT_HASH_BYTES];
};

/*
 * A CLI writer resumes from DIR/audit/state. An attacker appends
 * unsigned entries and writes a state that claims them, checksummed
 * with SHA-256 as the state used to be: the writer must not trust it.
 */
static void
forged_state_case(const char *magic)
{
	struct forged_state s;
	struct pv_audit *a;
	size_t tl, n, len, i, lines;
	char *tail, *log;
	pv_mhash leaf;

	a = open_log(false);
	append_n(a, "p1", 3);
	pv_audit_close(a);
	tail = forge_tail(2, "", &tl);
	memset(&s, 0, sizeof(s));
	strcpy(s.magic, magic);
	log = slurp("log.jsonl", &n);
	lines = count_lines(log);
	pv_merkle_compact_init(&s.compact);
	for (i = 0; i < lines; i++) {
		const char *l = line_at(log, i, &len);

		pv_merkle_leaf_hash(l, len, leaf);
		pv_merkle_compact_append(&s.compact, leaf);
		pv_audit_chain_next(s.chain, leaf);
	}
	s.size = lines;
	s.end = (int64_t)n;
	pv_sha256(s.check, &s, offsetof(struct forged_state, check));
	spill("state", (const char *)&s, sizeof(s), "wb");
	free(log);
	a = open_log(false); /* a CLI writer */
	pv_audit_close(a);
	check_quarantined(3, 2, tail, tl);
	free(tail);
}

static void
test_forged_state_not_trusted(void **state)
{
	(void)state;
	forged_state_case("phivault-audit-state-v1");
	teardown(NULL);
	setup(NULL);
	forged_state_case("phivault-audit-state-v2");
}

/* ---- AuditEvent pages ------------------------------------------------- */

struct collect {
	int64_t seqs[64];
	size_t n, stop_after;
};

static bool
collect_seq(void *arg, json_t *e)
{
	struct collect *c = arg;

	c->seqs[c->n++] = json_integer_value(json_object_get(e, "seq"));
	return c->n != c->stop_after;
}

static void
test_patient_page(void **state)
{
	int64_t want[400];
	size_t nwant = 0, i,
	       offs[] = { 0, 1, 17, 150, 199, 255, 259, 260, 500 };
	struct pv_audit_event ev;
	struct pv_audit *a;
	uint64_t total, before;
	struct collect c;
	size_t k;

	(void)state;
	a = open_log(true);
	/* p1 on two entries of three, interleaved with p2. */
	for (i = 0; i < 390; i++) {
		event(&ev, i % 3 == 2 ? "p2" : "p1", 0);
		assert_int_equal(pv_audit_submit(a, &ev, NULL, NULL), PV_OK);
		if (i % 3 != 2)
			want[nwant++] = (int64_t)i;
	}
	pv_audit_close(a); /* drains the queue */
	a = open_log(true);
	for (k = 0; k < PV_ARRAY_LEN(offs); k++) {
		memset(&c, 0, sizeof(c));
		before = pv_metric_get(PV_M_AUDIT_PAGE_LINES);
		assert_int_equal(pv_audit_patient_page(a, "p1", offs[k], 40,
				     collect_seq, &c, &total),
		    PV_OK);
		assert_int_equal(total, nwant);
		assert_int_equal(c.n,
		    offs[k] >= nwant           ? 0
			: nwant - offs[k] < 40 ? nwant - offs[k]
					       : 40);
		/* Only the page's lines were read. */
		assert_int_equal(pv_metric_get(PV_M_AUDIT_PAGE_LINES) - before,
		    c.n);
		for (i = 0; i < c.n; i++)
			assert_int_equal(c.seqs[i], want[offs[k] + i]);
	}
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	assert_int_equal(pv_audit_patient_page(a, "p1", 10, 40, collect_seq, &c,
			     &total),
	    PV_OK);
	assert_int_equal(c.n, 3);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pv_audit_patient_page(a, "nobody", 0, 40, collect_seq,
			     &c, &total),
	    PV_OK);
	assert_int_equal(total, 0);
	assert_int_equal(c.n, 0);
	pv_audit_close(a);
	a = open_log(false); /* no index: refused */
	assert_int_equal(pv_audit_patient_page(a, "p1", 0, 1, collect_seq, &c,
			     &total),
	    PV_EINVAL);
	pv_audit_close(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bsig_known_answer),
		cmocka_unit_test_setup_teardown(test_count_field, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_named, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tail_quarantined_on_open,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_state_not_trusted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_patient_page, setup,
		    teardown),
	};

	if (pv_crypto_init() != PV_OK)
		return 1;
	pv_log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
