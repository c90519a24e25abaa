/*
 * config.h — phivault.conf, the vault's INI configuration.
 *
 * The file is parsed with libinih (a small, fuzzed, Debian-packaged INI
 * reader) into a fixed struct whose every field has a documented default
 * (docs/CONFIG.md). Unknown sections or keys, values out of range and
 * malformed numbers are errors: a typo in a security setting must stop
 * start-up, not silently fall back to a default.
 */
#ifndef PV_COMMON_CONFIG_H
#define PV_COMMON_CONFIG_H

#include "common/pv.h"
#include "common/netconf.h"

#define PV_CONF_STR_MAX 512
#define PV_CONF_RETENTION_MAX 16
#define PV_CONF_FIELDS_MAX 32

struct pv_retention_rule {
	char type[64]; /* resource type, or "*" */
	int64_t keep_seconds; /* after the last update */
};

struct pv_config {
	/* [server] */
	char listen[PV_CONF_STR_MAX];
	int64_t threads; /* 0 = one per CPU */
	int64_t max_connections;
	int64_t per_ip_connections;
	int64_t idle_timeout; /* seconds */
	int64_t header_timeout; /* absolute: a request head, s */
	int64_t body_grace; /* s before min_body_rate counts */
	int64_t min_body_rate; /* bytes/s a body must keep up */
	int64_t body_memory; /* request bodies held at once, bytes */
	int64_t max_body; /* bytes */
	int64_t max_header_bytes;
	int64_t max_headers;
	int64_t shutdown_grace; /* seconds */
	/* [tls] (paths relative to the vault directory) */
	char tls_cert[PV_CONF_STR_MAX];
	char tls_key[PV_CONF_STR_MAX];
	/* [backup] recovery_public_key: base64 X25519 key backups are sealed
	 * to when `backup` has no --recipient ("" = none) */
	char backup_recipient[PV_CONF_STR_MAX];
	/* [store] */
	char store_backend[16]; /* sqlite | postgresql (config_store.c) */
	bool is_store_pg; /* store_backend is postgresql; set by load */
	char store_dsn[PV_CONF_STR_MAX]; /* records database, libpq */
	char store_keys_dsn[PV_CONF_STR_MAX]; /* keys database, libpq */
	char store_password_file[PV_CONF_STR_MAX]; /* "" = libpq's own */
	char synchronous[16]; /* full | normal (SQLite) */
	int64_t busy_timeout_ms; /* SQLite */
	/* [auth] */
	int64_t argon2_memlimit_kib;
	int64_t argon2_opslimit;
	int64_t hash_workers; /* concurrent Argon2id hashes */
	int64_t hash_queue; /* waiting logins before 503 */
	int64_t session_idle_timeout;
	int64_t session_lifetime;
	char mfa_required_roles[PV_CONF_STR_MAX];
	int64_t lockout_threshold;
	int64_t lockout_base_delay;
	int64_t lockout_max_delay;
	int64_t ip_lockout_threshold;
	/* [authz] */
	char policy_file[PV_CONF_STR_MAX];
	int64_t break_glass_duration;
	int64_t dormant_days;
	/* [audit] */
	int64_t checkpoint_interval;
	int64_t denial_interval; /* unauthenticated 401s: one entry per
				  * (address, action, reason) per interval */
	int64_t denial_keys; /* (address, action, reason) tracked */
	/* [signature] */
	int64_t replay_window;
	int64_t max_future_skew; /* signature created ahead of our clock */
	int64_t nonce_cache_max;
	/* [ratelimit] */
	bool ratelimit_enabled;
	int64_t rl_ip_rate, rl_ip_burst;
	int64_t rl_account_rate, rl_account_burst;
	int64_t rl_login_rate_per_min, rl_login_burst;
	int64_t rl_password_per_hour, rl_password_burst;
	int64_t rl_proof_rate, rl_proof_burst;
	int64_t rl_max_tracked;
	/* [alerts] */
	char alert_file[PV_CONF_STR_MAX];
	bool alert_syslog;
	char alert_webhook[PV_CONF_STR_MAX];
	char alert_webhook_cafile[PV_CONF_STR_MAX];
	int64_t stuffing_accounts; /* distinct accounts from one address */
	int64_t snoop_patients; /* distinct patients ... */
	int64_t snoop_window; /* ... per window (seconds) */
	/* [retention] type = duration */
	struct pv_retention_rule retention[PV_CONF_RETENTION_MAX];
	size_t retention_n;
	int64_t purge_interval;
	/* [deid] */
	int64_t deid_k;
	char deid_quasi[PV_CONF_STR_MAX];
	/* [minimization] */
	char drop_fields[PV_CONF_STR_MAX];
	/* [proxy], [network]: trusted proxies, allow-lists (netconf.h) */
	struct pv_netconf net;
};

