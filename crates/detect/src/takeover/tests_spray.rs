//! `sprayed_share`: a spray speaks only for its own passwords — a success with
//! the person's own password, behind a network the spray's proxies used, is not
//! the sprayer's.

use super::*;

/// The sprayed password (`Welcome@123`'s digest, say).
const SPRAYED: PasswordDigest = PasswordDigest(0x5EED_5EED);

/// A residential ISP's /24 (ASN 700) the spray's proxies exit through.
const ISP_NET: u32 = 0x5e10_2000;

/// Account 7's history and six hours of people, then 30 minutes of a spray:
/// one password on 40 accounts a minute (`unknown_in_five` in five of them names
/// the site does not have: people who left), each from one of the ISP /24's
/// addresses. Then
/// account 7 signs in from another address of that /24 — a new device, network
/// and ASN for it — with `password` (`None`: an event without a digest). The signals from that success on, and
/// whether the window was open.
fn after_a_spray(
    cfg: TakeoverConfig,
    password: Option<PasswordDigest>,
    unknown_in_five: u64,
) -> (Vec<Signal>, bool) {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    let start = 9 * 60;
    for m in 0..30i64 {
        for k in 0..40i64 {
            let n = (m * 40 + k) as u64;
            let outcome = if n % 5 < unknown_in_five {
                Outcome::UnknownAccount
            } else {
                Outcome::WrongPassword
            };
            let mut e = ev(
                (start + m) * MIN + k * 1_500,
                5_000_000 + n,
                ISP_NET | (n % 200) as u32,
                700,
                40 + n % 6,
                outcome,
            );
            e.password = Some(SPRAYED);
            t.observe(&e, None, &mut out);
        }
    }
    let open = t.in_window();
    out.clear();
    let mut e = ev(
        (start + 31) * MIN,
        7,
        ISP_NET | 0xf1,
        700,
        33,
        Outcome::Success,
    );
    e.password = password;
    t.observe(&e, None, &mut out);
    // And its review a few minutes on.
    people(&mut t, start + 32, 10, &mut out);
    (out, open)
}

#[test]
fn a_spray_does_not_implicate_a_success_with_its_owners_own_password() {
    let flagged = |out: &[Signal]| out.iter().filter_map(|s| s.account).collect::<Vec<_>>();
    let own = Some(PasswordDigest(7 ^ 0x55));
    // The owner's own password: the /24 the spray used does not speak.
    let (out, open) = after_a_spray(TakeoverConfig::default(), own, 2);
    assert!(open, "the spray opens an attack window");
    assert!(flagged(&out).is_empty(), "{out:?}");
    // The guard off: the same success is flagged for the spray's /24.
    let off = TakeoverConfig {
        sprayed_share: 0.0,
        ..TakeoverConfig::default()
    };
    let (out, _) = after_a_spray(off, own, 2);
    assert_eq!(flagged(&out), vec![AccountKey(7)], "{out:?}");
    // The sprayed password: the spray's own success, flagged with the guard on.
    let (out, _) = after_a_spray(TakeoverConfig::default(), Some(SPRAYED), 2);
    assert_eq!(flagged(&out), vec![AccountKey(7)], "{out:?}");
    // Without a digest (an app's event) the guard cannot tell: flagged.
    let (out, _) = after_a_spray(TakeoverConfig::default(), None, 2);
    assert_eq!(flagged(&out), vec![AccountKey(7)], "{out:?}");
}

#[test]
fn one_password_typed_only_on_names_the_site_does_not_have_is_not_a_spray() {
    // A phishing kit relays its victims' own passwords from the address that
    // also relays the non-customers' junk — one string typed against names the
    // site does not have. That opens nothing and is not a spray: the relay's
    // success with the victim's own password is still judged (and flagged).
    let own = Some(PasswordDigest(7 ^ 0x55));
    let (out, open) = after_a_spray(TakeoverConfig::default(), own, 5);
    assert!(open, "the junk opens an attack window");
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(7)], "{out:?}");
}
