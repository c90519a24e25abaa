/*
 * config.c — phivault.conf reader on top of libinih.
 *
 * One table maps every (section, key) to a field of struct pv_config with
 * its type and bounds, so adding a setting is one line here and one line
 * in docs/CONFIG.md. Anything the table does not know is rejected.
 */
#include "common/config.h"
#include "common/domain.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum conf_type { CT_INT, CT_DURATION, CT_BOOL, CT_STR };

struct conf_key {
	const char *section;
	const char *key;
	enum conf_type type;
	size_t offset;
	size_t size; /* CT_STR buffer size */
	int64_t min, max; /* CT_INT / CT_DURATION bounds */
};

#define OFF(f) offsetof(struct pv_config, f)
#define I(s, k, f, lo, hi)                                                     \
	{                                                                      \
		s, k, CT_INT, OFF(f), 0, lo, hi                                \
	}
#define D(s, k, f, lo, hi)                                                     \
	{                                                                      \
		s, k, CT_DURATION, OFF(f), 0, lo, hi                           \
	}
#define B(s, k, f)                                                             \
	{                                                                      \
		s, k, CT_BOOL, OFF(f), 0, 0, 0                                 \
	}
#define S(s, k, f)                                                             \
	{                                                                      \
		s, k, CT_STR, OFF(f), sizeof(((struct pv_config *)0)->f), 0, 0 \
	}

#define YEAR (365LL * 86400)

static const struct conf_key conf_keys[] = {
	S("server", "listen", listen),
	I("server", "threads", threads, 0, 256),
	I("server", "max_connections", max_connections, 1, 100000),
	I("server", "per_ip_connections", per_ip_connections, 1, 100000),
	D("server", "idle_timeout", idle_timeout, 1, 3600),
	D("server", "header_timeout", header_timeout, 1, 3600),
	D("server", "body_grace", body_grace, 0, 3600),
	I("server", "min_body_rate", min_body_rate, 0, 1 << 30),
	I("server", "body_memory", body_memory, 1 << 20, INT64_C(1) << 40),
	I("server", "max_body", max_body, 1024, 64LL << 20),
	I("server", "max_header_bytes", max_header_bytes, 4096, 1 << 20),
	I("server", "max_headers", max_headers, 8, 1000),
	D("server", "shutdown_grace", shutdown_grace, 0, 3600),
	S("tls", "cert", tls_cert),
	S("tls", "key", tls_key),
	S("backup", "recovery_public_key", backup_recipient),
	S("store", "backend", store_backend),
	S("store", "dsn", store_dsn),
	S("store", "keys_dsn", store_keys_dsn),
	S("store", "password_file", store_password_file),
	S("store", "synchronous", synchronous),
	I("store", "busy_timeout_ms", busy_timeout_ms, 0, 600000),
	I("auth", "argon2_memlimit_kib", argon2_memlimit_kib, 8, 4LL << 20),
	I("auth", "argon2_opslimit", argon2_opslimit, 1, 100),
	I("auth", "hash_workers", hash_workers, 0, 64),
	I("auth", "hash_queue", hash_queue, 1, 100000),
	D("auth", "session_idle_timeout", session_idle_timeout, 1, 30 * 86400),
	D("auth", "session_lifetime", session_lifetime, 1, 365 * 86400),
	S("auth", "mfa_required_roles", mfa_required_roles),
	I("auth", "lockout_threshold", lockout_threshold, 1, 1000),
	D("auth", "lockout_base_delay", lockout_base_delay, 1, 86400),
	D("auth", "lockout_max_delay", lockout_max_delay, 1, 30 * 86400),
	I("auth", "ip_lockout_threshold", ip_lockout_threshold, 1, 100000),
	S("authz", "policy_file", policy_file),
	D("authz", "break_glass_duration", break_glass_duration, 1, 7 * 86400),
	I("authz", "dormant_days", dormant_days, 1, 3650),
	D("audit", "checkpoint_interval", checkpoint_interval, 1, 86400),
	D("audit", "denial_interval", denial_interval, 1, 86400),
	I("audit", "denial_keys", denial_keys, 16, 1000000),
	D("signature", "replay_window", replay_window, 1, 3600),
	D("signature", "max_future_skew", max_future_skew, 0, 60),
	I("signature", "nonce_cache_max", nonce_cache_max, 16, 10000000),
	B("ratelimit", "enabled", ratelimit_enabled),
	I("ratelimit", "ip_rate", rl_ip_rate, 1, 10000000),
	I("ratelimit", "ip_burst", rl_ip_burst, 1, 10000000),
	I("ratelimit", "account_rate", rl_account_rate, 1, 10000000),
	I("ratelimit", "account_burst", rl_account_burst, 1, 10000000),
	I("ratelimit", "login_per_minute", rl_login_rate_per_min, 1, 10000000),
	I("ratelimit", "login_burst", rl_login_burst, 1, 10000000),
	I("ratelimit", "password_per_hour", rl_password_per_hour, 1, 10000000),
	I("ratelimit", "password_burst", rl_password_burst, 1, 10000000),
	I("ratelimit", "proof_rate", rl_proof_rate, 1, 10000000),
	I("ratelimit", "proof_burst", rl_proof_burst, 1, 10000000),
	I("ratelimit", "max_tracked", rl_max_tracked, 16, 10000000),
	S("alerts", "file", alert_file),
	B("alerts", "syslog", alert_syslog),
	S("alerts", "webhook", alert_webhook),
	S("alerts", "webhook_cafile", alert_webhook_cafile),
	I("alerts", "stuffing_accounts", stuffing_accounts, 2, 1000000),
	I("alerts", "snoop_patients", snoop_patients, 2, 256),
	D("alerts", "snoop_window", snoop_window, 1, 86400),
	D("retention", "purge_interval", purge_interval, 1, 30 * 86400),
	I("deid", "k", deid_k, 2, 1000),
	S("deid", "quasi_identifiers", deid_quasi),
	S("minimization", "drop_fields", drop_fields),
};

