//! Hashing threads: plain OS threads that search the current work of their boards and hand
//! shares meeting the target to the async IO task through a bounded channel.
//!
//! A *board* holds the work of one channel (SV2) or connection (SV1): the current
//! [`Work`] and share target. The IO task replaces them as jobs and targets arrive; threads
//! notice through a change counter they poll every [`SLICE_NONCES`] nonces. Thread `t` of `T`
//! serves boards `b` with `b % T == t` (or board `t % B` when there are more threads than
//! boards), hashing [`QUANTUM_SLICES`] slices on one board before turning to the next, so a
//! thread serving several channels keeps all of them supplied with shares.
//!
//! When the IO task falls behind (e.g. a pool set a difficulty so low that every hash is a
//! share), the bounded channel makes threads wait: submission speed limits hashing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

use sv2_mining::share::StandardJobHasher;
use sv2_mining::target::Target;
use tokio::sync::mpsc;

use super::stats::Stats;
use super::work::{hash_range, unit_hasher, Found, JobTemplate, SearchSpace, Unit};

/// Nonces hashed between checks for new work, a new target or a stop request.
pub(crate) const SLICE_NONCES: u64 = 1024;
/// Slices a thread hashes on one board before turning to its next board.
const QUANTUM_SLICES: usize = 16;
/// How long an idle thread sleeps before looking for work again (it is also woken on changes).
const IDLE_PARK: Duration = Duration::from_millis(20);
/// Capacity of the found-share channel.
pub(crate) const FOUND_CAPACITY: usize = 256;

/// A job ready for hashing, tagged with whatever the protocol layer needs to submit shares.
#[derive(Debug)]
pub(crate) struct Work<J> {
    /// Protocol-specific identity of the job (channel and job ids, epochs).
    pub(crate) tag: J,
    /// Header construction data.
    pub(crate) template: JobTemplate,
    /// How the search space is numbered.
    pub(crate) space: SearchSpace,
    /// Next unit to hand out.
    next_unit: AtomicU64,
    /// Set once every unit has been handed out.
    exhausted: AtomicBool,
}

impl<J> Work<J> {
    /// Work for `template`, searching `2^nonce_bits` nonces per header template.
    pub(crate) fn new(tag: J, template: JobTemplate, nonce_bits: u32) -> Self {
        let space = SearchSpace::new(&template, nonce_bits);
        Work {
            tag,
            template,
            space,
            next_unit: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
        }
    }
}

/// A share found by a hashing thread.
#[derive(Debug)]
pub(crate) struct FoundShare<J> {
    /// Board it was found on.
    pub(crate) board: usize,
    /// The work it belongs to.
    pub(crate) work: Arc<Work<J>>,
    /// The miner's extranonce of the unit.
    pub(crate) extranonce: Vec<u8>,
    /// Header fields and hash.
    pub(crate) found: Found,
}

#[derive(Debug)]
struct BoardState<J> {
    work: Option<Arc<Work<J>>>,
    target: Target,
}

/// The work of one channel or connection.
#[derive(Debug)]
struct Board<J> {
    /// Bumped on every change of work or target.
    seq: AtomicU64,
    state: Mutex<BoardState<J>>,
    /// Hashes computed on this board.
    hashes: AtomicU64,
}

impl<J> Board<J> {
    fn state(&self) -> MutexGuard<'_, BoardState<J>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current work and target with the change counter they belong to.
    fn snapshot(&self) -> (u64, Option<Arc<Work<J>>>, Target) {
        let st = self.state();
        // Read under the lock: writers bump `seq` while holding it.
        let seq = self.seq.load(Ordering::Acquire);
        (seq, st.work.clone(), st.target)
    }
}

/// The hashing threads and their boards.
#[derive(Debug)]
pub(crate) struct HashPool<J> {
    boards: Vec<Arc<Board<J>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    wake: Vec<Thread>,
}

