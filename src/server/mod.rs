//! The HTTP server: accepts connections on an already-bound listener, serves
//! them with hyper, and drains them on shutdown.
//!
//! [`run`] takes the listener from its caller (as mini-redis does) so tests
//! bind `127.0.0.1:0` and learn the port before the server starts. Shutdown
//! follows hyper-util's graceful example: stop accepting, let each connection
//! finish its in-flight request within the grace period, then return.

mod callback;
mod request_id;
mod response;
mod routes;
mod trigger;

pub use routes::Surface;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until `shutdown` is cancelled, then drains open
/// connections for at most `server.shutdown_grace`.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    surface: Surface,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let grace = app.config().server.shutdown_grace;
    loop {
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
        let app = Arc::clone(&app);
        let service = service_fn(move |request| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(routes::handle(app, surface, request).await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
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
