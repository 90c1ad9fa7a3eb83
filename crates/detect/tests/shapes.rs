//! The shipped defaults on every attack shape (`gatehouse_detect::shapes`) at 20,000
//! accounts, seed 1 (one tuning seed, ~20 s in the debug profile; the release
//! example runs the held-out seeds and 100,000 accounts: `cargo run -p
//! gatehouse-detect --release --example shapes`).
//!
//! What is asserted is what the detectors achieve today, as a floor against
//! regressions — not the goal (precision and recall ≥ 0.95 on every shape
//! and size), which residential proxies and low-and-slow at 100,000 accounts do not
//! reach yet; the README's table says by how much. Seed 1 today (20,000 accounts,
//! after the site's slow drift and the failing-/24 rule of the fourth pass):
//! concentrated P 1.00 / R 1.00, botnet 0.95 / 1.00, residential 1.00 / 0.93,
//! low-and-slow 1.00 / 0.98, spraying 0.97 / 1.00 (one traveller and one ordinary
//! user flagged). Residential's recall floor is 0.9 since the fourteenth pass:
//! it turned off the novelty-alone `AttackWindow` rule, which found 2 more of seed
//! 1's 57 takeovers here (0.96) but, on the five independent traces, flagged
//! three innocents for each takeover it alone found. Low-and-slow's is 0.93 since
//! the fifteenth pass (`own_device_home`): our generator's attackers draw their
//! user agents from the site's own browsers, and on seed 1 two of them sent the
//! victim's own browser string from the victim's country (0.98 → 0.94; 200 of
//! 210 over seeds 1–5, was 202), where on the five independent traces that
//! switch spared 142 of the carriers' people for 10 takeovers lost. And 0.91 since
//! the sixteenth pass (`drift_needs_abroad`): one more of seed 1's took over from
//! the victim's own country, from an address it had not used in a burst, on a day
//! only the site's drift showed (0.92; 199 of 210 over seeds 1–5), where on the
//! four traces' fresh seeds the switch spared 33 innocents for 3 takeovers.

use gatehouse_detect::shapes::{Class, Shape, ShapeSpec, ShapeTrace, evaluate};
use gatehouse_detect::{DetectConfig, Detectors, SignalKind};

fn run(shape: Shape) -> (gatehouse_detect::shapes::Outcomes, usize, usize) {
    let trace = ShapeTrace::generate(ShapeSpec {
        shape,
        seed: 1,
        accounts: 20_000,
    });
    let mut d = Detectors::new(DetectConfig::default());
    let mut out = Vec::new();
    for e in &trace.events {
        d.observe(e, &mut out);
    }
    let compromised = out
        .iter()
        .filter(|s| s.kind == SignalKind::LikelyCompromised)
        .count();
    (
        evaluate(&out, &trace.truth),
        compromised,
        d.attack_windows().len(),
    )
}

#[test]
fn every_shape_meets_its_floor() {
    // (shape, min precision, min recall)
    let floors = [
        (Shape::Concentrated, 0.95, 0.95),
        (Shape::Botnet, 0.9, 0.95),
        (Shape::Residential, 0.95, 0.9),
        (Shape::LowAndSlow, 0.95, 0.91),
        (Shape::Spraying, 0.95, 0.95),
    ];
    for (shape, p, r) in floors {
        let (o, _, windows) = run(shape);
        println!("{shape:?}: {o:?}");
        assert!(
            o.taken_over > 0,
            "{shape:?}: the generator took nothing over"
        );
        assert!(
            o.precision() >= p,
            "{shape:?} precision {} < {p}",
            o.precision()
        );
        assert!(o.recall() >= r, "{shape:?} recall {} < {r}", o.recall());
        assert!(windows >= 1, "{shape:?}: no attack-in-progress window");
        // Travellers too, except under the spray (see the module documentation).
        let travellers = (shape != Shape::Spraying).then_some(Class::Traveller);
        for c in [Class::Carrier, Class::OfficeNat, Class::PasswordManager]
            .into_iter()
            .chain(travellers)
        {
            assert_eq!(
                o.false_positives.get(&c).copied().unwrap_or(0),
                0,
                "{shape:?}: {c:?} flagged"
            );
        }
    }
}

#[test]
fn a_week_without_attack_and_with_an_outage_raises_no_compromise() {
    let (o, signals, windows) = run(Shape::Quiet);
    assert_eq!(signals, 0, "{o:?}");
    // The outage hour's retries are failures on real accounts, not a combo list's
    // unknown ones: no attack-in-progress window either.
    assert_eq!(windows, 0);
}
