//! The watchdog: a request `processing` for longer than
//! `initiation.result_timeout` without a result becomes `initiation_failed`,
//! with a reason that says what is known of its send.
//!
//! It resolves every way a request can be left `processing` with nothing
//! running: N8N accepted it and never called back, the outcome of the send
//! was unknown, the bridge was killed between the claim and the send, or
//! N8N refused it while Odoo was down so the failure could not be recorded.
//! "Since when" is the request's `write_date` (the claim is its last write;
//! a later edit only postpones the watchdog). What must stay true: a
//! request whose result waits in the spool is left alone (the spool applies
//! it), the decision is taken on a read made under the request's lock, and a
//! result that arrives later still completes the request (only `completed`
//! is final for the callback pipeline).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::store::{Finish, Finished};
use super::sweeper::odoo_datetime;
use super::{InitiationError, Initiator};
use crate::app::App;
use crate::config::Config;
use crate::odoo::SearchOptions;
use crate::odoo::records::RequestStatus;

/// Oldest change first.
const PROCESSING_ORDER: &str = "write_date asc, id asc";
/// The pause between passes is a tenth of the timeout, within these bounds.
const MIN_PASS_INTERVAL: Duration = Duration::from_secs(1);
const MAX_PASS_INTERVAL: Duration = Duration::from_secs(60);

/// What the watchdog did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Now `initiation_failed` with this reason.
    GaveUp(String),
    /// Its result waits in the spool.
    ResultWaiting,
    /// It changed since the search (another status, or a newer write).
    MovedOn,
}

/// Runs passes until `shutdown`, the first one at once (a restart resolves
/// what the last process left behind).
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        let config = app.config();
        let initiator = app.initiation().initiator();
        let spool = app.spool();
        let waiting = |refs: &[&str]| spool.holds_result_for(refs);
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = pass(initiator, &config, &waiting) => {}
        }
        let pause = pass_interval(config.initiation.result_timeout);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

fn pass_interval(result_timeout: Duration) -> Duration {
    (result_timeout / 10).clamp(MIN_PASS_INTERVAL, MAX_PASS_INTERVAL)
}

/// One pass: up to [`super::SWEEP_BATCH`] overdue requests, oldest first.
/// `waiting` says whether the spool holds a result for a request's id or
/// UUID. Returns how many were given up on.
pub async fn pass(
    initiator: &Initiator,
    config: &Config,
    waiting: &(dyn Fn(&[&str]) -> bool + Sync),
) -> usize {
    let timeout = config.initiation.result_timeout;
    initiator.journal().prune(timeout * 2);
    let cutoff = odoo_datetime(SystemTime::now() - timeout);
    let domain = json!([["status", "=", "processing"], ["write_date", "<=", cutoff]]);
    let options = SearchOptions {
        limit: Some(super::SWEEP_BATCH),
        order: Some(PROCESSING_ORDER.to_owned()),
        ..SearchOptions::default()
    };
    let model = crate::odoo::records::REQUEST_MODEL;
    let ids = match initiator.odoo().search(model, &domain, &options).await {
        Ok(ids) => ids,
        Err(error) => {
            tracing::warn!(%error, "watchdog: cannot search for overdue processing requests; trying again at the next pass");
            return 0;
        }
    };
    let mut gave_up = 0;
    for id in ids {
        let span = tracing::info_span!("watchdog", ai_generation_request_id = id);
        match give_up(initiator, config, id, &cutoff, waiting)
            .instrument(span.clone())
            .await
        {
            Ok(Verdict::GaveUp(reason)) => {
                gave_up += 1;
                initiator.count("gave_up");
                span.in_scope(|| tracing::warn!(%reason, "watchdog: no result in time; the request is now initiation_failed"));
            }
            Ok(Verdict::ResultWaiting) => span.in_scope(|| {
                tracing::info!("watchdog: overdue, but its result waits in the spool; left to the spool")
            }),
            Ok(Verdict::MovedOn) => {}
            Err(error) => span.in_scope(|| tracing::warn!(%error, "watchdog: cannot give up on the request; trying again at the next pass")),
        }
    }
    gave_up
}

/// Gives up on request `id` if, under its lock, it is still `processing`,
/// unchanged since `cutoff`, and has no result waiting.
async fn give_up(
    initiator: &Initiator,
    config: &Config,
    id: i64,
    cutoff: &str,
    waiting: &(dyn Fn(&[&str]) -> bool + Sync),
) -> Result<Verdict, InitiationError> {
    let _lock = initiator.locks().lock(id).await;
    let store = initiator.store();
    let uuid_field = crate::odoo::records::UUID_FIELD;
    let Some(request) = store.read(config, id, &["write_date", uuid_field]).await? else {
        return Ok(Verdict::MovedOn);
    };
    let since = request.extra.get("write_date").and_then(|v| v.as_str());
    // Odoo's datetimes are fixed-width UTC text: they compare as strings.
    if request.status != RequestStatus::Processing || since.is_none_or(|since| since > cutoff) {
        return Ok(Verdict::MovedOn);
    }
    let id_text = id.to_string();
    let mut refs = vec![id_text.as_str()];
    refs.extend(request.uuid(uuid_field));
    if waiting(&refs) {
        return Ok(Verdict::ResultWaiting);
    }
    let journal = initiator.journal();
    let reason = journal.explain(id, config.initiation.result_timeout, since);
    match store.finish(config, id, Finish::GaveUp(&reason)).await? {
        Finished::Written => {
            journal.forget(id);
            Ok(Verdict::GaveUp(reason))
        }
        Finished::MovedOn(_) => Ok(Verdict::MovedOn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_come_at_a_tenth_of_the_timeout_within_bounds() {
        let secs = Duration::from_secs;
        assert_eq!(pass_interval(secs(3600)), secs(60));
        assert_eq!(pass_interval(secs(300)), secs(30));
        assert_eq!(pass_interval(secs(2)), secs(1));
    }
}
