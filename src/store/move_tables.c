/*
 * move_tables.c — what `phivault db migrate-from-sqlite` copies, column
 * by column, from an SQLite vault (sqlite_conn.c's schema, version 1 of
 * phivault.db and of keys/keys.db) into the PostgreSQL schema
 * (pg_schema.c). The one place the two schemas are put side by side:
 * sqlite_move.c runs the src_* statements, pg_move.c the dst_* ones.
 *
 * Every value is copied as stored: ids, times, counters, flags, and the
 * sealed or hashed bytes (resources, MFA secrets, break-glass reasons,
 * token and recovery-code hashes, blind-index digests, wrapped DEKs)
 * byte for byte. Nothing is decrypted: the records stay sealed under the
 * same DEKs, the DEKs stay wrapped under the same master keys, which stay
 * files in keys/.
 *
 *  SQLite (phivault.db)       PostgreSQL (records)   notes
 *  users.id INTEGER PK        id BIGINT IDENTITY     kept: every table
 *                                                    names users by id;
 *                                                    the identity then
 *                                                    restarts past max(id)
 *  users.username, role,      same, TEXT
 *    pw_hash, patient_id,
 *    key_id (NULL), scopes
 *  users.active, mfa_enabled  BOOLEAN                0/1 only
 *  users.mfa_sealed (NULL),   BYTEA
 *    pubkey (NULL)
 *  users.mfa_last_step,       BIGINT
 *    failed_count,
 *    locked_until, created_at,
 *    last_login_at, authz_epoch
 *  sessions.* (8 columns)     same; mfa_verified     kept: a logged-in
 *                             BOOLEAN                user stays logged in
 *  recovery_codes.*           same                   hashes as stored
 *  careteam.*                 same
 *  resources.* (8 columns)    same; is_current,      sealed NULL for a
 *                             deleted BOOLEAN        deleted version
 *  blind_index.*              same
 *  grants.id INTEGER PK       id BIGSERIAL           kept; the sequence
 *                                                    restarts past max(id)
 *  grants.* (other 6)         same                   reason_sealed as is
 *  legal_holds.*              same
 *  (none: in memory)          nonces                 left empty: the
 *                                                    replay window is
 *                                                    minutes, a restart
 *                                                    starts it afresh
 *
 *  SQLite (keys/keys.db)      PostgreSQL (keys)
 *  meta (k, v)                keys_meta (k, v)       kek_current copied
 *                                                    over the default
 *  (none)                     keys_meta shred_epoch  = number of shredded
 *                                                    keys (only its
 *                                                    changes matter)
 *  deks (key_id,              deks, shredded_at      an id also in
 *    kek_version, wrapped,    NULL                   shredded is copied as
 *    created_at)                                     its tombstone only
 *                                                    (shredding wins)
 *  shredded (key_id,          deks tombstone: the    P_DEK_SHRED's shape
 *    shredded_at)             row with kek_version
 *                             0, wrapped NULL,
 *                             created_at =
 *                             shredded_at
 *
 * The audit trail (audit/log.jsonl, checkpoints.jsonl, quarantine.jsonl)
 * is copied by audit/import.c into audit_log, audit_checkpoints and
 * audit_quarantine; audit_state (a writer's resume hint) is not copied
 * (the first writer reads the trail once and saves its own), audit_nodes
 * gets the vault's key when the move registers it.
 */
#include "store/move_int.h"

#define B(i) (1u << (i))

