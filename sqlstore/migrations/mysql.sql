-- The tables of package sqlstore for MySQL 5.7 or later and MariaDB 10.3 or later (InnoDB), with
-- the default table prefix. sqlstore.Migration(sqlstore.MySQL, prefix) returns this text for
-- another prefix, and sqlstore.WithCreateTables runs it. Every statement may run again: it
-- changes nothing then.

-- One row per store key: its token and version. A NULL token is a tombstone: the key was
-- deleted, and its version is kept so that versions never repeat. Keys are binary strings, so
-- they compare byte for byte, case and all.
CREATE TABLE IF NOT EXISTS shoptoken_tokens (
    store_key  VARBINARY(1024) NOT NULL,             -- the key as given, byte for byte
    version    BIGINT          NOT NULL,             -- 1..2^53-1; anything else reads as damage
    token      MEDIUMBLOB      NULL,                 -- the encoded token, opaque; NULL: deleted
    updated_at DATETIME(6)     NOT NULL,             -- the database's clock (UTC) at the last write
    PRIMARY KEY (store_key)
) ENGINE=InnoDB;

-- One row per lease held (or lapsed and not yet taken over). A row whose expiry has passed by
-- the database's clock (UTC) is free.
CREATE TABLE IF NOT EXISTS shoptoken_leases (
    store_key  VARBINARY(1024) NOT NULL,
    owner      VARCHAR(64)     NOT NULL,             -- a random id per lease
    expires_at DATETIME(6)     NOT NULL,
    PRIMARY KEY (store_key)
) ENGINE=InnoDB;

-- The due index: when each key of a namespace next needs a Keeper.
CREATE TABLE IF NOT EXISTS shoptoken_due (
    namespace  VARBINARY(512)  NOT NULL,
    store_key  VARBINARY(1024) NOT NULL,
    due_at     BIGINT          NOT NULL,             -- Unix milliseconds
    PRIMARY KEY (namespace, store_key),
    KEY shoptoken_due_at (namespace, due_at, store_key)
) ENGINE=InnoDB;
