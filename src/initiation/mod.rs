//! Initiation: each `queued` request in Odoo becomes one call of the N8N
//! webhook (`docs/protocol.md#initiation`). The [`trigger`] route, the
//! [`sweeper`] and the `initiate` [`command`] hand requests to the
//! [`Initiator`], which claims each (`queued → processing`) before the send,
//! so it is sent at most once; the [`watchdog`] gives up on requests left
//! `processing`.

pub mod command;
mod initiator;
mod store;
pub mod sweeper;
pub mod trigger;
pub mod watchdog;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use initiator::{Initiator, RETRY_BACKOFF};
pub use trigger::Refused;

use crate::app::App;
use crate::config::Config;
use crate::config::fingerprint::fingerprint;
use crate::locks::RequestLocks;
use crate::metrics::Metrics;
use crate::n8n::N8nError;
use crate::odoo::{OdooClient, OdooError};
use crate::parameters::SystemParameters;

/// The daemon's initiation: the initiator and the pending triggers.
#[derive(Debug)]
pub struct Initiation {
    pub initiator: Initiator,
    /// The requests whose trigger waits or runs.
    pending: Arc<Mutex<HashSet<i64>>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Initiation {
    /// `locks` is the pipeline's, so a result never races its initiation.
    pub fn new(
        odoo: OdooClient,
        locks: RequestLocks,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Self, N8nError> {
        Ok(Self {
            initiator: Initiator::new(odoo, locks, config, metrics)?,
            pending: Arc::default(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        })
    }

    /// The N8N settings in force, including the callback token.
    pub fn parameters(&self) -> &SystemParameters {
        &self.initiator.parameters
    }

    /// Takes a trigger for request `id` without waiting (see [`trigger`]);
    /// `Ok(true)` when it joined one already pending.
    pub fn trigger(&self, config: Arc<Config>, id: i64) -> Result<bool, Refused> {
        if self.stop.is_cancelled() {
            return Err(Refused::ShuttingDown);
        }
        let mut pending = trigger::lock(&self.pending);
        if pending.contains(&id) {
            return Ok(true);
        }
        if pending.len() >= trigger::MAX_PENDING {
            return Err(Refused::Full);
        }
        pending.insert(id);
        let entry = trigger::PendingEntry(Arc::clone(&self.pending), id);
        let (initiator, stop) = (self.initiator.clone(), self.stop.clone());
        let span = tracing::info_span!("trigger", ai_generation_request_id = id);
        let work = async move {
            let _entry = entry;
            trigger::work(&initiator, &config, id, &stop).await;
        };
        self.tasks.spawn(work.instrument(span));
        Ok(false)
    }
}

/// The sweeper and the watchdog until `shutdown`, then the running
/// initiations for `server.shutdown_grace` at most.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let (_, ways_in) = ways_in(&app.config());
    tracing::info!("{ways_in}");
    let work = async {
        tokio::join!(
            sweeper::run(Arc::clone(&app), shutdown.clone()),
            watchdog::run(Arc::clone(&app), shutdown.clone()),
            async {
                shutdown.cancelled().await;
                // New triggers are refused, waiting ones stop, running ones end.
                let initiation = app.initiation();
                initiation.stop.cancel();
                initiation.tasks.close();
                initiation.tasks.wait().await;
            },
        )
    };
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(app.config().server.shutdown_grace).await;
    };
    tokio::select! {
        _ = work => {}
        () = deadline => tracing::warn!(
            running = trigger::lock(&app.initiation().pending).len(),
            "initiations still running at the end of the shutdown grace period; stopped where they were \
             (a request already marked processing stays so until its result arrives or the watchdog gives up on it)"
        ),
    }
}

/// How requests reach N8N, in words, and whether lost triggers are swept.
pub fn ways_in(config: &Config) -> (bool, String) {
    let initiation = &config.initiation;
    let trigger = match &initiation.trigger_secret {
        Some(secret) => format!(
            "trigger route enabled (POST /influence_gen/trigger/<secret>, secret fingerprint {})",
            fingerprint(secret)
        ),
        None => "trigger route disabled (initiation.trigger_secret is not set)".to_owned(),
    };
    let off = "sweeper disabled (initiation.sweep_interval = \"0s\")";
    let sweeper = match initiation.sweep_interval {
        Some(interval) => format!(
            "sweeper enabled every {} for requests queued longer than {}",
            humantime::format_duration(interval),
            humantime::format_duration(initiation.sweep_grace)
        ),
        None if initiation.trigger_secret.is_some() => {
            format!("{off}: a request whose trigger is lost stays queued")
        }
        None => format!("{off}: queued requests are sent only by `influence-gen-bridge initiate`"),
    };
    (
        initiation.sweep_interval.is_some(),
        format!("{trigger}; {sweeper}"),
    )
}

/// `t` as Odoo stores datetimes: UTC, `YYYY-MM-DD HH:MM:SS`.
fn odoo_datetime(t: SystemTime) -> String {
    let rfc3339 = humantime::format_rfc3339_seconds(t).to_string();
    rfc3339.replacen('T', " ", 1).replace('Z', "")
}

/// What one initiation did; `Display` is the line `initiate` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// N8N took it; it is `processing`.
    Sent {
        id: i64,
        http_status: u16,
        attempts: u32,
    },
    /// N8N did not take it (or nothing could be sent): `initiation_failed`.
    Failed { id: i64, details: String },
    /// It may or may not have reached N8N: `processing`, not sent again.
    Unknown { id: i64, details: String },
    /// It was not `queued`; nothing was sent.
    Skipped { id: i64, status: String },
    /// No such request is readable by the bridge's Odoo user.
    NotFound { id: i64 },
    /// Shutdown stopped the retries (N8N surely started nothing): `queued`.
    Deferred { id: i64, reason: String },
}

