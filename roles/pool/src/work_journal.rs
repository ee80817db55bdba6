//! Work journal: accepted work is appended to a local file *before* the shares are
//! acknowledged, so work the pool acknowledged survives a crash (`kill -9`) even when the
//! periodic flush to the ledger never ran.
//!
//! The journal is a directory of segment files `segment-<first seq>.log`, one line per worker
//! and commit: `seq \t unix time \t shares \t difficulty (f64 bits, hex) \t rejected \t site.worker`.
//! Every commit is one `write(2)` of whole lines (the kernel keeps it when the process dies).
//! Against power loss, [`WorkJournal::take_unsynced`] hands out the files written since the
//! last call, for a background task to `fdatasync` every `accounting.journal_sync_ms` (group
//! commit off the hot path: a power loss then loses at most that much acknowledged work).
//! Sequence numbers only
//! grow. The ledger stores the last sequence number whose work it holds
//! (`work_journal.applied_seq` per node) in the same transaction as the work rows, so replaying
//! the journal after a restart adds exactly the work that never reached the ledger.
//!
//! Segments: at every ledger flush the current segment is closed and a new one started; once
//! the flush is committed, the closed segments it covers are deleted.
//!
//! Blocks found on declared (custom) jobs are kept in the same directory, one small file each
//! (`declared-<hash>.tsv`: `hash \t site.worker \t unix time`), written before the share is
//! acknowledged and deleted once the ledger holds the record, so a crash in between loses none.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::accounting::{DeclaredBlock, WorkerId};

/// One journaled tally of one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// Sequence number (strictly increasing over the journal's life).
    pub seq: u64,
    /// Unix seconds of the commit.
    pub time: u64,
    /// Who did the work.
    pub worker: WorkerId,
    /// Accepted shares.
    pub shares: u64,
    /// Sum of the accepted shares' difficulty.
    pub difficulty_sum: f64,
    /// Rejected shares.
    pub rejected: u64,
}

impl JournalEntry {
    fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{:016x}\t{}\t{}\n",
            self.seq,
            self.time,
            self.shares,
            self.difficulty_sum.to_bits(),
            self.rejected,
            self.worker.full()
        )
    }

    fn parse(line: &str) -> Option<JournalEntry> {
        let mut f = line.split('\t');
        let seq = f.next()?.parse().ok()?;
        let time = f.next()?.parse().ok()?;
        let shares = f.next()?.parse().ok()?;
        let difficulty_sum = f64::from_bits(u64::from_str_radix(f.next()?, 16).ok()?);
        let rejected = f.next()?.parse().ok()?;
        let worker = WorkerId::parse(f.next()?);
        if f.next().is_some() || !difficulty_sum.is_finite() || difficulty_sum < 0.0 {
            return None;
        }
        Some(JournalEntry {
            seq,
            time,
            worker,
            shares,
            difficulty_sum,
            rejected,
        })
    }
}

/// The open journal (see the module docs).
pub struct WorkJournal {
    dir: PathBuf,
    file: File,
    /// First sequence number of the open segment.
    segment_first: u64,
    next_seq: u64,
    /// Closed segments: (path, last sequence number in it).
    closed: Vec<(PathBuf, u64)>,
    /// Whether the open segment was written since [`WorkJournal::take_unsynced`] last ran.
    dirty: bool,
    /// Segments closed with unsynced writes, and whether the directory gained a segment.
    unsynced: Vec<File>,
    dir_changed: bool,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("segment-{first:020}.log"))
}

