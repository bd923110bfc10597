-- Token settings, usage, rotation and view modes (docs/api.md §19). Every existing token stays
-- unrestricted: NULL scopes, networks, rate limit and uses; view mode 'always'; never used.
-- Lists are stored as text: scopes sorted byte-wise and networks in canonical form, each
-- joined by single spaces ('' is the empty list, NULL is null).
ALTER TABLE tokens ADD COLUMN scopes TEXT;
ALTER TABLE tokens ADD COLUMN allowed_networks TEXT;
ALTER TABLE tokens ADD COLUMN rate_limit TEXT;         -- canonical "N/second|minute|hour|day"
ALTER TABLE tokens ADD COLUMN uses_remaining INTEGER;
ALTER TABLE tokens ADD COLUMN view_key TEXT NOT NULL DEFAULT 'always';
ALTER TABLE tokens ADD COLUMN revoke_on_reuse INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN key_viewed INTEGER NOT NULL DEFAULT 0; -- since the key was set
ALTER TABLE tokens ADD COLUMN last_used INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_ip TEXT;
ALTER TABLE tokens ADD COLUMN use_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN reuse_alerted INTEGER;   -- the last suspicious_request event

-- Keys rotated out of a token, as keyed hashes only: they authenticate until valid_until (the
-- grace window) and are recognised as reused until forget_after (TOKEND_REUSE_WINDOW).
CREATE TABLE token_old_keys (
    key_hash     BLOB PRIMARY KEY,
    token_id     INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    valid_until  INTEGER NOT NULL,
    forget_after INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX token_old_keys_token ON token_old_keys(token_id);
CREATE INDEX token_old_keys_forget ON token_old_keys(forget_after);
CREATE INDEX tokens_last_used ON tokens(last_used);

-- Rate-limit windows shared by several processes on one PostgreSQL (docs/api.md §19.3): each
-- process adds the uses it admitted in a window, aligned to the period, and reads the total back
-- at least once a second. Unused on SQLite (one process). The sweeper drops old windows.
CREATE TABLE token_rate (
    token_id     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (token_id, window_start)
);