const struct move_table move_tables[] = {
	/* ---- the keys database first: an orphan key is harmless ---- */
	{ "keys_meta", MOVE_KEYS, 2, { MV_TEXT, MV_INT }, 0,
	    "SELECT k, v FROM k.meta ORDER BY k", "SELECT count(*) FROM k.meta",
	    "INSERT INTO keys_meta (k, v) VALUES ($1, $2::bigint)"
	    " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
	    "SELECT count(*) FROM keys_meta WHERE k <> 'shred_epoch'" },
	{ "deks", MOVE_KEYS, 4, { MV_TEXT, MV_INT, MV_BLOB, MV_INT }, 0,
	    "SELECT key_id, kek_version, wrapped, created_at FROM k.deks"
	    " WHERE key_id NOT IN (SELECT key_id FROM k.shredded)"
	    " ORDER BY key_id",
	    "SELECT count(*) FROM k.deks"
	    " WHERE key_id NOT IN (SELECT key_id FROM k.shredded)",
	    "INSERT INTO deks (key_id, kek_version, wrapped, created_at)"
	    " VALUES ($1, $2::bigint, $3::bytea, $4::bigint)",
	    "SELECT count(*) FROM deks WHERE shredded_at IS NULL" },
	{ "shredded", MOVE_KEYS, 2, { MV_TEXT, MV_INT }, 0,
	    "SELECT key_id, shredded_at FROM k.shredded ORDER BY key_id",
	    "SELECT count(*) FROM k.shredded",
	    "INSERT INTO deks (key_id, kek_version, wrapped, created_at,"
	    " shredded_at) VALUES ($1, 0, NULL, $2::bigint, $2::bigint)",
	    "SELECT count(*) FROM deks WHERE shredded_at IS NOT NULL" },
	/* ---- the records database, parents before children ---- */
	{ "users", MOVE_REC, 17,
	    { MV_INT, MV_TEXT, MV_TEXT, MV_BOOL, MV_TEXT, MV_TEXT, MV_BLOB,
		MV_BOOL, MV_INT, MV_INT, MV_INT, MV_INT, MV_INT, MV_INT,
		MV_TEXT, MV_BLOB, MV_TEXT },
	    B(6) | B(14) | B(15),
	    "SELECT id, username, role, active, pw_hash, patient_id,"
	    " mfa_sealed, mfa_enabled, mfa_last_step, failed_count,"
	    " locked_until, created_at, last_login_at, authz_epoch, key_id,"
	    " pubkey, scopes FROM users ORDER BY id",
	    "SELECT count(*) FROM users",
	    "INSERT INTO users (id, username, role, active, pw_hash,"
	    " patient_id, mfa_sealed, mfa_enabled, mfa_last_step,"
	    " failed_count, locked_until, created_at, last_login_at,"
	    " authz_epoch, key_id, pubkey, scopes) OVERRIDING SYSTEM VALUE"
	    " VALUES ($1::bigint, $2, $3, $4::boolean, $5, $6, $7::bytea,"
	    " $8::boolean, $9::bigint, $10::bigint, $11::bigint,"
	    " $12::bigint, $13::bigint, $14::bigint, $15, $16::bytea, $17)",
	    "SELECT count(*) FROM users" },
	{ "sessions", MOVE_REC, 8,
	    { MV_TEXT, MV_BLOB, MV_INT, MV_INT, MV_INT, MV_INT, MV_BOOL,
		MV_INT },
	    0,
	    "SELECT id, token_hash, user_id, created_at, last_seen,"
	    " expires_at, mfa_verified, authz_epoch FROM sessions ORDER BY id",
	    "SELECT count(*) FROM sessions",
	    "INSERT INTO sessions (id, token_hash, user_id, created_at,"
	    " last_seen, expires_at, mfa_verified, authz_epoch) VALUES ($1,"
	    " $2::bytea, $3::bigint, $4::bigint, $5::bigint, $6::bigint,"
	    " $7::boolean, $8::bigint)",
	    "SELECT count(*) FROM sessions" },
	{ "recovery_codes", MOVE_REC, 3, { MV_INT, MV_BLOB, MV_INT }, 0,
	    "SELECT user_id, code_hash, used_at FROM recovery_codes"
	    " ORDER BY user_id, code_hash",
	    "SELECT count(*) FROM recovery_codes",
	    "INSERT INTO recovery_codes (user_id, code_hash, used_at)"
	    " VALUES ($1::bigint, $2::bytea, $3::bigint)",
	    "SELECT count(*) FROM recovery_codes" },
	{ "careteam", MOVE_REC, 3, { MV_INT, MV_TEXT, MV_INT }, 0,
	    "SELECT user_id, patient_id, added_at FROM careteam"
	    " ORDER BY user_id, patient_id",
	    "SELECT count(*) FROM careteam",
	    "INSERT INTO careteam (user_id, patient_id, added_at)"
	    " VALUES ($1::bigint, $2, $3::bigint)",
	    "SELECT count(*) FROM careteam" },
	{ "resources", MOVE_REC, 8,
	    { MV_TEXT, MV_TEXT, MV_INT, MV_TEXT, MV_BOOL, MV_BOOL, MV_INT,
		MV_BLOB },
	    B(7),
	    "SELECT type, id, version, patient_id, is_current, deleted,"
	    " updated_at, sealed FROM resources ORDER BY type, id, version",
	    "SELECT count(*) FROM resources",
	    "INSERT INTO resources (type, id, version, patient_id,"
	    " is_current, deleted, updated_at, sealed) VALUES ($1, $2,"
	    " $3::bigint, $4, $5::boolean, $6::boolean, $7::bigint,"
	    " $8::bytea)",
	    "SELECT count(*) FROM resources" },
	{ "blind_index", MOVE_REC, 3, { MV_TEXT, MV_BLOB, MV_TEXT }, 0,
	    "SELECT type, digest, id FROM blind_index"
	    " ORDER BY type, digest, id",
	    "SELECT count(*) FROM blind_index",
	    "INSERT INTO blind_index (type, digest, id)"
	    " VALUES ($1, $2::bytea, $3)",
	    "SELECT count(*) FROM blind_index" },
	{ "grants", MOVE_REC, 7,
	    { MV_INT, MV_INT, MV_TEXT, MV_INT, MV_INT, MV_INT, MV_BLOB }, B(6),
	    "SELECT id, user_id, patient_id, created_at, expires_at,"
	    " reviewed_at, reason_sealed FROM grants ORDER BY id",
	    "SELECT count(*) FROM grants",
	    "INSERT INTO grants (id, user_id, patient_id, created_at,"
	    " expires_at, reviewed_at, reason_sealed) VALUES ($1::bigint,"
	    " $2::bigint, $3, $4::bigint, $5::bigint, $6::bigint, $7::bytea)",
	    "SELECT count(*) FROM grants" },
	{ "legal_holds", MOVE_REC, 2, { MV_TEXT, MV_INT }, 0,
	    "SELECT patient_id, created_at FROM legal_holds"
	    " ORDER BY patient_id",
	    "SELECT count(*) FROM legal_holds",
	    "INSERT INTO legal_holds (patient_id, created_at)"
	    " VALUES ($1, $2::bigint)",
	    "SELECT count(*) FROM legal_holds" },
};

