//! Who the client is: its IP address, also behind a reverse proxy.
//!
//! The address of the socket's peer is the client unless that peer is one of the configured
//! `trusted_proxies`. Only then is the proxy's header read (`X-Forwarded-For`, or RFC 7239
//! `Forwarded` when `proxy_header = "forwarded"`): its addresses are walked from the right, past
//! those of trusted proxies, and the first untrusted one is the client. Everything to the left of
//! it was written by the client itself and is ignored, so a client cannot choose its own address
//! (and with it its rate-limit bucket) by sending the header. A peer that is not a trusted proxy
//! has its headers ignored entirely.
//!
//! An entry that is not an address (`unknown`, an obfuscated RFC 7239 identifier, garbage) ends
//! the walk: the address written by the trusted proxy to its right — or the peer — is then taken
//! as the client, since nothing further left can be trusted.

use std::net::{IpAddr, SocketAddr};

use axum::extract::FromRequestParts;
use axum::extract::connect_info::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::AppState;
pub use crate::net::{Cidr, ProxyHeader, TrustedProxies};

/// One address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, each possibly in double quotes.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    s.parse::<SocketAddr>()
        .ok()
        .filter(SocketAddr::is_ipv4)
        .map(|a| a.ip())
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The entries of every instance of the header, left to right; `None` for one that is not an
/// address.
fn forwarded_chain(headers: &HeaderMap, which: ProxyHeader) -> Vec<Option<IpAddr>> {
    let name = match which {
        ProxyHeader::XForwardedFor => "x-forwarded-for",
        ProxyHeader::Forwarded => "forwarded",
    };
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        let Ok(text) = value.to_str() else {
            // Not visible ASCII: no address in it can be read, so none further left either.
            out.push(None);
            continue;
        };
        for element in text.split(',') {
            let element = element.trim();
            if element.is_empty() {
                continue;
            }
            out.push(match which {
                ProxyHeader::XForwardedFor => parse_node(element),
                ProxyHeader::Forwarded => element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v)),
            });
        }
    }
    out
}

/// The client's address (see the module documentation). `peer` is the socket's peer.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    which: ProxyHeader,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded_chain(headers, which).into_iter().rev() {
        match entry {
            None => return client,
            Some(ip) => {
                client = ip.to_canonical();
                if !trusted.contains(client) {
                    return client;
                }
            }
        }
    }
    // Every hop was a trusted proxy: the left-most is as close to the client as we know.
    client
}

/// The client's address, for rate limits, duplicate detection and logs. Without a socket (the
/// app called directly, in unit tests) the peer counts as 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(ClientAddr(client_address(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
            state.config.proxy_header,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn cidr_blocks() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.255.1.2")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")) && !all.contains(ip("2001:db8::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "proxy.example",
            "10.0.0/8",
            "1.2.3.4/x",
        ] {
            let e = bad.parse::<Cidr>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        let t = TrustedProxies::parse(&["127.0.0.1", "fd00::/8"]).unwrap();
        assert_eq!(Vec::<String>::from(t), ["127.0.0.1/32", "fd00::/8"]);
    }

    #[test]
    fn headers_of_untrusted_peers_are_ignored() {
        let none = TrustedProxies::default();
        let h = headers("x-forwarded-for", &["198.51.100.1"]);
        let peer = ip("203.0.113.5");
        assert_eq!(
            client_address(peer, &h, &none, ProxyHeader::XForwardedFor),
            peer
        );
        let other = TrustedProxies::parse(&["10.0.0.1"]).unwrap();
        assert_eq!(
            client_address(peer, &h, &other, ProxyHeader::XForwardedFor),
            peer
        );
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let proxy = ip("10.0.0.2");
        let xff = ProxyHeader::XForwardedFor;
        // The client put a fake address in front; the proxies appended the real one and their own.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.1, 10.0.0.9"]);
        assert_eq!(client_address(proxy, &h, &t, xff), ip("198.51.100.1"));
        // Several header lines are one list.
        let h = headers("x-forwarded-for", &["6.6.6.6", "198.51.100.1:5555"]);
        assert_eq!(client_address(proxy, &h, &t, xff), ip("198.51.100.1"));
        let h = headers("x-forwarded-for", &["[2001:db8::5]:80"]);
        assert_eq!(client_address(proxy, &h, &t, xff), ip("2001:db8::5"));
        // No header: the proxy itself.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &t, xff), proxy);
        // Garbage stops the walk at the last trusted hop.
        let h = headers("x-forwarded-for", &["198.51.100.1, garbage, 10.0.0.9"]);
        assert_eq!(client_address(proxy, &h, &t, xff), ip("10.0.0.9"));
        // Only trusted hops: the left-most.
        let h = headers("x-forwarded-for", &["10.1.1.1, 10.0.0.9"]);
        assert_eq!(client_address(proxy, &h, &t, xff), ip("10.1.1.1"));
        // The other header is not read.
        let h = headers("forwarded", &["for=198.51.100.1"]);
        assert_eq!(client_address(proxy, &h, &t, xff), proxy);
    }

    #[test]
    fn rfc_7239_forwarded() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let fwd = ProxyHeader::Forwarded;
        let proxy = ip("10.0.0.2");
        let h = headers(
            "forwarded",
            &[
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.9;by=10.0.0.2",
            ],
        );
        assert_eq!(client_address(proxy, &h, &t, fwd), ip("2001:db8:cafe::17"));
        let h = headers("Forwarded", &["For=\"198.51.100.7:80\";proto=http"]);
        assert_eq!(client_address(proxy, &h, &t, fwd), ip("198.51.100.7"));
        let h = headers("forwarded", &["for=198.51.100.7, for=_hidden"]);
        assert_eq!(client_address(proxy, &h, &t, fwd), proxy);
        let h = headers("x-forwarded-for", &["198.51.100.1"]);
        assert_eq!(client_address(proxy, &h, &t, fwd), proxy);
    }
}
