-- bench/pg/seq_schema.sql — the audit trail's tables as the records
-- schema makes them (src/store/pg_schema.c, migration 2), in the scratch
-- database of bench/scale.sh, plus the table of the commit-rate test.
-- One first entry so that the size read of seq_*.sql finds a row.
DROP TABLE IF EXISTS audit_log, audit_checkpoints, audit_state, commit_test;
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY CHECK (seq >= 0),
  off BIGINT NOT NULL UNIQUE CHECK (off >= 0),
  line TEXT NOT NULL);
CREATE TABLE audit_checkpoints (
  id BIGSERIAL PRIMARY KEY,
  line TEXT NOT NULL);
CREATE TABLE audit_state (
  slot TEXT COLLATE "C" PRIMARY KEY,
  rec BYTEA NOT NULL);
INSERT INTO audit_log VALUES (0, 0, '{"seq":0}');
CREATE TABLE commit_test (
  id BIGSERIAL PRIMARY KEY,
  v INT NOT NULL);