void
pv_config_defaults(struct pv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen, "127.0.0.1:8443");
	cfg->threads = 0;
	cfg->max_connections = 1024;
	cfg->per_ip_connections = 64;
	cfg->idle_timeout = 30;
	cfg->header_timeout = 10;
	cfg->body_grace = 10;
	cfg->min_body_rate = 8192;
	cfg->body_memory = 256 << 20;
	cfg->max_body = 1 << 20;
	cfg->max_header_bytes = 16384;
	cfg->max_headers = 64;
	cfg->shutdown_grace = 30;
	strcpy(cfg->tls_cert, "tls/cert.pem");
	strcpy(cfg->tls_key, "tls/key.pem");
	strcpy(cfg->store_backend, "sqlite");
	strcpy(cfg->synchronous, "full");
	cfg->busy_timeout_ms = 5000;
	cfg->argon2_memlimit_kib = 19 * 1024;
	cfg->argon2_opslimit = 2;
	cfg->hash_workers = 0;
	cfg->hash_queue = 256;
	cfg->session_idle_timeout = 15 * 60;
	cfg->session_lifetime = 12 * 3600;
	strcpy(cfg->mfa_required_roles, "clinician,nurse,admin,auditor");
	cfg->lockout_threshold = 5;
	cfg->lockout_base_delay = 30;
	cfg->lockout_max_delay = 3600;
	cfg->ip_lockout_threshold = 50;
	cfg->break_glass_duration = 60 * 60;
	cfg->dormant_days = 90;
	cfg->checkpoint_interval = 60;
	cfg->denial_interval = 60;
	cfg->denial_keys = 256;
	cfg->replay_window = 300;
	cfg->max_future_skew = 5;
	cfg->nonce_cache_max = 1000000;
	cfg->ratelimit_enabled = true;
	cfg->rl_ip_rate = 500;
	cfg->rl_ip_burst = 1000;
	cfg->rl_account_rate = 200;
	cfg->rl_account_burst = 400;
	cfg->rl_login_rate_per_min = 20;
	cfg->rl_login_burst = 20;
	cfg->rl_password_per_hour = 10;
	cfg->rl_password_burst = 3;
	cfg->rl_proof_rate = 20;
	cfg->rl_proof_burst = 40;
	cfg->rl_max_tracked = 100000;
	strcpy(cfg->alert_file, "alerts.jsonl");
	cfg->alert_syslog = true;
	cfg->stuffing_accounts = 10;
	cfg->snoop_patients = 50;
	cfg->snoop_window = 600;
	cfg->purge_interval = 3600;
	cfg->deid_k = 5;
	strcpy(cfg->deid_quasi, "birth_year,sex,zip3");
	pv_netconf_defaults(&cfg->net);
}

