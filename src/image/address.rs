//! Which IP addresses an image download must never reach.
//!
//! [`blocked_range`] names the range a non-public address belongs to, or
//! gives `None` for an ordinary public address. IPv6 forms that carry an
//! IPv4 address inside them (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are
//! judged by the address they carry, so `::ffff:127.0.0.1` is loopback like
//! `127.0.0.1`. The tables follow the IANA special-purpose registries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The non-public range an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedRange {
    /// What the range is, e.g. `link-local (cloud metadata)`.
    pub class: &'static str,
    /// For an IPv6 form carrying an IPv4 address: the form and that address.
    pub embedded: Option<(&'static str, Ipv4Addr)>,
}

impl fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class)?;
        if let Some((form, v4)) = self.embedded {
            write!(f, " ({form} {v4})")?;
        }
        Ok(())
    }
}

/// IPv4 ranges: network, prefix length, class. The first match wins, so
/// single addresses come before the ranges holding them.
const V4_RANGES: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 32, "unspecified"),
    ([255, 255, 255, 255], 32, "broadcast"),
    ([0, 0, 0, 0], 8, "\"this network\" (0.0.0.0/8)"),
    ([10, 0, 0, 0], 8, "private (RFC 1918)"),
    ([100, 64, 0, 0], 10, "shared address space (CGNAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
    ([172, 16, 0, 0], 12, "private (RFC 1918)"),
    ([192, 0, 0, 0], 24, "reserved for IETF protocols"),
    ([192, 0, 2, 0], 24, "documentation (TEST-NET-1)"),
    ([192, 88, 99, 0], 24, "reserved (6to4 relay anycast)"),
    ([192, 168, 0, 0], 16, "private (RFC 1918)"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation (TEST-NET-2)"),
    ([203, 0, 113, 0], 24, "documentation (TEST-NET-3)"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
];

/// IPv6 ranges without an IPv4 address inside: network, prefix, class.
const V6_RANGES: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified"),
    (Ipv6Addr::LOCALHOST, 128, "loopback"),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use NAT64",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only",
    ),
    (
        Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 0),
        48,
        "benchmarking",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        32,
        "Teredo (its IPv4 address cannot be checked)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique-local",
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "site-local (deprecated)",
    ),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
];

/// The non-public range `ip` belongs to, or `None` for a public address.
pub fn blocked_range(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4).map(|class| BlockedRange {
            class,
            embedded: None,
        }),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let ip = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(network, prefix, _)| in_prefix32(ip, u32::from_be_bytes(*network), *prefix))
        .map(|(_, _, class)| *class)
}

fn v6_range(ip: Ipv6Addr) -> Option<BlockedRange> {
    let bits = u128::from(ip);
    if let Some((_, _, class)) = V6_RANGES
        .iter()
        .find(|(network, prefix, _)| in_prefix128(bits, u128::from(*network), *prefix))
    {
        return Some(BlockedRange {
            class,
            embedded: None,
        });
    }
    // The IPv4 address in the low 32 bits, or for 6to4 in bits 16..48.
    let low32 = Ipv4Addr::from(bits as u32);
    let (form, v4) = if in_prefix128(bits, 0xffff_0000_0000, 96) {
        ("IPv4-mapped", low32)
    } else if in_prefix128(bits, 0, 96) {
        ("IPv4-compatible", low32)
    } else if in_prefix128(
        bits,
        u128::from(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0)),
        96,
    ) {
        ("NAT64", low32)
    } else if in_prefix128(
        bits,
        u128::from(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0)),
        16,
    ) {
        ("6to4", Ipv4Addr::from((bits >> 80) as u32))
    } else {
        return None;
    };
    match v4_class(v4) {
        Some(class) => Some(BlockedRange {
            class,
            embedded: Some((form, v4)),
        }),
        // The deprecated IPv4-compatible form has no legitimate use at all.
        None if form == "IPv4-compatible" => Some(BlockedRange {
            class: "IPv4-compatible (deprecated)",
            embedded: None,
        }),
        None => None,
    }
}

fn in_prefix32(ip: u32, network: u32, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    ip & mask == network & mask
}

fn in_prefix128(ip: u128, network: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    ip & mask == network & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<String> {
        blocked_range(text.parse().unwrap()).map(|range| range.to_string())
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
            ("192.0.0.170", "reserved for IETF protocols"),
            ("192.0.2.1", "documentation (TEST-NET-1)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation (TEST-NET-2)"),
            ("203.0.113.9", "documentation (TEST-NET-3)"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved (240.0.0.0/4)"),
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
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
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
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "Teredo (its IPv4 address cannot be checked)"),
            ("2001:2::1", "benchmarking"),
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
            ("::127.0.0.1", "loopback (IPv4-compatible 127.0.0.1)"),
            ("::8.8.8.8", "IPv4-compatible (deprecated)"),
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
}
