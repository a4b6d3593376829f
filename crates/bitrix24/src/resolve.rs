//! Outbound calls go only to global unicast addresses (`docs/bitrix24.md`, "Security"): a portal's
//! endpoint comes from the OAuth server or a 302, and a portal host that resolves to a
//! loopback, private, link-local or unspecified address would turn the app into a way into the
//! operator's own network. [`PublicOnly`] is the HTTP client's resolver in production, so the
//! address checked is the address connected to; [`is_public`] also checks hosts written as
//! addresses, which never reach a resolver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system resolver and keeps public addresses only.
#[derive(Debug)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether `ip` is a global unicast address, by allow list (`docs/security.md`, "The edge"):
/// IPv4 unicast (1.0.0.0–223.255.255.255) outside IANA's special-purpose blocks; IPv6 only
/// inside 2000::/3, the global unicast block, outside its documentation, benchmarking,
/// protocol-assignment and 6to4 parts. Everything else (NAT64, IPv4-compatible, site-local,
/// reserved 240/4, whatever is assigned later) is refused until it is listed here.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// IPv4 blocks inside the unicast range that are not global (IANA IPv4 Special-Purpose
/// Address Registry): (first address, prefix length).
const NOT_GLOBAL_V4: [([u8; 4], u32); 13] = [
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 88, 99, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let unicast = (1..=223).contains(&ip.octets()[0]);
    let address = u32::from(ip);
    unicast
        && !NOT_GLOBAL_V4
            .iter()
            .any(|&(net, len)| in_prefix(address, u32::from(Ipv4Addr::from(net)), len))
}

/// Whether the 32 bits `value` start with the first `len` bits of `net`.
fn in_prefix(value: u32, net: u32, len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    value & mask == net & mask
}

/// The parts of 2000::/3 that are not global: (first 32 bits, prefix length).
const NOT_GLOBAL_V6: [(u32, u32); 4] = [
    (0x2001_0000, 23), // IETF protocol assignments (Teredo, benchmarking, ORCHID)
    (0x2001_0db8, 32), // documentation
    (0x2002_0000, 16), // 6to4: an IPv4 address inside, private ones too
    (0x3fff_0000, 20), // documentation
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let top = u32::try_from(u128::from(ip) >> 96).unwrap_or(0);
    let global_unicast = in_prefix(top, 0x2000_0000, 3);
    global_unicast
        && !NOT_GLOBAL_V6
            .iter()
            .any(|&(net, len)| in_prefix(top, net, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_local_addresses_are_not_public() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "::a00:1",
            "fec0::1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "224.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "ff02::1",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            assert!(!is_public(ip), "{text} counted as public");
        }
        for text in [
            "8.8.8.8",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "198.20.0.1",
            "223.255.255.254",
            "2a00:1450:4001::1",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            assert!(is_public(ip), "{text} counted as private");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let name: Name = "localhost".parse().expect("name");
        let refused = PublicOnly.resolve(name).await;
        assert!(refused.is_err(), "localhost must not resolve");
    }
}