bool
pv_config_list_has(const char *csv, const char *item)
{
	size_t n = strlen(item);
	const char *p = csv;

	while (*p != '\0') {
		const char *end;
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == n && n > 0 && strncmp(p, item, n) == 0)
			return true;
		p = end;
	}
	return false;
}

pv_status
pv_config_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mult = 1;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return PV_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0)
		return PV_EINVAL;
	switch (*end) {
	case '\0':
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	case 'y':
		mult = YEAR;
		break;
	default:
		return PV_EINVAL;
	}
	if (*end != '\0' && end[1] != '\0')
		return PV_EINVAL;
	if (v > INT64_MAX / mult)
		return PV_EINVAL;
	*out = (int64_t)v * mult;
	return PV_OK;
}

static pv_status
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return PV_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return PV_EINVAL;
	*out = v;
	return PV_OK;
}

static pv_status
parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "1") == 0 || strcmp(s, "on") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
	    strcmp(s, "0") == 0 || strcmp(s, "off") == 0)
		*out = false;
	else
		return PV_EINVAL;
	return PV_OK;
}

struct load_ctx {
	struct pv_config *cfg;
	char *err;
	size_t errsz;
	bool failed;
};

static int
fail(struct load_ctx *lc, const char *why, const char *section,
    const char *name)
{
	if (!lc->failed &&
	    pv_snprintf(lc->err, lc->errsz, "%s: [%s] %s", why, section,
		name) != PV_OK)
		PV_IGNORE(
		    pv_strlcpy(lc->err, "invalid configuration", lc->errsz));
	lc->failed = true;
	return 0;
}

static int
set_retention(struct load_ctx *lc, const char *name, const char *value)
{
	struct pv_config *cfg = lc->cfg;
	struct pv_retention_rule *r;
	int64_t secs;

	if (strcmp(name, "purge_interval") == 0)
		return -1; /* handled by the table */
	if (cfg->retention_n >= PV_CONF_RETENTION_MAX)
		return fail(lc, "too many retention rules", "retention", name);
	if (strcmp(name, "*") != 0 && !pv_fhir_type_is_known(name))
		return fail(lc, "unknown resource type", "retention", name);
	if (pv_config_parse_duration(value, &secs) != PV_OK || secs <= 0)
		return fail(lc, "invalid duration", "retention", name);
	r = &cfg->retention[cfg->retention_n];
	if (pv_strlcpy(r->type, name, sizeof(r->type)) != PV_OK)
		return fail(lc, "resource type too long", "retention", name);
	r->keep_seconds = secs;
	cfg->retention_n++;
	return 1;
}

