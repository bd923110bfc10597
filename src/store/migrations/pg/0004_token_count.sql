-- The number of tokens without COUNT(*) on PostgreSQL too (issue 17 item 4; sqlite 0003 is the
-- single-row form). One counter row would make every writer of tokens wait for the others, so
-- the count is kept in 16 rows: a statement adds its rows' number to the row of its backend
-- (pg_backend_pid() % 16), and the count is their sum, exact in any snapshot because the
-- triggers write in the writing transaction. Statement-level triggers with transition tables
-- count a multi-row insert (or a user's deletion cascading to thousands of tokens) once.
CREATE TABLE token_count_shards (
    shard SMALLINT PRIMARY KEY,
    n     BIGINT NOT NULL
);
INSERT INTO token_count_shards (shard, n) SELECT s, 0 FROM generate_series(0, 15) AS s;
UPDATE token_count_shards SET n = (SELECT COUNT(*) FROM tokens) WHERE shard = 0;

CREATE FUNCTION tokend_token_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE token_count_shards SET n = n + (SELECT COUNT(*) FROM added)
    WHERE shard = pg_backend_pid() % 16;
    RETURN NULL;
END $$;
CREATE FUNCTION tokend_token_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE token_count_shards SET n = n - (SELECT COUNT(*) FROM removed)
    WHERE shard = pg_backend_pid() % 16;
    RETURN NULL;
END $$;
CREATE TRIGGER token_count_insert AFTER INSERT ON tokens REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_token_count_added();
CREATE TRIGGER token_count_delete AFTER DELETE ON tokens REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_token_count_removed();