impl Outcome {
    /// The metric label of this outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Failed { .. } => "failed",
            Self::Unknown { .. } => "unknown",
            Self::Skipped { .. } => "skipped",
            Self::NotFound { .. } => "not_found",
            Self::Deferred { .. } => "deferred",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sent {
                id,
                http_status,
                attempts,
            } => {
                let sent = format!("sent to N8N (HTTP {http_status}); status processing");
                match attempts {
                    1 => write!(f, "request {id}: {sent}"),
                    n => write!(f, "request {id}: {sent} (after {n} attempts)"),
                }
            }
            Self::Failed { id, details } => write!(
                f,
                "request {id}: initiation failed: {details}; status initiation_failed"
            ),
            Self::Unknown { id, details } => write!(
                f,
                "request {id}: sent to N8N, outcome unknown: {details}; N8N may or may not have \
                 started it, so it is not sent again; status processing"
            ),
            Self::Skipped { id, status } => write!(
                f,
                "request {id}: skipped: its status is {status}, not queued; nothing sent"
            ),
            Self::NotFound { id } => write!(
                f,
                "request {id}: not found (or not readable by the bridge's Odoo user); nothing sent"
            ),
            Self::Deferred { id, reason } => {
                write!(f, "request {id}: not sent: {reason}; status queued")
            }
        }
    }
}

/// Why an initiation stopped without a recorded outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitiationError {
    #[error("cannot read request {0} from Odoo: {1}")]
    Read(i64, #[source] OdooError),
    #[error(
        "cannot mark request {id} as processing in Odoo: {source}; nothing was sent and it stays queued"
    )]
    Claim { id: i64, source: OdooError },
    #[error("cannot claim the next queued request in Odoo: {0}; nothing was sent")]
    ClaimNext(OdooError),
    #[error("cannot search for queued requests in Odoo: {0}")]
    Search(OdooError),
    #[error("request {id}: {what}, but Odoo did not record it: {source}")]
    Record {
        id: i64,
        what: String,
        source: OdooError,
    },
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> String {
        super::odoo_datetime(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn datetimes_are_odoo_utc_text() {
        assert_eq!(at(0), "1970-01-01 00:00:00");
        // The create_date of transcript 11.
        assert_eq!(at(1_795_955_977), "2026-11-29 12:39:37");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(at(4_107_542_399), "2100-02-28 23:59:59");
        assert_eq!(at(1_709_251_199), "2024-02-29 23:59:59");
    }
}
