//! Initiation: turning each `queued` request in Odoo into one call of the
//! N8N webhook (SDS §3.6, §4.1).
//!
//! Three ways in, one outcome:
//!
//! | way | module | when |
//! |---|---|---|
//! | `POST /influence_gen/trigger/<secret>` | [`trigger`] (HTTP in `server::trigger`) | Odoo's automation rule, on create |
//! | the sweeper | [`sweeper`] | every `initiation.sweep_interval`, for requests older than `sweep_grace` |
//! | `influence-gen-bridge initiate` | [`command`] | by hand |
//!
//! All three hand a request id to the [`Initiator`], which sends it only if
//! it is still `queued` and records `processing` or `initiation_failed`.
//! The [`watchdog`] gives up on requests left `processing` without a result
//! for `initiation.result_timeout`.
//! A request is sent at most once: claimed (`queued → processing`) before
//! the send, never re-sent when N8N may have started it. With the companion
//! addon each claim is one atomic Odoo call, so any number of bridges and
//! commands share a database; in the generic protocol the initiator works
//! under the request's lock (the same lock map the callback pipeline uses)
//! and reads the status again under it, and across processes the status in
//! Odoo is the only guard. See [`initiator`] for why the claim comes before
//! the send, and [`store`] for both protocols.

pub mod command;
mod companion;
mod initiator;
mod journal;
mod outcome;
mod store;
pub mod sweeper;
pub mod trigger;
pub mod watchdog;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub use initiator::Initiator;
pub use outcome::{InitiationError, Outcome};
pub use trigger::{Refused, Submitted};

use crate::app::App;
use crate::config::Config;
use crate::locks::RequestLocks;
use crate::metrics::Metrics;
use crate::n8n::N8nError;
use crate::odoo::OdooClient;
use crate::parameters::SystemParameters;
use crate::retry::Backoff;

/// Requests read per sweeper or watchdog query: a page Odoo answers quickly.
pub const SWEEP_BATCH: u32 = 50;
/// Triggers waiting or being sent at once; beyond, the route answers 503.
pub const MAX_PENDING_TRIGGERS: usize = 256;
/// Calls to N8N in flight at once: N8N starts a workflow per call.
pub const MAX_CONCURRENT_SENDS: usize = 4;
/// The pause between tries toward N8N, 1 s doubling up to 10 s: the few
/// `initiation.attempts` end within seconds.
pub const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));

/// Which way a request came in (a log field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Trigger,
    Sweeper,
    Command,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Sweeper => "sweeper",
            Self::Command => "command",
        }
    }
}

/// The daemon's initiation: the initiator and the pending triggers.
#[derive(Debug)]
pub struct Initiation {
    initiator: Initiator,
    triggers: trigger::Triggers,
}

impl Initiation {
    /// `locks` must be the pipeline's, so a result never races its
    /// initiation; outcomes are counted in `metrics`.
    pub fn new(
        odoo: OdooClient,
        locks: RequestLocks,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Self, N8nError> {
        Ok(Self {
            initiator: Initiator::new(odoo, locks, config)?.observed(metrics),
            triggers: trigger::Triggers::new(MAX_PENDING_TRIGGERS),
        })
    }

    /// Sends requests to N8N.
    pub fn initiator(&self) -> &Initiator {
        &self.initiator
    }

    /// The N8N settings in force, including the callback token.
    pub fn parameters(&self) -> &SystemParameters {
        self.initiator.parameters()
    }

    /// Takes a trigger for request `id` without waiting (see [`trigger`]).
    pub fn trigger(&self, config: Arc<Config>, id: i64) -> Result<Submitted, Refused> {
        self.triggers.submit(&self.initiator, config, id)
    }

    /// How many triggers wait or run now.
    pub fn pending_triggers(&self) -> usize {
        self.triggers.pending()
    }
}

/// The daemon's initiation task: says how it is set up, runs the sweeper
/// and the watchdog until `shutdown`, then stops the pending triggers and
/// waits for the running initiations, at most `server.shutdown_grace`.
///
/// An initiation cut off by that deadline leaves its request `queued` (not
/// claimed yet) or `processing` (claimed; the watchdog resolves it): never
/// back to `queued` once it may have reached N8N.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    announce(&app.config());
    let work = async {
        tokio::join!(
            sweeper::run(Arc::clone(&app), shutdown.clone()),
            watchdog::run(Arc::clone(&app), shutdown.clone()),
            async {
                shutdown.cancelled().await;
                app.initiation().triggers.shutdown().await;
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
            running = app.initiation().pending_triggers(),
            "initiations still running at the end of the shutdown grace period; stopped where they were \
             (a request already marked processing stays so until its result arrives or the watchdog gives up on it)"
        ),
    }
}

/// One log line each for the trigger route and the sweeper.
fn announce(config: &Config) {
    let initiation = &config.initiation;
    match &initiation.trigger_secret {
        Some(secret) => tracing::info!(
            secret_fingerprint = %fingerprint(secrecy::ExposeSecret::expose_secret(secret)),
            "trigger route enabled: POST /influence_gen/trigger/<initiation.trigger_secret>"
        ),
        None => tracing::info!(
            "trigger route disabled: initiation.trigger_secret is not set, so /influence_gen/trigger/… answers 404; \
             the sweeper sends queued requests"
        ),
    }
    match initiation.sweep_interval {
        Some(interval) => tracing::info!(
            interval = %humantime::format_duration(interval),
            grace = %humantime::format_duration(initiation.sweep_grace),
            batch = SWEEP_BATCH,
            "sweeper enabled"
        ),
        None => tracing::info!(
            "sweeper disabled (initiation.sweep_interval = \"0s\"): a request whose trigger is lost stays queued"
        ),
    }
}

/// The first 8 hex digits of a secret's SHA-256: enough to tell two secrets
/// apart in a log, nothing to guess them from.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}
