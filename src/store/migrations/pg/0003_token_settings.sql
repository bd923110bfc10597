-- Token settings, usage, rotation and view modes: the same schema as migrations/sqlite/0005 (see there).
-- unrestricted: NULL scopes, networks, rate limit and uses; view mode 'always'; never used.
-- Lists are stored as text: scopes sorted byte-wise and networks in canonical form, each
-- joined by single spaces ('' is the empty list, NULL is null).
ALTER TABLE tokens ADD COLUMN scopes TEXT COLLATE "C";
ALTER TABLE tokens ADD COLUMN allowed_networks TEXT COLLATE "C";
ALTER TABLE tokens ADD COLUMN rate_limit TEXT COLLATE "C";         -- canonical "N/second|minute|hour|day"
ALTER TABLE tokens ADD COLUMN uses_remaining BIGINT;
ALTER TABLE tokens ADD COLUMN view_key TEXT COLLATE "C" NOT NULL DEFAULT 'always';
ALTER TABLE tokens ADD COLUMN revoke_on_reuse SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN key_viewed SMALLINT NOT NULL DEFAULT 0; -- since the key was set
ALTER TABLE tokens ADD COLUMN last_used BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_ip TEXT COLLATE "C";
ALTER TABLE tokens ADD COLUMN use_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN reuse_alerted BIGINT;   -- the last suspicious_request event

-- Keys rotated out of a token, as keyed hashes only: they authenticate until valid_until (the
-- grace window) and are recognised as reused until forget_after (TOKEND_REUSE_WINDOW).
CREATE TABLE token_old_keys (
    key_hash     BYTEA PRIMARY KEY,
    token_id     BIGINT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    valid_until  BIGINT NOT NULL,
    forget_after BIGINT NOT NULL
);
CREATE INDEX token_old_keys_token ON token_old_keys(token_id);
CREATE INDEX token_old_keys_forget ON token_old_keys(forget_after);
CREATE INDEX tokens_last_used ON tokens(last_used);

-- Rate-limit windows shared by several processes on one PostgreSQL (docs/api.md §19.3): each
-- process adds the uses it admitted in a window, aligned to the period, and reads the total back
-- at least once a second. Unused on SQLite (one process). The sweeper drops old windows.
CREATE TABLE token_rate (
    token_id     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (token_id, window_start)
);
