-- Webhooks (docs/api.md §21): the receivers superusers register, the outbox of messages written
-- in the transaction of the change that caused them, one delivery row per message and receiver
-- (its attempts, next attempt and the lease of the process sending it), the recent attempts
-- the deliveries/ route lists, and the expiry notices already sent (once per token, notice and
-- expiry date, across restarts and processes).
CREATE TABLE webhook_endpoints (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT NOT NULL UNIQUE,
    url           TEXT NOT NULL,
    event_types   TEXT,               -- NULL: every type; else the types, sorted, space-joined
    secret_sealed BLOB NOT NULL,      -- the whsec_ secret sealed with the server secret
    enabled       INTEGER NOT NULL DEFAULT 1,
    description   TEXT NOT NULL DEFAULT '',
    created       INTEGER NOT NULL
);

CREATE TABLE webhook_messages (
    id      INTEGER PRIMARY KEY,
    msg_id  TEXT NOT NULL UNIQUE,     -- msg_..., the webhook-id header
    type    TEXT NOT NULL,
    body    TEXT NOT NULL,            -- the JSON body, signed and sent as is
    created INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY,
    message_id    INTEGER NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
    endpoint_id   INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    state         TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    claimed_until INTEGER,            -- a process is sending it until then
    last_status   INTEGER,
    last_error    TEXT,
    updated       INTEGER NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries(updated) WHERE state <> 'pending';

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    msg_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      INTEGER,              -- the HTTP status, NULL when none came back
    error       TEXT,                 -- why no status came back, NULL when one did
    at          INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts(at);

CREATE TABLE expiry_notices (
    token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    notice   INTEGER NOT NULL,        -- the notice's lead time, microseconds
    expires  INTEGER NOT NULL,
    PRIMARY KEY (token_id, notice, expires)
) WITHOUT ROWID;
