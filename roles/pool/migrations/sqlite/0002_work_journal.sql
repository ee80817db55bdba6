-- Per pool node: the last work journal sequence number whose work is in `work`
-- (written in the same transaction as the work rows; see src/work_journal.rs).
CREATE TABLE work_journal (
    node_id     INTEGER PRIMARY KEY,
    applied_seq INTEGER NOT NULL
);
