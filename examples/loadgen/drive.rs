//! Driving the callback route: N connections kept alive (as N8N's HTTP
//! client keeps them), each sending one callback after another, until a
//! deadline or a total count; latency per answer, answers by status, and
//! transport errors.
//!
//! Bodies are handed to hyper as a list of chunks, so a ten-megabyte base64
//! image is shared by every request instead of copied into each.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::daemon::CALLBACK_TOKEN;

/// The callback route.
pub const CALLBACK_PATH: &str = "/influence_gen/ai/callback/image_result";
/// Pause before connecting again after a failed connect.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// When a run ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this long (callbacks in flight then still finish).
    After(Duration),
    /// After this many callbacks in all.
    Count(usize),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::After(duration) => write!(f, "{} s", duration.as_secs_f64()),
            Self::Count(count) => write!(f, "{count} callbacks"),
        }
    }
}

/// The body of callback number `n` (counted across connections) sent on
/// `connection`, as chunks; `None` when there is nothing left to send.
pub type Bodies = Arc<dyn Fn(usize, usize) -> Option<Vec<Bytes>> + Send + Sync>;

/// What one run is.
#[derive(Clone)]
pub struct Load {
    pub address: SocketAddr,
    pub connections: usize,
    pub stop: Stop,
    pub bodies: Bodies,
}

/// What one run saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Send-to-answer time of every answered callback, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Callbacks that got no answer, by error.
    pub transport_errors: BTreeMap<String, u64>,
    /// The run stopped early because the bodies ran out.
    pub ran_out: bool,
    /// Wall time from the first send to the last answer.
    pub wall: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        for (error, n) in other.transport_errors {
            *self.transport_errors.entry(error).or_default() += n;
        }
        self.ran_out |= other.ran_out;
    }

    /// Answers with a 2xx status.
    pub fn successes(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .map(|(_, n)| n)
            .sum()
    }

    /// Non-2xx answers and callbacks without an answer.
    pub fn errors(&self) -> u64 {
        let answered: u64 = self.statuses.values().sum();
        answered - self.successes() + self.transport_errors.values().sum::<u64>()
    }
}

/// Runs `load` to its end.
pub async fn run(load: Load) -> Tally {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = match load.stop {
        Stop::After(duration) => Some(started + duration),
        Stop::Count(_) => None,
    };
    let workers: Vec<_> = (0..load.connections)
        .map(|index| tokio::spawn(connection(load.clone(), index, Arc::clone(&next), deadline)))
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        match worker.await {
            Ok(part) => tally.merge(part),
            Err(error) => {
                *tally
                    .transport_errors
                    .entry(format!("harness task failed: {error}"))
                    .or_default() += 1
            }
        }
    }
    tally.wall = started.elapsed();
    tally
}

type Sender = SendRequest<Chunks>;

/// One connection's loop.
async fn connection(
    load: Load,
    index: usize,
    next: Arc<AtomicUsize>,
    deadline: Option<Instant>,
) -> Tally {
    let mut tally = Tally::default();
    let mut sender: Option<Sender> = None;
    loop {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        let n = next.fetch_add(1, Ordering::Relaxed);
        if matches!(load.stop, Stop::Count(count) if n >= count) {
            break;
        }
        let Some(chunks) = (load.bodies)(index, n) else {
            tally.ran_out = true;
            break;
        };
        // A connection the server closed (after an error answer, or idle)
        // is replaced before sending: that is not a failed callback.
        if sender.as_ref().is_some_and(|s| s.is_closed()) {
            sender = None;
        }
        if sender.is_none() {
            match connect(load.address).await {
                Ok(new) => sender = Some(new),
                Err(error) => {
                    *tally.transport_errors.entry(error).or_default() += 1;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            }
        }
        let Some(open) = sender.as_mut() else {
            continue;
        };
        let started = Instant::now();
        match send(open, load.address, chunks).await {
            Ok(status) => {
                tally
                    .latencies_us
                    .push(started.elapsed().as_micros() as u64);
                *tally.statuses.entry(status).or_default() += 1;
            }
            Err(error) => {
                *tally.transport_errors.entry(error).or_default() += 1;
                sender = None;
            }
        }
    }
    tally
}

async fn connect(address: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one callback and reads the whole answer; its status.
async fn send(sender: &mut Sender, address: SocketAddr, chunks: Vec<Bytes>) -> Result<u16, String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection lost: {e}"))?;
    let body = Chunks::new(chunks);
    let request = Request::post(CALLBACK_PATH)
        .header(header::HOST, address.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.remaining)
        .header("x-n8n-webhook-token", CALLBACK_TOKEN)
        .body(body)
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("answer cut: {e}"))?;
    Ok(status)
}

/// A request body made of shared chunks, with its exact length.
pub struct Chunks {
    parts: VecDeque<Bytes>,
    remaining: u64,
}

impl Chunks {
    fn new(parts: Vec<Bytes>) -> Self {
        let remaining = parts.iter().map(|part| part.len() as u64).sum();
        Self {
            parts: parts.into(),
            remaining,
        }
    }
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.parts.pop_front().map(|part| {
            this.remaining -= part.len() as u64;
            Ok(Frame::data(part))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
