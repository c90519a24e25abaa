/*
 * backup.h — encrypted, online backups of a SQLite vault (issue 16).
 *
 * A backup file is an archive of vault files sealed to a recovery public
 * key (X25519): a random crypto_secretstream key sealed with
 * crypto_box_seal, then the archive in authenticated 64 KiB chunks, the
 * last tagged FINAL. Whoever stores the file cannot read it; a changed,
 * cut or extended file fails to open. Two kinds: records (phivault.conf,
 * phivault.db, tls/, audit/, the audit public key) and keys (keys/).
 *
 * Ownership: strings and the vault are borrowed for the call.
 */
#ifndef PV_LIFECYCLE_BACKUP_H
#define PV_LIFECYCLE_BACKUP_H

#include "core/vault.h"

#define PV_BACKUP_PK_BYTES 32
#define PV_BACKUP_SK_BYTES 32

enum pv_backup_kind { PV_BACKUP_RECORDS = 1, PV_BACKUP_KEYS = 2 };

/* A new recovery key pair: the secret written base64 to path (0600, new
 * file, PV_EEXISTS if it exists), the public key base64 into pk_b64. */
PV_MUST_CHECK pv_status pv_backup_keygen(const char *path, char *pk_b64,
    size_t pk_b64sz);

/* Reads a base64 key (32 bytes, first line) from path into out. */
PV_MUST_CHECK pv_status pv_backup_read_key(const char *path,
    unsigned char out[32]);

/*
 * Writes a consistent snapshot of the open vault v (SQLite only,
 * PV_EINVAL on PostgreSQL) to out (a new file, 0600): the records
 * database through VACUUM INTO (one read transaction), then the audit
 * files up to the sizes taken under the shared flock of the log (taken
 * after the database, so the trail covers every change in it, audit
 * being write-ahead). kind PV_BACKUP_KEYS: keys/ instead (keys.db
 * through VACUUM INTO).
 */
PV_MUST_CHECK pv_status pv_backup_create(struct pv_vault *v,
    enum pv_backup_kind kind, const unsigned char pk[PV_BACKUP_PK_BYTES],
    const char *out);

/*
 * Opens the backup at in with the recovery secret key and writes its
 * files under dir (which must exist, 0700); files are created new
 * (PV_EEXISTS over an existing one), only known vault paths are accepted.
 * *kind is set. PV_EDENIED when the file does not open (wrong key,
 * changed, cut or extended), nothing being trusted before that.
 */
PV_MUST_CHECK pv_status pv_backup_extract(const char *in,
    const unsigned char sk[PV_BACKUP_SK_BYTES], const char *dir,
    enum pv_backup_kind *kind);

#endif
