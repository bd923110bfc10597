-- The number of tokens, kept by triggers (issue 8): an unfiltered list's count is then one row
-- read instead of COUNT(*), which walks every leaf page of a tokens index (milliseconds at a
-- million tokens, on every list request). SQLite serialises writers anyway, so the counter row
-- costs no concurrency. Foreign-key cascades (a user's deletion) fire these triggers too.
CREATE TABLE token_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO token_count (id, n) SELECT 1, COUNT(*) FROM tokens;
CREATE TRIGGER token_count_insert AFTER INSERT ON tokens BEGIN
    UPDATE token_count SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER token_count_delete AFTER DELETE ON tokens BEGIN
    UPDATE token_count SET n = n - 1 WHERE id = 1;
END;
