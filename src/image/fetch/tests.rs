//! Downloads from loopback servers that behave and misbehave, and the guard
//! holding for real requests: a counting server proves no connection was
//! made. Only loopback is ever connected to; the other blocked addresses are
//! refused before any socket is opened.

use std::time::{Duration, Instant};

use super::*;
use crate::config::HostPattern;
use crate::image::ImageFormat;
use crate::image::test_server::{Reply, TestServer, config};

const TINY_PNG: &[u8] = include_bytes!("../testdata/tiny.png");
const TINY_JPEG: &[u8] = include_bytes!("../testdata/tiny.jpeg");

fn fetcher(config: &ImageConfig) -> ImageFetcher {
    ImageFetcher::new(config).unwrap()
}

/// A fetcher that may reach loopback, with any port.
fn loopback_fetcher() -> ImageFetcher {
    fetcher(&config(true))
}

// --- downloads that succeed ---------------------------------------------------

#[tokio::test]
async fn downloads_and_verifies_an_image() {
    let server = TestServer::start(|_| Reply::Body(TINY_PNG.to_vec())).await;
    let image = loopback_fetcher()
        .fetch(&server.url("/a.png?token=secret"))
        .await
        .unwrap();
    assert_eq!(image.format, ImageFormat::Png);
    assert_eq!((image.width, image.height), (3, 2));
    assert_eq!(image.bytes, TINY_PNG);
    assert_eq!(
        image.sha256_hex,
        "6db64287ee5944d40f1d46ca1988364044ae10584fa239d0433086c79d7856e1"
    );
    let request = &server.requests()[0].to_ascii_lowercase();
    assert!(request.starts_with("get /a.png?token=secret "), "{request}");
    assert!(
        request.contains(&format!(
            "user-agent: influence-gen-bridge/{}\r\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{request}"
    );
    assert!(request.contains("accept: image/*\r\n"), "{request}");
    for header in ["cookie:", "authorization:", "referer:"] {
        assert!(!request.contains(header), "{request}");
    }
}

#[tokio::test]
async fn follows_redirects_up_to_the_limit() {
    let server = TestServer::start(|path| match path {
        "/start" => Reply::Redirect("/hop1".into()),
        "/hop1" => Reply::Redirect("/hop2".into()),
        "/hop2" => Reply::Redirect("/image.jpeg".into()),
        _ => Reply::Body(TINY_JPEG.to_vec()),
    })
    .await;
    let image = loopback_fetcher()
        .fetch(&server.url("/start"))
        .await
        .unwrap();
    assert_eq!(image.format, ImageFormat::Jpeg);
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        !requests[3].to_ascii_lowercase().contains("referer:"),
        "{}",
        requests[3]
    );
}

// --- size, time and content limits ------------------------------------------

#[tokio::test]
async fn a_large_content_length_fails_before_the_body_is_read() {
    // The server sends the head and then nothing: reading the body would
    // hang until the timeout.
    let server = TestServer::start(|_| Reply::DeclaredLength(10 * 1024 * 1024)).await;
    let mut small = config(true);
    small.max_bytes = 1024;
    small.download_timeout = Duration::from_secs(5);
    let started = Instant::now();
    let error = fetcher(&small).fetch(&server.url("/")).await.unwrap_err();
    assert!(
        matches!(
            error,
            ImageError::TooLarge {
                size: Some(10_485_760),
                limit: 1024
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_off_at_the_limit() {
    let server = TestServer::start(|_| Reply::Endless).await;
    let mut small = config(true);
    small.max_bytes = 256 * 1024;
    small.download_timeout = Duration::from_secs(10);
    let started = Instant::now();
    let error = fetcher(&small).fetch(&server.url("/")).await.unwrap_err();
    assert!(
        matches!(
            error,
            ImageError::TooLarge {
                size: None,
                limit: 262_144
            }
        ),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The server was still sending when the client gave up; it sent at most
    // what the socket buffers held beyond the limit, far from its own cap.
    assert!(server.body_bytes_sent() >= 256 * 1024);
    assert!(
        server.body_bytes_sent() < 64 * 1024 * 1024,
        "{}",
        server.body_bytes_sent()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_limit() {
    let server = TestServer::start(|_| Reply::Silent).await;
    let started = Instant::now();
    let error = loopback_fetcher()
        .fetch(&server.url("/slow.png"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, ImageError::Timeout { .. }), "{error:?}");
    assert!(error.is_transient());
    assert_eq!(
        error.to_string(),
        "downloading the image from 127.0.0.1 took longer than 1s"
    );
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn a_body_that_stops_coming_times_out_within_the_limit() {
    // The head announces 1000 bytes, none follow: the timeout covers the body.
    let server = TestServer::start(|_| Reply::DeclaredLength(1000)).await;
    let started = Instant::now();
    let error = loopback_fetcher()
        .fetch(&server.url("/stuck.png"))
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_body_that_is_not_an_image_is_refused() {
    let server = TestServer::start(|path| match path {
        "/html" => Reply::Body(b"<!DOCTYPE html><html><body>login</body></html>".to_vec()),
        _ => Reply::Body(Vec::new()),
    })
    .await;
    let fetcher = loopback_fetcher();
    let error = fetcher.fetch(&server.url("/html")).await.unwrap_err();
    assert!(matches!(error, ImageError::NotAnImage), "{error:?}");
    assert!(!error.is_transient() && !error.is_client_error());
    let error = fetcher.fetch(&server.url("/empty")).await.unwrap_err();
    assert!(matches!(error, ImageError::EmptyBody { .. }), "{error:?}");
    assert!(!error.is_transient() && !error.is_client_error());
}

#[tokio::test]
async fn http_statuses_are_sorted_into_permanent_and_transient() {
    let server = TestServer::start(|path| Reply::Status(path[1..].parse().unwrap())).await;
    let fetcher = loopback_fetcher();
    for (status, transient) in [(404, false), (403, false), (503, true), (429, true)] {
        let error = fetcher
            .fetch(&server.url(&format!("/{status}")))
            .await
            .unwrap_err();
        match &error {
            ImageError::HttpStatus { status: got, host } => {
                assert_eq!((*got, host.as_str()), (status, "127.0.0.1"));
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(error.is_transient(), transient, "{status}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = loopback_fetcher()
        .fetch(&format!("http://127.0.0.1:{port}/x.png"))
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::Connect { .. }), "{error:?}");
    assert!(error.is_transient());
}

// --- redirects ------------------------------------------------------------------

#[tokio::test]
async fn too_many_redirects_are_refused() {
    let server = TestServer::start(|path| {
        let n: u32 = path.trim_start_matches("/r").parse().unwrap_or(0);
        Reply::Redirect(format!("/r{}", n + 1))
    })
    .await;
    let error = loopback_fetcher()
        .fetch(&server.url("/r0"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImageError::TooManyRedirects { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    // The original request and MAX_REDIRECTS redirects; the next was not followed.
    assert_eq!(
        server.requests().len(),
        1 + crate::image::guard::MAX_REDIRECTS
    );
}

#[tokio::test]
async fn a_redirect_loop_is_refused() {
    let server = TestServer::start(|path| match path {
        "/a" => Reply::Redirect("/b".into()),
        _ => Reply::Redirect("/a".into()),
    })
    .await;
    let error = loopback_fetcher()
        .fetch(&server.url("/a"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImageError::RedirectLoop { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(server.requests().len(), 2);
}

// --- the guard, for real requests -------------------------------------------

/// Asserts a Blocked error naming `class`, and returns its message.
fn assert_blocked(result: Result<VerifiedImage, ImageError>, class: &str) -> String {
    match result {
        Err(error @ ImageError::Blocked { .. }) => {
            let message = error.to_string();
            assert!(message.contains("blocked"), "{message}");
            assert!(message.contains(class), "{message}");
            assert!(!error.is_transient() && !error.is_client_error());
            message
        }
        other => panic!("expected Blocked ({class}), got {other:?}"),
    }
}

#[tokio::test]
async fn loopback_in_every_spelling_is_blocked_without_a_connection() {
    let target = TestServer::counting().await;
    let port = target.port();
    let fetcher = fetcher(&config(false));
    for (url, class) in [
        (format!("http://127.0.0.1:{port}/x.png"), "loopback"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/x.png"),
            "loopback (IPv4-mapped",
        ),
        (format!("http://[::1]:{port}/x.png"), "::1 is loopback"),
        (
            format!("http://0.0.0.0:{port}/x.png"),
            "0.0.0.0 is unspecified",
        ),
        (format!("http://2130706433:{port}/x.png"), "loopback"),
        // A name, resolved by the guarded resolver and refused there.
        (
            format!("http://localhost:{port}/x.png"),
            "localhost resolves only to blocked addresses",
        ),
    ] {
        assert_blocked(fetcher.fetch(&url).await, class);
    }
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn every_private_class_is_blocked_before_any_connection() {
    // Refused by the URL check itself: no socket is opened to these.
    let fetcher = fetcher(&config(false));
    for (url, class) in [
        (
            "http://[::ffff:127.0.0.1]/x.png",
            "loopback (IPv4-mapped 127.0.0.1)",
        ),
        (
            "http://169.254.169.254/",
            "169.254.169.254 is link-local (cloud metadata)",
        ),
        ("http://10.0.0.1/", "10.0.0.1 is private (RFC 1918)"),
        ("http://[fc00::1]/", "fc00::1 is unique-local"),
        (
            "http://100.64.0.1/",
            "100.64.0.1 is shared address space (CGNAT)",
        ),
        ("http://0.0.0.0/", "0.0.0.0 is unspecified"),
        ("http://[::1]/", "::1 is loopback"),
    ] {
        assert_blocked(fetcher.fetch(url).await, class);
    }
}

#[tokio::test]
async fn a_disallowed_port_is_blocked_before_any_dns_lookup() {
    let mut default_ports = config(false);
    default_ports.allowed_ports = vec![80, 443];
    let message = assert_blocked(
        fetcher(&default_ports)
            .fetch("http://example.com:8080/x.png?sig=secret")
            .await,
        "port 8080",
    );
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn a_host_outside_the_allowlist_is_blocked() {
    let target = TestServer::counting().await;
    let mut allowlisted = config(true);
    allowlisted.allowed_hosts = vec![HostPattern::parse("*.example.com").unwrap()];
    assert_blocked(
        fetcher(&allowlisted).fetch(&target.url("/x.png")).await,
        "the host 127.0.0.1 is not in images.allowed_hosts",
    );
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn a_redirect_to_a_host_outside_the_allowlist_is_blocked_without_a_connection() {
    let target = TestServer::counting().await;
    let location = target.url("/internal.png");
    let first = TestServer::start(move |_| Reply::Redirect(location.clone())).await;
    // The first hop (`localhost`) is allowed, the redirect target is not.
    let mut allowlisted = config(true);
    allowlisted.allowed_hosts = vec![HostPattern::parse("localhost").unwrap()];
    let result = fetcher(&allowlisted)
        .fetch(&format!("http://localhost:{}/start.png", first.port()))
        .await;
    assert_blocked(result, "the host 127.0.0.1 is not in images.allowed_hosts");
    assert_eq!(first.requests().len(), 1);
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn a_redirect_to_a_disallowed_port_is_blocked_without_a_connection() {
    let target = TestServer::counting().await;
    let location = target.url("/internal.png");
    let first = TestServer::start(move |_| Reply::Redirect(location.clone())).await;
    let mut one_port = config(true);
    one_port.allowed_ports = vec![first.port()];
    let result = fetcher(&one_port).fetch(&first.url("/start.png")).await;
    assert_blocked(result, &format!("port {} is not in", target.port()));
    assert_eq!(first.requests().len(), 1);
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn guard_refusals_inside_client_errors_are_recovered() {
    // The resolver's refusal reaches the fetcher through reqwest and
    // hyper-util as a boxed source; it must come out as itself, not as a
    // generic connection error (which would be retried).
    let target = TestServer::counting().await;
    let error = fetcher(&config(false))
        .fetch(&format!("http://localhost:{}/", target.port()))
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::Blocked { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(target.connections(), 0);
}

#[test]
fn a_download_can_run_on_any_worker_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let fetcher = loopback_fetcher();
    let download = fetcher.fetch("http://127.0.0.1/x.png");
    assert_send(&download);
}
