//! Job lifecycle per channel: future, active, past and stale jobs.
//!
//! Generic over the job type so that server channels (standard and extended jobs) and client
//! channels (jobs received from upstream, e.g. in a translator) share the bookkeeping:
//!
//! * **future** jobs wait for a prev hash; they are activated by template id (server side, from
//!   Template Distribution `SetNewPrevHash`) or by job id (client side, Mining `SetNewPrevHash`);
//! * the **active** job is the latest job on the current prev hash;
//! * **past** jobs are older jobs on the current prev hash: shares on them are still valid;
//! * **stale** job ids were valid before the latest prev hash change: shares on them are answered
//!   with `stale-share` instead of `invalid-job-id`.
//!
//! Every collection is bounded, since job ids and template ids come from peers.

use std::collections::VecDeque;

/// A job the store can hold.
pub trait StoredJob {
    /// The job's id.
    fn job_id(&self) -> u32;
}

/// Default bound on future jobs.
pub const DEFAULT_MAX_FUTURE_JOBS: usize = 16;
/// Default bound on past jobs under the current prev hash.
pub const DEFAULT_MAX_PAST_JOBS: usize = 16;
/// Bound on remembered stale job ids.
pub const MAX_STALE_IDS: usize = 64;

/// Where a job id was found.
#[derive(Debug)]
pub enum JobLookup<'a, J> {
    /// The active job or a past job on the current prev hash: shares are valid.
    Valid(&'a mut J),
    /// A future job not yet activated.
    Future,
    /// A job from before the latest prev hash.
    Stale,
    /// Never seen, or forgotten.
    Unknown,
}

/// Bounded store of a channel's jobs; see the module documentation.
#[derive(Debug, Clone)]
pub struct JobStore<J> {
    future: VecDeque<(Option<u64>, J)>,
    active: Option<J>,
    past: VecDeque<J>,
    stale: VecDeque<u32>,
    max_future: usize,
    max_past: usize,
}

impl<J: StoredJob> Default for JobStore<J> {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FUTURE_JOBS, DEFAULT_MAX_PAST_JOBS)
    }
}

impl<J: StoredJob> JobStore<J> {
    /// Empty store keeping at most `max_future` future and `max_past` past jobs (each at least 1).
    pub fn new(max_future: usize, max_past: usize) -> Self {
        JobStore {
            future: VecDeque::new(),
            active: None,
            past: VecDeque::new(),
            stale: VecDeque::new(),
            max_future: max_future.max(1),
            max_past: max_past.max(1),
        }
    }

    /// Adds a future job, optionally keyed by the template it was built from. A future job with
    /// the same template id or job id is replaced; beyond the bound the oldest is evicted.
    /// Returns the replaced or evicted job.
    pub fn add_future(&mut self, template_id: Option<u64>, job: J) -> Option<J> {
        let id = job.job_id();
        let same = self
            .future
            .iter()
            .position(|(t, j)| j.job_id() == id || (template_id.is_some() && *t == template_id));
        let removed = match same {
            Some(i) => self.future.remove(i).map(|(_, j)| j),
            None => None,
        };
        self.future.push_back((template_id, job));
        if self.future.len() > self.max_future {
            return self.future.pop_front().map(|(_, j)| j).or(removed);
        }
        removed
    }

    /// Makes `job` the active job on the current prev hash; the previous active job becomes a
    /// past job (the oldest past job is forgotten beyond the bound).
    pub fn add_active(&mut self, job: J) {
        let id = job.job_id();
        // A job id reused on the same prev hash replaces its namesake.
        self.past.retain(|j| j.job_id() != id);
        if let Some(old) = self.active.replace(job) {
            if old.job_id() != id {
                self.past.push_back(old);
                if self.past.len() > self.max_past {
                    self.past.pop_front();
                }
            }
        }
    }

    /// New prev hash for the future job built from `template_id`: it becomes active, every other
    /// job becomes stale. Returns the activated job, `None` (and nothing changes) if there is no
    /// such future job.
    pub fn activate_template(&mut self, template_id: u64) -> Option<&mut J> {
        let i = self
            .future
            .iter()
            .position(|(t, _)| *t == Some(template_id))?;
        self.activate_at(i)
    }

    /// New prev hash for the future job `job_id` (client side). Returns the activated job, `None`
    /// (and nothing changes) if there is no such future job.
    pub fn activate_job(&mut self, job_id: u32) -> Option<&mut J> {
        let i = self.future.iter().position(|(_, j)| j.job_id() == job_id)?;
        self.activate_at(i)
    }

