-- bench/pg/write.sql — pgbench script: one audited, encrypted, durably
-- committed insert of a ~1 KiB Observation for a random patient (run with
-- -M prepared; :doc, :key and :opts are bind parameters).
\set pid random(1, :npatients)
INSERT INTO records (patient, type, sealed)
  VALUES (:pid, 'Observation', pgp_sym_encrypt(:doc, :key, :opts));
