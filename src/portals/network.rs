//! The network an address belongs to, as the verification budgets see it
//! (`docs/security.md`, "Budgets").

use std::net::IpAddr;

/// The network an address belongs to, as budgets see it: an IPv4 /24 or an IPv6 /64 (one
/// subscriber's allocation; the 2^64 addresses inside are one key). An IPv4-mapped IPv6
/// address is its IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network(IpAddr);

impl Network {
    /// The network of `address`.
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(IpAddr::V4((u32::from(v4) & 0xffff_ff00).into())),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::of(IpAddr::V4(v4)),
                None => Self(IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into())),
            },
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}/24"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn networks_are_ipv4_24s_and_ipv6_64s() {
        assert_eq!(
            Network::of(v4(192, 0, 2, 1)),
            Network::of(v4(192, 0, 2, 254))
        );
        assert_ne!(Network::of(v4(192, 0, 2, 1)), Network::of(v4(192, 0, 3, 1)));
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let b: Ipv6Addr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().expect("v6");
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(Network::of(a.into()), Network::of(b.into()));
        assert_ne!(Network::of(a.into()), Network::of(c.into()));
        let mapped: Ipv6Addr = "::ffff:192.0.2.77".parse().expect("v6");
        assert_eq!(Network::of(mapped.into()), Network::of(v4(192, 0, 2, 1)));
        assert_eq!(Network::of(a.into()).to_string(), "2001:db8:1:2::/64");
    }
}
