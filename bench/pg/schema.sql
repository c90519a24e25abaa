-- bench/pg/schema.sql — the do-it-yourself baseline's table: one row per
-- resource, the JSON sealed with pgcrypto's OpenPGP symmetric encryption
-- (AES-256). Loaded by bench/run through psql; :'key' and :'opts' are psql
-- variables, the CSV rows (patient, type, json) come on psql's stdin.
SET pgaudit.log = 'none';   -- the seed is not part of the benchmark
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS pgaudit;
CREATE UNLOGGED TABLE staging (patient int, type text, doc text);
\copy staging FROM pstdin WITH (FORMAT csv)
CREATE TABLE records (
  id      bigserial PRIMARY KEY,
  patient int   NOT NULL,
  type    text  NOT NULL,
  sealed  bytea NOT NULL
);
INSERT INTO records (patient, type, sealed)
  SELECT patient, type, pgp_sym_encrypt(doc, :'key', :'opts') FROM staging;
CREATE INDEX records_patient ON records (patient);
DROP TABLE staging;
VACUUM ANALYZE records;
CHECKPOINT;
