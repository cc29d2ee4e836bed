//! The watchdog: a request `processing` for longer than
//! `initiation.result_timeout` (since its `write_date`, the claim being its
//! last write) without a result becomes `initiation_failed`, with a reason
//! saying what the [`Journal`] (in memory, this process only) knows of its
//! send. It decides under the request's lock, leaves a request whose result
//! waits in the spool alone, and a later result still completes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::store::{Finish, Finished};
use super::sweeper::SWEEP_BATCH;
use super::{InitiationError, odoo_datetime};
use crate::app::App;
use crate::config::Config;
use crate::odoo::SearchOptions;
use crate::odoo::records::{REQUEST_MODEL, RequestStatus};

/// A pass starts every tenth of the timeout (or as the last ends), within these bounds.
const MIN_PASS_INTERVAL: Duration = Duration::from_secs(1);
const MAX_PASS_INTERVAL: Duration = Duration::from_secs(60);

/// The last thing this process did with a request it claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Marked `processing`; the send has not ended yet.
    Claimed,
    /// N8N took it, with this HTTP status.
    Accepted(u16),
    /// N8N may or may not have started it (this error).
    Unknown(String),
    /// N8N surely did not start it (this error); recording that failed.
    NotStarted(String),
}

/// What this process knows of its sends, by request id; each watchdog pass
/// drops what is older than twice the result timeout.
#[derive(Debug, Default)]
pub struct Journal {
    // std Mutex: never held across an await.
    facts: Mutex<HashMap<i64, (SystemTime, Fact)>>,
}

impl Journal {
    pub fn note(&self, id: i64, fact: Fact) {
        self.lock().insert(id, (SystemTime::now(), fact));
    }

    /// Forgets request `id` (its initiation ended for good).
    pub fn forget(&self, id: i64) {
        self.lock().remove(&id);
    }

    fn prune(&self, age: Duration) {
        let now = SystemTime::now();
        self.lock()
            .retain(|_, (at, _)| now.duration_since(*at).unwrap_or_default() <= age);
    }

