-- What lets a process keep where the token list's pages begin in identifier order (deep pages
-- without a long OFFSET, store/pg_positions.c, docs/api.md §20.4): a counter that grows in the
-- writing transaction of every statement that can move a token in that order: an insert, a
-- delete, a truncate, an identifier changed. Usage, keys and settings written to a token do not
-- move it and leave the counter alone (the change counter of 0005 grows with those too). One
-- row per pg_backend_pid() % 16, as there, so writers do not queue on one row; the counter only
-- grows, so an unchanged sum means every token is where it was.
CREATE TABLE token_order_shards (
    shard SMALLINT PRIMARY KEY,
    n     BIGINT NOT NULL
);
INSERT INTO token_order_shards (shard, n) SELECT s, 0 FROM generate_series(0, 15) AS s;

CREATE FUNCTION tokend_token_order_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE token_order_shards SET n = n + 1 WHERE shard = pg_backend_pid() % 16;
    RETURN NULL;
END $$;
-- A statement's inserts and deletes once (a seed's COPY of a million rows is one bump); a
-- changed identifier once per row, only where it did change (an edit rewrites it unchanged).
CREATE TRIGGER token_order_rows AFTER INSERT OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_token_order_moved();
CREATE TRIGGER token_order_identifier AFTER UPDATE OF identifier ON tokens
    FOR EACH ROW WHEN (OLD.identifier IS DISTINCT FROM NEW.identifier)
    EXECUTE FUNCTION tokend_token_order_moved();
