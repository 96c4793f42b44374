//! Waiting out a package manager's lock that another process holds, for the package managers that fail at
//! once when it is busy instead of waiting: dnf/yum (run with `exit_on_lock`, exit code 200) and pacman
//! (`db.lck`). apt waits by itself (`DPkg::Lock::Timeout`) and apk too (`--wait`), both for the same
//! `lock_timeout_seconds` of `helper.yaml`.
//!
//! Why not let dnf wait by itself: without `exit_on_lock` it waits without bound, so a stuck holder would
//! hold the job until its 30-minute timeout and a read until the frontend gives up. Why wait at all: every
//! dnf run, reads included, takes dnf's metadata lock for a moment, so the broker's own `dnf repoquery`
//! (answering `GET /patches` while a job runs) and a job's `dnf install` meet each other's lock; and an
//! operator's `dnf` in a shell should delay a job, as it delays apt's, not fail it.
//!
//! Running a command again is safe because a run that failed on the busy lock changed nothing: dnf takes
//! its locks before the transaction and pacman before anything else, and the broker only retries while
//! the run never reported a change starting.

use std::time::{Duration, Instant};

/// The first pause: a lock held by another short dnf run is usually free again within it.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause: a lock held by a long transaction is checked about once a second.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// The pauses between tries of one command, until the lock timeout has passed.
#[derive(Debug)]
pub struct LockWait {
    deadline: Instant,
    pause: Duration,
}

impl LockWait {
    /// Starts waiting now, for at most `timeout`.
    pub fn new(timeout: Duration) -> LockWait {
        LockWait {
            deadline: Instant::now() + timeout,
            pause: FIRST_PAUSE,
        }
    }

    /// The pause before the next try, or `None` when the timeout has passed: the busy lock is then the
    /// command's failure (`LOCK_TIMEOUT`). The last pause is cut to end at the deadline, so the last try
    /// happens when the timeout is reached, not before.
    pub fn next_pause(&mut self) -> Option<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let pause = self.pause.min(left);
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_timeout_never_waits() {
        assert_eq!(LockWait::new(Duration::ZERO).next_pause(), None);
    }

    #[test]
    fn pauses_grow_to_a_second_and_stop_at_the_deadline() {
        let mut wait = LockWait::new(Duration::from_secs(60));
        let pauses: Vec<Duration> = (0..5).map(|_| wait.next_pause().unwrap()).collect();
        assert_eq!(
            pauses,
            [200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
        let mut short = LockWait::new(Duration::from_millis(300));
        assert_eq!(short.next_pause(), Some(FIRST_PAUSE));
        let last = short.next_pause().expect("time is left");
        assert!(last <= Duration::from_millis(300), "{last:?}");
        std::thread::sleep(Duration::from_millis(310));
        assert_eq!(short.next_pause(), None);
    }
}
