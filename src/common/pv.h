/*
 * pv.h — the few definitions every phivault module shares: the status
 * enum every fallible function returns, the must-check attribute, and
 * small bounded-string helpers.
 *
 * Guarantees: a pv_status is the only error channel of library code
 * (nothing below src/cli or src/main.c calls exit()); PV_MUST_CHECK makes
 * the compiler refuse a caller that drops a status on the floor.
 */
#ifndef PV_COMMON_PV_H
#define PV_COMMON_PV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PV_MUST_CHECK __attribute__((warn_unused_result))
#define PV_PRINTF(a, b) __attribute__((format(printf, a, b)))
/*
 * For a status that cannot matter at this call site (copying into a buffer
 * already checked to be big enough, or best-effort text for a log line).
 * GCC ignores a (void) cast on warn_unused_result; this says "on purpose".
 */
#define PV_IGNORE(expr)                                                        \
	do {                                                                   \
		if ((expr) != PV_OK) {                                         \
		}                                                              \
	} while (0)
#define PV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef enum {
	PV_OK = 0,
	PV_EINVAL, /* the caller sent something malformed (4xx) */
	PV_ENOTFOUND, /* no such object */
	PV_EGONE, /* existed, deleted or crypto-shredded */
	PV_EDENIED, /* authorization refused */
	PV_EAUTH, /* authentication failed */
	PV_ECONFLICT, /* version / precondition mismatch */
	PV_EEXISTS, /* unique object already there */
	PV_ETOOBIG, /* a size limit was exceeded */
	PV_EBUSY, /* overloaded; try later */
	PV_EUNAVAIL, /* a dependency (audit, store) cannot serve */
	PV_ECRYPTO, /* authentication tag / signature did not verify */
	PV_EIO, /* file system or database fault */
	PV_ENOMEM,
	PV_EINTERNAL /* a bug or an invariant broke */
} pv_status;

/* Short, constant, PHI-free name of a status, for logs. */
const char *pv_status_name(pv_status st);

/*
 * Copies src into dst (size dstsz) and NUL-terminates. Returns PV_ETOOBIG,
 * leaving dst an empty string, when src does not fit: truncation is an
 * error, never silent.
 */
PV_MUST_CHECK pv_status pv_strlcpy(char *dst, const char *src, size_t dstsz);

/*
 * Appends the first len bytes of item to the comma-separated list in dst
 * (size dstsz), after a comma unless dst is empty. PV_ETOOBIG, dst
 * unchanged, when the result would not fit.
 */
PV_MUST_CHECK pv_status pv_csv_append(char *dst, size_t dstsz, const char *item,
    size_t len);

/* snprintf that reports truncation or encoding failure as PV_ETOOBIG. */
PV_MUST_CHECK pv_status pv_snprintf(char *dst, size_t dstsz, const char *fmt,
    ...) PV_PRINTF(3, 4);

/* True when id is 1..64 chars of [A-Za-z0-9.-] (FHIR id syntax). */
bool pv_fhir_id_is_valid(const char *id);

/* True when s (len bytes) is well-formed UTF-8 without NUL bytes. */
bool pv_utf8_is_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8 s. */
size_t pv_utf8_len(const char *s);
/* Letters and digits (Unicode categories L and N, not default-ignorable)
 * in valid UTF-8 s; common/unicode.c, libunistring's tables. */
size_t pv_utf8_word_chars(const char *s);

/* Seconds since the Unix epoch, and a monotonic clock in nanoseconds. */
int64_t pv_now(void);
/* "2026-11-25T17:10:43Z" into out (at least 21 bytes). */
void pv_iso8601(int64_t t, char out[32]);
uint64_t pv_mono_ns(void);

#endif
