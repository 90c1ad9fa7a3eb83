//! The login event the detectors read, and how sources are grouped.
//!
//! Everything here is `Copy` and fixed-size so the hot path allocates nothing:
//! accounts are an opaque [`AccountKey`] (a keyed 64-bit hash of the e-mail or id,
//! made by the caller), never a string.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::hash::mix2;

/// An account as the detectors see it: an opaque 64-bit key.
///
/// Chosen over `&str`/`Arc<str>` for speed and memory: it is hashed and compared in
/// one instruction, stored in 8 bytes, and the detectors need nothing else. The caller
/// derives it with a keyed hash (e.g. HMAC of the normalised e-mail, truncated), so
/// an outsider cannot aim collisions at a chosen account, and maps it back to the
/// account when it turns a [`Signal`](crate::Signal) into a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountKey(pub u64);

/// A keyed 64-bit hash of an attempted password (Gatehouse's own logins only).
/// Never the password: the key stays in the server, so the digest cannot be
/// reversed by guessing outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordDigest(pub u64);

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The password was right.
    Success,
    /// The account exists and the password was wrong.
    WrongPassword,
    /// No such account (still an attempt: credential lists are full of them).
    UnknownAccount,
}

impl Outcome {
    /// Wrong password or unknown account.
    #[inline]
    pub fn is_failure(self) -> bool {
        !matches!(self, Outcome::Success)
    }
}

/// One login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginEvent {
    /// Milliseconds since the Unix epoch (`gatehouse_domain::Timestamp::as_millis`).
    pub time_ms: i64,
    /// Which account was tried.
    pub account: AccountKey,
    /// The client address.
    pub ip: IpAddr,
    /// The client's autonomous system, when the sender knows it.
    pub asn: Option<u32>,
    /// How it ended.
    pub outcome: Outcome,
    /// Keyed hash of the attempted password, when known (Gatehouse's own logins).
    pub password: Option<PasswordDigest>,
    /// 64-bit hash of the client's user agent ([`user_agent_hash`]); 0 when unknown.
    /// A hash, not the string, so the event stays `Copy` and fixed-size.
    pub user_agent: u64,
    /// The client's country as the sender geolocated it; [`Country::UNKNOWN`] when not.
    pub country: Country,
}

/// An ISO 3166-1 alpha-2 country code in two bytes (`[0, 0]`: unknown).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Country(pub [u8; 2]);

impl Country {
    /// Not known.
    pub const UNKNOWN: Country = Country([0, 0]);

    /// The country of a two-letter code (case folded); unknown for anything else.
    pub fn from_code(code: &str) -> Country {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
            }
            _ => Country::UNKNOWN,
        }
    }

    /// Whether the sender knew it.
    #[inline]
    pub fn is_known(self) -> bool {
        self != Country::UNKNOWN
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_known() {
            write!(f, "{}{}", self.0[0] as char, self.0[1] as char)
        } else {
            f.write_str("??")
        }
    }
}

/// The detectors' 64-bit hash of a user-agent string (FNV-1a, then mixed); never 0,
/// which means "unknown". Not keyed: a user agent is not a secret, and collisions
/// only make two devices look alike.
///
/// Version numbers count by their first component only ("Brisa/5.13.0" and
/// "Brisa/5.12.1" are one device, "iOS 18_1" and "iOS 18_2" one system; Chrome 131
/// and 132 stay two): apps and systems push minor updates to every device within
/// days, and each one made every returning person's phone a *new device* to the
/// account histories — a site-wide surge of novelty nobody should be flagged for
/// (on the second trace, the app store release and the browser's auto-update
/// came days before the attacks). An attacker's old browser is still another
/// major version.
pub fn user_agent_hash(user_agent: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let b = user_agent.trim().as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let minor = (c == b'.' || c == b'_')
            && i > 0
            && b[i - 1].is_ascii_digit()
            && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if minor {
            // Skip ".13.0" (or "_2_1") up to the next non-version character.
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            continue;
        }
        h = (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    crate::hash::mix64(h).max(1)
}

/// How a detector groups client addresses into one "source".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SourceGrouping {
    /// Each address on its own.
    Ip,
    /// IPv4 by /24, IPv6 by /64: one household, office or small hosting block.
    #[default]
    Network,
    /// By autonomous system; an event without an ASN falls back to its network.
    Asn,
}

