//! The running daemon: everything `serve` starts, and its orderly stop.
//!
//! [`run`] is what the binary and the in-process tests both call, so tests
//! exercise the production path. It takes an already-bound listener and a
//! cancellation token; cancelling the token stops accepting and drains.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Config;
use crate::odoo::OdooError;
use crate::server;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    #[error("cannot set up the Odoo client: {0}")]
    Odoo(#[from] OdooError),
    #[error("cannot read the listener's address: {0}")]
    Listener(std::io::Error),
}

/// Serves on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let address = listener.local_addr().map_err(DaemonError::Listener)?;
    let app = Arc::new(App::new(config)?);
    // The address line is also how tests and scripts learn an ephemeral port.
    tracing::info!(%address, version = env!("CARGO_PKG_VERSION"), "influence-gen-bridge listening");
    server::run(listener, app, shutdown).await;
    tracing::info!("influence-gen-bridge stopped");
    Ok(())
}
