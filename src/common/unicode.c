/*
 * unicode.c — character classes of free text, from libunistring's
 * Unicode tables (never a hand-kept list of code points).
 *
 * Used where a field must say something a person can read, such as a
 * break-glass reason: a reason made of spaces, zero-width or format
 * characters, combining marks alone, punctuation alone, private-use or
 * unassigned code points is not a reason (outside review, issue 13,
 * finding 12, and the red-team pass after it).
 */
#include "common/pv.h"

#include <unictype.h>
#include <unistr.h>

size_t
pv_utf8_word_chars(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uc_general_category_t word =
	    uc_general_category_or(UC_CATEGORY_L, UC_CATEGORY_N);
	size_t n = 0;
	ucs4_t uc;

	while ((p = u8_next(&uc, p)) != NULL) {
		/* Letters and digits that render: not the Hangul fillers and
		 * other default-ignorable code points filed under letters. */
		if (uc_is_general_category(uc, word) &&
		    !uc_is_property_default_ignorable_code_point(uc))
			n++;
	}
	return n;
}
