//! The HTTP server: accepts connections on an already-bound listener, serves
//! them with hyper, and drains them on shutdown.
//!
//! [`run`] takes the listener from its caller (as mini-redis does) so tests
//! bind `127.0.0.1:0` and learn the port before the server starts. Shutdown
//! follows hyper-util's graceful example: stop accepting, let each connection
//! finish its in-flight request within the grace period, then return.
//!
//! At most `limits.max_connections` connections are served at once: the
//! loop stops accepting while all permits are taken, so further clients
//! wait in the kernel's listen backlog rather than being refused (a burst of
//! N8N callbacks is delayed, not lost). Each connection is bounded in time
//! and size by [`connection`].

mod body;
mod callback;
mod connection;
mod request_id;
mod response;
mod routes;
mod trigger;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use connection::Connections;

/// Serves `listener` until `shutdown` is cancelled, then drains open
/// connections for at most `server.shutdown_grace`.
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: CancellationToken) {
    let graceful = GracefulShutdown::new();
    let config = app.config();
    let grace = config.server.shutdown_grace;
    let connections = Arc::new(Connections::new(&config));
    let permits = Arc::new(Semaphore::new(config.limits.max_connections));
    drop(config);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        connections.spawn(stream, peer, permit, graceful.watcher(), Arc::clone(&app));
    }
    drop(listener);
    tracing::info!(grace = %humantime::format_duration(grace), "stopped accepting; draining connections");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}
