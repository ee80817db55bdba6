-- Treasury ledger, PostgreSQL schema version 1.
-- Amounts are exact integer satoshis. `entries` is append-only (enforced by triggers);
-- `balances` is maintained in the same transactions and must always equal the sum of entries.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('treasury', 'partner')),
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sites (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    country           TEXT NOT NULL,
    partner           TEXT,
    partner_share_ppm BIGINT NOT NULL CHECK (partner_share_ppm BETWEEN 0 AND 1000000),
    updated_at        BIGINT NOT NULL
);

CREATE TABLE work (
    id           BIGSERIAL PRIMARY KEY,
    node_id      BIGINT NOT NULL,
    site         TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    shares       BIGINT NOT NULL,
    difficulty   DOUBLE PRECISION NOT NULL,
    rejected     BIGINT NOT NULL,
    workers      BIGINT NOT NULL
);
CREATE INDEX work_window_start ON work (window_start);
CREATE INDEX work_window_end ON work (window_end);

CREATE TABLE site_minutes (
    site       TEXT NOT NULL,
    minute     BIGINT NOT NULL,
    shares     BIGINT NOT NULL,
    difficulty DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, minute)
);
CREATE INDEX site_minutes_minute ON site_minutes (minute);

CREATE TABLE blocks (
    id                BIGSERIAL PRIMARY KEY,
    height            BIGINT NOT NULL,
    hash              TEXT NOT NULL UNIQUE,
    reward_sats       BIGINT NOT NULL CHECK (reward_sats >= 0),
    fees_sats         BIGINT NOT NULL,
    found_at          BIGINT NOT NULL,
    finder            TEXT NOT NULL,
    finder_site       TEXT NOT NULL,
    node_result       TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('pool', 'recovered')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'immature', 'mature', 'orphaned')),
    work_from_id      BIGINT,
    work_to_id        BIGINT,
    window_difficulty DOUBLE PRECISION,
    recorded_at       BIGINT NOT NULL,
    status_at         BIGINT NOT NULL
);
CREATE INDEX blocks_status ON blocks (status);
CREATE INDEX blocks_found_at ON blocks (found_at);

CREATE TABLE block_sites (
    block_id   BIGINT NOT NULL REFERENCES blocks (id),
    site       TEXT NOT NULL,
    difficulty DOUBLE PRECISION NOT NULL,
    sats       BIGINT NOT NULL,
    PRIMARY KEY (block_id, site)
);

CREATE TABLE entries (
    id          BIGSERIAL PRIMARY KEY,
    block_id    BIGINT NOT NULL REFERENCES blocks (id),
    account     TEXT NOT NULL REFERENCES accounts (id),
    site        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('credit', 'mature', 'reversal', 'reinstate')),
    bucket      TEXT NOT NULL CHECK (bucket IN ('immature', 'mature', 'orphaned')),
    amount_sats BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX entries_block ON entries (block_id);
CREATE INDEX entries_account ON entries (account);

CREATE TABLE balances (
    account     TEXT NOT NULL REFERENCES accounts (id),
    bucket      TEXT NOT NULL CHECK (bucket IN ('immature', 'mature', 'orphaned')),
    amount_sats BIGINT NOT NULL,
    PRIMARY KEY (account, bucket)
);

CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END;
$$;

CREATE TRIGGER entries_no_update BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_append_only();
