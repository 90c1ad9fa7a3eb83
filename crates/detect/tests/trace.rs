//! The detectors on the generated trace with ground truth: precision and recall
//! per detector with the default thresholds, sketch and exact baseline side by side.
//! `cargo test -p gatehouse-detect --test trace -- --nocapture` prints the figures.

use gatehouse_detect::synth::{Quality, Trace, TraceSpec, quality};
use gatehouse_detect::{
    DetectConfig, Detectors, Engine, ExactDetectors, Signal, tracker::KeyTracker,
};

fn run<T: KeyTracker>(mut d: Engine<T>, trace: &Trace) -> Vec<Signal> {
    let mut out = Vec::new();
    for e in &trace.events {
        d.observe(e, &mut out);
    }
    out
}

fn report(name: &str, q: &[Quality; 3]) {
    for q in q {
        println!(
            "{name:6} {:?}: precision {:.3} recall {:.3} (tp {}, fp {}, missed {}, cross {}); attack signals {} of which real {}",
            q.detector,
            q.precision(),
            q.recall(),
            q.true_positives,
            q.false_positives,
            q.missed,
            q.cross,
            q.attacks.0,
            q.attacks.1
        );
    }
}

#[test]
fn default_thresholds_on_the_generated_trace() {
    for seed in [1, 2, 3] {
        let trace = Trace::generate(TraceSpec {
            seed,
            ..TraceSpec::default()
        });
        let truth = &trace.truth;
        println!(
            "seed {seed}: {} events; victims: stuffing {}, spray {}, guessing {}",
            trace.events.len(),
            truth.stuffing_victims.len(),
            truth.spray_victims.len(),
            truth.guessing_victims.len()
        );
        let sketch = quality(&run(Detectors::new(DetectConfig::default()), &trace), truth);
        let exact = quality(
            &run(ExactDetectors::new(DetectConfig::default()), &trace),
            truth,
        );
        report("sketch", &sketch);
        report("exact", &exact);
        for q in &sketch {
            assert!(q.precision() >= 0.9, "{q:?}");
            assert!(q.recall() >= 0.9, "{q:?}");
            assert_eq!(
                q.attacks.0, q.attacks.1,
                "every attack signal names a real attacker: {q:?}"
            );
            assert!(q.attacks.0 > 0, "{q:?}");
        }
    }
}

#[test]
fn a_trace_without_attacks_raises_nothing() {
    let trace = Trace::generate(TraceSpec {
        attacks: false,
        ..TraceSpec::default()
    });
    let signals = run(Detectors::new(DetectConfig::default()), &trace);
    assert!(
        signals.is_empty(),
        "{} signals on benign traffic, first {:?}",
        signals.len(),
        signals.first()
    );
}

#[test]
fn a_deliberately_loose_rule_flags_ordinary_users() {
    // A "broken" rule: any source with 2 distinct accounts and 30 % failures.
    let trace = Trace::generate(TraceSpec::default());
    // The account-history gate is off: this is about what loose thresholds do on
    // their own (with the gate, the shipped default, they flood far less).
    let mut loose = DetectConfig::default();
    loose.takeover.legacy_gate = false;
    loose.stuffing.thresholds.min_distinct = 2;
    loose.stuffing.thresholds.min_failures = 1;
    loose.stuffing.thresholds.min_failure_ratio = 0.3;
    loose.stuffing.capacity.promote_after_failures = 1;
    let mut strict_cfg = DetectConfig::default();
    strict_cfg.takeover.legacy_gate = false;
    let [strict, ..] = quality(&run(Detectors::new(strict_cfg), &trace), &trace.truth);
    let [broken, ..] = quality(&run(Detectors::new(loose), &trace), &trace.truth);
    println!("strict {strict:?}\nbroken {broken:?}");
    assert!(
        broken.false_positives > 10 * (strict.false_positives + 1),
        "{broken:?}"
    );
    assert!(broken.precision() < 0.5);
}
