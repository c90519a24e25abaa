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
