use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use http::{HeaderMap, HeaderValue};

use super::*;

fn rate(per_minute: u32, burst: u32) -> RateLimit {
    RateLimit {
        per_minute: NonZeroU32::new(per_minute).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_burst_passes_then_the_bucket_refills_at_the_rate() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_clock(rate(60, 2), clock.clone(), 100);
    let client = ip("203.0.113.7");
    assert!(limits.check(RouteClass::Callback, client).is_ok());
    assert!(limits.check(RouteClass::Callback, client).is_ok());
    let wait = limits.check(RouteClass::Callback, client).unwrap_err();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    clock.advance(Duration::from_secs(1));
    assert!(limits.check(RouteClass::Callback, client).is_ok());
    assert!(limits.check(RouteClass::Callback, client).is_err());
}

#[test]
fn clients_and_route_classes_have_their_own_buckets() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_clock(rate(60, 1), clock, 100);
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.1")).is_ok());
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.1")).is_err());
    assert!(limits.check(RouteClass::Trigger, ip("192.0.2.1")).is_ok());
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.2")).is_ok());
    // An IPv4-mapped IPv6 address is the IPv4 client.
    assert!(
        limits
            .check(RouteClass::Callback, ip("::ffff:192.0.2.2"))
            .is_err()
    );
    // One IPv6 /64 is one client.
    assert!(
        limits
            .check(RouteClass::Callback, ip("2001:db8:1:2::1"))
            .is_ok()
    );
    assert!(
        limits
            .check(RouteClass::Callback, ip("2001:db8:1:2::ffff"))
            .is_err()
    );
    assert!(
        limits
            .check(RouteClass::Callback, ip("2001:db8:1:3::1"))
            .is_ok()
    );
}

#[test]
fn the_number_of_tracked_clients_is_bounded() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_clock(rate(60, 5), clock.clone(), 2);
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.1")).is_ok());
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.2")).is_ok());
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.3")).is_err());
    assert_eq!(limits.tracked_clients(), 2);
    // Once their buckets are full again, the old clients are forgotten.
    clock.advance(Duration::from_secs(2));
    assert!(limits.check(RouteClass::Callback, ip("192.0.2.3")).is_ok());
    assert_eq!(limits.tracked_clients(), 1);
}

#[test]
fn the_defaults_never_limit_a_normal_n8n() {
    let defaults = rate(
        u32::try_from(crate::config::raw::DEFAULT_RATE_LIMIT_PER_MINUTE).unwrap(),
        u32::try_from(crate::config::raw::DEFAULT_RATE_LIMIT_BURST).unwrap(),
    );
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_clock(defaults, clock.clone(), 100);
    let n8n = ip("198.51.100.10");
    // 20 executions finish at once and every callback fails twice: N8N
    // sends 20 callbacks, then 20 retries 1 s later, then 20 more.
    for _round in 0..3 {
        for _execution in 0..20 {
            assert!(limits.check(RouteClass::Callback, n8n).is_ok());
        }
        clock.advance(Duration::from_secs(1));
    }
    // And a steady 10 results a second, forever.
    for _second in 0..120 {
        for _result in 0..10 {
            assert!(limits.check(RouteClass::Callback, n8n).is_ok());
        }
        clock.advance(Duration::from_secs(1));
    }
}

#[test]
fn routes_outside_callback_and_trigger_are_not_limited() {
    assert_eq!(
        RouteClass::of("/influence_gen/ai/callback/image_result"),
        Some(RouteClass::Callback)
    );
    assert_eq!(
        RouteClass::of("/influence_gen/trigger/s3cret"),
        Some(RouteClass::Trigger)
    );
    assert_eq!(RouteClass::of("/healthz"), None);
    assert_eq!(
        RouteClass::of("/influence_gen/ai/callback/image_result/x"),
        None
    );
}

#[test]
fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let proxy: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let stranger: SocketAddr = "192.0.2.9:50000".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_static("198.51.100.1, 203.0.113.5"),
    );
    let trusted = [ip("127.0.0.1")];
    assert_eq!(client_ip(proxy, &headers, &trusted), ip("203.0.113.5"));
    assert_eq!(client_ip(stranger, &headers, &trusted), ip("192.0.2.9"));
    assert_eq!(client_ip(proxy, &headers, &[]), ip("127.0.0.1"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
    assert_eq!(client_ip(proxy, &headers, &trusted), ip("127.0.0.1"));
    assert_eq!(
        client_ip(proxy, &HeaderMap::new(), &trusted),
        ip("127.0.0.1")
    );
}

#[test]
fn too_many_requests_says_when_to_come_back() {
    let response = too_many_requests(Duration::from_millis(1500));
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        too_many_requests(Duration::ZERO).headers()["retry-after"],
        "1"
    );
}