impl WorkJournal {
    /// Opens (creating) the journal in `dir`. Returns the journal and the entries with a
    /// sequence number above `applied_seq` (work the ledger does not hold yet), oldest first.
    /// Lines that do not parse (a torn last line) are skipped and counted.
    pub fn open(dir: &Path, applied_seq: u64) -> io::Result<(WorkJournal, Vec<JournalEntry>)> {
        std::fs::create_dir_all(dir)?;
        let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("segment-") && n.ends_with(".log"))
            })
            .collect();
        segments.sort();
        let mut pending = Vec::new();
        let mut closed = Vec::new();
        let mut max_seq = applied_seq;
        for path in segments {
            let text = std::fs::read_to_string(&path)?;
            let mut last = 0;
            for line in text.split_inclusive('\n') {
                let Some(entry) = line.strip_suffix('\n').and_then(JournalEntry::parse) else {
                    metrics::counter!("pool_work_journal_bad_lines_total").increment(1);
                    tracing::warn!(segment = %path.display(), "work journal: skipping an unreadable line");
                    continue;
                };
                last = last.max(entry.seq);
                max_seq = max_seq.max(entry.seq);
                if entry.seq > applied_seq {
                    pending.push(entry);
                }
            }
            if last == 0 {
                // Nothing readable (e.g. the segment opened just before a stop): drop it, so
                // that it can never be mistaken for the segment opened below.
                std::fs::remove_file(&path)?;
            } else {
                closed.push((path, last));
            }
        }
        pending.sort_by_key(|e| e.seq);
        let next_seq = max_seq + 1;
        let current = segment_path(dir, next_seq);
        closed.retain(|(p, _)| *p != current);
        let file = open_segment(dir, next_seq)?;
        Ok((
            WorkJournal {
                dir: dir.to_owned(),
                file,
                segment_first: next_seq,
                next_seq,
                closed,
                dirty: false,
                unsynced: Vec::new(),
                dir_changed: true,
            },
            pending,
        ))
    }

    /// Appends one line per tally in a single write; returns the last sequence number used.
    pub fn append(&mut self, time: u64, tallies: &[(WorkerId, u64, f64, u64)]) -> io::Result<u64> {
        let mut buf = String::new();
        for (worker, shares, difficulty_sum, rejected) in tallies {
            let entry = JournalEntry {
                seq: self.next_seq,
                time,
                worker: worker.clone(),
                shares: *shares,
                difficulty_sum: *difficulty_sum,
                rejected: *rejected,
            };
            buf.push_str(&entry.line());
            self.next_seq += 1;
        }
        self.file.write_all(buf.as_bytes())?;
        self.dirty = true;
        Ok(self.next_seq - 1)
    }

    /// Handles to every journal file written since the last call (and the directory, when a
    /// segment was created), to be `fdatasync`ed without holding the journal: syncing a
    /// duplicated descriptor flushes the same file.
    pub fn take_unsynced(&mut self) -> io::Result<Vec<File>> {
        let mut files = std::mem::take(&mut self.unsynced);
        if self.dirty {
            files.push(self.file.try_clone()?);
            self.dirty = false;
        }
        if self.dir_changed {
            files.push(File::open(&self.dir)?);
            self.dir_changed = false;
        }
        Ok(files)
    }

    /// The last sequence number written (0 if none ever was).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Closes the open segment (if it holds anything) and starts a new one; returns the last
    /// sequence number written so far.
    pub fn rotate(&mut self) -> io::Result<u64> {
        let last = self.last_seq();
        if self.next_seq > self.segment_first {
            let file = open_segment(&self.dir, self.next_seq)?;
            self.closed
                .push((segment_path(&self.dir, self.segment_first), last));
            let old = std::mem::replace(&mut self.file, file);
            if std::mem::take(&mut self.dirty) {
                self.unsynced.push(old);
            }
            self.dir_changed = true;
            self.segment_first = self.next_seq;
        }
        Ok(last)
    }

    /// Deletes the closed segments whose entries all have sequence numbers `<= upto` (the
    /// ledger holds them).
    pub fn release(&mut self, upto: u64) {
        self.closed.retain(|(path, last)| {
            if *last > upto {
                return true;
            }
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(segment = %path.display(), error = %e, "work journal: cannot delete a flushed segment");
                    return true;
                }
            }
            false
        });
    }
}

impl WorkJournal {
    fn declared_path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("declared-{hash}.tsv"))
    }

    /// Keeps `block` until [`WorkJournal::remove_declared`]: written to a temporary file and
    /// renamed, so a crash leaves the whole record or none.
    pub fn write_declared(&self, block: &DeclaredBlock) -> io::Result<()> {
        if !is_block_hash(&block.hash) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a block hash: {}", block.hash),
            ));
        }
        let tmp = self.dir.join(format!("declared-{}.tmp", block.hash));
        std::fs::write(
            &tmp,
            format!("{}\t{}\t{}\n", block.hash, block.finder.full(), block.time),
        )?;
        std::fs::rename(&tmp, self.declared_path(&block.hash))
    }

    /// Forgets a declared block the ledger now holds.
    pub fn remove_declared(&self, hash: &str) {
        if !is_block_hash(hash) {
            return;
        }
        if let Err(e) = std::fs::remove_file(self.declared_path(hash)) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(%hash, error = %e, "work journal: cannot delete a declared block record");
            }
        }
    }

    /// The declared blocks kept (not yet in the ledger). Unreadable files are skipped and
    /// counted.
    pub fn declared_blocks(&self) -> io::Result<Vec<DeclaredBlock>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let is_record = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("declared-") && n.ends_with(".tsv"));
            if !is_record {
                continue;
            }
            let parsed = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| parse_declared(t.trim_end()));
            match parsed {
                Some(b) => out.push(b),
                None => {
                    metrics::counter!("pool_work_journal_bad_lines_total").increment(1);
                    tracing::warn!(file = %path.display(), "work journal: skipping an unreadable declared block record");
                }
            }
        }
        out.sort_by(|a, b| (a.time, &a.hash).cmp(&(b.time, &b.hash)));
        Ok(out)
    }
}

