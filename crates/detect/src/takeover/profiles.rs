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
    pub(super) nets: [u32; 4],
    pub(super) asns: [u32; 3],
    pub(super) uas: [u32; 3],
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

/// Bounded per-account histories: a 4-way set-associative table; a full set
/// evicts the account whose last success is oldest.
pub struct Profiles {
    pub(super) slots: Vec<Profile>,
    pub(super) mask: usize,
}

pub(super) fn net32(ip: std::net::IpAddr) -> u32 {
    (Source::of(SourceGrouping::Network, ip, None).key() >> 32) as u32 | 1
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

pub(super) fn h32(v: u64) -> u32 {
    (v >> 32) as u32 | 1
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

    pub(super) fn place(&self, a: AccountKey) -> (usize, u32) {
        let h = mix2(0x7072_6f66, a.0);
        (((h as usize) & self.mask) * WAYS, (h >> 32) as u32 | 1)
    }

    /// How `ev` differs from the account's history.
    pub fn novelty(&self, ev: &LoginEvent) -> Novelty {
        let (base, tag) = self.place(ev.account);
        let Some(p) = self.slots[base..base + WAYS].iter().find(|p| p.tag == tag) else {
            return Novelty::default();
        };
        Novelty {
            known_successes: u16::from(p.successes),
            new_device: ev.user_agent != 0 && !has(&p.uas, h32(ev.user_agent)),
            new_network: !has(&p.nets, net32(ev.ip)),
            new_asn: ev.asn.is_some_and(|a| !has(&p.asns, a | 0x8000_0000)),
            new_country: ev.country.is_known() && !has(&p.countries, ev.country),
            own_password: p.password != 0 && ev.password.is_some_and(|pw| pw8(pw) == p.password),
            device_home: ev.user_agent != 0
                && has(&p.uas, h32(ev.user_agent))
                && ev.country.is_known()
                && has(&p.countries, ev.country),
        }
    }

    /// Forget the password of the account's last success: that success was
    /// judged an attacker's, so its password is the stolen one, not the owner's
    /// last good one (after a force-reset the attacker's retries with it are
    /// wrong passwords like any other).
    pub fn forget_password(&mut self, account: AccountKey) {
        let (base, tag) = self.place(account);
        if let Some(p) = self.slots[base..base + WAYS]
            .iter_mut()
            .find(|p| p.tag == tag)
        {
            p.password = 0;
        }
    }

    /// Learn a success.
    pub fn learn(&mut self, ev: &LoginEvent) {
        let (base, tag) = self.place(ev.account);
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
        remember(&mut p.nets, net32(ev.ip));
        if let Some(a) = ev.asn {
            remember(&mut p.asns, a | 0x8000_0000);
        }
        if ev.user_agent != 0 {
            remember(&mut p.uas, h32(ev.user_agent));
        }
        if ev.country.is_known() {
            remember(&mut p.countries, ev.country);
        }
    }
}

// The password tag took half of what was a `u16` count: an account's history
// stays 56 bytes (the memory bound at 10 M addresses has no room for more).
const _: () = assert!(std::mem::size_of::<Profile>() == 56);
