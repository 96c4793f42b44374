//! What one WebSocket client has subscribed to: all jobs, or a bounded set of job ids.

use std::collections::HashSet;
use uuid::Uuid;

/// Most single-job subscriptions one connection may hold; beyond it a client should subscribe to all.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 1024;

/// A connection's filter over the job manager's broadcast.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    all: bool,
    jobs: HashSet<Uuid>,
}

/// A single-job subscription would exceed [`MAX_SUBSCRIPTIONS`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooMany;

impl Subscriptions {
    /// Whether updates of `job` reach this client.
    pub(crate) fn wants(&self, job: &Uuid) -> bool {
        self.all || self.jobs.contains(job)
    }

    /// Adds one job.
    pub(crate) fn add(&mut self, job: Uuid) -> Result<(), TooMany> {
        if !self.jobs.contains(&job) && self.jobs.len() >= MAX_SUBSCRIPTIONS {
            return Err(TooMany);
        }
        self.jobs.insert(job);
        Ok(())
    }

    /// Subscribes to every job.
    pub(crate) fn add_all(&mut self) {
        self.all = true;
    }

    /// Removes one job. An "all" subscription stays: unsubscribing one job from "all" is not expressible, and
    /// silently keeping the events flowing is less surprising than dropping everything.
    pub(crate) fn remove(&mut self, job: &Uuid) {
        self.jobs.remove(job);
    }

    /// Removes everything, including "all".
    pub(crate) fn clear(&mut self) {
        self.all = false;
        self.jobs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subscribed_jobs_are_wanted_until_all_is_requested() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut s = Subscriptions::default();
        assert!(!s.wants(&a));
        s.add(a).unwrap();
        assert!(s.wants(&a) && !s.wants(&b));
        s.add_all();
        assert!(s.wants(&b));
        s.clear();
        assert!(!s.wants(&a) && !s.wants(&b));
    }

    #[test]
    fn single_job_subscriptions_are_capped() {
        let mut s = Subscriptions::default();
        for _ in 0..MAX_SUBSCRIPTIONS {
            s.add(Uuid::new_v4()).unwrap();
        }
        assert_eq!(s.add(Uuid::new_v4()), Err(TooMany));
        let first = *s.jobs.iter().next().unwrap();
        assert_eq!(s.add(first), Ok(()), "re-subscribing a held job is fine");
    }
}
