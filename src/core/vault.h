/*
 * vault.h — a vault directory: its layout, configuration and keys.
 *
 *   DIR/                 0700
 *     phivault.conf      0600  INI configuration
 *     phivault.db        0600  SQLite record database (sealed resources)
 *     keys/              0700  master-N.key, audit-signing.key/.pub,
 *                              index.key, keys.db (wrapped DEKs)
 *     tls/               0700  cert.pem, key.pem
 *     audit/             0700  log.jsonl, checkpoints.jsonl
 *     alerts.jsonl       0600  alert file sink
 *
 * Both `serve` and every admin subcommand open a vault the same way, so
 * the CLI and the server run the same code below this point.
 */
#ifndef PV_CORE_VAULT_H
#define PV_CORE_VAULT_H

#include "common/config.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define PV_PATH_MAX 1024
#define PV_SIGN_KEY_ID_LEN 16		/* hex of the first 8 bytes */

struct pv_vault {
	char dir[PV_PATH_MAX];
	struct pv_config cfg;
	struct pv_store *store;
	struct pv_keyring *keyring;
	unsigned char *index_key;	/* secret: blind indexes, peppers */
	unsigned char *sign_sk;		/* secret: audit checkpoints */
	unsigned char sign_pk[PV_SIGN_PK_BYTES];
	char sign_key_id[PV_SIGN_KEY_ID_LEN + 1];
};

/*
 * Creates a new vault at dir (which must not exist, or be an empty
 * directory): layout, default config, master key, signing key, index key,
 * development certificate and migrated databases. Refuses to touch an
 * existing vault (PV_EEXISTS). err gets a one-line reason on failure.
 */
PV_MUST_CHECK pv_status pv_vault_create(const char *dir, char *err,
    size_t errsz);

/*
 * Opens the vault at dir: checks directory and key modes, loads config
 * and keys into guarded memory, opens the store. *out is owned by the
 * caller and released with pv_vault_close.
 */
PV_MUST_CHECK pv_status pv_vault_open(const char *dir, struct pv_vault **out,
    char *err, size_t errsz);
void pv_vault_close(struct pv_vault *v);

/* Joins the vault directory and rel into out. */
PV_MUST_CHECK pv_status pv_vault_path(const struct pv_vault *v,
    const char *rel, char *out, size_t outsz);

/* Derives a 32-byte subkey of the index key for purpose (≤ 8 chars). */
void pv_vault_subkey(const struct pv_vault *v, const char *purpose,
    uint64_t id, unsigned char out[PV_KEY_BYTES]);

#endif