const size_t move_tables_n = PV_ARRAY_LEN(move_tables);

const char *const move_after[2] = {
	[MOVE_REC] =
	    /* New ids continue after the copied ones. */
	"SELECT setval(pg_get_serial_sequence('users', 'id'),"
	" coalesce((SELECT max(id) FROM users), 0) + 1, false);"
	"SELECT setval(pg_get_serial_sequence('grants', 'id'),"
	" coalesce((SELECT max(id) FROM grants), 0) + 1, false)",
	[MOVE_KEYS] = "UPDATE keys_meta SET v = (SELECT count(*) FROM deks"
		      " WHERE shredded_at IS NOT NULL) WHERE k = 'shred_epoch'",
};

const char *const move_is_empty[2] = {
	[MOVE_REC] = "SELECT NOT (EXISTS (SELECT 1 FROM users)"
		     " OR EXISTS (SELECT 1 FROM sessions)"
		     " OR EXISTS (SELECT 1 FROM recovery_codes)"
		     " OR EXISTS (SELECT 1 FROM careteam)"
		     " OR EXISTS (SELECT 1 FROM resources)"
		     " OR EXISTS (SELECT 1 FROM blind_index)"
		     " OR EXISTS (SELECT 1 FROM grants)"
		     " OR EXISTS (SELECT 1 FROM legal_holds)"
		     " OR EXISTS (SELECT 1 FROM nonces)"
		     " OR EXISTS (SELECT 1 FROM audit_log)"
		     " OR EXISTS (SELECT 1 FROM audit_checkpoints)"
		     " OR EXISTS (SELECT 1 FROM audit_quarantine)"
		     " OR EXISTS (SELECT 1 FROM audit_state)"
		     " OR EXISTS (SELECT 1 FROM audit_nodes))",
	[MOVE_KEYS] = "SELECT NOT EXISTS (SELECT 1 FROM deks)",
};

const char *const move_clear[2] = {
	[MOVE_REC] = "TRUNCATE users, sessions, recovery_codes, careteam,"
		     " resources, blind_index, grants, legal_holds, nonces,"
		     " audit_log, audit_checkpoints, audit_quarantine,"
		     " audit_state, audit_nodes RESTART IDENTITY",
	[MOVE_KEYS] = "TRUNCATE deks;"
		      " UPDATE keys_meta SET v = 1 WHERE k = 'kek_current';"
		      " UPDATE keys_meta SET v = 0 WHERE k = 'shred_epoch'",
};