/* Fills cfg with the defaults. */
void pv_config_defaults(struct pv_config *cfg);

/*
 * Loads path over the defaults. On failure returns PV_EINVAL (or PV_EIO
 * when unreadable) and writes a one-line, PHI-free reason to err.
 */
PV_MUST_CHECK pv_status pv_config_load(struct pv_config *cfg, const char *path,
    char *err, size_t errsz);

/* Parses "90", "90s", "15m", "12h", "30d", "7y" into seconds. */
PV_MUST_CHECK pv_status pv_config_parse_duration(const char *s, int64_t *out);

/* True when role appears in the comma list csv (exact, case-sensitive). */
bool pv_config_list_has(const char *csv, const char *item);

/*
 * The [store] section a vault on PostgreSQL starts with (`init --store`);
 * every string is borrowed. password_file may be NULL or "".
 */
struct pv_config_pg {
	const char *dsn;
	const char *keys_dsn;
	const char *password_file;
};

/*
 * Writes the commented default phivault.conf that `init` installs; pg is
 * NULL for the SQLite default, else its values fill [store] (they must
 * have passed pv_config_check_pg first).
 */
PV_MUST_CHECK pv_status pv_config_write_default(int fd,
    const struct pv_config_pg *pg);

/* ---- [store] (config_store.c) ------------------------------------ */

/*
 * Checks the [store] keys of a loaded file together: the backend's name,
 * that dsn, keys_dsn and password_file are set only for postgresql,
 * and pv_config_check_pg for it. Sets cfg->is_store_pg. PV_EINVAL with a
 * one-line reason (which never quotes a DSN) in err.
 */
PV_MUST_CHECK pv_status pv_config_check_store(struct pv_config *cfg, char *err,
    size_t errsz);

/*
 * The rules for a PostgreSQL vault's connection settings, shared by the
 * configuration loader and `init --store`: both DSNs given (the keys
 * database is always named explicitly), different, without a password,
 * and without control characters (a DSN is one line of phivault.conf).
 */
PV_MUST_CHECK pv_status pv_config_check_pg(const struct pv_config_pg *pg,
    char *err, size_t errsz);

/*
 * `db migrate-from-sqlite`: the text of a phivault.conf (in, len bytes)
 * with its [store] section switched to pg. backend = postgresql, dsn,
 * keys_dsn and password_file (left out when pg->password_file is NULL or
 * "") go right after the first [store] header and replace those keys
 * wherever a [store] section sets them; a file without [store] gets the
 * section at its end. Every other line (comments, other keys such as
 * synchronous, other sections) is kept byte for byte. pg must have
 * passed pv_config_check_pg. *out is a new NUL-terminated string the
 * caller frees with free. PV_EINVAL when in holds a NUL, PV_ENOMEM.
 */
PV_MUST_CHECK pv_status pv_config_store_rewrite(const char *in, size_t len,
    const struct pv_config_pg *pg, char **out);

/*
 * True when a libpq connection string (key=value or a postgresql:// URI)
 * may carry a password: a "password" keyword or query parameter
 * (case-insensitive, after percent-decoding), or a URI whose user part
 * has a ':'. Conservative on purpose: a database that merely has
 * "password" in its name is refused too — a password must live in a
 * password_file or PGPASSFILE, never in phivault.conf.
 */
bool pv_config_dsn_has_password(const char *dsn);

#endif
