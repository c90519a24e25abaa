/*
 * util.c — status names, bounded string copies and clocks.
 *
 * Guarantees: no function here truncates silently; every copy either fits
 * or reports PV_ETOOBIG with an empty, terminated destination.
 */
#include "common/pv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *
pv_status_name(pv_status st)
{
	static const char *const names[] = {
		[PV_OK] = "ok",
		[PV_EINVAL] = "invalid",
		[PV_ENOTFOUND] = "not_found",
		[PV_EGONE] = "gone",
		[PV_EDENIED] = "denied",
		[PV_EAUTH] = "unauthenticated",
		[PV_ECONFLICT] = "conflict",
		[PV_EEXISTS] = "exists",
		[PV_ETOOBIG] = "too_big",
		[PV_EBUSY] = "busy",
		[PV_EUNAVAIL] = "unavailable",
		[PV_ECRYPTO] = "integrity",
		[PV_EIO] = "io",
		[PV_ENOMEM] = "no_memory",
		[PV_EINTERNAL] = "internal",
	};

	if ((size_t)st >= PV_ARRAY_LEN(names) || names[st] == NULL)
		return "unknown";
	return names[st];
}

pv_status
pv_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t n;

	if (dstsz == 0)
		return PV_ETOOBIG;
	n = strlen(src);
	if (n >= dstsz) {
		dst[0] = '\0';
		return PV_ETOOBIG;
	}
	memcpy(dst, src, n + 1);
	return PV_OK;
}

pv_status
pv_csv_append(char *dst, size_t dstsz, const char *item, size_t len)
{
	size_t used = strnlen(dst, dstsz), comma = used > 0 ? 1 : 0;

	if (used >= dstsz || len >= dstsz - used - comma)
		return PV_ETOOBIG;
	if (comma)
		dst[used++] = ',';
	memcpy(dst + used, item, len);
	dst[used + len] = '\0';
	return PV_OK;
}

pv_status
pv_snprintf(char *dst, size_t dstsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (dstsz == 0)
		return PV_ETOOBIG;
	va_start(ap, fmt);
	n = vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstsz) {
		dst[0] = '\0';
		return PV_ETOOBIG;
	}
	return PV_OK;
}

int64_t
pv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t
pv_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool
pv_fhir_id_is_valid(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++) {
		char c = id[n];

		if (n >= 64)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return n > 0;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, and no NUL (a NUL would truncate the value in C and SQL).
 */
bool
pv_utf8_is_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

size_t
pv_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void
pv_iso8601(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(out, "1970-01-01T00:00:00Z");
}