impl<J: Send + Sync + 'static> HashPool<J> {
    /// Starts `threads` hashing threads over `boards` boards (both at least 1).
    pub(crate) fn start(
        boards: usize,
        threads: usize,
        found: mpsc::Sender<FoundShare<J>>,
        stats: Arc<Stats>,
    ) -> std::io::Result<Self> {
        let boards: Vec<Arc<Board<J>>> = (0..boards.max(1))
            .map(|_| {
                Arc::new(Board {
                    seq: AtomicU64::new(0),
                    state: Mutex::new(BoardState {
                        work: None,
                        target: Target::ZERO,
                    }),
                    hashes: AtomicU64::new(0),
                })
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let n = threads.max(1);
        let mut handles = Vec::with_capacity(n);
        let mut wake = Vec::with_capacity(n);
        for t in 0..n {
            let mut mine: Vec<(usize, Arc<Board<J>>)> = boards
                .iter()
                .enumerate()
                .filter(|(b, _)| b % n == t)
                .map(|(b, board)| (b, Arc::clone(board)))
                .collect();
            if mine.is_empty() {
                let b = t % boards.len();
                if let Some(board) = boards.get(b) {
                    mine.push((b, Arc::clone(board)));
                }
            }
            let worker = Worker {
                boards: mine,
                stop: Arc::clone(&stop),
                found: found.clone(),
                stats: Arc::clone(&stats),
            };
            let spawned = thread::Builder::new()
                .name(format!("cpuminer-{t}"))
                .spawn(move || worker.run());
            match spawned {
                Ok(h) => {
                    wake.push(h.thread().clone());
                    handles.push(h);
                }
                Err(e) => {
                    stop.store(true, Ordering::Release);
                    return Err(e);
                }
            }
        }
        Ok(HashPool {
            boards,
            stop,
            threads: handles,
            wake,
        })
    }

    /// Number of boards.
    pub(crate) fn boards(&self) -> usize {
        self.boards.len()
    }

    fn update(&self, board: usize, f: impl FnOnce(&mut BoardState<J>)) {
        if let Some(b) = self.boards.get(board) {
            let mut st = b.state();
            f(&mut st);
            b.seq.fetch_add(1, Ordering::Release);
        }
        for t in &self.wake {
            t.unpark();
        }
    }

    /// Replaces the work of `board` (`None` idles it).
    pub(crate) fn set_work(&self, board: usize, work: Option<Work<J>>) {
        self.update(board, |st| st.work = work.map(Arc::new));
    }

    /// Replaces the work and target of `board` together.
    pub(crate) fn set_work_and_target(&self, board: usize, work: Option<Work<J>>, target: Target) {
        self.update(board, |st| {
            st.work = work.map(Arc::new);
            st.target = target;
        });
    }

    /// Sets the share target of `board`; the current work continues.
    pub(crate) fn set_target(&self, board: usize, target: Target) {
        self.update(board, |st| st.target = target);
    }

    /// Idles every board.
    pub(crate) fn clear(&self) {
        for b in 0..self.boards.len() {
            self.set_work(b, None);
        }
    }

    /// Hashes computed on `board` so far.
    pub(crate) fn board_hashes(&self, board: usize) -> u64 {
        self.boards
            .get(board)
            .map_or(0, |b| b.hashes.load(Ordering::Relaxed))
    }

    /// Stops the threads and waits for them (blocking; they stop within one slice).
    pub(crate) fn shutdown(mut self) {
        self.signal_stop();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }

    fn signal_stop(&self) {
        self.stop.store(true, Ordering::Release);
        for t in &self.wake {
            t.unpark();
        }
    }
}

impl<J> Drop for HashPool<J> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in &self.wake {
            t.unpark();
        }
    }
}

struct Worker<J> {
    boards: Vec<(usize, Arc<Board<J>>)>,
    stop: Arc<AtomicBool>,
    found: mpsc::Sender<FoundShare<J>>,
    stats: Arc<Stats>,
}

