//! The download guard against server-side request forgery: without it a
//! callback could make the bridge fetch `http://169.254.169.254/` (cloud
//! credentials) or anything on the private network, and hand the answer back
//! through Odoo. [`UrlGuard::check_url`] runs on the URL and every redirect
//! hop; as the HTTP client's only DNS resolver the guard drops every blocked
//! address a name resolves to, so DNS rebinding gains nothing. Non-public
//! addresses ([`blocked_range`]) are blocked unless
//! `images.allow_private_networks` is set.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::ImageError;
use crate::config::{HostPattern, ImageConfig};

/// Redirects followed per download: image hosts and signed-URL services use
/// one or two; more is a loop or a misconfiguration.
pub const MAX_REDIRECTS: usize = 3;

/// What kind of non-public address `ip` is, or `None` for a public one. An
/// IPv6 address carrying an IPv4 one (IPv4-mapped, NAT64, 6to4) is judged by
/// that IPv4 address: `::ffff:127.0.0.1` is loopback like `127.0.0.1`.
pub fn blocked_range(ip: IpAddr) -> Option<String> {
    let v6 = match ip {
        IpAddr::V4(v4) => return v4_class(v4).map(str::to_owned),
        IpAddr::V6(v6) => v6,
    };
    let bits = u128::from(v6);
    let (form, v4) = if let Some(v4) = v6.to_ipv4_mapped() {
        ("IPv4-mapped", v4)
    } else if bits >> 32 == 0x64_ff9b << 64 {
        ("NAT64", Ipv4Addr::from(bits as u32))
    } else if bits >> 112 == 0x2002 {
        ("6to4", Ipv4Addr::from((bits >> 80) as u32))
    } else {
        return v6_class(v6).map(str::to_owned);
    };
    v4_class(v4).map(|class| format!("{class} ({form} {v4})"))
}

/// std's tests, plus the ranges of the IANA special-purpose registry that
/// std has no stable method for. The first match names the address.
fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    Some(match ip.octets() {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        [0, ..] => "\"this network\" (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private (RFC 1918)",
        _ if ip.is_link_local() => "link-local (cloud metadata)",
        [100, 64..=127, ..] => "shared address space (CGNAT)",
        _ if ip.is_documentation() => "documentation",
        [198, 18 | 19, ..] => "benchmarking",
        [192, 0, 0, _] | [192, 88, 99, _] => "reserved (IETF)",
        _ if ip.is_multicast() => "multicast",
        [240..=255, ..] => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    Some(match ip.segments() {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible (deprecated)",
        _ if ip.is_unique_local() => "unique-local",
        _ if ip.is_unicast_link_local() => "link-local",
        [0xfec0..=0xfeff, ..] => "site-local (deprecated)",
        _ if ip.is_multicast() => "multicast",
        [0x2001, 0xdb8, ..] => "documentation",
        // Teredo (whose IPv4 address cannot be checked) and benchmarking.
        [0x2001, 0..=0x1ff, ..] => "reserved (IETF)",
        [0x64, 0xff9b, 1, ..] => "local-use NAT64",
        [0x100, 0, 0, 0, ..] => "discard-only",
        _ => return None,
    })
}

/// The rules for a URL, its redirects and its addresses; a DNS resolver too.
#[derive(Debug, Clone)]
pub struct UrlGuard {
    allow_private_networks: bool,
    allowed_ports: Vec<u16>,
    allowed_hosts: Vec<HostPattern>,
}

impl UrlGuard {
    pub fn new(config: &ImageConfig) -> Self {
        Self {
            allow_private_networks: config.allow_private_networks,
            allowed_ports: config.allowed_ports.clone(),
            allowed_hosts: config.allowed_hosts.clone(),
        }
    }

    /// Checks everything about `url` that needs no DNS lookup.
    pub fn check_url(&self, url: &Url) -> Result<(), ImageError> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(blocked(format!("the scheme {scheme} is not allowed")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(blocked("the URL carries credentials".into()));
        }
        let (Some(name), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Err(ImageError::InvalidUrl);
        };
        let refusal = if !self.allowed_ports.is_empty() && !self.allowed_ports.contains(&port) {
            Some(format!("port {port} is not in images.allowed_ports"))
        } else if !self.allowed_hosts.is_empty()
            && !self.allowed_hosts.iter().any(|p| p.matches(name))
        {
            Some(format!("the host {name} is not in images.allowed_hosts"))
        } else {
            // An IP literal: the client connects to it without a resolver.
            let literal = name.trim_matches(['[', ']']).parse().ok();
            literal.and_then(|ip| self.refusal(ip))
        };
        refusal.map_or(Ok(()), |reason| Err(blocked(reason)))
    }

    /// Checks one redirect hop: the count, loops, then [`Self::check_url`].
    /// `previous` holds the URLs requested so far, the original first.
    pub fn check_redirect(&self, next: &Url, previous: &[Url]) -> Result<(), ImageError> {
        let origin = previous.first().unwrap_or(next);
        let host = origin.host_str().unwrap_or_default().to_owned();
        if previous.len() > MAX_REDIRECTS {
            return Err(ImageError::TooManyRedirects { host });
        }
        if previous.contains(next) {
            return Err(ImageError::RedirectLoop { host });
        }
        self.check_url(next)
    }

    /// Why the client must not connect to `ip`, if it must not.
    fn refusal(&self, ip: IpAddr) -> Option<String> {
        let class = blocked_range(ip).filter(|_| !self.allow_private_networks)?;
        Some(format!("{ip} is {class}"))
    }

    /// `addresses` without the blocked ones; an error naming the first
    /// blocked one when nothing remains.
    pub fn filter_addresses(
        &self,
        host: &str,
        addresses: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, ImageError> {
        let (allowed, refused): (Vec<_>, Vec<_>) = addresses
            .into_iter()
            .partition(|address| self.refusal(address.ip()).is_none());
        if !allowed.is_empty() {
            return Ok(allowed);
        }
        let Some(reason) = refused.first().and_then(|a| self.refusal(a.ip())) else {
            return Err(ImageError::Dns { host: host.into() });
        };
        Err(blocked(format!(
            "{host} resolves only to blocked addresses ({reason})"
        )))
    }

    /// Resolves `host` with the system resolver and keeps the allowed
    /// addresses (port 0: the client puts in the URL's port).
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, ImageError> {
        let addresses = tokio::net::lookup_host((host, 0)).await.map_err(|e| {
            tracing::debug!(host, error = %e, "image host did not resolve");
            ImageError::Dns { host: host.into() }
        })?;
        self.filter_addresses(host, addresses)
    }
}

impl Resolve for UrlGuard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let addresses = guard.resolve_host(name.as_str()).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

fn blocked(reason: String) -> ImageError {
    ImageError::Blocked { reason }
}

#[cfg(test)]
mod tests;
