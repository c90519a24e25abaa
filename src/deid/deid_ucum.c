/*
 * deid_ucum.c — which unit strings the de-identified export may release:
 * UCUM expressions (https://ucum.org/ucum, "The Unified Code for Units of
 * Measure", section 2 grammar) built only from the atoms, prefixes and
 * annotations in the tables below.
 *
 * Threat (outside review, issue 13, finding 6): Quantity.unit and
 * Quantity.code are strings a sender fills in; the old check let any
 * short printable word through ("JaneDoe" is a fine-looking unit). A UCUM
 * annotation ("{...}") is free text by definition, so the grammar alone
 * is not enough either: annotations are taken from a fixed list.
 *
 * Guarantee: deid_ucum_is_valid() is true only for a string of at most
 * DEID_UNIT_MAX characters that parses as
 *     term      := ['/'] component (('.' | '/') component)*
 *     component := '(' term ')' | annotation
 *                | simple [exponent] [annotation] | factor [annotation]
 *     simple    := atom | prefix metric-atom
 *     exponent  := ['+' | '-'] 1-2 digits;  factor := 1-3 digits
 * with parentheses nested at most twice. Real clinical units pass ("mg",
 * "mm[Hg]", "10*3/uL", "{beats}/min", "mL/min/{1.73_m2}", "kg/m2", "%");
 * names, dates and identifiers do not.
 *
 * Not guaranteed: the full UCUM atom table (a unit outside these lists is
 * dropped, not rejected loudly), nor dimensional sense ("g.s" passes).
 */
#include "deid/deid_int.h"

#include <ctype.h>
#include <string.h>

#define UCUM_DEPTH_MAX 2
#define UCUM_TOKEN_MAX 16

static const char *const prefixes[] = { "da", "Y", "Z", "E", "P", "T", "G", "M",
	"k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y", "Ki", "Mi",
	"Gi", "Ti", NULL };

/* Atoms a prefix may precede (UCUM "metric" atoms). */
static const char *const metric_atoms[] = { "m", "s", "g", "rad", "sr", "K",
	"C", "cd", "mol", "Hz", "N", "Pa", "J", "W", "A", "V", "F", "Ohm", "S",
	"Wb", "Cel", "T", "H", "lm", "lx", "Bq", "Gy", "Sv", "l", "L", "ar",
	"t", "bar", "u", "eV", "cal", "eq", "osm", "kat", "U", "[iU]", "[IU]",
	"m[Hg]", "m[H2O]", "mho", "Ci", "R", "B", "Np", "gf", "g%", "bit", "By",
	"Bd", "st", NULL };

static const char *const atoms[] = { "min", "h", "d", "wk", "mo", "a", "a_j",
	"a_t", "a_g", "mo_j", "mo_s", "mo_g", "%", "[ppth]", "[ppm]", "[ppb]",
	"[pptr]", "10*", "10^", "[in_i]", "[ft_i]", "[yd_i]", "[mi_i]",
	"[lb_av]", "[oz_av]", "[gr]", "[foz_us]", "[gal_us]", "[pt_us]",
	"[qt_us]", "[tsp_us]", "[tbs_us]", "[cup_us]", "[degF]", "[drp]",
	"[HPF]", "[LPF]", "[arb'U]", "[pH]", "[CFU]", "[PFU]", "[FFU]",
	"[USP'U]", "[diop]", "[mesh_i]", "[Ch]", "[PRU]", "atm", "deg", "[pi]",
	NULL };

static const char *const annotations[] = { "{beats}", "{breaths}", "{score}",
	"{cells}", "{copies}", "{count}", "{#}", "{rbc}", "{RBCs}", "{WBCs}",
	"{tbl}", "{tablet}", "{tablets}", "{capsule}", "{capsules}", "{puff}",
	"{puffs}", "{drop}", "{drops}", "{spray}", "{sprays}", "{dose}",
	"{doses}", "{1.73_m2}", "{ratio}", "{index}", "{titer}", "{INR}",
	"{Ct}", "{steps}", "{events}", "{episodes}", "{patch}", "{application}",
	"{unit}", "{units}", NULL };

static bool
in_list(const char *s, size_t n, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && strncmp(s, *list, n) == 0)
			return true;
	return false;
}

/* An atom, or a prefix then a metric atom: s[0..n). */
static bool
simple_ok(const char *s, size_t n)
{
	const char *const *p;
	size_t pl;

	if (n == 0)
		return false;
	if (in_list(s, n, atoms) || in_list(s, n, metric_atoms))
		return true;
	for (p = prefixes; *p != NULL; p++) {
		pl = strlen(*p);
		if (pl < n && strncmp(s, *p, pl) == 0 &&
		    in_list(s + pl, n - pl, metric_atoms))
			return true;
	}
	return false;
}

/* A factor, or a simple unit with an optional exponent: s[0..n). */
static bool
token_ok(const char *s, size_t n)
{
	size_t digits = 0;

	while (digits < n && isdigit((unsigned char)s[n - 1 - digits]))
		digits++;
	if (digits == n)
		return n >= 1 && n <= 3; /* a factor */
	if (digits > 2)
		return false;
	if (digits > 0 &&
	    (s[n - 1 - digits] == '+' || s[n - 1 - digits] == '-'))
		digits++;
	return simple_ok(s, n - digits);
}

static bool term(const char *s, size_t *i, int depth);

/* An annotation at s[*i] ('{' ... '}'), from the list. */
static bool
annotation(const char *s, size_t *i)
{
	const char *end = strchr(s + *i, '}');
	size_t n;

	if (end == NULL)
		return false;
	n = (size_t)(end - (s + *i)) + 1;
	if (!in_list(s + *i, n, annotations))
		return false;
	*i += n;
	return true;
}

static bool
component(const char *s, size_t *i, int depth)
{
	size_t start = *i;

	if (s[*i] == '(') {
		if (depth >= UCUM_DEPTH_MAX)
			return false;
		(*i)++;
		if (!term(s, i, depth + 1) || s[*i] != ')')
			return false;
		(*i)++;
		return true;
	}
	if (s[*i] == '{')
		return annotation(s, i);
	/* a token ends at an operator, an annotation or a parenthesis;
	 * brackets are part of atoms ("m[Hg]") */
	while (s[*i] != '\0' && strchr("./{()", s[*i]) == NULL) {
		if (s[*i] == '[') {
			const char *end = strchr(s + *i, ']');

			if (end == NULL)
				return false;
			*i = (size_t)(end - s);
		}
		(*i)++;
		if (*i - start > UCUM_TOKEN_MAX)
			return false;
	}
	if (!token_ok(s + start, *i - start))
		return false;
	return s[*i] != '{' || annotation(s, i);
}

static bool
term(const char *s, size_t *i, int depth)
{
	if (s[*i] == '/')
		(*i)++;
	if (!component(s, i, depth))
		return false;
	while (s[*i] == '.' || s[*i] == '/') {
		(*i)++;
		if (!component(s, i, depth))
			return false;
	}
	return true;
}

bool
deid_ucum_is_valid(const char *s)
{
	size_t i = 0, n;

	if (s == NULL)
		return false;
	n = strnlen(s, DEID_UNIT_MAX + 1);
	if (n == 0 || n > DEID_UNIT_MAX)
		return false;
	return term(s, &i, 0) && s[i] == '\0';
}
