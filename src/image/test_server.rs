//! Test support: an `[images]` config and a loopback HTTP/1.1 server.
//!
//! The server is written on raw tokio sockets so that it can misbehave on
//! purpose: announce a body it never sends, stream forever, never answer. It
//! counts the connections it accepts, so a test can prove that the guard let
//! nothing through, and records each request's head. Everything it runs is
//! aborted when it is dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::config::ImageConfig;

/// `[images]` for tests: small limits, a 1 s timeout, any port (test
/// servers listen on random ones).
pub(crate) fn config(allow_private_networks: bool) -> ImageConfig {
    ImageConfig {
        max_bytes: 1024 * 1024,
        max_pixels: 1_000_000,
        download_timeout: Duration::from_secs(1),
        allowed_hosts: Vec::new(),
        allow_private_networks,
        allowed_ports: Vec::new(),
    }
}

/// What the server answers to one request.
pub(crate) enum Reply {
    /// 200 with this body and `Content-Length`.
    Body(Vec<u8>),
    /// This status with a short text body.
    Status(u16),
    /// 302 to this location.
    Redirect(String),
    /// 200 announcing this `Content-Length`, then no body at all.
    DeclaredLength(u64),
    /// 200, chunked, a PNG signature and then zeros until the client leaves.
    Endless,
    /// Reads the request and never answers.
    Silent,
}

/// A loopback server on 127.0.0.1 and a random port.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    body_bytes_sent: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// How long a misbehaving reply may go on: test traffic stops by itself.
const MAX_STREAM_DURATION: Duration = Duration::from_secs(10);
const MAX_STREAM_BYTES: u64 = 256 * 1024 * 1024;
const STREAM_CHUNK_BYTES: usize = 16 * 1024;

impl TestServer {
    /// Starts serving; `route` maps a request path to its reply.
    pub async fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let body_bytes_sent = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let route = Arc::new(route);
        let task = tokio::spawn({
            let (connections, body_bytes_sent, requests) = (
                connections.clone(),
                body_bytes_sent.clone(),
                requests.clone(),
            );
            async move {
                // Dropping the set (when this task is aborted) aborts every connection.
                let mut handlers = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    let (route, sent, requests) =
                        (route.clone(), body_bytes_sent.clone(), requests.clone());
                    handlers.spawn(async move {
                        let _ = serve(stream, &*route, &sent, &requests).await;
                    });
                }
            }
        });
        Self {
            addr,
            connections,
            body_bytes_sent,
            requests,
            task,
        }
    }

    /// A server that counts connections and answers none: the target a
    /// blocked URL must never reach.
    pub async fn counting() -> Self {
        Self::start(|_| Reply::Status(418)).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn body_bytes_sent(&self) -> u64 {
        self.body_bytes_sent.load(Ordering::SeqCst)
    }

    /// The head (request line and headers) of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    route: &(dyn Fn(&str) -> Reply + Send + Sync),
    sent: &AtomicU64,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    requests.lock().unwrap().push(head);
    match route(&path) {
        Reply::Body(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            sent.fetch_add(body.len() as u64, Ordering::SeqCst);
        }
        Reply::Status(status) => {
            let head = format!(
                "HTTP/1.1 {status} Status\r\nContent-Length: 6\r\nConnection: close\r\n\r\nstatus"
            );
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::Redirect(location) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::DeclaredLength(length) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {length}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            stream.flush().await?;
            std::future::pending::<()>().await;
        }
        Reply::Endless => stream_forever(&mut stream, sent).await?,
        Reply::Silent => std::future::pending::<()>().await,
    }
    stream.shutdown().await
}

async fn stream_forever(stream: &mut TcpStream, sent: &AtomicU64) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await?;
    let mut chunk = vec![0u8; STREAM_CHUNK_BYTES];
    chunk[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    let deadline = tokio::time::Instant::now() + MAX_STREAM_DURATION;
    while tokio::time::Instant::now() < deadline && sent.load(Ordering::SeqCst) < MAX_STREAM_BYTES {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await?;
        stream.write_all(&chunk).await?;
        stream.write_all(b"\r\n").await?;
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        chunk[..8].fill(0);
    }
    Ok(())
}

/// Reads up to the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}
