-- bench/pg/commit.sql — the database's commit rate: one small INSERT per
-- transaction (autocommit), synchronous_commit on: every transaction
-- waits for its WAL fsync (PostgreSQL's own group commit merges the
-- fsyncs of concurrent committers).
INSERT INTO commit_test (v) VALUES (1);
