//! One accepted connection, from the socket to the last answer: the
//! optional TLS handshake, HTTP/1 under the `[limits]` bounds, the rate
//! limit in front of the routes, and the graceful-shutdown watch.
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

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;

use super::rate_limit::{self, RateLimits, RouteClass};
use super::response::Body;
use super::routes::Surface;
use super::{request_id, routes};
use crate::app::App;
use crate::config::Config;

/// What every connection of one server shares.
pub struct Connections {
    http: http1::Builder,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    rate_limits: Option<RateLimits>,
    trusted_proxies: Vec<std::net::IpAddr>,
    surface: Surface,
}

impl Connections {
    /// The settings `config` describes (read once, at start), serving `surface`.
    pub fn new(config: &Config, surface: Surface) -> Self {
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
            rate_limits: RateLimits::from_config(limits),
            trusted_proxies: limits.trusted_proxies.clone(),
            surface,
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
        let this = Arc::clone(&self);
        let service = service_fn(move |request| {
            let app = Arc::clone(&app);
            let this = Arc::clone(&this);
            async move { Ok::<_, Infallible>(this.handle(app, peer, request).await) }
        });
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }

    /// The rate limit, then the routes.
    async fn handle(
        &self,
        app: Arc<App>,
        peer: SocketAddr,
        request: Request<Incoming>,
    ) -> Response<Body> {
        if let (Some(limits), Some(class)) =
            (&self.rate_limits, RouteClass::of(request.uri().path()))
        {
            let client = rate_limit::client_ip(peer, request.headers(), &self.trusted_proxies);
            if let Err(retry_after) = limits.check(class, client) {
                let id = request_id::from_headers(request.headers());
                // One line per refusal at debug: a flood must not flood the log.
                tracing::debug!(
                    request_id = %id.to_str().unwrap_or_default(),
                    %client,
                    ?class,
                    retry_after_ms = retry_after.as_millis() as u64,
                    "rate limited"
                );
                let mut response = rate_limit::too_many_requests(retry_after);
                response.headers_mut().insert(request_id::HEADER, id);
                let route = if class == RouteClass::Callback {
                    "callback"
                } else {
                    "trigger"
                };
                app.metrics()
                    .callback_answered(route, "rate_limited", Duration::ZERO);
                return response;
            }
        }
        routes::handle(app, self.surface, request).await
    }
}
