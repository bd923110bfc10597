-- Webhooks (docs/api.md §21): the same schema as migrations/sqlite/0007 (see there): receivers,
-- the outbox of messages, deliveries with their lease, recent attempts, expiry notices sent.
CREATE TABLE webhook_endpoints (
    id            BIGSERIAL PRIMARY KEY,
    uuid          TEXT COLLATE "C" NOT NULL UNIQUE,
    url           TEXT COLLATE "C" NOT NULL,
    event_types   TEXT COLLATE "C",             -- NULL: every type; else the types, sorted, space-joined
    secret_sealed BYTEA NOT NULL,      -- the whsec_ secret sealed with the server secret
    enabled       SMALLINT NOT NULL DEFAULT 1,
    description   TEXT COLLATE "C" NOT NULL DEFAULT '',
    created       BIGINT NOT NULL
);

CREATE TABLE webhook_messages (
    id      BIGSERIAL PRIMARY KEY,
    msg_id  TEXT COLLATE "C" NOT NULL UNIQUE,     -- msg_..., the webhook-id header
    type    TEXT COLLATE "C" NOT NULL,
    body    TEXT COLLATE "C" NOT NULL,            -- the JSON body, signed and sent as is
    created BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id            BIGSERIAL PRIMARY KEY,
    message_id    BIGINT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
    endpoint_id   BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    state         TEXT COLLATE "C" NOT NULL DEFAULT 'pending', -- pending, delivered, failed
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_attempt  BIGINT NOT NULL,
    claimed_until BIGINT,            -- a process is sending it until then
    last_status   BIGINT,
    last_error    TEXT COLLATE "C",
    updated       BIGINT NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries(updated) WHERE state <> 'pending';

CREATE TABLE webhook_attempts (
    id          BIGSERIAL PRIMARY KEY,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    msg_id      TEXT COLLATE "C" NOT NULL,
    type        TEXT COLLATE "C" NOT NULL,
    attempt     BIGINT NOT NULL,
    status      BIGINT,              -- the HTTP status, NULL when none came back
    error       TEXT COLLATE "C",               -- why no status came back, NULL when one did
    at          BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts(at);

CREATE TABLE expiry_notices (
    token_id BIGINT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    notice   BIGINT NOT NULL,        -- the notice's lead time, microseconds
    expires  BIGINT NOT NULL,
    PRIMARY KEY (token_id, notice, expires)
);
