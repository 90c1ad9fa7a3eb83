//! Detection per attack shape, on held-out seeds, at several sizes: a markdown table.
//!
//!     cargo run -p gatehouse-detect --release --example shapes -- \
//!         --seeds 11,12,13,14,15 --accounts 20000,100000 [--shapes botnet,quiet] [--verbose]
//!
//! Flags are every detector's `LikelyCompromised` accounts with the shipped
//! defaults (`DetectConfig::default()`); ground truth is the generator's
//! (`gatehouse_detect::shapes`). events/s is the detectors alone (generation not
//! timed), on one core; memory is `Detectors::bound_bytes` (the fixed bound, all
//! detectors on — see `examples/memory.rs` for measured RSS).

use std::collections::HashMap;
use std::time::Instant;

use gatehouse_detect::shapes::{Class, Outcomes, Shape, ShapeSpec, ShapeTrace, evaluate};
use gatehouse_detect::{DetectConfig, Detectors};

fn list<T: std::str::FromStr>(v: &str) -> Vec<T> {
    v.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seeds: Vec<u64> = vec![11, 12, 13, 14, 15];
    let mut sizes: Vec<u32> = vec![20_000, 100_000];
    let mut shapes: Vec<Shape> = Shape::ALL.to_vec();
    let mut verbose = false;
    // --legacy: the previous defaults (no account histories, no gate), for comparison.
    let mut legacy = false;
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).map(String::as_str).unwrap_or("");
        match args[i].as_str() {
            "--seeds" => seeds = list(v),
            "--accounts" => sizes = list(v),
            "--shapes" => {
                shapes = v
                    .split(',')
                    .map(|s| Shape::parse(s).unwrap_or_else(|| panic!("unknown shape {s}")))
                    .collect()
            }
            "--legacy" => {
                legacy = true;
                i += 1;
                continue;
            }
            "--verbose" => {
                verbose = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let mut cfg = DetectConfig::default();
    if legacy {
        cfg.takeover.enabled = false;
        cfg.takeover.legacy_gate = false;
    }
    let mem = Detectors::new(cfg).bound_bytes() as f64 / (1 << 20) as f64;
    println!(
        "| shape | accounts | seeds | taken over | flagged | TP | FP | FP by class | precision | recall | events/s | memory |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &shape in &shapes {
        for &accounts in &sizes {
            let mut total = Outcomes::default();
            let mut fp_class: HashMap<Class, usize> = HashMap::new();
            let (mut events, mut secs) = (0usize, 0f64);
            for &seed in &seeds {
                let trace = ShapeTrace::generate(ShapeSpec {
                    shape,
                    seed,
                    accounts,
                });
                let mut d = Detectors::new(cfg);
                let mut out = Vec::new();
                let t = Instant::now();
                for e in &trace.events {
                    d.observe(e, &mut out);
                }
                secs += t.elapsed().as_secs_f64();
                events += trace.events.len();
                let o = evaluate(&out, &trace.truth);
                if verbose {
                    eprintln!(
                        "{} {accounts} seed {seed} ({} events, {:.3} s): {} | taken {} flagged {} tp {} fp {:?} by {:?}",
                        shape.name(),
                        trace.events.len(),
                        secs,
                        trace.truth.params,
                        o.taken_over,
                        o.flagged,
                        o.true_positives,
                        o.false_positives,
                        o.by_detector
                    );
                    for s in out
                        .iter()
                        .filter(|s| s.account.is_some_and(|a| o.innocents.contains(&a)))
                        .take(5)
                    {
                        eprintln!("   FP {:?} {:?}", s.detector, s.evidence);
                    }
                }
                total.taken_over += o.taken_over;
                total.flagged += o.flagged;
                total.true_positives += o.true_positives;
                for (c, n) in o.false_positives {
                    *fp_class.entry(c).or_default() += n;
                }
            }
            total.false_positives = fp_class.clone();
            let by: Vec<String> = Class::ALL
                .iter()
                .filter_map(|c| {
                    fp_class
                        .get(c)
                        .filter(|n| **n > 0)
                        .map(|n| format!("{} {n}", c.name()))
                })
                .collect();
            let seeds_text: Vec<String> = seeds.iter().map(u64::to_string).collect();
            println!(
                "| {} | {accounts} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} M | {mem:.1} MiB |",
                shape.name(),
                seeds_text.join(","),
                total.taken_over,
                total.flagged,
                total.true_positives,
                total.fp(),
                if by.is_empty() {
                    "–".to_owned()
                } else {
                    by.join(", ")
                },
                total.precision(),
                total.recall(),
                events as f64 / secs / 1e6,
            );
        }
    }
}