    fn activate_at(&mut self, i: usize) -> Option<&mut J> {
        let (_, job) = self.future.remove(i)?;
        self.flush();
        self.active = Some(job);
        self.active.as_mut()
    }

    /// New prev hash without a matching future job: every job becomes stale.
    pub fn flush(&mut self) {
        let ids: Vec<u32> = self
            .active
            .take()
            .into_iter()
            .chain(self.past.drain(..))
            .map(|j| j.job_id())
            .chain(self.future.drain(..).map(|(_, j)| j.job_id()))
            .collect();
        for id in ids {
            self.stale.retain(|s| *s != id);
            self.stale.push_back(id);
        }
        while self.stale.len() > MAX_STALE_IDS {
            self.stale.pop_front();
        }
    }

    /// Finds a job for share validation.
    pub fn lookup(&mut self, job_id: u32) -> JobLookup<'_, J> {
        if self.active.as_ref().is_some_and(|j| j.job_id() == job_id) {
            return match self.active.as_mut() {
                Some(j) => JobLookup::Valid(j),
                None => JobLookup::Unknown,
            };
        }
        if let Some(j) = self.past.iter_mut().find(|j| j.job_id() == job_id) {
            return JobLookup::Valid(j);
        }
        if self.future.iter().any(|(_, j)| j.job_id() == job_id) {
            return JobLookup::Future;
        }
        if self.stale.contains(&job_id) {
            return JobLookup::Stale;
        }
        JobLookup::Unknown
    }

    /// The active job.
    pub fn active(&self) -> Option<&J> {
        self.active.as_ref()
    }

    /// The active job, mutably.
    pub fn active_mut(&mut self) -> Option<&mut J> {
        self.active.as_mut()
    }

    /// Future jobs with their template ids, oldest first.
    pub fn future(&self) -> impl Iterator<Item = (Option<u64>, &J)> {
        self.future.iter().map(|(t, j)| (*t, j))
    }

    /// Future jobs, mutably.
    pub fn future_mut(&mut self) -> impl Iterator<Item = &mut J> {
        self.future.iter_mut().map(|(_, j)| j)
    }

    /// Jobs shares are currently valid on (active first, then past, newest first).
    pub fn valid(&self) -> impl Iterator<Item = &J> {
        self.active.iter().chain(self.past.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct J(u32);
    impl StoredJob for J {
        fn job_id(&self) -> u32 {
            self.0
        }
    }

    fn kind(s: &mut JobStore<J>, id: u32) -> &'static str {
        match s.lookup(id) {
            JobLookup::Valid(_) => "valid",
            JobLookup::Future => "future",
            JobLookup::Stale => "stale",
            JobLookup::Unknown => "unknown",
        }
    }

    #[test]
    fn lifecycle() {
        let mut s = JobStore::new(2, 2);
        s.add_future(Some(10), J(1));
        assert_eq!(kind(&mut s, 1), "future");
        assert_eq!(s.activate_template(10).map(|j| j.0), Some(1));
        assert_eq!(kind(&mut s, 1), "valid");
        s.add_active(J(2));
        s.add_active(J(3));
        s.add_active(J(4));
        // 1 fell out of the past window (bound 2).
        assert_eq!(kind(&mut s, 1), "unknown");
        assert_eq!(kind(&mut s, 2), "valid");
        assert_eq!(kind(&mut s, 4), "valid");
        assert_eq!(s.valid().map(|j| j.0).collect::<Vec<_>>(), vec![4, 3, 2]);
        s.add_future(Some(11), J(5));
        s.add_future(Some(12), J(6));
        assert!(s.activate_template(99).is_none());
        assert_eq!(kind(&mut s, 4), "valid");
        s.activate_job(6);
        assert_eq!(kind(&mut s, 6), "valid");
        for id in [2, 3, 4, 5] {
            assert_eq!(kind(&mut s, id), "stale", "{id}");
        }
        s.flush();
        assert_eq!(kind(&mut s, 6), "stale");
        assert!(s.active().is_none());
    }

    #[test]
    fn future_bounds_and_replacement() {
        let mut s = JobStore::new(2, 2);
        assert_eq!(s.add_future(Some(1), J(1)), None);
        assert_eq!(s.add_future(Some(1), J(2)), Some(J(1)));
        assert_eq!(s.add_future(Some(2), J(3)), None);
        assert_eq!(s.add_future(Some(3), J(4)), Some(J(2)));
        assert_eq!(s.future().count(), 2);
        let mut many = JobStore::new(4, 4);
        for i in 0..200 {
            many.add_active(J(i));
            many.flush();
        }
        assert!(many.stale.len() <= MAX_STALE_IDS);
    }
}
