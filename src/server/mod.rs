//! The HTTP server: serves an already-bound listener with hyper, and drains it
//! on shutdown as hyper-util's graceful example does.
//!
//! At most `server.max_connections` are served at once (a burst waits in the
//! listen backlog); [`HEADER_READ_TIMEOUT`] bounds the TLS handshake, the
//! headers and keep-alive idling, [`MAX_HEADER_BYTES`] the headers (431).

mod body;
mod callback;
mod response;
mod routes;
mod trigger;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// N8N and Odoo send their headers at once; a slowloris client is cut off.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// N8N and Odoo send a few hundred bytes of headers; nginx's buffers hold 8 KiB a line.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Serves until `shutdown`, then drains for at most `server.shutdown_grace`.
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: CancellationToken) {
    let graceful = GracefulShutdown::new();
    let config = app.config();
    let grace = config.server.shutdown_grace;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_HEADER_BYTES);
    let tls = (config.tls.as_ref()).map(|tls| TlsAcceptor::from(Arc::clone(&tls.server_config)));
    let permits = Arc::new(Semaphore::new(config.server.max_connections));
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
        let (http, tls, watcher, app) = (
            http.clone(),
            tls.clone(),
            graceful.watcher(),
            Arc::clone(&app),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = tls else {
                return serve(&http, stream, peer, watcher, app).await;
            };
            match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => serve(&http, tls, peer, watcher, app).await,
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
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

async fn serve<S>(
    http: &http1::Builder,
    stream: S,
    peer: SocketAddr,
    watcher: Watcher,
    app: Arc<App>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(routes::handle(app, request).await) }
    });
    let connection = http.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}
