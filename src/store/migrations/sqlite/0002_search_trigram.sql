-- Substring search through an FTS5 trigram index over tokens.search_fold (issue 8): a term of
-- three characters or more is looked up in the index instead of scanning every token; shorter
-- terms still scan. The folds are lowercase already, so the index compares exactly as instr()
-- does (case_sensitive 1). Kept in step with tokens by triggers.
CREATE VIRTUAL TABLE tokens_fts USING fts5(
    search_fold, content='tokens', content_rowid='id', tokenize='trigram case_sensitive 1'
);
CREATE TRIGGER tokens_fts_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO tokens_fts(rowid, search_fold) VALUES (new.id, new.search_fold);
END;
CREATE TRIGGER tokens_fts_delete AFTER DELETE ON tokens BEGIN
    INSERT INTO tokens_fts(tokens_fts, rowid, search_fold) VALUES ('delete', old.id, old.search_fold);
END;
CREATE TRIGGER tokens_fts_update AFTER UPDATE OF search_fold ON tokens BEGIN
    INSERT INTO tokens_fts(tokens_fts, rowid, search_fold) VALUES ('delete', old.id, old.search_fold);
    INSERT INTO tokens_fts(rowid, search_fold) VALUES (new.id, new.search_fold);
END;
INSERT INTO tokens_fts(tokens_fts) VALUES ('rebuild');
