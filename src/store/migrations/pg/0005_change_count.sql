-- What lets every process cache on PostgreSQL as one process does on SQLite (issue 17 item 1,
-- docs/api.md §20.1). A statement that changes a table the caches read (tokens and their old
-- keys and key grants, users, groups, memberships) adds one to a change counter and notifies
-- channel tokend_changed, both in the writing transaction: the notification reaches every
-- listening process when the transaction commits, never when it rolls back, and a process that
-- lost its listening connection re-reads the counter before it trusts its caches again. The
-- counter is 16 rows, one per pg_backend_pid() % 16, so writers do not queue on one row; it
-- only grows, so an unchanged sum means no change committed.
CREATE TABLE change_count_shards (
    shard SMALLINT PRIMARY KEY,
    n     BIGINT NOT NULL
);
INSERT INTO change_count_shards (shard, n) SELECT s, 0 FROM generate_series(0, 15) AS s;

CREATE FUNCTION tokend_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_count_shards SET n = n + 1 WHERE shard = pg_backend_pid() % 16;
    PERFORM pg_notify('tokend_changed', '');
    RETURN NULL;
END $$;

CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
CREATE TRIGGER token_old_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON token_old_keys FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
CREATE TRIGGER token_key_viewers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON token_key_viewers FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
CREATE TRIGGER token_key_setters_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON token_key_setters FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
CREATE TRIGGER groups_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
CREATE TRIGGER memberships_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_changed();