/// A source after grouping: what the evidence names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// One address.
    Ip(IpAddr),
    /// A network: its first address and prefix length (24 or 64).
    Network {
        /// First address of the network.
        base: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// An autonomous system.
    Asn(u32),
}

impl Source {
    /// The source of `ip`/`asn` under `grouping`.
    #[inline]
    pub fn of(grouping: SourceGrouping, ip: IpAddr, asn: Option<u32>) -> Source {
        match (grouping, asn) {
            (SourceGrouping::Ip, _) => Source::Ip(ip),
            (SourceGrouping::Asn, Some(asn)) => Source::Asn(asn),
            (SourceGrouping::Network | SourceGrouping::Asn, _) => match ip {
                IpAddr::V4(v4) => Source::Network {
                    base: IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
                    prefix: 24,
                },
                IpAddr::V6(v6) => Source::Network {
                    base: IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
                    prefix: 64,
                },
            },
        }
    }

    /// A well-mixed 64-bit key for sketches and tables. Distinct kinds get distinct
    /// seeds so an ASN number never collides with an address by construction.
    #[inline]
    pub fn key(&self) -> u64 {
        match *self {
            Source::Ip(IpAddr::V4(a)) => mix2(1, u64::from(u32::from(a))),
            Source::Ip(IpAddr::V6(a)) => {
                let v = u128::from(a);
                mix2(2 ^ mix2(3, (v >> 64) as u64), v as u64)
            }
            Source::Network { base, prefix } => {
                let v = match base {
                    IpAddr::V4(a) => u128::from(u32::from(a)),
                    IpAddr::V6(a) => u128::from(a) >> 64,
                };
                mix2(4 ^ u64::from(prefix), v as u64 ^ (v >> 64) as u64)
            }
            Source::Asn(asn) => mix2(5, u64::from(asn)),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Ip(ip) => write!(f, "{ip}"),
            Source::Network { base, prefix } => write!(f, "{base}/{prefix}"),
            Source::Asn(asn) => write!(f, "AS{asn}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_its_major_versions() {
        let app = |v: &str| {
            user_agent_hash(&format!(
                "Brisa/{v} (Linux; Android 14; SM-A546B) okhttp/4.12.0"
            ))
        };
        assert_eq!(app("5.12.1"), app("5.13.0"), "an app's minor update");
        assert_ne!(app("5.13.0"), app("6.0.0"), "a major one");
        let ios = |v: &str| {
            user_agent_hash(&format!(
                "Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X)"
            ))
        };
        assert_eq!(ios("18_1"), ios("18_2_1"));
        let chrome = |v: u32| {
            user_agent_hash(&format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{v}.0.6778.86 Safari/537.36"
            ))
        };
        assert_ne!(chrome(131), chrome(132), "a browser's major version");
        assert_ne!(app("5.13.0"), chrome(131));
        assert_ne!(user_agent_hash(""), 0);
    }

    #[test]
    fn grouping_masks_v4_to_24_and_v6_to_64() {
        let a: IpAddr = "203.0.113.77".parse().unwrap();
        let b: IpAddr = "203.0.113.5".parse().unwrap();
        let s = Source::of(SourceGrouping::Network, a, None);
        assert_eq!(s.to_string(), "203.0.113.0/24");
        assert_eq!(s, Source::of(SourceGrouping::Network, b, None));
        assert_ne!(
            Source::of(SourceGrouping::Ip, a, None).key(),
            Source::of(SourceGrouping::Ip, b, None).key()
        );
        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(
            Source::of(SourceGrouping::Network, v6, None).to_string(),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn asn_grouping_falls_back_to_the_network() {
        let a: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(
            Source::of(SourceGrouping::Asn, a, Some(64500)),
            Source::Asn(64500)
        );
        assert_eq!(
            Source::of(SourceGrouping::Asn, a, None).to_string(),
            "198.51.100.0/24"
        );
    }
}
