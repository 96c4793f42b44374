//! Cancellation of one package-changing request: the state shared by the connection that may send
//! `Cancel`/`Abort` and the task running the change.
//!
//! The rule of the protocol is decided here, under one lock, so the two sides cannot disagree: a `Cancel`
//! is accepted only while dpkg has not started (no `pmstatus` line yet), an `Abort` always. Whoever learns
//! second of the running execution's id and of the stop request sends the launcher its `Cancel`, so a
//! stop that arrives between "apt requested" and "apt running" is not lost.

use lpa_protocol::launcher::ExecId;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Why a request is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `ClientMessage::Cancel`: the request ends as `Cancelled`.
    Cancel,
    /// `ClientMessage::Abort` (the job timed out): the request ends as `Timeout`.
    Abort,
}

/// The answer to a `Cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelDecision {
    /// Accepted; if an execution is running, the caller must ask the launcher to stop it.
    Accepted {
        /// The execution to stop, if one is running.
        exec: Option<ExecId>,
    },
    /// Too late: dpkg is changing the system.
    Refused,
}

#[derive(Debug, Default)]
struct Inner {
    changes_started: bool,
    exec: Option<ExecId>,
    stop: Option<Stop>,
}

/// The control block of one request.
#[derive(Debug)]
pub struct Control {
    inner: Mutex<Inner>,
    stop_tx: watch::Sender<Option<Stop>>,
}

impl Control {
    /// A control block for a request that has not started anything.
    pub fn new() -> Arc<Control> {
        Arc::new(Control {
            inner: Mutex::new(Inner::default()),
            stop_tx: watch::Sender::new(None),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request(&self, inner: &mut Inner, stop: Stop) -> Option<ExecId> {
        // An abort overrides an earlier cancel; a cancel never downgrades an abort.
        if inner.stop != Some(Stop::Abort) {
            inner.stop = Some(stop);
            self.stop_tx.send_replace(Some(stop));
        }
        inner.exec
    }

    /// Handles `ClientMessage::Cancel`.
    pub fn cancel(&self) -> CancelDecision {
        let mut inner = self.inner();
        if inner.stop.is_some() {
            return CancelDecision::Accepted { exec: None };
        }
        if inner.changes_started {
            return CancelDecision::Refused;
        }
        let exec = self.request(&mut inner, Stop::Cancel);
        CancelDecision::Accepted { exec }
    }

    /// Handles `ClientMessage::Abort`; returns the execution to stop, if one is running.
    pub fn abort(&self) -> Option<ExecId> {
        let mut inner = self.inner();
        self.request(&mut inner, Stop::Abort)
    }

    /// Records that dpkg started; from now on a `Cancel` is refused.
    pub fn mark_changes_started(&self) {
        self.inner().changes_started = true;
    }

    /// Whether the package manager began changing the system during this request.
    pub fn changes_started(&self) -> bool {
        self.inner().changes_started
    }

    /// Records the running execution; returns the stop already requested, which the caller must apply.
    pub fn running(&self, exec: ExecId) -> Option<Stop> {
        let mut inner = self.inner();
        inner.exec = Some(exec);
        inner.stop
    }

    /// Records that no execution is running.
    pub fn idle(&self) {
        self.inner().exec = None;
    }

    /// The stop requested so far.
    pub fn stop(&self) -> Option<Stop> {
        self.inner().stop
    }

    /// Resolves once a stop is requested.
    pub async fn stopped(&self) -> Stop {
        let mut rx = self.stop_tx.subscribe();
        loop {
            if let Some(stop) = *rx.borrow_and_update() {
                return stop;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`; it cannot be gone while `self` is borrowed.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_before_dpkg_is_accepted_and_names_the_running_execution() {
        let c = Control::new();
        assert_eq!(c.running(7), None);
        assert_eq!(c.cancel(), CancelDecision::Accepted { exec: Some(7) });
        assert_eq!(c.stop(), Some(Stop::Cancel));
    }

    #[test]
    fn cancel_after_dpkg_started_is_refused_but_abort_is_not() {
        let c = Control::new();
        c.running(3);
        c.mark_changes_started();
        assert_eq!(c.cancel(), CancelDecision::Refused);
        assert_eq!(c.stop(), None);
        assert_eq!(c.abort(), Some(3));
        assert_eq!(c.stop(), Some(Stop::Abort));
        assert_eq!(c.cancel(), CancelDecision::Accepted { exec: None });
        assert_eq!(
            c.stop(),
            Some(Stop::Abort),
            "a cancel never downgrades an abort"
        );
    }

    #[test]
    fn a_stop_before_the_execution_exists_is_handed_to_it() {
        let c = Control::new();
        assert_eq!(c.cancel(), CancelDecision::Accepted { exec: None });
        assert_eq!(c.running(9), Some(Stop::Cancel));
    }

    #[tokio::test]
    async fn stopped_resolves_on_request() {
        let c = Control::new();
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.stopped().await })
        };
        tokio::task::yield_now().await;
        c.abort();
        assert_eq!(waiter.await.unwrap(), Stop::Abort);
        assert_eq!(c.stopped().await, Stop::Abort);
    }
}