fn is_block_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_declared(line: &str) -> Option<DeclaredBlock> {
    let mut f = line.split('\t');
    let hash = f.next()?;
    let finder = WorkerId::parse(f.next()?);
    let time = f.next()?.parse().ok()?;
    if f.next().is_some() || !is_block_hash(hash) {
        return None;
    }
    Some(DeclaredBlock {
        hash: hash.to_owned(),
        finder,
        time,
    })
}

fn open_segment(dir: &Path, first: u64) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(s: &str) -> WorkerId {
        WorkerId::parse(s)
    }

    #[test]
    fn entries_survive_reopen_and_release_forgets_flushed_ones() {
        let dir = std::env::temp_dir().join(format!("wj-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut j, pending) = WorkJournal::open(&dir, 0).unwrap();
        assert!(pending.is_empty());
        let a = j
            .append(
                100,
                &[(worker("fra1.a"), 3, 1.5, 0), (worker("b"), 1, 0.25, 2)],
            )
            .unwrap();
        assert_eq!(a, 2);
        let upto = j.rotate().unwrap();
        assert_eq!(upto, 2);
        j.append(101, &[(worker("fra1.a"), 7, 3.5, 1)]).unwrap();
        drop(j);

        // Nothing applied yet: everything comes back, in order.
        let (j2, pending) = WorkJournal::open(&dir, 0).unwrap();
        assert_eq!(pending.len(), 3);
        assert_eq!(pending[0].worker, worker("fra1.a"));
        assert_eq!(pending[1].worker, worker("default.b"));
        assert_eq!(pending[1].difficulty_sum, 0.25);
        assert_eq!(pending[2].shares, 7);
        assert_eq!(j2.last_seq(), 3);
        drop(j2);

        // The ledger holds up to 2: only the third comes back; sequence numbers keep growing.
        let (mut j3, pending) = WorkJournal::open(&dir, 2).unwrap();
        assert_eq!(pending.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3]);
        j3.release(3);
        assert_eq!(j3.append(102, &[(worker("x.y"), 1, 1.0, 0)]).unwrap(), 4);
        drop(j3);
        let (_j4, pending) = WorkJournal::open(&dir, 3).unwrap();
        assert_eq!(pending.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unsynced_files_are_handed_out_once() {
        let dir = std::env::temp_dir().join(format!("wj-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut j, _) = WorkJournal::open(&dir, 0).unwrap();
        // A new journal: the directory gained a segment.
        assert_eq!(j.take_unsynced().unwrap().len(), 1);
        assert!(j.take_unsynced().unwrap().is_empty(), "nothing new");
        j.append(1, &[(worker("a.b"), 1, 1.0, 0)]).unwrap();
        let files = j.take_unsynced().unwrap();
        assert_eq!(files.len(), 1, "the open segment");
        for f in files {
            f.sync_data().unwrap();
        }
        j.append(2, &[(worker("a.b"), 1, 1.0, 0)]).unwrap();
        j.rotate().unwrap();
        // The closed segment, still unsynced, and the directory (new segment).
        assert_eq!(j.take_unsynced().unwrap().len(), 2);
        j.rotate().unwrap();
        assert!(
            j.take_unsynced().unwrap().is_empty(),
            "empty segments are not rotated"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn declared_blocks_are_kept_until_removed() {
        let dir = std::env::temp_dir().join(format!("wj-declared-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (j, _) = WorkJournal::open(&dir, 0).unwrap();
        let b = DeclaredBlock {
            hash: "ab".repeat(32),
            finder: worker("fra1.jdc"),
            time: 1_700_000_000,
        };
        j.write_declared(&b).unwrap();
        assert!(j
            .write_declared(&DeclaredBlock {
                hash: "../x".into(),
                ..b.clone()
            })
            .is_err());
        std::fs::write(dir.join("declared-zz.tsv"), "garbage").unwrap();
        drop(j);
        // A restart finds it; work segments are not confused with it.
        let (j, pending) = WorkJournal::open(&dir, 0).unwrap();
        assert!(pending.is_empty());
        assert_eq!(j.declared_blocks().unwrap(), vec![b.clone()]);
        j.remove_declared(&b.hash);
        assert!(j.declared_blocks().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = std::env::temp_dir().join(format!("wj-torn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut j, _) = WorkJournal::open(&dir, 0).unwrap();
        j.append(100, &[(worker("s.w"), 2, 2.0, 0)]).unwrap();
        let seg = segment_path(&dir, 1);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"2\t100\t5\t3ff").unwrap();
        drop(j);
        let (j, pending) = WorkJournal::open(&dir, 0).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(j.last_seq(), 1);
        for junk in [
            "",
            "x",
            "1\t2\t3\tzz\t0\ta.b",
            "1\t2\t3\t7ff8000000000000\t0\ta.b",
        ] {
            assert!(JournalEntry::parse(junk).is_none(), "{junk:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