static int
on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *lc = user;
	char *base = (char *)lc->cfg;
	size_t i;
	int64_t v = 0;

	if (strcmp(section, "retention") == 0) {
		int r = set_retention(lc, name, value);
		if (r >= 0)
			return r;
	}
	/* [proxy] and [network] (issue 15): lists of CIDR blocks, netconf.c */
	if (strcmp(section, "proxy") == 0 || strcmp(section, "network") == 0) {
		char why[200];

		if (pv_netconf_set(&lc->cfg->net, section, name, value, why,
			sizeof(why)) == PV_OK)
			return 1;
		if (!lc->failed && pv_strlcpy(lc->err, why, lc->errsz) != PV_OK)
			PV_IGNORE(pv_strlcpy(lc->err, "invalid network setting",
			    lc->errsz));
		lc->failed = true;
		return 0;
	}
	for (i = 0; i < PV_ARRAY_LEN(conf_keys); i++) {
		const struct conf_key *k = &conf_keys[i];

		if (strcmp(k->section, section) != 0 ||
		    strcmp(k->key, name) != 0)
			continue;
		switch (k->type) {
		case CT_STR:
			if (pv_strlcpy(base + k->offset, value, k->size) !=
			    PV_OK)
				return fail(lc, "value too long", section,
				    name);
			return 1;
		case CT_BOOL:
			if (parse_bool(value, (bool *)(base + k->offset)) !=
			    PV_OK)
				return fail(lc, "expected true or false",
				    section, name);
			return 1;
		case CT_INT:
			if (parse_int(value, &v) != PV_OK)
				return fail(lc, "expected an integer", section,
				    name);
			break;
		case CT_DURATION:
			if (pv_config_parse_duration(value, &v) != PV_OK)
				return fail(lc, "expected a duration", section,
				    name);
			break;
		}
		if (v < k->min || v > k->max)
			return fail(lc, "value out of range", section, name);
		memcpy(base + k->offset, &v, sizeof(v));
		return 1;
	}
	return fail(lc, "unknown setting", section, name);
}

/* Every item of a comma list passes ok(); else *bad names the first. */
static bool
list_ok(const char *csv, bool (*ok)(const char *), char *bad, size_t badsz)
{
	const char *p = csv;

	while (*p != '\0') {
		char item[PV_CONF_STR_MAX];
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0)
			break;
		if (len >= sizeof(item))
			return false;
		memcpy(item, p, len);
		item[len] = '\0';
		if (!ok(item)) {
			PV_IGNORE(pv_strlcpy(bad, item, badsz));
			return false;
		}
		p += strcspn(p, ",");
	}
	return true;
}

static bool
is_quasi(const char *s)
{
	return strcmp(s, "birth_year") == 0 || strcmp(s, "sex") == 0 ||
	    strcmp(s, "zip3") == 0;
}

/* "Type.field" with a known type and a plain field name. */
static bool
is_type_field(const char *s)
{
	const char *dot = strchr(s, '.');
	char type[64];

	if (dot == NULL || dot == s || (size_t)(dot - s) >= sizeof(type) ||
	    dot[1] == '\0' || strchr(dot + 1, '.') != NULL)
		return false;
	memcpy(type, s, (size_t)(dot - s));
	type[dot - s] = '\0';
	return pv_fhir_type_is_known(type);
}

/* Settings whose values are lists of names: a typo must not pass. */
static pv_status
check_lists(const struct pv_config *cfg, char *err, size_t errsz)
{
	char bad[PV_CONF_STR_MAX] = "";

	if (!list_ok(cfg->mfa_required_roles, pv_role_is_known, bad,
		sizeof(bad))) {
		PV_IGNORE(pv_snprintf(err, errsz,
		    "[auth] mfa_required_roles: "
		    "unknown role '%.40s'",
		    bad));
		return PV_EINVAL;
	}
	if (!list_ok(cfg->deid_quasi, is_quasi, bad, sizeof(bad))) {
		PV_IGNORE(pv_snprintf(err, errsz,
		    "[deid] quasi_identifiers: "
		    "'%.40s' is not birth_year, sex or zip3",
		    bad));
		return PV_EINVAL;
	}
	if (!list_ok(cfg->drop_fields, is_type_field, bad, sizeof(bad))) {
		PV_IGNORE(pv_snprintf(err, errsz,
		    "[minimization] drop_fields: "
		    "'%.40s' is not Type.field with a known type",
		    bad));
		return PV_EINVAL;
	}
	return PV_OK;
}

