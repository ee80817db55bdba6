-- Blocks found on custom (declared) jobs: the pool saw the share but the job declarator
-- client and server submit the block. The chain tracker credits each one once it is in the
-- best chain (see src/treasury/tracker.rs), then deletes its row.
CREATE TABLE declared_blocks (
    hash        TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    worker      TEXT NOT NULL,
    found_at    BIGINT NOT NULL
);
