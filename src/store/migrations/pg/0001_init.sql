-- tokend schema for PostgreSQL, version 1: the same tables as migrations/sqlite/0001_init.sql.
-- Text compares byte-wise (COLLATE "C", docs/api.md §17.6); booleans are 0/1 smallints and times
-- bigint microseconds, as on SQLite, so the queries in store/ are the same on both.

CREATE TABLE settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    uuid          TEXT COLLATE "C" NOT NULL UNIQUE,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    username_fold TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL DEFAULT '',
    email         TEXT COLLATE "C" NOT NULL DEFAULT '',
    is_active     SMALLINT NOT NULL DEFAULT 1,
    last_login    BIGINT,
    path          TEXT COLLATE "C" NOT NULL DEFAULT 'users',
    type          TEXT COLLATE "C" NOT NULL DEFAULT 'internal',
    attributes    TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    password      TEXT,
    search_fold   TEXT COLLATE "C" NOT NULL DEFAULT '',
    created       BIGINT NOT NULL
);
CREATE INDEX users_path ON users(path);

CREATE TABLE groups (
    id           BIGSERIAL PRIMARY KEY,
    uuid         TEXT COLLATE "C" NOT NULL UNIQUE,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    is_superuser SMALLINT NOT NULL DEFAULT 0,
    parent_id    BIGINT REFERENCES groups(id) ON DELETE SET NULL,
    attributes   TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    search_fold  TEXT COLLATE "C" NOT NULL DEFAULT '',
    created      BIGINT NOT NULL
);
CREATE INDEX groups_parent ON groups(parent_id);

CREATE TABLE memberships (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX memberships_group ON memberships(group_id, user_id);

CREATE TABLE tokens (
    id          BIGSERIAL PRIMARY KEY,
    uuid        TEXT COLLATE "C" NOT NULL UNIQUE,
    identifier  TEXT COLLATE "C" NOT NULL UNIQUE,
    intent      TEXT COLLATE "C" NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    description TEXT COLLATE "C" NOT NULL DEFAULT '',
    expires     BIGINT,
    expiring    SMALLINT NOT NULL DEFAULT 1,
    managed     TEXT COLLATE "C" UNIQUE,
    key_hash    BYTEA NOT NULL,
    key_sealed  BYTEA NOT NULL,
    search_fold TEXT COLLATE "C" NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX tokens_key_hash ON tokens(key_hash);
CREATE INDEX tokens_user ON tokens(user_id, identifier);
CREATE INDEX tokens_expiry ON tokens(expiring, expires);

CREATE TABLE token_key_viewers (
    token_id BIGINT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, user_id)
);
CREATE INDEX token_key_viewers_user ON token_key_viewers(user_id);

CREATE TABLE token_key_setters (
    token_id BIGINT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, user_id)
);
CREATE INDEX token_key_setters_user ON token_key_setters(user_id);

CREATE TABLE events (
    id               BIGSERIAL PRIMARY KEY,
    uuid             TEXT COLLATE "C" NOT NULL UNIQUE,
    action           TEXT COLLATE "C" NOT NULL,
    app              TEXT NOT NULL,
    user_json        TEXT NOT NULL DEFAULT '{}',
    username         TEXT COLLATE "C",
    context          TEXT NOT NULL DEFAULT '{}',
    context_model_pk TEXT COLLATE "C",
    client_ip        TEXT,
    brand            TEXT NOT NULL DEFAULT '{}',
    created          BIGINT NOT NULL,
    expires          BIGINT NOT NULL
);
CREATE INDEX events_created ON events(created);
CREATE INDEX events_expires ON events(expires);
CREATE INDEX events_action ON events(action, created);
