//! The worker: applies pending entries to Odoo, retries transient failures
//! with backoff, and moves what can never apply to the dead letters (an
//! entry found damaged on disk too, with the reason: see
//! [`Queue::quarantine`](super::Queue::quarantine)).
//!
//! It wakes on new work and also polls (the poll rescans `pending/`, which
//! the `spool` CLI changes). Entries of one request go in arrival order,
//! different requests concurrently up to `spool.max_concurrent`. An entry is
//! removed only after the pipeline reports it applied, i.e. after Odoo
//! confirmed the last write. On shutdown no new entry starts; entries being
//! applied get `server.shutdown_grace` to finish, and whatever is cut off
//! stays pending and resumes at the next start (every step is idempotent).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::entry::{DeadLetter, Meta, now_ms};
use super::queue::{Final, Ready};
use super::store::SpoolError;
use crate::app::App;
use crate::config::Config;
use crate::odoo::OdooError;
use crate::pipeline::{Applied, PipelineError};
use crate::retry::Backoff;

/// Runs until `shutdown` is cancelled, then drains within the grace period.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let tasks = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(app.config().spool.max_concurrent));
    let mut next_poll = Instant::now();
    while !shutdown.is_cancelled() {
        let config = app.config();
        if Instant::now() >= next_poll {
            reconcile(&app).await;
            next_poll = Instant::now() + config.spool.poll_interval;
        }
        for ready in app.spool().take_ready(slots.available_permits()) {
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                break;
            };
            let span = tracing::info_span!("spool_entry", entry = %ready.id, ai_generation_request_id = %ready.request_ref);
            tasks.spawn(apply_entry(Arc::clone(&app), ready, permit).instrument(span));
        }
        let until_due = app
            .spool()
            .next_due_ms()
            .map(|due| Duration::from_millis(due.saturating_sub(now_ms())));
        let until_poll = next_poll.saturating_duration_since(Instant::now());
        let pause = until_due.map_or(until_poll, |due| due.min(until_poll));
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = app.spool().woken() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
    tasks.close();
    let grace = app.config().server.shutdown_grace;
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            remaining = tasks.len(),
            "spool entries still being applied at the end of the grace period; they stay pending"
        );
    }
}

async fn reconcile(app: &App) {
    let spool = Arc::clone(app.spool_arc());
    match tokio::task::spawn_blocking(move || spool.reconcile()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "cannot rescan the spool"),
        Err(error) => tracing::warn!(%error, "cannot rescan the spool"),
    }
}

/// Applies one entry once and records what happened.
async fn apply_entry(app: Arc<App>, mut ready: Ready, _slot: OwnedSemaphorePermit) {
    let queue = app.spool();
    let config = app.config();
    let loaded = match ready.payload.take() {
        // A first attempt right after the callback: it is still in memory.
        Some(payload) => Ok(payload),
        None => queue.load(&ready.id).await,
    };
    let (mut meta, image) = match loaded {
        Ok(loaded) => loaded,
        Err(SpoolError::NotFound { .. }) => {
            tracing::info!("the entry left the spool (purged or retried by an admin)");
            return queue.forget(&ready);
        }
        Err(SpoolError::Corrupt { reason, .. }) => {
            let Err(error) = queue.quarantine(&ready, reason).await else {
                return;
            };
            tracing::error!(%error, "cannot move a damaged spool entry to the dead letters; will try again");
            return queue.reschedule(&ready, now_ms() + millis(config.spool.retry_max));
        }
        Err(error) => {
            tracing::error!(%error, "cannot read the spool entry; will try again");
            return queue.reschedule(&ready, now_ms() + millis(config.spool.retry_max));
        }
    };
    let result = meta.to_result(image);
    meta.attempts += 1;
    meta.last_attempt_at_ms = Some(now_ms());
    // Only a success creates records that an interrupted call could
    // duplicate; a failure's writes are simply repeated.
    if meta.creates_records() {
        meta.in_flight_since_ms = meta.last_attempt_at_ms;
        if let Err(error) = queue.mark_in_flight(&meta).await {
            tracing::warn!(%error, "cannot mark the spool entry in flight");
        }
        meta.in_flight_since_ms = None;
    }
    let mut outcome = app.pipeline().apply(&config, &result).await;
    if let Err(PipelineError::ImageUnavailable(error)) = &outcome
        && exhausted(&meta, &config)
    {
        // The image host never recovered: the image is unusable for good.
        let reason = format!("{error} (gave up after {} attempts)", meta.attempts);
        outcome = app
            .pipeline()
            .reject(&config, &result.request_ref, &reason)
            .await;
    }
    match outcome {
        Ok(applied) => finish_applied(&app, &ready, applied).await,
        Err(error) if !error.is_transient() => bury(&app, &ready, meta, error, None).await,
        Err(error) if exhausted(&meta, &config) => {
            let reason = format!("gave up after {} attempts: {error}", meta.attempts);
            bury(&app, &ready, meta, error, Some(reason)).await;
        }
        Err(error) => retry_later(&app, &ready, meta, &config, &error).await,
    }
}

async fn finish_applied(app: &App, ready: &Ready, applied: Applied) {
    tracing::info!(outcome = ?applied, "spool entry applied");
    if let Err(error) = app.spool().remove(&ready.id).await {
        // Left on disk it is applied again later, which is a harmless duplicate.
        tracing::warn!(%error, "applied, but cannot remove the spool entry");
    }
    app.spool().finish(ready, Final::Applied(applied));
}

async fn bury(
    app: &App,
    ready: &Ready,
    mut meta: Meta,
    error: PipelineError,
    reason: Option<String>,
) {
    let reason = reason.unwrap_or_else(|| error.to_string());
    tracing::warn!(attempts = meta.attempts, %reason, "spool entry moved to the dead letters");
    meta.last_error = Some(error.to_string());
    meta.dead = Some(DeadLetter {
        reason,
        at_ms: now_ms(),
    });
    if let Err(store_error) = app.spool().bury(&meta).await {
        tracing::error!(error = %store_error, "cannot move the entry to the dead letters; it stays pending");
        return app
            .spool()
            .reschedule(ready, now_ms() + millis(app.config().spool.retry_max));
    }
    app.spool().finish(ready, Final::Dead(error));
}

async fn retry_later(
    app: &App,
    ready: &Ready,
    mut meta: Meta,
    config: &Config,
    error: &PipelineError,
) {
    let backoff = Backoff::new(config.spool.retry_initial, config.spool.retry_max);
    let mut delay = backoff.delay(meta.attempts);
    if matches!(error, PipelineError::Odoo(OdooError::Timeout)) {
        // Odoo may still be executing the call that timed out; repeating it
        // before that finishes could create a second attachment.
        delay = delay.max(config.odoo.timeout);
    }
    tracing::info!(attempts = meta.attempts, retry_in_ms = millis(delay), %error, "transient failure; will retry");
    meta.last_error = Some(error.to_string());
    meta.next_attempt_at_ms = now_ms() + millis(delay);
    if let Err(store_error) = app.spool().save(&meta).await {
        tracing::warn!(error = %store_error, "cannot record the attempt in the spool");
    }
    app.spool().reschedule(ready, meta.next_attempt_at_ms);
}

/// Too many attempts, or too old.
fn exhausted(meta: &Meta, config: &Config) -> bool {
    let age_ms = now_ms().saturating_sub(meta.received_at_ms);
    meta.attempts >= config.spool.max_attempts || age_ms >= millis(config.spool.max_age)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
