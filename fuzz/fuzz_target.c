/*
 * fuzz_target.c — libFuzzer harness for the input firewall's request
 * target rules (src/http/uri.c), linked as is. Checks the promise that
 * nothing with a control byte, a NUL escape or a traversal segment gets
 * through, besides memory safety.
 */
#include "http/guard.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s;
	const char *why;
	size_t i;

	if (size > PV_PATH_BYTES)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	why = pv_uri_check(s);
	if (why == NULL) {
		/* Accepted: no raw control bytes, no "/../" segments. */
		for (i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
				abort();
		if (strstr(s, "%00") != NULL)
			abort();
		s[strcspn(s, "?")] = '\0'; /* traversal: the path only */
		if (strstr(s, "/../") != NULL || strstr(s, "/./") != NULL)
			abort();
	}
	free(s);
	return 0;
}
