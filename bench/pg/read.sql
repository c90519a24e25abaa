-- bench/pg/read.sql — pgbench script: one audited, decrypted read of a
-- uniformly random ~1 KiB record (run with -M prepared; :key is a bind
-- parameter, so pgaudit logs the statement but never the key).
\set id random(1, :nrows)
SELECT pgp_sym_decrypt(sealed, :key) FROM records WHERE id = :id;
