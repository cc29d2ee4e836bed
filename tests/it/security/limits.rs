//! Limits and timeouts, with the server's own values (header timeout 10 s,
//! body timeout 30 s, 16 KiB of headers):
//! a client trickling its headers (slowloris) and one whose body never
//! ends are cut off while others are served; oversized headers get 431;
//! connections over `limits.max_connections` wait.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{CALLBACK, Setup, start};
use crate::support::config::CALLBACK_TOKEN;

/// The server's header timeout (a constant of the server).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The server's body timeout (a constant of the server).
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes `bytes` one at a time, `pause` apart, until the peer closes.
async fn trickle(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, pause: Duration) {
    for byte in bytes {
        if writer.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Reads until the server closes the connection (at most `limit`), and
/// returns what it sent and when it closed.
async fn read_until_closed(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    limit: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, reader.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

/// While a slow client holds its connection, healthz keeps answering well
/// before that client's timeout.
async fn others_are_served_meanwhile(setup: &Setup) {
    for _ in 0..5 {
        let started = Instant::now();
        assert!(setup.healthy().await);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "healthz took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(address: SocketAddr) -> TcpStream {
    TcpStream::connect(address).await.expect("connect")
}

#[tokio::test]
async fn headers_sent_byte_by_byte_are_cut_off_by_the_header_timeout() {
    let setup = start(|config| config).await;
    let (reader, writer) = connect(setup.bridge.address).await.into_split();
    let request = format!(
        "POST {CALLBACK} HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n\
         X-N8N-Webhook-Token: {CALLBACK_TOKEN}\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(300)
    );
    let slow = tokio::spawn(trickle(
        writer,
        request.into_bytes(),
        Duration::from_millis(50),
    ));
    others_are_served_meanwhile(&setup).await;
    let (received, closed_after) = read_until_closed(reader, HEADER_TIMEOUT * 3).await;
    // Closed by the header timeout: not before it, and not much after.
    assert!(
        closed_after >= HEADER_TIMEOUT - Duration::from_millis(700)
            && closed_after < HEADER_TIMEOUT * 2,
        "closed after {closed_after:?}"
    );
    assert!(
        !received.starts_with("HTTP/1.1 2"),
        "the slow request was served: {received}"
    );
    slow.abort();
    assert!(setup.healthy().await);
    setup.assert_no_leak();
}

#[tokio::test]
async fn a_body_that_never_ends_is_answered_408() {
    let setup = start(|config| config).await;
    for framing in ["Content-Length: 1000000", "Transfer-Encoding: chunked"] {
        let (reader, mut writer) = connect(setup.bridge.address).await.into_split();
        let head = format!(
            "POST {CALLBACK} HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n\
             X-N8N-Webhook-Token: {CALLBACK_TOKEN}\r\n{framing}\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let body: Vec<u8> = if framing.starts_with("Transfer") {
            // Endless one-byte chunks.
            b"1\r\n{\r\n"
                .iter()
                .copied()
                .cycle()
                .take(100_000)
                .collect()
        } else {
            b"{\"ai_generation_request_id\":\""
                .iter()
                .copied()
                .chain(std::iter::repeat(b'1'))
                .take(100_000)
                .collect()
        };
        let slow = tokio::spawn(trickle(writer, body, Duration::from_millis(20)));
        others_are_served_meanwhile(&setup).await;
        let (received, closed_after) = read_until_closed(reader, BODY_TIMEOUT * 2).await;
        assert!(
            received.starts_with("HTTP/1.1 408"),
            "{framing}: {received}"
        );
        let body: serde_json::Value =
            serde_json::from_str(received.split("\r\n\r\n").nth(1).unwrap_or_default())
                .unwrap_or_else(|_| panic!("not JSON: {received}"));
        assert_eq!(
            body,
            serde_json::json!({"status": "error", "message": "the body did not arrive in time"})
        );
        assert!(closed_after < BODY_TIMEOUT * 2, "{closed_after:?}");
        slow.abort();
    }
    assert!(setup.healthy().await);
    setup.assert_no_leak();
}

#[tokio::test]
async fn oversized_headers_are_431() {
    // The server takes 16 KiB of headers.
    let setup = start(|config| config).await;
    let response = setup
        .http
        .post(setup.bridge.url(CALLBACK))
        .header("content-type", "application/json")
        .header("x-padding", "a".repeat(20_000))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let fine = setup
        .http
        .post(setup.bridge.url(CALLBACK))
        .header("content-type", "application/json")
        .header("x-padding", "a".repeat(1024))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_ne!(fine.status(), 431);
    setup.assert_no_leak();
}

#[tokio::test]
async fn connections_over_the_limit_wait_for_a_free_slot() {
    let setup = start(|config| config.with("limits", "max_connections = 2")).await;
    // Two clients that connect and say nothing hold both slots until the
    // header timeout closes them.
    let idle = [
        connect(setup.bridge.address).await,
        connect(setup.bridge.address).await,
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let waiting = setup
        .http
        .get(setup.bridge.url("/healthz"))
        .timeout(HEADER_TIMEOUT * 3)
        .send()
        .await;
    assert!(
        waiting.is_ok_and(|response| response.status() == 200),
        "the waiting client was not served"
    );
    let waited = started.elapsed();
    assert!(
        waited >= HEADER_TIMEOUT / 2,
        "served at once ({waited:?}): the limit did not hold"
    );
    assert!(waited < HEADER_TIMEOUT * 3, "{waited:?}");
    drop(idle);
    setup.assert_no_leak();
}