    /// The `error_details` of a request given up on `timeout` after `since`.
    fn explain(&self, id: i64, timeout: Duration, since: Option<&str>) -> String {
        let timeout = humantime::format_duration(timeout);
        let since = since.map_or_else(String::new, |since| format!(" (since {since} UTC)"));
        let noted = self.lock().get(&id).cloned();
        let known = match noted {
            Some((at, fact)) => {
                let at = odoo_datetime(at);
                match fact {
                    Fact::Accepted(http_status) => format!(
                        "N8N accepted it at {at} UTC (HTTP {http_status}) but its result never arrived"
                    ),
                    Fact::Unknown(error) => format!(
                        "the outcome of sending it to N8N at {at} UTC is unknown ({error}): \
                         N8N may or may not have started it, and no result arrived"
                    ),
                    Fact::NotStarted(error) => format!(
                        "N8N did not start it ({error}, at {at} UTC), and Odoo could not be told then"
                    ),
                    Fact::Claimed => format!(
                        "the bridge marked it processing at {at} UTC and stopped before the send ended"
                    ),
                }
            }
            None => "this bridge process has no record of its send: another process sent it, the \
                     bridge restarted since, or it stopped between marking it processing and sending it"
                .to_owned(),
        };
        format!(
            "No result within {timeout} of becoming processing{since} (initiation.result_timeout): {known}. \
             A result that still arrives completes the request."
        )
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, (SystemTime, Fact)>> {
        self.facts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs passes until `shutdown`, the first at once (after a restart).
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    loop {
        let config = app.config();
        let pause = pass_interval(config.initiation.result_timeout);
        let pass = async { tokio::join!(pass(&app, &config), tokio::time::sleep(pause)) };
        if shutdown.run_until_cancelled(pass).await.is_none() {
            return;
        }
    }
}

fn pass_interval(result_timeout: Duration) -> Duration {
    (result_timeout / 10).clamp(MIN_PASS_INTERVAL, MAX_PASS_INTERVAL)
}

/// One pass over up to [`SWEEP_BATCH`] overdue requests, oldest change first.
async fn pass(app: &App, config: &Config) {
    let initiator = &app.initiation().initiator;
    let timeout = config.initiation.result_timeout;
    initiator.journal.prune(timeout * 2);
    let cutoff = odoo_datetime(SystemTime::now() - timeout);
    let domain = json!([["status", "=", "processing"], ["write_date", "<=", cutoff]]);
    let options = SearchOptions {
        limit: Some(SWEEP_BATCH),
        order: Some("write_date asc, id asc".to_owned()),
        ..SearchOptions::default()
    };
    let ids = match initiator
        .odoo()
        .search(REQUEST_MODEL, &domain, &options)
        .await
    {
        Ok(ids) => ids,
        Err(error) => {
            return tracing::warn!(%error, "watchdog: cannot search for overdue processing requests; trying again at the next pass");
        }
    };
    for id in ids {
        let span = tracing::info_span!("watchdog", ai_generation_request_id = id);
        let given_up = give_up(app, config, id, &cutoff)
            .instrument(span.clone())
            .await;
        if let Err(error) = given_up {
            span.in_scope(|| tracing::warn!(%error, "watchdog: cannot give up on the request; trying again at the next pass"));
        }
    }
}

/// Gives up on request `id` if, under its lock, it is still `processing`,
/// unchanged since `cutoff`, and its result does not wait in the spool.
async fn give_up(app: &App, config: &Config, id: i64, cutoff: &str) -> Result<(), InitiationError> {
    let initiator = &app.initiation().initiator;
    let _lock = initiator.locks.lock(id).await;
    let uuid_field = crate::odoo::records::UUID_FIELD;
    let read = initiator.store.read(id, &["write_date", uuid_field]).await;
    let Some(request) = read.map_err(|source| InitiationError::Read(id, source))? else {
        return Ok(());
    };
    let since = request.extra.get("write_date").and_then(|v| v.as_str());
    // Odoo's datetimes are fixed-width UTC text: they compare as strings.
    if request.status != RequestStatus::Processing || since.is_none_or(|since| since > cutoff) {
        return Ok(());
    }
    let id_text = id.to_string();
    let mut refs = vec![id_text.as_str()];
    refs.extend(request.uuid(uuid_field));
    if app.spool().holds_result_for(&refs) {
        tracing::info!("watchdog: overdue, but its result waits in the spool; left to the spool");
        return Ok(());
    }
    let journal = &initiator.journal;
    let reason = journal.explain(id, config.initiation.result_timeout, since);
    if initiator.store.finish(id, Finish::GaveUp(&reason)).await? == Finished::Written {
        journal.forget(id);
        initiator.metrics.initiation("gave_up");
        tracing::warn!(%reason, "watchdog: no result in time; the request is now initiation_failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn passes_come_at_a_tenth_of_the_timeout_within_bounds() {
        let secs = Duration::from_secs;
        assert_eq!(pass_interval(secs(3600)), secs(60));
        assert_eq!(pass_interval(secs(300)), secs(30));
        assert_eq!(pass_interval(secs(2)), secs(1));
    }

    #[test]
    fn each_fact_explains_itself() {
        let journal = Journal::default();
        journal.note(1, Fact::Accepted(202));
        let error = "N8N did not answer within 10s (n8n.timeout)";
        journal.note(2, Fact::Unknown(error.into()));
        journal.note(3, Fact::NotStarted("N8N answered HTTP 503".into()));
        let one = journal.explain(1, HOUR, Some("2026-12-01 10:00:00"));
        assert!(
            one.starts_with(
                "No result within 1h of becoming processing (since 2026-12-01 10:00:00 UTC)"
            ),
            "{one}"
        );
        assert!(one.contains("N8N accepted it at "), "{one}");
        assert!(one.contains("(HTTP 202)"), "{one}");
        let two = journal.explain(2, HOUR, None);
        assert!(
            two.contains("is unknown (N8N did not answer within 10s"),
            "{two}"
        );
        assert!(two.contains("may or may not have started it"), "{two}");
        let three = journal.explain(3, HOUR, None);
        assert!(
            three.contains("N8N did not start it (N8N answered HTTP 503"),
            "{three}"
        );
        let four = journal.explain(4, HOUR, None);
        assert!(four.contains("has no record of its send"), "{four}");
    }

    #[test]
    fn the_journal_forgets_and_prunes() {
        let journal = Journal::default();
        for id in 0..5 {
            journal.note(id, Fact::Claimed);
        }
        journal.forget(4);
        assert!(!journal.lock().contains_key(&4));
        assert_eq!(journal.lock().len(), 4);
        journal.prune(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        journal.prune(Duration::ZERO);
        assert!(journal.lock().is_empty());
    }
}
