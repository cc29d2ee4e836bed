//! The download guard through the callback route: with the default
//! `images.allow_private_networks = false`, a callback whose `image_url`
//! leads anywhere non-public is answered 422, its request is marked
//! `failed` with a reason saying "blocked", and no connection reaches the
//! loopback image host that would have served it.

use influence_gen_testkit::{ImageServer, Route, images};

use super::{Setup, start, token_header, url_body};

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

/// Posts a callback for `url` and checks the refusal and the request.
async fn assert_blocked(setup: &Setup, url: &str, class: &str) {
    let request = setup.request();
    let answer = setup.post(&url_body(request, url), &[token_header()]).await;
    assert_eq!(answer.status, 422, "{url}: {}", answer.body);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("blocked"), "{url}: {message}");
    let record = setup.record(request);
    assert_eq!(record["status"], "failed", "{url}: {record}");
    let details = record["error_details"].as_str().unwrap();
    assert!(details.contains("blocked"), "{url}: {details}");
    assert!(
        details.contains(class),
        "{url}: {details:?} should name {class:?}"
    );
}

#[tokio::test]
async fn every_blocked_class_is_refused_before_any_connection() {
    let host = ImageServer::start().await;
    let served = host.file("/x.png", "image/png", images::png(4, 4));
    let port = port_of(&served);
    // A second host on a port that is not allowed.
    let elsewhere = ImageServer::start().await;
    let other_port = port_of(&elsewhere.file("/x.png", "image/png", images::png(4, 4)));
    // The defaults, except that the image host's port is allowed: so each
    // URL below is refused for its address, not for its port, and a guard
    // that let it through would connect to `host`.
    let setup =
        start(|config| config.with("images", format!("allowed_ports = [80, 443, {port}]"))).await;
    for (url, class) in [
        (
            format!("http://[::ffff:127.0.0.1]:{port}/x.png"),
            "loopback (IPv4-mapped 127.0.0.1)",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254 is link-local (cloud metadata)",
        ),
        // A name that resolves to loopback, refused by the guarded resolver.
        (
            format!("http://localhost:{port}/x.png"),
            "localhost resolves only to blocked addresses",
        ),
        (
            format!("http://127.0.0.1:{port}/x.png"),
            "127.0.0.1 is loopback",
        ),
        (format!("http://[::1]:{port}/x.png"), "::1 is loopback"),
        (
            format!("http://0.0.0.0:{port}/x.png"),
            "0.0.0.0 is unspecified",
        ),
        (
            format!("http://2130706433:{port}/x.png"),
            "127.0.0.1 is loopback",
        ),
        ("http://10.0.0.1/x.png".to_owned(), "private (RFC 1918)"),
        ("http://100.64.0.1/x.png".to_owned(), "shared address space"),
        (
            format!("http://127.0.0.1:{other_port}/x.png"),
            &format!("port {other_port} is not in images.allowed_ports"),
        ),
    ] {
        assert_blocked(&setup, &url, class).await;
    }
    assert_eq!(host.connections(), 0, "{:?}", host.requests());
    assert!(host.requests().is_empty());
    assert_eq!(elsewhere.connections(), 0);
    assert!(setup.healthy().await);
    setup.assert_no_leak();
}

/// A redirect is checked like the first URL. The first hop must be allowed
/// and served from loopback here, so this daemon allows private networks
/// but only the host `127.0.0.1`: the redirect to `localhost` (another
/// host, same machine) is refused without a connection to its target. (With
/// private networks refused, a loopback first hop is impossible; the guard's
/// unit tests cover a redirect to a private address: `check_redirect`.)
#[tokio::test]
async fn a_redirect_to_a_host_that_is_not_allowed_is_refused_before_connecting() {
    let target = ImageServer::start().await;
    let target_url = target.file("/x.png", "image/png", images::png(4, 4));
    let target_port = port_of(&target_url);
    let first = ImageServer::start().await;
    let start_url = first.route(
        "/start.png",
        Route::Redirect {
            location: format!("http://localhost:{target_port}/x.png"),
        },
    );
    let setup = start(|config| {
        config
            .with("images", "allow_private_networks = true")
            .with("images", "allowed_ports = []")
            .with("images", "allowed_hosts = [\"127.0.0.1\"]")
    })
    .await;
    assert_blocked(
        &setup,
        &start_url,
        "the host localhost is not in images.allowed_hosts",
    )
    .await;
    assert_eq!(first.requests(), ["/start.png"]);
    assert_eq!(target.connections(), 0);

    // And a redirect to a port that is not allowed.
    let setup_ports = start(|config| {
        config.with("images", "allow_private_networks = true").with(
            "images",
            format!("allowed_ports = [{}]", port_of(&start_url)),
        )
    })
    .await;
    let second = first.route(
        "/second.png",
        Route::Redirect {
            location: target_url.clone(),
        },
    );
    assert_blocked(
        &setup_ports,
        &second,
        &format!("port {target_port} is not in images.allowed_ports"),
    )
    .await;
    assert_eq!(target.connections(), 0);
    setup.assert_no_leak();
    setup_ports.assert_no_leak();
}
