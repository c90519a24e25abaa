-- bench/pg/seq_catchup.sql — seq_append.sql plus what a node reads first
-- when another node appended since its own last batch (audit_catch_up in
-- src/audit/log.c through medium_pg.c): the new rows (here: the previous
-- batch, `bytes` long) and the latest checkpoint. With several nodes under
-- load nearly every batch does this. Variables as seq_append.sql, and
-- bytes (the batch's length in bytes, newlines included).
BEGIN;
SELECT pg_advisory_xact_lock(1885894241);
SELECT off + octet_length(line) + 1 AS at FROM audit_log ORDER BY seq DESC LIMIT 1 \gset
\set prev :at - :bytes
SELECT off, line FROM audit_log WHERE off >= coalesce((SELECT max(off) FROM audit_log WHERE off <= :prev::bigint), 0) AND off < :at::bigint ORDER BY off LIMIT 20000;
SELECT line FROM audit_checkpoints ORDER BY id DESC LIMIT 1;
INSERT INTO audit_log (seq, off, line) SELECT (SELECT coalesce(max(seq) + 1, 0) FROM audit_log) + t.n - 1, :at::bigint + coalesce(sum(octet_length(t.l) + 1) OVER (ORDER BY t.n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), t.l FROM string_to_table(:lines::text, E'\n') WITH ORDINALITY AS t(l, n);
INSERT INTO audit_checkpoints (line) VALUES (:cp);
INSERT INTO audit_state (slot, rec) VALUES (:slot, decode(:rec, 'hex')) ON CONFLICT (slot) DO UPDATE SET rec = excluded.rec;
COMMIT;
