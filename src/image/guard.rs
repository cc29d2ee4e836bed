//! The download guard: which URLs, hosts, ports and addresses an
//! `image_url` may lead to (server-side request forgery protection).
//!
//! An `image_url` comes from outside, so without a guard a callback could make
//! the bridge fetch `http://169.254.169.254/` (cloud credentials), an admin
//! page on `localhost`, or anything on the private network, and hand the
//! answer back through Odoo. Three checks close that:
//!
//! - [`UrlGuard::check_url`] runs before the first request and on every
//!   redirect hop ([`UrlGuard::check_redirect`]): scheme, credentials, port,
//!   host allowlist, and the address itself when the host is an IP literal
//!   (the HTTP client connects to those without asking a resolver).
//! - [`GuardedResolver`] is the HTTP client's only DNS resolver. It drops
//!   every blocked address a name resolves to and fails when none remains,
//!   so the client can only connect to addresses that were checked: a name
//!   that resolves differently the second time (DNS rebinding) gains nothing.
//! - A blocked URL fails with [`ImageError::Blocked`] before any connection
//!   is opened to it; it is permanent, never retried.
//!
//! Blocked by default (`images.allow_private_networks = false` lifts all of
//! the address blocks at once):
//!
//! - loopback: 127.0.0.0/8, ::1
//! - private (RFC 1918): 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16
//! - link-local, where cloud metadata services live: 169.254.0.0/16, fe80::/10
//! - shared address space (CGNAT): 100.64.0.0/10
//! - unspecified, "this network", broadcast: 0.0.0.0/8, ::, 255.255.255.255
//! - unique-local fc00::/7 and deprecated site-local fec0::/10
//! - multicast: 224.0.0.0/4, ff00::/8
//! - reserved: 240.0.0.0/4, IETF protocol assignments 192.0.0.0/24, the
//!   former 6to4 relays 192.88.99.0/24
//! - documentation and benchmarking: 192.0.2.0/24, 198.51.100.0/24,
//!   203.0.113.0/24, 198.18.0.0/15, 2001:db8::/32, 2001:2::/48
//! - the IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96), NAT64
//!   (64:ff9b::/96) and 6to4 (2002::/16) forms of every IPv4 range above;
//!   all of the deprecated IPv4-compatible ::/96; local-use NAT64
//!   64:ff9b:1::/48, Teredo 2001::/32 and discard-only 100::/64
//! - any scheme but `http` and `https`, and URLs carrying credentials
//! - ports other than 80 and 443 (`images.allowed_ports`)
//! - hosts outside `images.allowed_hosts`, when that list is not empty

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::ImageError;
use super::address::blocked_range;
use crate::config::{HostPattern, ImageConfig};

/// The rules an image URL, each of its redirects and each address must pass.
#[derive(Debug, Clone)]
pub struct UrlGuard {
    allow_private_networks: bool,
    allowed_ports: Vec<u16>,
    allowed_hosts: Vec<HostPattern>,
}

impl UrlGuard {
    /// The guard `[images]` describes.
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
            return Err(ImageError::blocked(format!(
                "the scheme {scheme} is not allowed (only http and https)"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ImageError::blocked("the URL carries credentials"));
        }
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(ImageError::InvalidUrl);
        };
        if !self.allowed_ports.is_empty() && !self.allowed_ports.contains(&port) {
            return Err(ImageError::blocked(format!(
                "port {port} is not in images.allowed_ports"
            )));
        }
        let host_text = url.host_str().unwrap_or_default();
        if !self.allowed_hosts.is_empty()
            && !self.allowed_hosts.iter().any(|p| p.matches(host_text))
        {
            return Err(ImageError::blocked(format!(
                "the host {host_text} is not in images.allowed_hosts"
            )));
        }
        let literal = match host {
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
            Host::Domain(_) => return Ok(()),
        };
        self.check_ip(literal)
    }

    /// Checks one redirect hop: the count, loops, then [`Self::check_url`].
    ///
    /// `previous` holds the URLs requested so far, the original first, as
    /// reqwest's redirect policy passes them.
    pub fn check_redirect(
        &self,
        next: &Url,
        previous: &[Url],
        max_redirects: usize,
    ) -> Result<(), ImageError> {
        let origin = previous.first().unwrap_or(next);
        let host = origin.host_str().unwrap_or_default().to_owned();
        if previous.len() > max_redirects {
            return Err(ImageError::TooManyRedirects {
                host,
                max: max_redirects,
            });
        }
        if previous.contains(next) {
            return Err(ImageError::RedirectLoop { host });
        }
        self.check_url(next)
    }

    /// Checks one address, as a literal host or as a DNS answer.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ImageError> {
        match blocked_range(ip) {
            Some(range) if !self.allow_private_networks => {
                Err(ImageError::blocked(format!("{ip} is {range}")))
            }
            _ => Ok(()),
        }
    }

    /// The resolver that makes the HTTP client connect to checked addresses only.
    pub fn resolver(&self) -> GuardedResolver {
        GuardedResolver {
            guard: self.clone(),
        }
    }

    /// `addresses` without the blocked ones; an error naming the first
    /// blocked one when nothing remains.
    pub fn filter_addresses(
        &self,
        host: &str,
        addresses: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, ImageError> {
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for address in addresses {
            match self.check_ip(address.ip()) {
                Ok(()) => allowed.push(address),
                Err(refusal) => {
                    tracing::debug!(host, %address, "image host address blocked");
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(ImageError::Blocked { reason })) => Err(ImageError::blocked(format!(
                "{host} resolves only to blocked addresses ({reason})"
            ))),
            (true, _) => Err(ImageError::Dns {
                host: host.to_owned(),
            }),
        }
    }
}

/// A DNS resolver (tokio's, the system's `getaddrinfo`) that hands the HTTP
/// client only addresses [`UrlGuard`] allows.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: UrlGuard,
}

impl GuardedResolver {
    /// Resolves `host` and keeps the allowed addresses (port 0: the client
    /// puts in the URL's port).
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, ImageError> {
        let addresses = tokio::net::lookup_host((host, 0)).await.map_err(|e| {
            tracing::debug!(host, error = %e, "image host did not resolve");
            ImageError::Dns {
                host: host.to_owned(),
            }
        })?;
        self.guard.filter_addresses(host, addresses)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addresses = resolver.resolve_host(name.as_str()).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests;
