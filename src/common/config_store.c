/*
 * config_store.c — the [store] section: which backend holds the vault,
 * and for PostgreSQL how to reach its two databases.
 *
 * Guarantees (fail closed, at load time, so `serve` and every CLI
 * command refuse the same file):
 *  - backend is `sqlite` (the default) or `postgresql`; dsn, keys_dsn
 *    and password_file are errors under sqlite, so a half-written switch
 *    to PostgreSQL cannot quietly keep running on the local files;
 *  - under postgresql both dsn and keys_dsn are set, and differ: the
 *    keys database (wrapped DEKs, shred tombstones) is always named
 *    explicitly, never derived from the records database's name, because
 *    keeping it apart is what makes an erasure survive a records backup
 *    (SCALING.md). That two different strings name the same database
 *    cannot be seen here; docs/CONFIG.md says so;
 *  - no DSN carries a password (pv_config_dsn_has_password): the
 *    password lives in password_file (read by core/vault.c into guarded
 *    memory) or in libpq's PGPASSFILE, never in phivault.conf;
 *  - a DSN is one line without control characters or ';' (libinih's
 *    inline comment), so what `init --store` writes reads back the same.
 *
 * Nothing here connects to a database or links libpq: only
 * store/pg_*.c include libpq-fe.h. The password screen is therefore
 * lexical and deliberately wider than libpq's grammar (see the header).
 * Error messages name the key, never its value (a DSN may name hosts
 * and users an error log should not collect).
 */
#include "common/config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR(...) PV_IGNORE(pv_snprintf(err, errsz, __VA_ARGS__))

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lower-cased and percent-decoded copy of s (truncated to outsz - 1). */
static void
fold(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	while (*s != '\0' && o + 1 < outsz) {
		int c = (unsigned char)*s++;
		int hi, lo;

		if (c == '%' && (hi = hexval((unsigned char)s[0])) >= 0 &&
		    (lo = hexval((unsigned char)s[1])) >= 0) {
			c = hi * 16 + lo;
			s += 2;
		}
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
}

/* postgresql://user:secret@host/db: a ':' in the user part. */
static bool
uri_has_userinfo_password(const char *dsn)
{
	const char *p = NULL, *end, *at = NULL, *q;

	if (strncasecmp(dsn, "postgresql://", 13) == 0)
		p = dsn + 13;
	else if (strncasecmp(dsn, "postgres://", 11) == 0)
		p = dsn + 11;
	if (p == NULL)
		return false;
	end = p + strcspn(p, "/?#");
	for (q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at == NULL)
		return false;
	return memchr(p, ':', (size_t)(at - p)) != NULL;
}

bool
pv_config_dsn_has_password(const char *dsn)
{
	char folded[PV_CONF_STR_MAX * 2];

	if (dsn == NULL)
		return false;
	if (strlen(dsn) >= sizeof(folded))
		return true; /* cannot screen it whole: refuse */
	fold(dsn, folded, sizeof(folded));
	return strstr(folded, "password") != NULL ||
	    uri_has_userinfo_password(dsn);
}

/* One line of phivault.conf that reads back as written. */
static bool
is_conf_line(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PV_CONF_STR_MAX || isspace((unsigned char)s[0]) ||
	    isspace((unsigned char)s[n - 1]))
		return false;
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s) || *s == ';')
			return false;
	return true;
}

pv_status
pv_config_check_pg(const struct pv_config_pg *pg, char *err, size_t errsz)
{
	static const char *const names[] = { "dsn", "keys_dsn" };
	const char *vals[2] = { pg->dsn, pg->keys_dsn };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (vals[i] == NULL || vals[i][0] == '\0') {
			ERR("[store] %s is required with backend = postgresql "
			    "(the keys database is always named explicitly)",
			    names[i]);
			return PV_EINVAL;
		}
		if (!is_conf_line(vals[i])) {
			ERR("[store] %s must be one line without control "
			    "characters, ';' or surrounding spaces",
			    names[i]);
			return PV_EINVAL;
		}
		if (pv_config_dsn_has_password(vals[i])) {
			ERR("[store] %s must not carry a password: put it in "
			    "[store] password_file or PGPASSFILE",
			    names[i]);
			return PV_EINVAL;
		}
	}
	if (strcmp(pg->dsn, pg->keys_dsn) == 0) {
		ERR("[store] keys_dsn must name another database than dsn "
		    "(erased patients' keys are kept apart from records)");
		return PV_EINVAL;
	}
	if (pg->password_file != NULL && pg->password_file[0] != '\0' &&
	    !is_conf_line(pg->password_file)) {
		ERR("[store] password_file must be one line without control "
		    "characters or ';'");
		return PV_EINVAL;
	}
	return PV_OK;
}

