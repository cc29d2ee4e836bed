//! A tiny loopback HTTP/1.1 server for fakes: one async handler closure,
//! connections counted, stopped on drop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The body type handlers answer with.
pub type FakeBody = BoxBody<Bytes, Infallible>;
/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response<FakeBody>> + Send>>;

/// A running fake server.
pub struct HttpFake {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl HttpFake {
    /// Serves `handler` on `127.0.0.1:0`.
    pub async fn start<H>(handler: H) -> Self
    where
        H: Fn(Request<Incoming>) -> HandlerFuture + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(handler);
        let counter = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let future = handler(request);
                        async move {
                            let response = future.await;
                            if response.extensions().get::<Disconnect>().is_some() {
                                return Err(Disconnect);
                            }
                            Ok(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            connections,
            task,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for HttpFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Marks a response that is never sent: the connection is closed instead,
/// after the request was read (see [`disconnect`]).
#[derive(Debug, Clone, Copy)]
pub struct Disconnect;

impl std::fmt::Display for Disconnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the fake closed the connection without answering")
    }
}

impl std::error::Error for Disconnect {}

/// A "response" that makes the server close the connection without
/// answering, as a crashing or restarting peer would.
pub fn disconnect() -> Response<FakeBody> {
    let mut response = Response::new(full(Bytes::new()));
    response.extensions_mut().insert(Disconnect);
    response
}

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> FakeBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}
