-- The trigrams held by more than half the tokens' search texts, with how many tokens hold each
-- (issue 17): a search does not ask the FTS5 index for them (reading their lists of rows costs
-- as much as the table) and checks the whole term on the rows the rest gives (store/search.c).
-- Refilled from the FTS5 vocabulary by every ANALYZE tokend runs (after `tokend seed`, after a
-- migration); empty until then, which makes searches slower, never different.
CREATE TABLE search_common_trigrams (
    trigram TEXT PRIMARY KEY,
    docs    INTEGER NOT NULL
) WITHOUT ROWID;
