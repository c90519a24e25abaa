/*
 * fuzz_audit_entry.c — libFuzzer harness for the one parser of audit log
 * lines (audit_entry_parse, src/audit/entry.c), linked as is. Besides
 * memory safety, checks the round trip: an entry parsed from any input
 * that the encoder accepts encodes to a line that parses back to the
 * same entry.
 */
#include "audit/entry.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct audit_entry e, again;
	char line[AUDIT_LINE_MAX], *s;
	size_t len;

	if (size > AUDIT_LINE_MAX)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (audit_entry_parse(s, &e, NULL) &&
	    audit_entry_format(&e, line, sizeof(line), &len) == PV_OK) {
		if (len != strlen(line) ||
		    !audit_entry_parse(line, &again, NULL) ||
		    memcmp(&e, &again, sizeof(e)) != 0)
			abort();
	}
	free(s);
	return 0;
}
