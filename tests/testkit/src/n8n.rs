//! A loopback stand-in for N8N's webhook: it records what it receives,
//! checks the Header Auth key the way N8N does (403 "Authorization data is
//! wrong!"), and answers as configured (by default 202
//! `{"message":"Workflow was started"}`, N8N's "respond immediately" mode).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use http_body_util::BodyExt;
use tokio::sync::Notify;

use crate::http_fake::{FakeBody, HttpFake, disconnect, full};

/// One request N8N received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// What the fake answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status and a body.
    Status(u16, String),
    /// Answer after a delay.
    Delayed(Duration, Box<Reply>),
    /// Never answer (the caller's timeout ends the exchange).
    Hang,
    /// Read the whole request, then close the connection without answering
    /// (N8N may have started the workflow: the caller cannot know).
    Disconnect,
}

impl Reply {
    /// N8N's answer in "respond immediately" mode.
    pub fn started() -> Self {
        Self::Status(202, r#"{"message":"Workflow was started"}"#.into())
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    scripted: VecDeque<Reply>,
    default: Option<Reply>,
    api_key: Option<(String, String)>,
}

/// The fake N8N.
pub struct N8nFake {
    http: HttpFake,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
}

impl N8nFake {
    pub async fn start() -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let (s, a) = (Arc::clone(&state), Arc::clone(&arrived));
        let http = HttpFake::start(move |request| {
            let (s, a) = (Arc::clone(&s), Arc::clone(&a));
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                let received = Received {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body,
                };
                let reply = {
                    let mut state = s.lock().unwrap();
                    let authorized = match &state.api_key {
                        Some((name, key)) => received
                            .headers
                            .get(name.as_str())
                            .is_some_and(|v| v.as_bytes() == key.as_bytes()),
                        None => true,
                    };
                    state.received.push(received);
                    if authorized {
                        state
                            .scripted
                            .pop_front()
                            .or_else(|| state.default.clone())
                            .unwrap_or_else(Reply::started)
                    } else {
                        Reply::Status(403, "Authorization data is wrong!".into())
                    }
                };
                a.notify_waiters();
                answer(reply).await
            })
        })
        .await;
        Self {
            http,
            state,
            arrived,
        }
    }

    /// The webhook URL for `path` (e.g. `/webhook/influence-gen`).
    pub fn url(&self, path: &str) -> String {
        self.http.url(path)
    }

    /// Requires header `name` to carry `key`, as N8N's Header Auth does.
    pub fn require_api_key(&self, name: &str, key: &str) {
        self.state.lock().unwrap().api_key = Some((name.to_ascii_lowercase(), key.to_owned()));
    }

    /// Answers the next requests with `replies`, in order, then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().scripted.extend(replies);
    }

    /// The answer once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        self.state.lock().unwrap().default = Some(reply);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived; false on timeout.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if self.received().len() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received().len() >= n;
            }
        }
    }
}

async fn answer(reply: Reply) -> Response<FakeBody> {
    let mut reply = reply;
    loop {
        match reply {
            Reply::Delayed(delay, inner) => {
                tokio::time::sleep(delay).await;
                reply = *inner;
            }
            Reply::Disconnect => return disconnect(),
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                reply = Reply::Status(504, String::new());
            }
            Reply::Status(status, body) => {
                return Response::builder()
                    .status(
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    )
                    .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(full(body))
                    .expect("valid response");
            }
        }
    }
}
