//! The worker: applies pending entries to Odoo (up to
//! `odoo.max_concurrent_calls` at once), retries transient failures with
//! backoff, and buries what can never apply, or still fails after
//! `spool.max_age`, in the dead letters. An entry is removed only once Odoo
//! confirmed the last write; on shutdown what is cut off stays pending.
//!
//! Generic protocol: after a create of unknown outcome (or a crash during
//! one) nothing more of that request is tried until `odoo.unknown_outcome_wait`
//! has passed, across restarts; then a search finds what the lost call did.
//! When Odoo refuses the bridge itself ([`crate::odoo::OdooError::refusal`])
//! the entry is not the problem: its attempt is not counted, and the queue
//! holds until Odoo accepts the bridge again or a reload brings a password.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::entry::{DeadLetter, Meta, now_ms};
use super::queue::{Final, Ready, RequestKey, Unresolved};
use super::store::{SpoolError, State};
use crate::app::App;
use crate::config::Config;
use crate::odoo::OdooError;
use crate::pipeline::PipelineError;
use crate::retry::Backoff;

/// How often the spool is rescanned: what an admin retried or moved in is
/// picked up within it; a rescan only lists and stats entries.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Runs until `shutdown` is cancelled, then drains within the grace period.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let tasks = TaskTracker::new();
    let mut next_poll = Instant::now();
    while !shutdown.is_cancelled() {
        let config = app.config();
        let queue = app.spool();
        if Instant::now() >= next_poll {
            let spool = Arc::clone(app.spool_arc());
            if let Ok(Err(error)) = tokio::task::spawn_blocking(move || spool.reconcile()).await {
                tracing::warn!(%error, "cannot rescan the spool");
            }
            next_poll = Instant::now() + POLL_INTERVAL;
        }
        // Another call (readiness, the sweeper) found Odoo accepting the
        // bridge again: no need to wait for the next probe.
        if app.odoo().refusal().is_none() {
            queue.resume();
        }
        let pipeline = app.pipeline();
        let offline = |reference: &str| match pipeline.speaks_companion() {
            true => Some(RequestKey::Reference(reference.to_owned())),
            false => pipeline
                .resolve_offline(reference)
                .map(|found| key(found, reference)),
        };
        let most = config.odoo.max_concurrent_calls;
        for entry in queue.to_resolve(most, offline) {
            let span = tracing::info_span!("spool_entry", entry = %entry.id, ai_generation_request_id = %entry.request_ref);
            tasks.spawn(resolve(Arc::clone(&app), entry).instrument(span));
        }
        for ready in queue.take_ready(most) {
            let span = tracing::info_span!("spool_entry", entry = %ready.id, ai_generation_request_id = %ready.request_ref);
            tasks.spawn(apply(Arc::clone(&app), ready).instrument(span));
        }
        let until_poll = next_poll.saturating_duration_since(Instant::now());
        let until_due =
            (queue.next_due_ms()).map(|due| Duration::from_millis(due.saturating_sub(now_ms())));
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = queue.woken() => {}
            () = tokio::time::sleep(until_due.map_or(until_poll, |due| due.min(until_poll))) => {}
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

fn key(found: Option<i64>, reference: &str) -> RequestKey {
    found.map_or_else(
        || RequestKey::Reference(reference.to_owned()),
        RequestKey::Id,
    )
}

fn backoff(config: &Config) -> Backoff {
    Backoff::new(config.spool.retry_initial, config.spool.retry_max)
}

/// Asks Odoo which request a UUID reference names.
async fn resolve(app: Arc<App>, entry: Unresolved) {
    let (queue, config) = (app.spool(), app.config());
    let resolved = app.pipeline().resolve(&entry.request_ref).await;
    if !matches!(&resolved, Err(error) if error.refusal().is_some()) {
        // It may have been the probe of a hold.
        queue.resume();
    }
    let resolved = match resolved {
        Ok(found) => Ok(key(found, &entry.request_ref)),
        // Applying the entry meets the same error and decides its fate.
        Err(error) if !error.is_transient() => Ok(RequestKey::Reference(entry.request_ref)),
        Err(error) if error.refusal().is_some() => {
            hold(&app, &error);
            Err(now_ms())
        }
        Err(error) => {
            let delay = backoff(&config).delay(entry.failures + 1);
            tracing::info!(retry_in_ms = millis(delay), %error, "cannot resolve the request reference; will retry");
            Err(now_ms() + millis(delay))
        }
    };
    queue.resolved(&entry.id, resolved);
}

/// Applies one entry once and records what happened.
async fn apply(app: Arc<App>, ready: Ready) {
    let (queue, config) = (app.spool(), app.config());
    let id = ready.id.clone();
    let (mut meta, image) = match queue.io(move |s| s.load(State::Pending, &id)).await {
        Ok(loaded) => loaded,
        Err(SpoolError::NotFound { .. }) => {
            tracing::info!("the entry left the spool (purged or retried by an admin)");
            return queue.forget(&ready);
        }
        // Quarantined by the next rescan.
        Err(SpoolError::Corrupt { .. }) => return queue.forget(&ready),
        Err(error) => {
            tracing::error!(%error, "cannot read the spool entry; will try again");
            return queue.reschedule(&ready, now_ms() + millis(config.spool.retry_max));
        }
    };
    if wait_for_unknown_outcome(&app, &ready, &mut meta, &config).await {
        return;
    }
    let result = meta.to_result(image);
    meta.attempts += 1;
    meta.last_attempt_at_ms = Some(now_ms());
    // Only a success creates records that an interrupted call could
    // duplicate; a failure's writes are simply repeated.
    if meta.creates_records() {
        let id = meta.id.clone();
        if let Err(error) = queue.io(move |s| s.mark_in_flight(&id)).await {
            tracing::warn!(%error, "cannot mark the spool entry in flight");
        }
    }
    let mut outcome = app.pipeline().apply(&config, &result).await;
    let expired = now_ms().saturating_sub(meta.received_at_ms) >= millis(config.spool.max_age);
    if let Err(PipelineError::ImageUnavailable(error)) = &outcome
        && expired
    {
        // The image host never recovered: the image is unusable for good.
        let reason = format!("{error} (gave up after {} attempts)", meta.attempts);
        let pipeline = app.pipeline();
        outcome = pipeline.reject(&result.request_ref, &reason).await;
    }
    let refusal = matches!(&outcome, Err(error) if error.refusal().is_some());
    if !refusal {
        queue.resume();
    }
    let error = match outcome {
        Ok(applied) => {
            tracing::info!(outcome = ?applied, "spool entry applied");
            let id = ready.id.clone();
            if let Err(error) = queue.io(move |s| s.remove(State::Pending, &id)).await {
                // Left on disk it is applied again later: a harmless duplicate.
                tracing::warn!(%error, "applied, but cannot remove the spool entry");
            }
            return queue.finish(&ready, Final::Applied(applied));
        }
        Err(error) => error,
    };
    meta.last_error = Some(error.to_string());
    if refusal {
        // Odoo refused the bridge itself: the entry waits, its attempt not
        // counted, and the queue holds (the standing logged the reason once).
        meta.attempts -= 1;
        hold(&app, &error);
        later(&app, &ready, meta, now_ms()).await;
    } else if !error.is_transient() || expired {
        let reason = match error.is_transient() {
            true => format!("gave up after {} attempts: {error}", meta.attempts),
            false => error.to_string(),
        };
        bury(&app, &ready, meta, error, reason).await;
    } else {
        let mut delay = backoff(&config).delay(meta.attempts);
        if let PipelineError::OutcomeUnknown(_) = error {
            // Odoo may still commit the create whose answer was lost;
            // repeating it before then would create a second image.
            meta.unknown_outcome_at_ms = Some(now_ms());
            delay = delay.max(config.odoo.unknown_outcome_wait);
        } else if matches!(error, PipelineError::Odoo(OdooError::Timeout)) {
            // Odoo may still be executing the call that timed out.
            delay = delay.max(config.odoo.timeout);
        }
        tracing::info!(attempts = meta.attempts, retry_in_ms = millis(delay), %error, "transient failure; will retry");
        later(&app, &ready, meta, now_ms() + millis(delay)).await;
    }
}

/// Generic protocol: keeps the entry waiting while a call of an earlier
/// attempt (interrupted by an unknown outcome or a crash, which left the
/// in-flight marker) may still commit. True when the entry waits.
async fn wait_for_unknown_outcome(
    app: &App,
    ready: &Ready,
    meta: &mut Meta,
    config: &Config,
) -> bool {
    let id = ready.id.clone();
    let interrupted = app.spool().io(move |s| Ok(s.in_flight_since(&id))).await;
    let Some(at_ms) = meta.unknown_outcome_at_ms.or(interrupted.ok().flatten()) else {
        return false;
    };
    let Some(wait) = app.pipeline().unknown_outcome_hold(config).await else {
        return false;
    };
    let until_ms = at_ms.saturating_add(millis(wait));
    if now_ms() >= until_ms {
        // Odoo has committed or killed that call by now: a search sees it.
        meta.unknown_outcome_at_ms = None;
        return false;
    }
    tracing::info!(
        retry_in_ms = until_ms - now_ms(),
        "an earlier call's outcome is unknown; waiting odoo.unknown_outcome_wait before searching again"
    );
    meta.unknown_outcome_at_ms = Some(at_ms);
    later(app, ready, meta.clone(), until_ms).await;
    true
}

/// Puts the queue on hold after Odoo refused the bridge.
fn hold(app: &App, error: &PipelineError) {
    if let Some(delay_ms) = app.spool().hold(&backoff(&app.config())) {
        tracing::debug!(%error, probe_in_ms = delay_ms, "Odoo refuses the bridge; the spool waits");
    }
}

/// Records the attempt; the entry stays pending until `due_ms`.
async fn later(app: &App, ready: &Ready, mut meta: Meta, due_ms: u64) {
    meta.next_attempt_at_ms = due_ms;
    if let Err(error) = app.spool().save(&meta).await {
        tracing::warn!(%error, "cannot record the attempt in the spool");
    }
    app.spool().reschedule(ready, due_ms);
}

async fn bury(app: &App, ready: &Ready, mut meta: Meta, error: PipelineError, reason: String) {
    tracing::warn!(attempts = meta.attempts, %reason, "spool entry moved to the dead letters");
    meta.dead = Some(DeadLetter {
        reason,
        at_ms: now_ms(),
    });
    let buried = (app.spool()).io(move |s| s.transfer(State::Pending, Some(&meta), &meta.id));
    if let Err(store_error) = buried.await {
        tracing::error!(error = %store_error, "cannot move the entry to the dead letters; it stays pending");
        let retry_max = app.config().spool.retry_max;
        return app.spool().reschedule(ready, now_ms() + millis(retry_max));
    }
    app.spool().finish(ready, Final::Dead(error));
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
