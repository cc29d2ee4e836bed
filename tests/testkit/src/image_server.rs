//! A loopback image host for `image_url` tests: fixed files, redirect
//! chains, endless bodies, hosts that never answer, and a request log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};

use crate::http_fake::{FakeBody, HttpFake, full};

/// What a path answers.
#[derive(Debug, Clone)]
pub enum Route {
    /// A complete answer.
    File {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    /// `302 Found` to `location` (absolute or a path on this server).
    Redirect { location: String },
    /// 200 with a chunked body that never ends (64 KiB chunks).
    Endless,
    /// Headers never come.
    Hang,
}

/// The image host.
pub struct ImageServer {
    http: HttpFake,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ImageServer {
    pub async fn start() -> Self {
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, q) = (Arc::clone(&routes), Arc::clone(&requests));
        let http = HttpFake::start(move |request| {
            let path = request.uri().path().to_owned();
            q.lock().unwrap().push(path.clone());
            let route = r.lock().unwrap().get(&path).cloned();
            Box::pin(async move { answer(route).await })
        })
        .await;
        Self {
            http,
            routes,
            requests,
        }
    }

    /// Serves `body` at `path` with 200 and `content_type`.
    pub fn file(&self, path: &str, content_type: &str, body: impl Into<Bytes>) -> String {
        self.route(
            path,
            Route::File {
                status: 200,
                content_type: content_type.into(),
                body: body.into(),
            },
        )
    }

    /// Sets what `path` answers; returns its URL.
    pub fn route(&self, path: &str, route: Route) -> String {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
        self.http.url(path)
    }

    /// A chain of `hops` redirects starting at `path` and ending at `target`.
    pub fn redirect_chain(&self, path: &str, hops: usize, target: &str) -> String {
        for hop in 0..hops {
            let from = if hop == 0 {
                path.to_owned()
            } else {
                format!("{path}/{hop}")
            };
            let to = if hop + 1 == hops {
                target.to_owned()
            } else {
                format!("{path}/{}", hop + 1)
            };
            self.route(&from, Route::Redirect { location: to });
        }
        self.http.url(path)
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        self.http.url(path)
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.http.connections()
    }
}

async fn answer(route: Option<Route>) -> Response<FakeBody> {
    let builder = Response::builder();
    match route {
        None => builder
            .status(StatusCode::NOT_FOUND)
            .body(full("not found")),
        Some(Route::File {
            status,
            content_type,
            body,
        }) => builder
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(full(body)),
        Some(Route::Redirect { location }) => builder
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .body(full("")),
        Some(Route::Endless) => {
            let chunk = Bytes::from(vec![0x89u8; 64 * 1024]);
            let stream = futures_stream(chunk);
            builder
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "image/png")
                .body(StreamBody::new(stream).boxed())
        }
        Some(Route::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            builder.status(StatusCode::GATEWAY_TIMEOUT).body(full(""))
        }
    }
    .expect("valid response")
}

/// An endless stream of `chunk` frames.
fn futures_stream(
    chunk: Bytes,
) -> impl futures_core::Stream<Item = Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>
+ Send
+ Sync
+ 'static {
    struct Endless(Bytes);
    impl futures_core::Stream for Endless {
        type Item = Result<hyper::body::Frame<Bytes>, std::convert::Infallible>;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(self.0.clone()))))
        }
    }
    Endless(chunk)
}