/// Where a thread is within a unit of one board's work.
struct Cursor<J> {
    work: Arc<Work<J>>,
    seq: u64,
    target: Target,
    unit: Unit,
    hasher: StandardJobHasher,
    offset: u64,
}

enum Step {
    /// The thread keeps going (possibly on another board).
    Continue,
    /// The board has nothing to hash.
    Idle,
    /// Stop requested or the IO task is gone.
    Stop,
}

impl<J: Send + Sync + 'static> Worker<J> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn run(self) {
        let mut cursors: Vec<Option<Cursor<J>>> = self.boards.iter().map(|_| None).collect();
        let mut next = 0usize;
        while !self.stopped() {
            let count = self.boards.len();
            let mut busy = false;
            for i in 0..count {
                let idx = (next + i) % count;
                let (Some((b, board)), Some(cursor)) = (self.boards.get(idx), cursors.get_mut(idx))
                else {
                    continue;
                };
                match self.step(*b, board, cursor) {
                    Step::Stop => return,
                    Step::Idle => continue,
                    Step::Continue => {
                        // Other boards of this thread get the next quantum.
                        next = idx + 1;
                        busy = true;
                        break;
                    }
                }
            }
            if !busy {
                thread::park_timeout(IDLE_PARK);
            }
        }
    }

    /// A fresh cursor on the board's current work, or `None` if there is nothing to hash.
    fn new_cursor(&self, board: &Board<J>) -> Option<Cursor<J>> {
        let (seq, work, target) = board.snapshot();
        let work = work?;
        if work.exhausted.load(Ordering::Relaxed) {
            return None;
        }
        let index = work.next_unit.fetch_add(1, Ordering::Relaxed);
        let Some(unit) = work.space.unit(&work.template, index) else {
            work.exhausted.store(true, Ordering::Relaxed);
            return None;
        };
        let hasher = unit_hasher(&work.template, &unit);
        Some(Cursor {
            work,
            seq,
            target,
            unit,
            hasher,
            offset: 0,
        })
    }

    /// Follows board changes: keeps the cursor if its work is still current (taking a new
    /// target), drops it otherwise.
    fn refresh(board: &Board<J>, slot: &mut Option<Cursor<J>>) {
        let Some(c) = slot.as_mut() else { return };
        if board.seq.load(Ordering::Acquire) == c.seq {
            return;
        }
        let (seq, current, target) = board.snapshot();
        match current {
            Some(w) if Arc::ptr_eq(&w, &c.work) => {
                c.seq = seq;
                c.target = target;
            }
            _ => *slot = None,
        }
    }

    /// Hashes up to [`QUANTUM_SLICES`] slices of the board's work.
    fn step(&self, b: usize, board: &Board<J>, slot: &mut Option<Cursor<J>>) -> Step {
        let mut found = Vec::new();
        for _ in 0..QUANTUM_SLICES {
            if self.stopped() {
                return Step::Stop;
            }
            Self::refresh(board, slot);
            if slot.as_ref().is_none_or(|c| c.offset >= c.unit.nonce_count) {
                *slot = self.new_cursor(board);
            }
            let Some(c) = slot.as_mut() else {
                return Step::Idle;
            };
            let n = SLICE_NONCES.min(c.unit.nonce_count - c.offset);
            let hashes = hash_range(&mut c.hasher, &c.unit, c.offset, n, &c.target, &mut found);
            c.offset += n;
            board.hashes.fetch_add(hashes, Ordering::Relaxed);
            self.stats.hashes.fetch_add(hashes, Ordering::Relaxed);
            for f in found.drain(..) {
                self.stats.shares_found.fetch_add(1, Ordering::Relaxed);
                // Sending may have waited: do not hand over shares of replaced work.
                Self::refresh(board, slot);
                let Some(c) = slot.as_ref() else { break };
                if !c.target.is_met_by(&f.hash) {
                    continue;
                }
                let share = FoundShare {
                    board: b,
                    work: Arc::clone(&c.work),
                    extranonce: c.unit.extranonce.clone(),
                    found: f,
                };
                // Blocks while the IO task is behind; fails once it has gone away.
                if self.found.blocking_send(share).is_err() {
                    return Step::Stop;
                }
            }
            found.clear();
        }
        Step::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::work::MerkleSource;

    fn template(root: u8) -> JobTemplate {
        JobTemplate {
            version: 0x2000_0000,
            prev_hash: [3; 32],
            nbits: 0x207f_ffff,
            ntime: 1_700_000_000,
            merkle: MerkleSource::Fixed([root; 32]),
            version_mask: 0x1fff_e000,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn threads_find_distinct_valid_shares_and_follow_work_changes() {
        let stats = Arc::new(Stats::default());
        let (tx, mut rx) = mpsc::channel(FOUND_CAPACITY);
        let pool: HashPool<u32> = HashPool::start(2, 3, tx, Arc::clone(&stats)).unwrap();
        // About one hash in 2^8 is a share.
        let target = Target::from_difficulty(1.0 / (1u64 << 24) as f64);
        pool.set_work_and_target(0, Some(Work::new(1, template(1), 32)), target);
        pool.set_work_and_target(1, Some(Work::new(2, template(2), 32)), target);
        let mut seen = std::collections::HashSet::new();
        let mut per_board = [0usize; 2];
        while per_board.iter().any(|n| *n < 20) {
            let s = rx.recv().await.unwrap();
            let h = s.work.template.header(
                &s.extranonce,
                s.found.version,
                s.found.ntime,
                s.found.nonce,
            );
            assert_eq!(h.hash(), s.found.hash);
            assert!(target.is_met_by(&s.found.hash));
            assert_eq!(s.work.tag, s.board as u32 + 1);
            assert!(
                seen.insert((s.board, s.found.version, s.found.nonce)),
                "duplicate share"
            );
            per_board[s.board] += 1;
        }
        assert!(pool.board_hashes(0) > 0 && pool.board_hashes(1) > 0);
        // New work on board 0: shares of the new tag arrive after the old ones drain.
        pool.set_work(0, Some(Work::new(10, template(10), 32)));
        let mut got_new = false;
        for _ in 0..(FOUND_CAPACITY * 4) {
            let s = rx.recv().await.unwrap();
            if s.work.tag == 10 {
                got_new = true;
                break;
            }
        }
        assert!(got_new);
        // Idle boards stop producing shares (at most one share per thread was in flight).
        pool.clear();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut late = 0;
        while rx.try_recv().is_ok() {
            late += 1;
        }
        assert!(late <= FOUND_CAPACITY + 3, "{late}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        while rx.try_recv().is_ok() {}
        let before = stats.hashes.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err());
        assert_eq!(stats.hashes.load(Ordering::Relaxed), before);
        tokio::task::spawn_blocking(move || pool.shutdown())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn exhausted_work_idles_the_board() {
        let stats = Arc::new(Stats::default());
        let (tx, mut rx) = mpsc::channel(FOUND_CAPACITY);
        let pool: HashPool<u32> = HashPool::start(1, 1, tx, Arc::clone(&stats)).unwrap();
        let mut t = template(5);
        t.version_mask = 0;
        // 2 nonces per template and 601 ntime values: 1202 hashes in total.
        pool.set_work_and_target(0, Some(Work::new(1, t, 1)), Target::ZERO);
        for _ in 0..200 {
            if stats.hashes.load(Ordering::Relaxed)
                == 2 * (u64::from(crate::miner::work::MAX_NTIME_ROLL) + 1)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(stats.hashes.load(Ordering::Relaxed), 1202);
        assert!(rx.try_recv().is_err());
        drop(pool);
    }
}
