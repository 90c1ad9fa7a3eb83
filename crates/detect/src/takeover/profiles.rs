//! Per-account histories: the networks, ASNs, devices and countries each
//! account signed in from successfully, in a bounded set-associative table.

use super::*;

/// Slots per profile bucket (a bucket is one 4-way set).
pub(super) const WAYS: usize = 4;

/// One account's history: small most-recent-first sets of hashes.
#[derive(Clone, Copy, Default)]
pub(super) struct Profile {
    /// High bits of the account key (0: empty slot).
    pub(super) tag: u32,
    /// Minutes since the epoch of its last success (for eviction).
    pub(super) last_min: u32,
    /// Successes seen, saturating at 255 (the rules ask for 1–3).
    pub(super) successes: u8,
    /// An 8-bit tag of the password of its last success that carried a digest
    /// (0: none seen). A byte, not more: with `successes` it fits where a `u16`
    /// count was, so the table stays 56 bytes an account.
    pub(super) password: u8,
    pub(super) countries: [Country; 3],
    // The networks, ASNs and user agents as 16-bit fingerprints keyed by the
    // account ([`fp16`]): twice as many of each in the bytes that held 32-bit
    // hashes. A family sharing one account, a person with a phone, a laptop and
    // an office, signs in with more devices and networks than three: the
    // second trace's carrier users flagged while 4G proxies exited through
    // their carrier had signed in with that very phone on that very carrier
    // days before, pushed out of a three-slot history by the family's others.
    pub(super) nets: [u16; 8],
    pub(super) asns: [u16; 6],
    pub(super) uas: [u16; 6],
}

/// What a success has that the account's history does not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Novelty {
    /// Successes the account had before (0: no history kept for it).
    pub known_successes: u16,
    /// A user agent it never succeeded with (false when the event has none).
    pub new_device: bool,
    /// A /24 · /64 it never succeeded from.
    pub new_network: bool,
    /// An ASN it never succeeded from (false when the event has none).
    pub new_asn: bool,
    /// A country it never succeeded from (false when the event has none).
    pub new_country: bool,
    /// The attempt's password is the one the account last signed in with (by an
    /// 8-bit tag: one other password in 255 matches; false without a digest).
    pub own_password: bool,
    /// A user agent the account signed in with, from a country it signed in
    /// from — both sent: the owner's own phone or laptop at home, on whatever
    /// network it is on today (`TakeoverConfig::own_device_home`).
    pub device_home: bool,
}

impl Novelty {
    /// Looks like the owner: a known device (or none sent) on a known network or ASN.
    pub fn owner_like(&self) -> bool {
        self.known_successes > 0 && !self.new_device && (!self.new_network || !self.new_asn)
    }

    /// How unlike the owner, 0..=1: device 0.4, network 0.2, ASN 0.2, country 0.2.
    /// Without history everything is new: 1.
    pub fn level(&self) -> f32 {
        if self.known_successes == 0 {
            return 1.0;
        }
        let b = |v: bool, w: f32| if v { w } else { 0.0 };
        b(self.new_device, 0.4)
            + b(self.new_network, 0.2)
            + b(self.new_asn, 0.2)
            + b(self.new_country, 0.2)
    }
}

pub(super) fn has<T: PartialEq + Copy>(set: &[T], v: T) -> bool {
    set.contains(&v)
}

/// Put `v` first, keeping the others in recency order (drops the oldest when full).
pub(super) fn remember<T: PartialEq + Copy>(set: &mut [T], v: T) {
    let pos = set.iter().position(|&x| x == v).unwrap_or(set.len() - 1);
    set.copy_within(0..pos, 1);
    set[0] = v;
}

/// An ASN as a 64-bit value for [`fp16`].
fn asn_key(asn: u32) -> u64 {
    0x6173_6e00_0000_0000 | u64::from(asn)
}

/// Bounded per-account histories: a 4-way set-associative table; a full set
/// evicts the account whose last success is oldest.
pub struct Profiles {
    pub(super) slots: Vec<Profile>,
    pub(super) mask: usize,
}