pv_status
pv_config_load(struct pv_config *cfg, const char *path, char *err, size_t errsz)
{
	struct load_ctx lc = { cfg, err, errsz, false };
	int rc;

	if (errsz > 0)
		err[0] = '\0';
	rc = ini_parse(path, on_pair, &lc);
	if (rc < 0) {
		PV_IGNORE(
		    pv_strlcpy(err, "cannot read configuration file", errsz));
		return PV_EIO;
	}
	if (lc.failed)
		return PV_EINVAL;
	if (rc > 0) {
		if (pv_snprintf(err, errsz, "syntax error at line %d", rc) !=
		    PV_OK)
			PV_IGNORE(pv_strlcpy(err, "syntax error", errsz));
		return PV_EINVAL;
	}
	if (strcmp(cfg->synchronous, "full") != 0 &&
	    strcmp(cfg->synchronous, "normal") != 0) {
		PV_IGNORE(pv_strlcpy(err,
		    "[store] synchronous must be full or normal", errsz));
		return PV_EINVAL;
	}
	if (pv_config_check_store(cfg, err, errsz) != PV_OK)
		return PV_EINVAL;
	return check_lists(cfg, err, errsz);
}

static const char default_conf[] =
    "# phivault.conf — every key and its default is documented in\n"
    "# docs/CONFIG.md. Unknown keys stop the server from starting.\n"
    "\n"
    "[server]\n"
    "listen = 127.0.0.1:8443\n"
    "# threads = 0            ; 0 = one per CPU\n"
    "# max_connections = 1024\n"
    "# per_ip_connections = 64\n"
    "# idle_timeout = 30s\n"
    "# header_timeout = 10s\n"
    "# min_body_rate = 8192\n"
    "# max_body = 1048576\n"
    "\n"
    "[tls]\n"
    "cert = tls/cert.pem\n"
    "key = tls/key.pem\n"
    "\n"
    "[store]\n";

/* After the [store] section's keys. */
static const char default_conf_tail[] =
    "\n"
    "[auth]\n"
    "# argon2_memlimit_kib = 19456\n"
    "# argon2_opslimit = 2\n"
    "# session_idle_timeout = 15m\n"
    "# session_lifetime = 12h\n"
    "mfa_required_roles = clinician,nurse,admin,auditor\n"
    "\n"
    "[ratelimit]\n"
    "enabled = true\n"
    "\n"
    "[retention]\n"
    "# Observation = 10y\n";

static pv_status
write_all(int fd, const char *s)
{
	size_t off = 0, len = strlen(s);

	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);
		if (n <= 0)
			return PV_EIO;
		off += (size_t)n;
	}
	return PV_OK;
}

/* [store] of a PostgreSQL vault; the values were checked (one line each). */
static pv_status
write_store_pg(int fd, const struct pv_config_pg *pg)
{
	pv_status st;

	if ((st = write_all(fd,
		 "# PostgreSQL (docs/CONFIG.md): the records database and the\n"
		 "# keys database, libpq connection strings without a\n"
		 "# password (password_file or PGPASSFILE holds it).\n"
		 "backend = postgresql\n"
		 "dsn = ")) != PV_OK ||
	    (st = write_all(fd, pg->dsn)) != PV_OK ||
	    (st = write_all(fd, "\nkeys_dsn = ")) != PV_OK ||
	    (st = write_all(fd, pg->keys_dsn)) != PV_OK ||
	    (st = write_all(fd, "\n")) != PV_OK)
		return st;
	if (pg->password_file == NULL || pg->password_file[0] == '\0')
		return write_all(fd, "# password_file = pgpassword\n");
	if ((st = write_all(fd, "password_file = ")) != PV_OK ||
	    (st = write_all(fd, pg->password_file)) != PV_OK)
		return st;
	return write_all(fd, "\n");
}

pv_status
pv_config_write_default(int fd, const struct pv_config_pg *pg)
{
	pv_status st;

	if ((st = write_all(fd, default_conf)) != PV_OK)
		return st;
	st = pg == NULL ? write_all(fd, "synchronous = full\n")
			: write_store_pg(fd, pg);
	if (st != PV_OK)
		return st;
	return write_all(fd, default_conf_tail);
}
