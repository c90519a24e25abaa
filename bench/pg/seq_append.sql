-- bench/pg/seq_append.sql — one audit group commit as src/audit/medium_pg.c
-- runs it on a node that is the only writer (nothing to catch up): the
-- same statements in the same order, one round trip each (pgbench -M
-- extended, as PQexecParams). Variables (pgbench -D): lines (the batch's
-- lines joined by newlines, no final one), cp (a checkpoint line), rec
-- (the resume state, hex), slot.
BEGIN;
SELECT pg_advisory_xact_lock(1885894241);
SELECT off + octet_length(line) + 1 AS at FROM audit_log ORDER BY seq DESC LIMIT 1 \gset
INSERT INTO audit_log (seq, off, line) SELECT (SELECT coalesce(max(seq) + 1, 0) FROM audit_log) + t.n - 1, :at::bigint + coalesce(sum(octet_length(t.l) + 1) OVER (ORDER BY t.n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), t.l FROM string_to_table(:lines::text, E'\n') WITH ORDINALITY AS t(l, n);
INSERT INTO audit_checkpoints (line) VALUES (:cp);
INSERT INTO audit_state (slot, rec) VALUES (:slot, decode(:rec, 'hex')) ON CONFLICT (slot) DO UPDATE SET rec = excluded.rec;
COMMIT;
