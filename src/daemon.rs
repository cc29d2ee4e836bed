//! The running daemon: everything `serve` starts, and its orderly stop.
//!
//! [`run`] (called by the binary and the in-process tests on a bound
//! listener) serves at once; systemd's `READY=1` waits for Odoo's login
//! unless `server.start_degraded`. The stop is bounded by
//! `server.shutdown_grace` + [`STOP_MARGIN`], below the unit's
//! `TimeoutStopSec` (a test checks); what is cut off stays resumable.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{App, AppError};
use crate::config::Config;
use crate::{server, spool, systemd};

/// Pauses between login attempts, doubling.
const LOGIN_RETRY_INITIAL: Duration = Duration::from_millis(500);
const LOGIN_RETRY_MAX: Duration = Duration::from_secs(30);
/// How long the stop may take after `server.shutdown_grace`.
pub const STOP_MARGIN: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("cannot read the listener's address: {0}")]
    Listener(std::io::Error),
}

/// Serves on `listener` until `shutdown`, taking over each config from `reloads`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
    reloads: mpsc::Receiver<Config>,
) -> Result<(), DaemonError> {
    let address = listener.local_addr().map_err(DaemonError::Listener)?;
    crate::config::fingerprint::log_configured_secrets(&config);
    let tls = config.tls.is_some();
    let app = Arc::new(App::new(config)?);
    let tasks = TaskTracker::new();
    // The address line is also how tests and scripts learn an ephemeral port.
    tracing::info!(%address, tls, version = env!("CARGO_PKG_VERSION"), "influence-gen-bridge listening");
    tasks.spawn(apply_reloads(Arc::clone(&app), reloads, shutdown.clone()));
    tasks.spawn(systemd::feed_watchdog(shutdown.clone()));
    tasks.spawn(crate::initiation::run(Arc::clone(&app), shutdown.clone()));
    tasks.spawn(become_ready(Arc::clone(&app), shutdown.clone()));
    tasks.spawn(spool::worker::run(Arc::clone(&app), shutdown.clone()));
    let serve_then_drain = async {
        server::run(listener, Arc::clone(&app), shutdown.clone()).await;
        systemd::notify_stopping();
        tasks.close();
        tasks.wait().await;
    };
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(app.config().server.shutdown_grace + STOP_MARGIN).await;
    };
    tokio::select! {
        () = serve_then_drain => tracing::info!("influence-gen-bridge stopped"),
        () = deadline => tracing::warn!(
            remaining = tasks.len(),
            "influence-gen-bridge stopped at its deadline (server.shutdown_grace) with work still running; \
             the spool and the watchdog resume it"
        ),
    }
    Ok(())
}

async fn apply_reloads(
    app: Arc<App>,
    mut reloads: mpsc::Receiver<Config>,
    shutdown: CancellationToken,
) {
    while let Some(Some(config)) = shutdown.run_until_cancelled(reloads.recv()).await {
        let needs_restart = app.reload(config).await;
        if needs_restart.is_empty() {
            tracing::info!("configuration reloaded");
        } else {
            tracing::warn!(
                keys = %needs_restart.join(", "),
                "configuration reloaded; these keys keep their running value until a restart"
            );
        }
        systemd::notify_ready("serving; configuration reloaded");
    }
}

/// Logs in to Odoo (retrying with backoff) and reports readiness to systemd.
async fn become_ready(app: Arc<App>, shutdown: CancellationToken) {
    let degraded = app.config().server.start_degraded;
    if degraded {
        systemd::notify_ready("serving (ready without waiting for Odoo: server.start_degraded)");
    }
    let mut pause = LOGIN_RETRY_INITIAL;
    loop {
        match app.odoo().authenticate().await {
            Ok(uid) => {
                if let Err(error) = app.pipeline().has_attachment_field().await {
                    tracing::warn!(%error, "cannot read the image model's fields yet");
                }
                let odoo = app.odoo();
                let (login, database) = (odoo.login(), odoo.database());
                tracing::info!(uid, login, database, "logged in to Odoo");
                // Asked now so the log says at start which protocol runs.
                match odoo.protocol().await {
                    Ok(protocol) => tracing::info!(protocol = %protocol, "Odoo protocol"),
                    Err(error) => tracing::error!(%error, "the Odoo protocol is not usable"),
                }
                if degraded {
                    systemd::notify_status("serving; Odoo login ok");
                } else {
                    systemd::notify_ready("serving; Odoo login ok");
                }
                return;
            }
            Err(error) => {
                let retry_in_ms = pause.as_millis() as u64;
                // A refusal is logged once by the Odoo client's standing.
                if error.refusal().is_some() {
                    tracing::debug!(%error, retry_in_ms, "Odoo login failed; retrying");
                } else {
                    tracing::warn!(%error, retry_in_ms, "Odoo login failed; retrying");
                }
                systemd::notify_status(&format!("waiting for Odoo: {error}"));
            }
        }
        if shutdown
            .run_until_cancelled(tokio::time::sleep(pause))
            .await
            .is_none()
        {
            return;
        }
        pause = (pause * 2).min(LOGIN_RETRY_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TimeoutStopSec=` of the shipped unit.
    fn unit_stop_timeout() -> Duration {
        let unit = include_str!("../systemd/influence-gen-bridge.service");
        let value = unit
            .lines()
            .find_map(|line| line.strip_prefix("TimeoutStopSec="))
            .expect("the unit sets TimeoutStopSec");
        humantime::parse_duration(value.trim()).expect("a duration")
    }

    #[test]
    fn the_whole_stop_fits_in_the_units_stop_timeout() {
        let default_grace = crate::config::default_shutdown_grace();
        // Some slack for the runtime's own teardown.
        let whole_stop = default_grace + STOP_MARGIN + Duration::from_secs(5);
        assert!(
            whole_stop < unit_stop_timeout(),
            "{whole_stop:?} vs TimeoutStopSec {:?}",
            unit_stop_timeout()
        );
    }
}
