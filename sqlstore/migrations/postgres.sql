-- The tables of package sqlstore for PostgreSQL 9.5 or later, with the default table prefix.
-- sqlstore.Migration(sqlstore.Postgres, prefix) returns this text for another prefix, and
-- sqlstore.WithCreateTables runs it. Every statement may run again: it changes nothing then.

-- One row per store key: its token and version. A NULL token is a tombstone: the key was
-- deleted, and its version is kept so that versions never repeat.
CREATE TABLE IF NOT EXISTS shoptoken_tokens (
    store_key  bytea       PRIMARY KEY,              -- the key as given, byte for byte
    version    bigint      NOT NULL,                 -- 1..2^53-1; anything else reads as damage
    token      bytea,                                -- the encoded token, opaque; NULL: deleted
    updated_at timestamptz NOT NULL DEFAULT now()    -- the database's clock at the last write
);

-- One row per lease held (or lapsed and not yet taken over). A row whose expiry has passed by
-- the database's clock is free.
CREATE TABLE IF NOT EXISTS shoptoken_leases (
    store_key  bytea       PRIMARY KEY,
    owner      text        NOT NULL,                 -- a random id per lease
    expires_at timestamptz NOT NULL
);

-- The due index: when each key of a namespace next needs a Keeper.
CREATE TABLE IF NOT EXISTS shoptoken_due (
    namespace  bytea       NOT NULL,
    store_key  bytea       NOT NULL,
    due_at     bigint      NOT NULL,                 -- Unix milliseconds
    PRIMARY KEY (namespace, store_key)
);
CREATE INDEX IF NOT EXISTS shoptoken_due_at ON shoptoken_due (namespace, due_at, store_key);
