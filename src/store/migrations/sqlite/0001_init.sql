-- tokend schema, version 1 (docs/api.md §14.4). Times are integer microseconds since the epoch, UTC.
-- Booleans are 0/1. JSON values are stored as compact text. Keys exist only as a keyed hash
-- (lookup) and a sealed copy (view_key), docs/api.md §17.5.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid          TEXT NOT NULL UNIQUE,
    username      TEXT NOT NULL UNIQUE,
    username_fold TEXT NOT NULL,           -- case fold for search (util/utf8.h)
    name          TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    is_active     INTEGER NOT NULL DEFAULT 1,
    last_login    INTEGER,
    path          TEXT NOT NULL DEFAULT 'users',
    type          TEXT NOT NULL DEFAULT 'internal',
    attributes    TEXT NOT NULL DEFAULT '{}',
    password      TEXT,                    -- NULL: no usable password
    search_fold   TEXT NOT NULL DEFAULT '', -- folds of username, name, is_active, email, uuid
    created       INTEGER NOT NULL
);
CREATE INDEX users_path ON users(path);

CREATE TABLE groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    parent_id    INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    attributes   TEXT NOT NULL DEFAULT '{}',
    search_fold  TEXT NOT NULL DEFAULT '', -- folds of name and is_superuser
    created      INTEGER NOT NULL
);
CREATE INDEX groups_parent ON groups(parent_id);

CREATE TABLE memberships (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX memberships_group ON memberships(group_id, user_id);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT NOT NULL UNIQUE,
    identifier  TEXT NOT NULL UNIQUE,
    intent      TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    expires     INTEGER,
    expiring    INTEGER NOT NULL DEFAULT 1,
    managed     TEXT UNIQUE,
    key_hash    BLOB NOT NULL,
    key_sealed  BLOB NOT NULL,
    search_fold TEXT NOT NULL,             -- identifier, intent, owner, description (folded)
    created     INTEGER NOT NULL
);
CREATE INDEX tokens_key_hash ON tokens(key_hash);
CREATE INDEX tokens_user ON tokens(user_id, identifier);
CREATE INDEX tokens_expiry ON tokens(expiring, expires);

-- Who may view / set a token's key besides superusers (docs/api.md §4.2).
CREATE TABLE token_key_viewers (
    token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, user_id)
) WITHOUT ROWID;
CREATE INDEX token_key_viewers_user ON token_key_viewers(user_id);

CREATE TABLE token_key_setters (
    token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, user_id)
) WITHOUT ROWID;
CREATE INDEX token_key_setters_user ON token_key_setters(user_id);

-- Audit log (docs/api.md §11).
CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT NOT NULL UNIQUE,
    action           TEXT NOT NULL,
    app              TEXT NOT NULL,
    user_json        TEXT NOT NULL DEFAULT '{}',
    username         TEXT,
    context          TEXT NOT NULL DEFAULT '{}',
    context_model_pk TEXT,
    client_ip        TEXT,
    brand            TEXT NOT NULL DEFAULT '{}',
    created          INTEGER NOT NULL,
    expires          INTEGER NOT NULL
);
CREATE INDEX events_created ON events(created);
CREATE INDEX events_expires ON events(expires);
CREATE INDEX events_action ON events(action, created);
