//! Per-client rate limits on the routes outsiders call: the callback and
//! every `/influence_gen/trigger/` route. Health and unknown routes are not
//! limited (they cost nothing).
//!
//! A token bucket per client and route class (governor's GCRA): `burst`
//! requests at once, refilled at `per_minute`. Over the limit the answer is
//! 429 with `Retry-After`, before the body is read. The defaults (6000 a
//! minute, 300 at once) are far above a normal N8N, which posts one callback
//! per image and retries at most 3 times, 1 s apart.
//!
//! What must stay true: memory is bounded. A client is an IPv4 address or
//! an IPv6 /64 (one host usually owns a whole /64, so counting single IPv6
//! addresses would let it spread over 2^64 buckets). Buckets that are full
//! again are swept every [`SWEEP_INTERVAL`], and at [`MAX_TRACKED_CLIENTS`]
//! new clients are refused until a sweep makes room: under a flood from
//! that many sources, limiting everyone beats running out of memory.
//!
//! Behind a reverse proxy every request comes from the proxy; its address
//! in `limits.trusted_proxies` makes the last `X-Forwarded-For` entry (the
//! address the proxy saw) count as the client instead.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::response::{self, Body};
use crate::config::{CALLBACK_PATH, LimitsConfig, RateLimit};

/// Every trigger route starts with this (the secret follows).
pub const TRIGGER_PREFIX: &str = "/influence_gen/trigger/";
/// Clients tracked at once, all routes together.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;
/// How often buckets that are full again are forgotten.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// The header a reverse proxy appends the client's address to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// Which routes share a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Callback,
    Trigger,
}

impl RouteClass {
    /// The class of `path`, or `None` for routes that are not limited.
    pub fn of(path: &str) -> Option<Self> {
        if path == CALLBACK_PATH {
            Some(Self::Callback)
        } else if path.starts_with(TRIGGER_PREFIX) {
            Some(Self::Trigger)
        } else {
            None
        }
    }
}

/// A client as the limiter counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(u32),
    /// The /64 prefix.
    V6(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => Self::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

type Key = (RouteClass, ClientKey);

/// The limiter of the callback and trigger routes.
pub struct RateLimits<C: Clock = DefaultClock> {
    limiter: RateLimiter<Key, DashMapStateStore<Key>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    max_clients: usize,
    next_sweep: Mutex<Instant>,
}

impl RateLimits {
    /// The limiter `[limits]` describes, or `None` when it is turned off.
    pub fn from_config(limits: &LimitsConfig) -> Option<Self> {
        limits
            .rate_limit
            .map(|rate| Self::with_clock(rate, DefaultClock::default(), MAX_TRACKED_CLIENTS))
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// A limiter on `clock` tracking at most `max_clients`.
    pub fn with_clock(rate: RateLimit, clock: C, max_clients: usize) -> Self {
        let period = Duration::from_secs(60) / rate.per_minute.get();
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(rate.per_minute))
            .allow_burst(rate.burst);
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            max_clients,
            next_sweep: Mutex::new(Instant::now() + SWEEP_INTERVAL),
        }
    }

    /// Takes one request from the bucket of `ip` for `class`; `Err` holds how
    /// long until the next request would pass.
    pub fn check(&self, class: RouteClass, ip: IpAddr) -> Result<(), Duration> {
        self.sweep_if_due();
        if self.limiter.len() >= self.max_clients {
            self.limiter.retain_recent();
            if self.limiter.len() >= self.max_clients {
                return Err(SWEEP_INTERVAL);
            }
        }
        self.limiter
            .check_key(&(class, ClientKey::from(ip)))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Clients tracked now.
    pub fn tracked_clients(&self) -> usize {
        self.limiter.len()
    }

    fn sweep_if_due(&self) {
        let now = Instant::now();
        let mut next = self
            .next_sweep
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now >= *next {
            *next = now + SWEEP_INTERVAL;
            drop(next);
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

/// The client of a request: the peer, or for a trusted proxy the last
/// address in its `X-Forwarded-For`.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = peer.ip().to_canonical();
    if !trusted_proxies
        .iter()
        .any(|proxy| proxy.to_canonical() == peer)
    {
        return peer;
    }
    headers
        .get_all(FORWARDED_FOR)
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok())
        .and_then(|list| list.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok())
        .map_or(peer, |ip| ip.to_canonical())
}

/// 429 with `Retry-After` in whole seconds (at least 1).
pub fn too_many_requests(retry_after: Duration) -> Response<Body> {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = response::error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("too many requests; retry after {seconds} s"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests;