/// The /24 · /64 of `ip` as a key (for [`fp16`]).
fn net_key(ip: std::net::IpAddr) -> u64 {
    Source::of(SourceGrouping::Network, ip, None).key()
}

/// A 16-bit fingerprint (never 0, an empty slot) of `v` in the history of the
/// account whose table hash is `account`. Keyed by the account, so no value
/// collides with another in every history: a new network, ASN or user agent
/// passes for a known one with odds of 8 in 65,535 at most (the eight
/// networks), whatever an attacker picks.
fn fp16(account: u64, v: u64) -> u16 {
    ((mix2(account, v) >> 48) as u16).max(1)
}

/// An 8-bit tag of an account (never 0), to tell "another account" apart (one
/// other account in 128 shares it).
pub(super) fn tag8(a: AccountKey) -> u8 {
    (mix2(0x7461_6731, a.0) >> 56) as u8 | 1
}

/// An 8-bit tag of a password (never 0).
pub(super) fn pw8(pw: PasswordDigest) -> u8 {
    ((mix2(0x7077_6438, pw.0) >> 56) as u8).max(1)
}

/// An 8-bit tag of a user agent (0: none sent).
pub(super) fn ua8(ua: u64) -> u8 {
    if ua == 0 {
        0
    } else {
        (mix2(0x7561_3136, ua) >> 56) as u8 | 1
    }
}

impl Profiles {
    /// A table of `buckets` (a power of two) × 4 accounts.
    pub fn new(buckets: u32) -> Profiles {
        let b = (buckets.max(1) as usize).next_power_of_two();
        Profiles {
            slots: vec![Profile::default(); b * WAYS],
            mask: b - 1,
        }
    }

    /// Bytes held.
    pub fn bytes(buckets: u32) -> usize {
        (buckets.max(1) as usize).next_power_of_two() * WAYS * std::mem::size_of::<Profile>()
    }

    /// The account's set (its first slot), its tag, and the key of its
    /// fingerprints.
    pub(super) fn place(&self, a: AccountKey) -> (usize, u32, u64) {
        let h = mix2(0x7072_6f66, a.0);
        (((h as usize) & self.mask) * WAYS, (h >> 32) as u32 | 1, h)
    }

    /// How `ev` differs from the account's history.
    pub fn novelty(&self, ev: &LoginEvent) -> Novelty {
        let (base, tag, key) = self.place(ev.account);
        let Some(p) = self.slots[base..base + WAYS].iter().find(|p| p.tag == tag) else {
            return Novelty::default();
        };
        let known_ua = ev.user_agent != 0 && has(&p.uas, fp16(key, ev.user_agent));
        Novelty {
            known_successes: u16::from(p.successes),
            new_device: ev.user_agent != 0 && !known_ua,
            new_network: !has(&p.nets, fp16(key, net_key(ev.ip))),
            new_asn: ev.asn.is_some_and(|a| !has(&p.asns, fp16(key, asn_key(a)))),
            new_country: ev.country.is_known() && !has(&p.countries, ev.country),
            own_password: p.password != 0 && ev.password.is_some_and(|pw| pw8(pw) == p.password),
            device_home: known_ua && ev.country.is_known() && has(&p.countries, ev.country),
        }
    }

    /// Forget the password of the account's last success: that success was
    /// judged an attacker's, so its password is the stolen one, not the owner's
    /// last good one (after a force-reset the attacker's retries with it are
    /// wrong passwords like any other).
    pub fn forget_password(&mut self, account: AccountKey) {
        let (base, tag, _) = self.place(account);
        if let Some(p) = self.slots[base..base + WAYS]
            .iter_mut()
            .find(|p| p.tag == tag)
        {
            p.password = 0;
        }
    }

