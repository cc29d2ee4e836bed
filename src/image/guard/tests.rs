//! The guard's rules without any connection: address ranges, URLs, redirect
//! hops, DNS answers. The tests in `fetch/tests.rs` show the same rules
//! holding for real requests, with a counting loopback server that is never
//! reached.

use std::net::SocketAddr;

use url::Url;

use super::*;

/// The default ports, 80 and 443.
fn config(allow_private_networks: bool) -> ImageConfig {
    ImageConfig {
        allowed_ports: vec![80, 443],
        ..crate::image::test_server::config(allow_private_networks)
    }
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn blocked_reason(result: Result<(), ImageError>) -> String {
    match result {
        Err(error @ ImageError::Blocked { .. }) => {
            assert!(!error.is_transient());
            assert!(!error.is_client_error());
            error.to_string()
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
}

/// One URL per blocked class, with the words its message must contain.
const BLOCKED_URLS: [(&str, &str); 17] = [
    ("http://127.0.0.1/x.png", "127.0.0.1 is loopback"),
    ("http://[::1]/", "::1 is loopback"),
    (
        "http://[::ffff:127.0.0.1]/x.png",
        "loopback (IPv4-mapped 127.0.0.1)",
    ),
    (
        "http://169.254.169.254/latest/meta-data/",
        "169.254.169.254 is link-local (cloud metadata)",
    ),
    ("http://10.0.0.1/", "10.0.0.1 is private (RFC 1918)"),
    ("http://172.16.5.4/", "private (RFC 1918)"),
    ("http://192.168.1.1/", "private (RFC 1918)"),
    ("http://[fc00::1]/", "fc00::1 is unique-local"),
    ("http://[fe80::1]/", "link-local"),
    (
        "http://100.64.0.1/",
        "100.64.0.1 is shared address space (CGNAT)",
    ),
    ("http://0.0.0.0/", "0.0.0.0 is unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://198.51.100.1/", "documentation"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 169.254.169.254"),
    ("http://[2002:7f00:1::]/", "6to4 127.0.0.1"),
    // 2130706433 is 127.0.0.1 written as one number; URL parsing normalises it.
    ("http://2130706433/", "127.0.0.1 is loopback"),
];

#[test]
fn every_blocked_class_is_refused_by_name() {
    let guard = UrlGuard::new(&config(false));
    for (text, expected) in BLOCKED_URLS {
        let reason = blocked_reason(guard.check_url(&url(text)));
        assert!(reason.contains("blocked"), "{text}: {reason}");
        assert!(reason.contains(expected), "{text}: {reason}");
    }
}

#[test]
fn allow_private_networks_lifts_the_address_blocks() {
    let guard = UrlGuard::new(&config(true));
    for (text, _) in BLOCKED_URLS {
        assert!(guard.check_url(&url(text)).is_ok(), "{text}");
    }
    // But not the scheme, port and allowlist rules.
    blocked_reason(guard.check_url(&url("http://127.0.0.1:8080/")));
    blocked_reason(guard.check_url(&url("ftp://127.0.0.1/x.png")));
}

#[test]
fn public_urls_pass() {
    let guard = UrlGuard::new(&config(false));
    for text in [
        "https://images.example.com/a.png?token=abc",
        "http://8.8.8.8/x.png",
        "https://[2606:4700:4700::1111]/x.png",
        "https://example.com:443/x",
    ] {
        assert!(guard.check_url(&url(text)).is_ok(), "{text}");
    }
}

#[test]
fn only_http_and_https_without_credentials() {
    let guard = UrlGuard::new(&config(true));
    for text in [
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "gopher://x/",
    ] {
        let reason = blocked_reason(guard.check_url(&url(text)));
        assert!(reason.contains("scheme"), "{reason}");
    }
    let reason = blocked_reason(guard.check_url(&url("https://user:pw@example.com/x.png")));
    assert!(reason.contains("credentials"), "{reason}");
    assert!(!reason.contains("pw"), "{reason}");
}

#[test]
fn ports_outside_the_list_are_refused_and_an_empty_list_allows_any() {
    let guard = UrlGuard::new(&config(false));
    let reason = blocked_reason(guard.check_url(&url("http://example.com:8080/x.png")));
    assert!(reason.contains("port 8080"), "{reason}");
    assert!(guard.check_url(&url("https://example.com/x.png")).is_ok());

    let mut any_port = config(false);
    any_port.allowed_ports.clear();
    let guard = UrlGuard::new(&any_port);
    assert!(
        guard
            .check_url(&url("http://example.com:8080/x.png"))
            .is_ok()
    );
}

#[test]
fn hosts_outside_the_allowlist_are_refused() {
    let mut allowlisted = config(false);
    allowlisted.allowed_hosts = vec![
        HostPattern::parse("images.example.com").unwrap(),
        HostPattern::parse("*.cdn.example.net").unwrap(),
    ];
    let guard = UrlGuard::new(&allowlisted);
    for text in [
        "https://images.example.com/a.png",
        "https://IMAGES.example.com./a.png",
        "https://eu.cdn.example.net/a.png",
    ] {
        assert!(guard.check_url(&url(text)).is_ok(), "{text}");
    }
    for text in [
        "https://evil.example.com/a.png",
        "https://cdn.example.net/a.png",
        "https://images.example.com.evil.net/a.png",
        "http://8.8.8.8/a.png",
    ] {
        let reason = blocked_reason(guard.check_url(&url(text)));
        assert!(reason.contains("images.allowed_hosts"), "{text}: {reason}");
    }
}

#[test]
fn a_redirect_to_a_private_address_is_refused() {
    let guard = UrlGuard::new(&config(false));
    let origin = [url("https://images.example.com/a.png?sig=secret")];
    let reason = blocked_reason(
        guard.check_redirect(&url("http://169.254.169.254/latest/meta-data/"), &origin),
    );
    assert!(reason.contains("link-local (cloud metadata)"), "{reason}");
    blocked_reason(guard.check_redirect(&url("http://[::ffff:10.1.2.3]/"), &origin));
    blocked_reason(guard.check_redirect(&url("https://images.example.com:8443/"), &origin));
    assert!(
        guard
            .check_redirect(&url("https://cdn.example.org/a.png"), &origin)
            .is_ok()
    );
}

#[test]
fn redirects_are_counted_and_loops_detected() {
    let guard = UrlGuard::new(&config(false));
    let hops: Vec<Url> = (0..=MAX_REDIRECTS)
        .map(|i| url(&format!("https://images.example.com/{i}?sig=secret")))
        .collect();
    let next = url("https://images.example.com/next");
    // previous = [original, hop 1, …] → this is redirect number MAX_REDIRECTS.
    assert!(guard.check_redirect(&next, &hops[..MAX_REDIRECTS]).is_ok());
    let error = guard.check_redirect(&next, &hops).unwrap_err();
    assert!(
        matches!(error, ImageError::TooManyRedirects { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the image host images.example.com redirected more than 3 times"
    );
    let error = guard.check_redirect(&hops[0], &hops[..2]).unwrap_err();
    assert!(
        matches!(error, ImageError::RedirectLoop { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[test]
fn dns_answers_are_filtered_address_by_address() {
    let guard = UrlGuard::new(&config(false));
    let answers: Vec<SocketAddr> = ["10.0.0.7:0", "93.184.215.14:0", "[::1]:0"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(
        guard.filter_addresses("mixed.example", answers).unwrap(),
        ["93.184.215.14:0".parse::<SocketAddr>().unwrap()]
    );
    let only_private = ["169.254.169.254:0".parse::<SocketAddr>().unwrap()];
    let error = guard
        .filter_addresses("rebind.example", only_private)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "image_url blocked: rebind.example resolves only to blocked addresses \
         (169.254.169.254 is link-local (cloud metadata))"
    );
    assert!(matches!(
        guard.filter_addresses("nothing.example", []),
        Err(ImageError::Dns { .. })
    ));
}

#[tokio::test]
async fn the_resolver_refuses_a_name_for_loopback() {
    let guard = UrlGuard::new(&config(false));
    let error = guard.resolve_host("localhost").await.unwrap_err();
    assert!(matches!(error, ImageError::Blocked { .. }), "{error:?}");
    assert!(error.to_string().contains("loopback"), "{error}");

    let guard = UrlGuard::new(&config(true));
    let addresses = guard.resolve_host("localhost").await.unwrap();
    assert!(
        addresses.iter().all(|a| a.ip().is_loopback()),
        "{addresses:?}"
    );
}

// --- address ranges ------------------------------------------------------------

fn class(text: &str) -> Option<String> {
    blocked_range(text.parse().unwrap())
}

#[test]
fn every_blocked_ipv4_range_is_named() {
    for (ip, expected) in [
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "\"this network\" (0.0.0.0/8)"),
        ("10.0.0.1", "private (RFC 1918)"),
        ("10.255.255.255", "private (RFC 1918)"),
        ("100.64.0.1", "shared address space (CGNAT)"),
        ("100.127.255.255", "shared address space (CGNAT)"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("172.31.255.255", "private (RFC 1918)"),
        ("192.0.0.170", "reserved (IETF)"),
        ("192.88.99.1", "reserved (IETF)"),
        ("192.0.2.1", "documentation"),
        ("192.168.1.1", "private (RFC 1918)"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved (240.0.0.0/4)"),
        ("255.255.255.254", "reserved (240.0.0.0/4)"),
        ("255.255.255.255", "broadcast"),
    ] {
        assert_eq!(class(ip).as_deref(), Some(expected), "{ip}");
    }
}

#[test]
fn public_addresses_and_range_edges_pass() {
    for ip in [
        "1.1.1.1",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "2001:200::1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert_eq!(class(ip), None, "{ip}");
    }
}

#[test]
fn every_blocked_ipv6_range_is_named() {
    for (ip, expected) in [
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::127.0.0.1", "IPv4-compatible (deprecated)"),
        ("::8.8.8.8", "IPv4-compatible (deprecated)"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("fec0::1", "site-local (deprecated)"),
        ("feff::1", "site-local (deprecated)"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "reserved (IETF)"),
        ("2001:2::1", "reserved (IETF)"),
        ("2001:1ff::1", "reserved (IETF)"),
        ("100::1", "discard-only"),
        ("64:ff9b:1::1", "local-use NAT64"),
    ] {
        assert_eq!(class(ip).as_deref(), Some(expected), "{ip}");
    }
}

#[test]
fn ipv4_inside_ipv6_is_judged_by_the_ipv4_address() {
    for (ip, expected) in [
        ("::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"),
        (
            "::ffff:169.254.169.254",
            "link-local (cloud metadata) (IPv4-mapped 169.254.169.254)",
        ),
        (
            "::ffff:10.0.0.1",
            "private (RFC 1918) (IPv4-mapped 10.0.0.1)",
        ),
        ("64:ff9b::7f00:1", "loopback (NAT64 127.0.0.1)"),
        (
            "64:ff9b::a9fe:a9fe",
            "link-local (cloud metadata) (NAT64 169.254.169.254)",
        ),
        ("2002:7f00:1::", "loopback (6to4 127.0.0.1)"),
        ("2002:c0a8:101::1", "private (RFC 1918) (6to4 192.168.1.1)"),
    ] {
        assert_eq!(class(ip).as_deref(), Some(expected), "{ip}");
    }
}
