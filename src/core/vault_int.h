/*
 * vault_int.h — what vault.c asks of vault_store.c: which store a vault
 * opens and how its PostgreSQL databases are prepared. Not an API:
 * nothing outside src/core includes it.
 */
#ifndef PV_CORE_VAULT_INT_H
#define PV_CORE_VAULT_INT_H

#include "core/vault.h"

/* The longest password a password_file may hold (bytes). */
#define PV_VAULT_PG_PASSWORD_MAX 1024

/*
 * Opens the store cfg names for the vault at dir (an absolute path):
 * SQLite (phivault.db and keys/keys.db, created and migrated), or
 * PostgreSQL (pv_store_open_pg; never migrates). *out is the caller's,
 * released with pv_store_close; *password gets the password_file's
 * password in guarded memory (NULL when there is none), the caller's,
 * released with pv_vault_password_free. err gets a one-line reason.
 */
PV_MUST_CHECK pv_status pv_vault_store_open(const char *dir,
    const struct pv_config *cfg, struct pv_store **out, char **password,
    char *err, size_t errsz);
/* Wipes and frees a password pv_vault_store_open handed out (NULL ok). */
void pv_vault_password_free(char *pw);

/* A PostgreSQL vault's connection settings, the password (if any) in
 * guarded memory. */
struct pv_vault_pg {
	struct pv_store_pg_opts o; /* borrows the dsns of the pg it was
				    * loaded from, and pw */
	char *pw; /* secret memory, or NULL: libpq's own */
};
/*
 * Checks pg (pv_config_check_pg) and reads its password_file (relative:
 * under dir; a regular file of this user, mode 0600 or 0400) into p->pw.
 * Released with pv_vault_pg_release (wipes), also after a failure.
 */
PV_MUST_CHECK pv_status pv_vault_pg_load(const char *dir,
    const struct pv_config_pg *pg, struct pv_vault_pg *p, char *err,
    size_t errsz);
void pv_vault_pg_release(struct pv_vault_pg *p);

/*
 * Creates or upgrades both PostgreSQL schemas (pv_store_pg_migrate);
 * *from and *to get the versions before and after. A relative
 * password_file is taken under dir.
 */
PV_MUST_CHECK pv_status pv_vault_store_migrate_pg(const char *dir,
    const struct pv_config_pg *pg, int *from, int *to, char *err, size_t errsz);

/*
 * `init --store`: migrates the databases, then refuses (PV_EEXISTS)
 * when they already hold a vault — any account in the records database
 * or any wrapped key in the keys database — since a new vault's master
 * key could not unwrap another vault's keys. Empty (or only migrated by
 * an init that failed later) passes.
 */
PV_MUST_CHECK pv_status pv_vault_store_init_pg(const char *dir,
    const struct pv_config_pg *pg, char *err, size_t errsz);

/* The directory must be new or empty; it is made (or set) 0700. */
PV_MUST_CHECK pv_status pv_vault_claim_dir(const char *dir, char *err,
    size_t errsz);
/* dir/rel made 0700. */
PV_MUST_CHECK pv_status pv_vault_make_dir(const char *dir, const char *rel);

#endif
