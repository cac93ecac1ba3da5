//! Which network addresses the host may connect to on behalf of an API key
//! (webhook receivers). Any API key can name a URL, so without a policy the
//! host would POST to its own loopback services, the private network it sits
//! in or a cloud metadata service for whoever asked (server-side request
//! forgery). By default only public unicast addresses are permitted; an
//! operator whose receivers run on their own network opts in to private and
//! loopback addresses (`switchyard serve --allow-private-webhooks`).
//!
//! The policy is applied to the address actually connected to (see
//! `webhooks::resolve`), and to literal hosts in URLs (see [`AddressPolicy::check_url`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The addresses outbound requests made for an API key may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    /// RFC 1918, IPv6 unique-local (fc00::/7), carrier-grade NAT (100.64/10)
    /// and benchmarking (198.18/15) networks.
    pub allow_private: bool,
    /// 127.0.0.0/8, ::1 and `localhost`.
    pub allow_loopback: bool,
}

/// Why an address is refused (or that it is public).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    Loopback,
    Private,
    /// Never reachable, whatever the policy: link-local, cloud metadata,
    /// unspecified, broadcast, multicast, documentation and reserved ranges.
    Never(&'static str),
}

/// An address (or name) the policy does not permit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{target} is {what}, which webhooks are not allowed to reach{hint}")]
pub struct Forbidden {
    /// The address or name as given.
    pub target: String,
    /// What kind of address it is, in words.
    pub what: &'static str,
    hint: &'static str,
}

impl AddressPolicy {
    /// Public addresses only: the default.
    pub const fn public_only() -> Self {
        AddressPolicy {
            allow_private: false,
            allow_loopback: false,
        }
    }

    /// Public addresses and this machine (sandbox mode, tests).
    pub const fn allow_loopback() -> Self {
        AddressPolicy {
            allow_private: false,
            allow_loopback: true,
        }
    }

    /// Public, private-network and loopback addresses
    /// (`--allow-private-webhooks`).
    pub const fn allow_private() -> Self {
        AddressPolicy {
            allow_private: true,
            allow_loopback: true,
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        self.check(ip).is_ok()
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), Forbidden> {
        self.check_class(classify(ip), ip.to_string())
    }

    /// Checks the host of `url` when it needs no name resolution: an IP
    /// literal (connected to without asking a resolver) or a `localhost`
    /// name. Other names are checked when they are resolved.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Forbidden> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    self.check_class(Class::Loopback, name)
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    fn check_class(&self, class: Class, target: String) -> Result<(), Forbidden> {
        let refused = |what, hint| Err(Forbidden { target, what, hint });
        const OPT_IN: &str = " (an operator can allow it with --allow-private-webhooks)";
        match class {
            Class::Public => Ok(()),
            Class::Loopback if self.allow_loopback => Ok(()),
            Class::Loopback => refused("a loopback address", OPT_IN),
            Class::Private if self.allow_private => Ok(()),
            Class::Private => refused("a private network address", OPT_IN),
            Class::Never(what) => refused(what, ""),
        }
    }
}

impl fmt::Display for AddressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.allow_private, self.allow_loopback) {
            (true, _) => "public, private-network and loopback addresses",
            (false, true) => "public and loopback addresses",
            (false, false) => "public addresses only",
        })
    }
}

const METADATA: &str = "a cloud metadata service address";
const LINK_LOCAL: &str = "a link-local address";
const UNSPECIFIED: &str = "an unspecified address";
const MULTICAST: &str = "a broadcast or multicast address";
const RESERVED: &str = "a reserved or documentation address";

