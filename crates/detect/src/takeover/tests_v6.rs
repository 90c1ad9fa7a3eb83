//! The IPv6 /48 grain: an attacker handing every attempt a fresh /64 of one /48.

use std::net::Ipv6Addr;

use super::*;

/// An address in /48 `block` (its top 48 bits), /64 number `net`.
fn v6(block: u64, net: u16, host: u64) -> IpAddr {
    let v = (u128::from(block) << 80) | (u128::from(net) << 64) | u128::from(host);
    IpAddr::V6(Ipv6Addr::from(v))
}

/// Three earlier sign-ins of account 7 from its home, then six hours of people,
/// then 40 minutes of a combo list from fresh /64s of /48 `block` (ASN 500):
/// half unknown names, the rest wrong passwords — or, with `customers`, a
/// provider's /48 whose people sign in successfully alongside the list.
/// Then account 7 signs in from yet another fresh /64 of it on a new device.
fn rotation(customers: bool) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(TakeoverConfig::default(), &mut out);
    let block = 0x2001_0db8_0042;
    let start = 9 * 60;
    let mut n = 0u16;
    for m in 0..40i64 {
        for k in 0..6i64 {
            n += 1;
            let mut e = ev(
                (start + m) * MIN + k * 9_000,
                5_000_000 + n as u64,
                0,
                500,
                // The site's own popular user agents.
                1 + n as u64 % 7,
                if n.is_multiple_of(2) {
                    Outcome::UnknownAccount
                } else {
                    Outcome::WrongPassword
                },
            );
            e.ip = v6(block, n, 1);
            t.observe(&e, None, &mut out);
            if customers {
                // Its customers: a success for every attempt of the list (the
                // /48's unknown share stays a combo list's, 25 %; its failure
                // share is half).
                for c in 0..1u64 {
                    let mut e = ev(
                        (start + m) * MIN + k * 9_000 + 1_000 + c as i64 * 1_000,
                        6_000_000 + c * 1_000 + n as u64 % 50,
                        0,
                        500,
                        1 + c,
                        Outcome::Success,
                    );
                    e.ip = v6(block, 0x8000 + (n % 50), c);
                    t.observe(&e, None, &mut out);
                }
            }
        }
    }
    out.clear();
    let mut e = ev((start + 40) * MIN, 7, 0, 500, 3, Outcome::Success);
    e.ip = v6(block, 0xfffe, 1);
    t.observe(&e, None, &mut out);
    out
}

#[test]
fn a_fresh_64_per_attempt_shows_in_its_48() {
    let out = rotation(false);
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(7)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.grain, Grain::V6Block, "{e:?}");
    assert!(e.z >= TakeoverConfig::default().local_z, "{e:?}");
    assert!(e.new_device && e.new_network && e.new_asn, "{e:?}");
}

#[test]
fn a_providers_48_of_mostly_successful_customers_does_not_speak() {
    let out = rotation(true);
    assert!(
        out.iter().all(|s| s
            .evidence
            .takeover
            .is_none_or(|e| e.grain != Grain::V6Block)),
        "{out:?}"
    );
}
