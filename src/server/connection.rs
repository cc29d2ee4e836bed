//! One accepted connection, from the socket to the last answer: the
//! optional TLS handshake, HTTP/1 under the `[limits]` bounds, and the
//! graceful-shutdown watch.
//!
//! What bounds a connection's cost: the accept loop hands every connection
//! a permit of `limits.max_connections` and the task holds it to the end;
//! `limits.header_read_timeout` bounds the TLS handshake, the time to send
//! headers (slowloris) and the idle time between kept-alive requests;
//! `limits.max_header_bytes` bounds the headers (431 beyond); the body is
//! bounded by the callback route itself (`server.max_body_bytes`,
//! `server.body_read_timeout`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;

use super::routes;
use crate::app::App;
use crate::config::Config;

/// What every connection of one server shares.
pub struct Connections {
    http: http1::Builder,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
}

impl Connections {
    /// The settings `config` describes (read once, at start).
    pub fn new(config: &Config) -> Self {
        let limits = &config.limits;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            // The precise knob: hyper answers 431 past it. Its read buffer
            // (`max_buf_size`, ~400 KiB by default) stays larger, so the body
            // is still read in large chunks.
            .max_header_size(limits.max_header_bytes);
        Self {
            http,
            tls: config
                .tls
                .as_ref()
                .map(|tls| TlsAcceptor::from(Arc::clone(&tls.server_config))),
            handshake_timeout: limits.header_read_timeout,
        }
    }

    /// Serves `stream` on its own task, holding `permit` until it closes.
    pub fn spawn(
        self: &Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
        watcher: Watcher,
        app: Arc<App>,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _permit = permit;
            match &this.tls {
                None => this.serve(stream, peer, watcher, app).await,
                Some(acceptor) => {
                    match tokio::time::timeout(this.handshake_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => this.serve(tls, peer, watcher, app).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }

    async fn serve<S>(self: Arc<Self>, stream: S, peer: SocketAddr, watcher: Watcher, app: Arc<App>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = service_fn(move |request| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(routes::handle(app, request).await) }
        });
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}