/// What kind of address `ip` is.
pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        // Metadata services: AWS, GCP, Azure, Oracle; Alibaba Cloud.
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Class::Never(METADATA),
        _ if ip == Ipv4Addr::new(100, 100, 100, 200) => Class::Never(METADATA),
        (0, _, _) => Class::Never(UNSPECIFIED),
        (127, _, _) => Class::Loopback,
        (169, 254, _) => Class::Never(LINK_LOCAL),
        (10, _, _) | (192, 168, _) => Class::Private,
        (172, 16..=31, _) => Class::Private,
        (100, 64..=127, _) => Class::Private,
        (198, 18..=19, _) => Class::Private,
        (224..=239, _, _) | (255, 255, 255) => Class::Never(MULTICAST),
        (240..=255, _, _) => Class::Never(RESERVED),
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Class::Never(RESERVED),
        _ => Class::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let segments = ip.segments();
    // Forms that carry an IPv4 address reach that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the gateway forwards to the embedded address.
        return classify_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        // 6to4: 2002:AABB:CCDD::/48 reaches AA.BB.CC.DD's network.
        return match classify_v4(embedded_v4(segments[1], segments[2])) {
            Class::Public => Class::Public,
            // A 6to4 address of a private network is never meant to work.
            _ => Class::Never(RESERVED),
        };
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Class::Never(METADATA);
    }
    if ip.is_unspecified() {
        return Class::Never(UNSPECIFIED);
    }
    if ip.is_loopback() {
        return Class::Loopback;
    }
    match segments[0] {
        // IPv4-compatible (deprecated) and other forms under ::/8, 100::/64 (discard).
        0x0000..=0x00ff => Class::Never(RESERVED),
        0x0100 if segments[1..4] == [0, 0, 0] => Class::Never(RESERVED),
        // Teredo (2001::/32) tunnels to an address it hides; documentation (2001:db8::/32).
        0x2001 if segments[1] == 0 || segments[1] == 0xdb8 => Class::Never(RESERVED),
        0x3fff if segments[1] <= 0x0fff => Class::Never(RESERVED),
        0xfc00..=0xfdff => Class::Private,
        // Site-local (deprecated, still routed inside some networks).
        0xfec0..=0xfeff => Class::Private,
        0xfe80..=0xfebf => Class::Never(LINK_LOCAL),
        0xff00..=0xffff => Class::Never(MULTICAST),
        _ => Class::Public,
    }
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &[&str] = &[
        "93.184.215.14",
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.169.0.1",
        "169.253.255.255",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ];
    const LOOPBACK: &[&str] = &["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"];
    const PRIVATE: &[&str] = &[
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.255",
        "198.18.0.1",
        "fc00::1",
        "fd12:3456:789a::1",
        "fec0::1",
        "::ffff:10.0.0.1",
        "::ffff:192.168.0.1",
        "64:ff9b::a00:1",
    ];
    const NEVER: &[&str] = &[
        "0.0.0.0",
        "0.1.2.3",
        "169.254.169.254",
        "169.254.0.1",
        "100.100.100.200",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "192.0.0.170",
        "::",
        "fd00:ec2::254",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "::127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        "64:ff9b::a9fe:a9fe",
        "2002:a00:1::1",
        "2002:7f00:1::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
    ];

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn each_address_is_what_the_table_says() {
        for (addresses, expected) in [
            (PUBLIC, "public"),
            (LOOPBACK, "loopback"),
            (PRIVATE, "private"),
            (NEVER, "never"),
        ] {
            for a in addresses {
                let got = match classify(ip(a)) {
                    Class::Public => "public",
                    Class::Loopback => "loopback",
                    Class::Private => "private",
                    Class::Never(_) => "never",
                };
                assert_eq!(got, expected, "{a}");
            }
        }
    }

    #[test]
    fn each_policy_permits_what_it_says() {
        let all = [PUBLIC, LOOPBACK, PRIVATE, NEVER];
        for (policy, permitted) in [
            (AddressPolicy::public_only(), &[PUBLIC][..]),
            (AddressPolicy::allow_loopback(), &[PUBLIC, LOOPBACK][..]),
            (
                AddressPolicy::allow_private(),
                &[PUBLIC, LOOPBACK, PRIVATE][..],
            ),
        ] {
            for group in all {
                let expected = permitted.contains(&group);
                for a in group {
                    assert_eq!(policy.permits(ip(a)), expected, "{policy}: {a}");
                }
            }
        }
        assert_eq!(AddressPolicy::default(), AddressPolicy::public_only());
    }

    #[test]
    fn literal_hosts_in_urls_are_checked_and_names_left_to_resolution() {
        let policy = AddressPolicy::public_only();
        let check = |u: &str| policy.check_url(&url::Url::parse(u).unwrap());
        for refused in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/x",
            "http://[::ffff:a9fe:a9fe]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://localhost/",
            "http://LocalHost./",
            "http://api.localhost/",
        ] {
            assert!(check(refused).is_err(), "{refused}");
        }
        for allowed in ["https://hooks.example.com/in", "http://8.8.8.8/"] {
            assert_eq!(check(allowed), Ok(()), "{allowed}");
        }
        let why = check("http://169.254.169.254/").unwrap_err().to_string();
        assert!(
            why.contains("metadata") && !why.contains("--allow"),
            "{why}"
        );
        let why = check("http://10.0.0.1/").unwrap_err().to_string();
        assert!(why.contains("private") && why.contains("--allow-private-webhooks"));
        assert_eq!(
            AddressPolicy::allow_loopback()
                .check_url(&url::Url::parse("http://localhost/").unwrap()),
            Ok(())
        );
    }
}