pv_status
pv_config_check_store(struct pv_config *cfg, char *err, size_t errsz)
{
	struct pv_config_pg pg = { cfg->store_dsn, cfg->store_keys_dsn,
		cfg->store_password_file };

	cfg->is_store_pg = false;
	if (strcmp(cfg->store_backend, "sqlite") == 0) {
		if (cfg->store_dsn[0] != '\0' ||
		    cfg->store_keys_dsn[0] != '\0' ||
		    cfg->store_password_file[0] != '\0') {
			ERR("[store] dsn, keys_dsn and password_file need "
			    "backend = postgresql");
			return PV_EINVAL;
		}
		return PV_OK;
	}
	if (strcmp(cfg->store_backend, "postgresql") != 0) {
		ERR("[store] backend must be sqlite or postgresql");
		return PV_EINVAL;
	}
	if (pv_config_check_pg(&pg, err, errsz) != PV_OK)
		return PV_EINVAL;
	cfg->is_store_pg = true;
	return PV_OK;
}

/* ---- moving a vault to PostgreSQL: rewriting [store] --------------- */

/* A growing output string. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool is_bad;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->is_bad)
		return;
	if (n > SIZE_MAX / 2 - b->n - 1) {
		b->is_bad = true;
		return;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *q = realloc(b->p, cap);

		if (q == NULL) {
			b->is_bad = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

#define MOVED_MARK "# moved from SQLite by phivault db migrate-from-sqlite"

/* The [store] keys the move sets. */
static void
put_store_pg(struct sbuf *b, const struct pv_config_pg *pg)
{
	sb_str(b, MOVED_MARK "\nbackend = postgresql\ndsn = ");
	sb_str(b, pg->dsn);
	sb_str(b, "\nkeys_dsn = ");
	sb_str(b, pg->keys_dsn);
	sb_str(b, "\n");
	if (pg->password_file != NULL && pg->password_file[0] != '\0') {
		sb_str(b, "password_file = ");
		sb_str(b, pg->password_file);
		sb_str(b, "\n");
	}
}

static const char *
skip_blank(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* A section header's name ("[ store ]" -> "store"), else false. */
static bool
section_of(const char *s, const char *end, char *name, size_t namesz)
{
	const char *close, *a, *z;

	s = skip_blank(s, end);
	if (s == end || *s != '[' ||
	    (close = memchr(s, ']', (size_t)(end - s))) == NULL)
		return false;
	a = skip_blank(s + 1, close);
	z = close;
	while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
		z--;
	if ((size_t)(z - a) >= namesz)
		z = a + namesz - 1;
	memcpy(name, a, (size_t)(z - a));
	name[z - a] = '\0';
	return true;
}

/* Is the line a key=value (or key: value) line setting one of the keys
 * the move replaces, or the move's own mark? Other comments never are. */
static bool
is_replaced_key(const char *s, const char *end)
{
	static const char *const keys[] = { "backend", "dsn", "keys_dsn",
		"password_file" };
	const char *z;
	size_t i, n;

	if ((size_t)(end - s) == strlen(MOVED_MARK) &&
	    memcmp(s, MOVED_MARK, strlen(MOVED_MARK)) == 0)
		return true; /* ours: written again with the keys */
	s = skip_blank(s, end);
	if (s == end || *s == ';' || *s == '#')
		return false;
	for (z = s; z < end && *z != '=' && *z != ':'; z++)
		;
	if (z == end)
		return false;
	while (z > s && (z[-1] == ' ' || z[-1] == '\t'))
		z--;
	n = (size_t)(z - s);
	for (i = 0; i < PV_ARRAY_LEN(keys); i++)
		if (strlen(keys[i]) == n && memcmp(keys[i], s, n) == 0)
			return true;
	return false;
}

pv_status
pv_config_store_rewrite(const char *in, size_t len,
    const struct pv_config_pg *pg, char **out)
{
	struct sbuf b = { NULL, 0, 0, false };
	const char *s = in, *end = in + len;
	bool in_store = false, is_done = false;

	*out = NULL;
	if (memchr(in, '\0', len) != NULL)
		return PV_EINVAL;
	sb_put(&b, "", 0);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *next = nl != NULL ? nl + 1 : end;
		const char *eol = nl != NULL ? nl : end;
		char name[32];

		if (eol > s && eol[-1] == '\r')
			eol--;
		if (section_of(s, eol, name, sizeof(name))) {
			in_store = strcmp(name, "store") == 0;
			sb_put(&b, s, (size_t)(next - s));
			if (nl == NULL)
				sb_str(&b, "\n");
			if (in_store && !is_done) {
				put_store_pg(&b, pg);
				is_done = true;
			}
		} else if (!(in_store && is_replaced_key(s, eol))) {
			sb_put(&b, s, (size_t)(next - s));
		}
		s = next;
	}
	if (!is_done) {
		if (b.n > 0 && b.p[b.n - 1] != '\n')
			sb_str(&b, "\n");
		sb_str(&b, "\n[store]\n");
		put_store_pg(&b, pg);
	}
	if (b.is_bad) {
		free(b.p);
		return PV_ENOMEM;
	}
	*out = b.p;
	return PV_OK;
}
