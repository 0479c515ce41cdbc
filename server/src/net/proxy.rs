//! Reverse proxies the server trusts (`--trusted-proxies`), and the client address behind
//! them. Behind a proxy every connection comes from the proxy's address, so the per-address
//! caps can't tell clients apart; a trusted proxy's `X-Forwarded-For` names the client. Only
//! a trusted peer's header is believed (anyone else can write one), and of a chain of
//! proxies the nearest address that is not a trusted proxy is the client.

use std::net::IpAddr;

/// Why a `--trusted-proxies` entry can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// Neither an IP address nor `address/prefix`.
    #[error("not an IP address or network: {0:?}")]
    Invalid(String),
}

/// Networks whose peers' `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.7`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(entries: &[String]) -> Result<Self, ProxyError> {
        let mut nets = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let bad = || ProxyError::Invalid(entry.to_owned());
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err(bad());
            }
            nets.push((ip, prefix));
        }
        Ok(Self { nets })
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|&(net, prefix)| match (canonical(net), ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), u128::from(u32::from(a)), prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => masked(u128::from(n), u128::from(a), prefix, 128),
            _ => false,
        })
    }

    /// The client's address: `peer` itself unless it is a trusted proxy, else the nearest
    /// address in the `X-Forwarded-For` values (read right to left) that is not a trusted
    /// proxy. A malformed entry ends the search there (the peer's view is kept).
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn masked(net: u128, addr: u128, prefix: u8, bits: u32) -> bool {
    let host_bits = bits - u32::from(prefix);
    if host_bits >= bits {
        return true;
    }
    (net >> host_bits) == (addr >> host_bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn networks_and_addresses() {
        let t =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.5".into(), "fd00::/8".into()])
                .expect("valid");
        assert!(t.contains(ip("10.1.2.3")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("192.168.1.5")));
        assert!(!t.contains(ip("192.168.1.6")));
        assert!(t.contains(ip("fd12::1")));
        assert!(t.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        assert!(TrustedProxies::parse(&["0.0.0.0/0".into()]).expect("all").contains(ip("1.2.3.4")));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into()]).expect("valid");
        // Not from a proxy: its header is ignored.
        assert_eq!(t.client_ip(ip("203.0.113.9"), ["1.1.1.1"].into_iter()), ip("203.0.113.9"));
        // From a proxy: the last untrusted address; a spoofed first entry is skipped.
        assert_eq!(
            t.client_ip(ip("10.0.0.2"), ["6.6.6.6, 203.0.113.9", "10.0.0.3"].into_iter()),
            ip("203.0.113.9")
        );
        // No header: the proxy itself.
        assert_eq!(t.client_ip(ip("10.0.0.2"), std::iter::empty()), ip("10.0.0.2"));
        // Garbage stops the search.
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["203.0.113.9, junk"].into_iter()), ip("10.0.0.2"));
    }
}
