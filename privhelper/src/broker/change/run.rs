//! Running one package-changing invocation: start it in the launcher, turn its status lines into job
//! events on the request's connection, apply a `Cancel`/`Abort`, and collect how it ended.

use super::RequestCtx;
use crate::backend::Tracker;
use crate::broker::control::Stop;
use crate::broker::launcher_client::LauncherClient;
use lpa_protocol::launcher::{ExecOutput, Invocation, LaunchError};
use lpa_protocol::{HelperError, JobEvent, ServerMessage};
use std::time::Duration;

/// How long an event may wait for room on the connection before it is dropped: a frontend that stopped
/// reading must not hold up dpkg (the change runs to its end regardless of the connection).
const EVENT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// How one execution ended.
#[derive(Debug)]
pub struct Run {
    /// The launcher's answer.
    pub result: Result<ExecOutput, LaunchError>,
    /// `pmerror` lines, as `PACKAGE: MESSAGE`.
    pub pm_errors: Vec<String>,
    /// The stop requested while it ran (or before it started), if any.
    pub stop: Option<Stop>,
}

/// Sends one event for the request; logs instead of failing when the connection is gone or stuck.
pub async fn send_event(ctx: &RequestCtx, event: JobEvent) {
    let msg = ServerMessage::Event { id: ctx.id, event };
    if let Err(e) = ctx.events.send_timeout(msg, EVENT_SEND_TIMEOUT).await {
        tracing::debug!(id = ctx.id, error = %e, "job event not delivered");
    }
}

/// Runs `invocation`, streaming its progress as `ctx`'s events with `tracker`.
pub async fn run(
    launcher: &LauncherClient,
    invocation: Invocation,
    mut tracker: Box<dyn Tracker>,
    ctx: &RequestCtx,
) -> Result<Run, HelperError> {
    if let Some(stop) = ctx.control.stop() {
        return Ok(Run {
            result: Err(LaunchError::NotAvailable(
                "stopped before it started".into(),
            )),
            pm_errors: Vec::new(),
            stop: Some(stop),
        });
    }
    let kind = invocation.kind();
    let mut started = launcher.start_change(invocation).await?;
    tracing::info!(request = ctx.id, exec = started.id, kind, "change started");
    if ctx.control.running(started.id).is_some() {
        launcher.cancel(started.id).await?;
    }
    let finish = launcher.finish(started.id, &mut started.done);
    tokio::pin!(finish);
    let result = loop {
        tokio::select! {
            // Status lines first: every line of the run is handled before its end.
            biased;
            Some(line) = started.status.recv() => feed(&mut tracker, &line, ctx).await,
            end = &mut finish => break end,
        }
    };
    // Lines already queued when the end arrived.
    while let Ok(line) = started.status.try_recv() {
        feed(&mut tracker, &line, ctx).await;
    }
    ctx.control.idle();
    Ok(Run {
        result: result?,
        pm_errors: tracker.errors().to_vec(),
        stop: ctx.control.stop(),
    })
}

async fn feed(tracker: &mut Box<dyn Tracker>, line: &str, ctx: &RequestCtx) {
    for event in tracker.feed(line) {
        if event == JobEvent::ChangesStarted {
            // Before the frontend can learn of it: a Cancel from now on is refused.
            ctx.control.mark_changes_started();
        }
        send_event(ctx, event).await;
    }
}