    /// Learn a success.
    pub fn learn(&mut self, ev: &LoginEvent) {
        let (base, tag, key) = self.place(ev.account);
        let now = (ev.time_ms / 60_000) as u32;
        let set = &mut self.slots[base..base + WAYS];
        let i = set.iter().position(|p| p.tag == tag).unwrap_or_else(|| {
            let (i, _) = set
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| if p.tag == 0 { 0 } else { p.last_min.max(1) })
                .expect("WAYS > 0");
            set[i] = Profile {
                tag,
                ..Profile::default()
            };
            i
        });
        let p = &mut set[i];
        p.last_min = now;
        p.successes = p.successes.saturating_add(1);
        // A success without a digest (an app that sends none) keeps the tag: the
        // account's password is one, whichever app it was typed into.
        if let Some(pw) = ev.password {
            p.password = pw8(pw);
        }
        remember(&mut p.nets, fp16(key, net_key(ev.ip)));
        if let Some(a) = ev.asn {
            remember(&mut p.asns, fp16(key, asn_key(a)));
        }
        if ev.user_agent != 0 {
            remember(&mut p.uas, fp16(key, ev.user_agent));
        }
        if ev.country.is_known() {
            remember(&mut p.countries, ev.country);
        }
    }
}

// The password tag took half of what was a `u16` count: an account's history
// stays 56 bytes (the memory bound at 10 M addresses has no room for more).
const _: () = assert!(std::mem::size_of::<Profile>() == 56);

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    /// Account 9 signing in at minute `m` from the /24 numbered `net`, in ASN
    /// `asn`, with user agent `ua`.
    fn success(m: i64, net: u32, asn: u32, ua: u64) -> LoginEvent {
        LoginEvent {
            time_ms: 1_800_000_000_000 + m * 60_000,
            account: AccountKey(9),
            ip: IpAddr::V4(Ipv4Addr::from(0x0a00_0005 | (net << 8))),
            asn: Some(asn),
            outcome: Outcome::Success,
            password: None,
            user_agent: mix2(0x7e57, ua),
            country: Country::from_code("MX"),
        }
    }

    #[test]
    fn a_history_holds_eight_networks_six_asns_and_six_devices() {
        let mut p = Profiles::new(64);
        // A family's sign-ins: eight networks, six ASNs, six devices, the
        // first of each oldest.
        for i in 0..8u32 {
            p.learn(&success(
                i64::from(i),
                i,
                100 + i.min(5),
                u64::from(i.min(5)),
            ));
        }
        let first = p.novelty(&success(10, 0, 100, 0));
        assert_eq!(first.known_successes, 8);
        assert!(
            !first.new_network && !first.new_asn && !first.new_device,
            "the oldest of each is still known: {first:?}"
        );
        assert!(first.device_home);
        let stranger = p.novelty(&success(10, 8, 200, 6));
        assert!(stranger.new_network && stranger.new_asn && stranger.new_device);
        // A ninth network pushes out the oldest; the others stay.
        p.learn(&success(11, 8, 105, 5));
        assert!(p.novelty(&success(12, 0, 100, 0)).new_network);
        assert!(!p.novelty(&success(12, 1, 100, 0)).new_network);
        // A seventh device and ASN push out the oldest of each.
        p.learn(&success(13, 9, 106, 6));
        let oldest = p.novelty(&success(14, 1, 100, 0));
        assert!(oldest.new_asn && oldest.new_device, "{oldest:?}");
        assert!(!p.novelty(&success(14, 1, 101, 1)).new_device);
    }

    #[test]
    fn fingerprints_are_keyed_by_the_account() {
        // The same user agent's fingerprint differs between accounts, so no
        // value passes for a known one in every history at once.
        let p = Profiles::new(64);
        let ua = mix2(0x7e57, 1);
        let keys: Vec<u16> = (1..=64u64)
            .map(|a| fp16(p.place(AccountKey(a)).2, ua))
            .collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert!(distinct.len() > 60, "{} distinct of 64", distinct.len());
        assert!(keys.iter().all(|&k| k != 0), "0 is an empty slot");
    }
}
