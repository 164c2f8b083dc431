//! The address a person's request comes from: the connection's peer, unless that peer is
//! one of the configured trusted proxies (`TrustedProxies` in hub.ini and lui.ini), then
//! the right-most address in `X-Forwarded-For` that is not a trusted proxy. Each proxy
//! appends the address it was connected from, so everything left of the first untrusted
//! hop may have been written by the client and is never believed.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ConfigValue;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed: addresses and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `127.0.0.1,10.0.0.0/8,::1`: addresses or networks (CIDR), separated by commas.
impl ConfigValue for TrustedProxies {
    fn parse_value(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("\"{p}\" is neither an IP address nor a network such as 10.0.0.0/8")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

/// The client's address for a request from `peer` (none when the server did not record
/// it) with these `headers`.
pub fn client_address(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?.ip().to_canonical();
    if !trusted.contains(peer) {
        return Some(peer);
    }
    // Several headers count as one list, in their order; a value that is not text is a hop
    // that cannot be read.
    let hops: Vec<Option<&str>> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(Some).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.and_then(parse_hop) {
            Some(ip) if trusted.contains(ip) => client = ip,
            Some(ip) => return Some(ip),
            // Nothing left of an unreadable hop can be believed: the last trusted one is
            // the client, as far as anyone can tell.
            None => return Some(client),
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as some proxies
/// write it (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(s: &str) -> TrustedProxies {
        TrustedProxies::parse_value(s).expect("valid TrustedProxies")
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().expect("an address"), 40000))
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(v).expect("header"));
        }
        headers
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("an address"))
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks_and_refuse_the_rest() {
        let t = trusted(" 127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8,");
        for inside in [
            "127.0.0.1",
            "10.200.3.4",
            "::1",
            "fd12::5",
            "::ffff:10.1.1.1",
        ] {
            assert!(t.contains(inside.parse().expect("an address")), "{inside}");
        }
        for outside in ["127.0.0.2", "11.0.0.1", "::2", "2001:db8::1"] {
            assert!(
                !t.contains(outside.parse().expect("an address")),
                "{outside}"
            );
        }
        assert_eq!(trusted(""), TrustedProxies::default());
        let e = TrustedProxies::parse_value("127.0.0.1,proxy.example.com").unwrap_err();
        assert!(e.contains("\"proxy.example.com\" is neither"), "{e}");
        assert!(TrustedProxies::parse_value("10.0.0.0/33").is_err());
    }

    #[test]
    fn the_forwarded_for_header_of_an_untrusted_peer_is_ignored() {
        let t = trusted("127.0.0.1");
        let headers = xff(&["198.51.100.7"]);
        assert_eq!(
            client_address(peer("203.0.113.9"), &headers, &t),
            ip("203.0.113.9")
        );
        // Nothing trusted at all: the peer, whatever the header says.
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &TrustedProxies::default()),
            ip("127.0.0.1")
        );
        assert_eq!(client_address(None, &headers, &t), None);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let t = trusted("127.0.0.1,10.0.0.0/8");
        // The client wrote a false address in front; the proxy appended the real one.
        let headers = xff(&["1.1.1.1, 198.51.100.7"]);
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("198.51.100.7")
        );
        // Two proxies: the inner one (10.0.0.5) appended the outer one's address.
        let headers = xff(&["6.6.6.6, 198.51.100.7, 10.0.0.5"]);
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("198.51.100.7")
        );
        // Several headers are one list, in order.
        let headers = xff(&["6.6.6.6", "198.51.100.7", "10.0.0.5"]);
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("198.51.100.7")
        );
        // Ports and IPv6 as some proxies write them.
        let headers = xff(&["[2001:db8::7]:4711"]);
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("2001:db8::7")
        );
        let headers = xff(&["198.51.100.8:5000"]);
        assert_eq!(
            client_address(peer("::ffff:127.0.0.1"), &headers, &t),
            ip("198.51.100.8")
        );
    }

    #[test]
    fn without_a_readable_untrusted_hop_the_last_trusted_one_is_the_client() {
        let t = trusted("127.0.0.1,10.0.0.0/8");
        // No header: the proxy itself is all we know.
        assert_eq!(
            client_address(peer("127.0.0.1"), &HeaderMap::new(), &t),
            ip("127.0.0.1")
        );
        // Garbage left of a trusted hop is not believed.
        let headers = xff(&["unknown, 10.0.0.5"]);
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("10.0.0.5")
        );
        let mut headers = xff(&["6.6.6.6"]);
        headers.append(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"\xff\xfe").expect("opaque header"),
        );
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("127.0.0.1")
        );
        // Every hop trusted (a client inside the proxy's network): the left-most.
        let headers = xff(&["10.1.2.3, 10.0.0.5"]);
        assert_eq!(
            client_address(peer("127.0.0.1"), &headers, &t),
            ip("10.1.2.3")
        );
    }
}
