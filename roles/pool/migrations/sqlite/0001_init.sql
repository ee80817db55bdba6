-- Treasury ledger, SQLite schema version 1.
-- Amounts are exact integer satoshis. `entries` is append-only (enforced by triggers);
-- `balances` is maintained in the same transactions and must always equal the sum of entries.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,               -- 'treasury/<name>' or 'partner/<id>'
    kind       TEXT NOT NULL CHECK (kind IN ('treasury', 'partner')),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sites (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    country           TEXT NOT NULL,
    partner           TEXT,
    partner_share_ppm INTEGER NOT NULL CHECK (partner_share_ppm BETWEEN 0 AND 1000000),
    updated_at        INTEGER NOT NULL
);

-- Accepted work per site and flush window (one row per site per flush, never per share).
CREATE TABLE work (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id      INTEGER NOT NULL,
    site         TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    shares       INTEGER NOT NULL,
    difficulty   REAL NOT NULL,
    rejected     INTEGER NOT NULL,
    workers      INTEGER NOT NULL
);
CREATE INDEX work_window_start ON work (window_start);
CREATE INDEX work_window_end ON work (window_end);

-- Per-minute work per site: uptime (minutes with accepted work) and hashrate history.
CREATE TABLE site_minutes (
    site       TEXT NOT NULL,
    minute     INTEGER NOT NULL,               -- unix seconds / 60
    shares     INTEGER NOT NULL,
    difficulty REAL NOT NULL,
    PRIMARY KEY (site, minute)
);
CREATE INDEX site_minutes_minute ON site_minutes (minute);

CREATE TABLE blocks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    height            INTEGER NOT NULL,
    hash              TEXT NOT NULL UNIQUE,
    reward_sats       INTEGER NOT NULL CHECK (reward_sats >= 0),
    fees_sats         INTEGER NOT NULL,
    found_at          INTEGER NOT NULL,
    finder            TEXT NOT NULL,
    finder_site       TEXT NOT NULL,
    node_result       TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('pool', 'recovered')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'immature', 'mature', 'orphaned')),
    work_from_id      INTEGER,
    work_to_id        INTEGER,
    window_difficulty REAL,
    recorded_at       INTEGER NOT NULL,
    status_at         INTEGER NOT NULL
);
CREATE INDEX blocks_status ON blocks (status);
CREATE INDEX blocks_found_at ON blocks (found_at);

-- Which sites contributed to a block and their part of its reward.
CREATE TABLE block_sites (
    block_id   INTEGER NOT NULL REFERENCES blocks (id),
    site       TEXT NOT NULL,
    difficulty REAL NOT NULL,
    sats       INTEGER NOT NULL,
    PRIMARY KEY (block_id, site)
);

CREATE TABLE entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    block_id    INTEGER NOT NULL REFERENCES blocks (id),
    account     TEXT NOT NULL REFERENCES accounts (id),
    site        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('credit', 'mature', 'reversal', 'reinstate')),
    bucket      TEXT NOT NULL CHECK (bucket IN ('immature', 'mature', 'orphaned')),
    amount_sats INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX entries_block ON entries (block_id);
CREATE INDEX entries_account ON entries (account);

CREATE TABLE balances (
    account     TEXT NOT NULL REFERENCES accounts (id),
    bucket      TEXT NOT NULL CHECK (bucket IN ('immature', 'mature', 'orphaned')),
    amount_sats INTEGER NOT NULL,
    PRIMARY KEY (account, bucket)
);

CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;
