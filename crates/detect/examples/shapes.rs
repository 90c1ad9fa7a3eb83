//! Detection per attack shape, on held-out seeds, at several sizes: a markdown table.
//!
//!     cargo run -p gatehouse-detect --release --example shapes -- \
//!         --seeds 11,12,13,14,15 --accounts 20000,100000 [--shapes botnet,quiet] [--verbose]
//!         [--explain] [--legacy] [--config '{"takeover": {"grain_slots": 262144}}']
//!
//! Flags are every detector's `LikelyCompromised` accounts with the shipped
//! defaults (`DetectConfig::default()`); ground truth is the generator's
//! (`gatehouse_detect::shapes`). events/s is the detectors alone (generation not
//! timed), on one core; memory is `Detectors::bound_bytes` (the fixed bound, all
//! detectors on — see `examples/memory.rs` for measured RSS).

use std::collections::HashMap;
use std::time::Instant;

use gatehouse_detect::shapes::{Class, Outcomes, Shape, ShapeSpec, ShapeTrace, evaluate};
use gatehouse_detect::takeover::Explanation;
use gatehouse_detect::{AccountKey, DetectConfig, Detectors, Outcome, TakeoverConfig};

fn list<T: std::str::FromStr>(v: &str) -> Vec<T> {
    v.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seeds: Vec<u64> = vec![11, 12, 13, 14, 15];
    let mut sizes: Vec<u32> = vec![20_000, 100_000];
    let mut shapes: Vec<Shape> = Shape::ALL.to_vec();
    let mut verbose = false;
    // --explain: why each missed takeover was missed (README's miss breakdown).
    let mut explain = false;
    // --legacy: the previous defaults (no account histories, no gate), for comparison.
    let mut legacy = false;
    // --config JSON: a `DetectConfig` (only what it changes), to measure a setting.
    let mut config: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).map(String::as_str).unwrap_or("");
        match args[i].as_str() {
            "--seeds" => seeds = list(v),
            "--config" => config = Some(v.to_owned()),
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
            "--explain" => {
                explain = true;
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
    let mut cfg: DetectConfig = config.map_or_else(DetectConfig::default, |j| {
        serde_json::from_str(&j).unwrap_or_else(|e| panic!("--config: {e}"))
    });
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
            let mut why: HashMap<&'static str, usize> = HashMap::new();
            // (TP, FP) per takeover rule, first signal per account.
            let mut rules: HashMap<String, (usize, usize)> = HashMap::new();
            for &seed in &seeds {
                let trace = ShapeTrace::generate(ShapeSpec {
                    shape,
                    seed,
                    accounts,
                });
                let mut d = Detectors::new(cfg);
                let mut out = Vec::new();
                let t = Instant::now();
                let late = if explain {
                    explain_run(&mut d, &trace, &mut out)
                } else {
                    for e in &trace.events {
                        d.observe(e, &mut out);
                    }
                    HashMap::new()
                };
                secs += t.elapsed().as_secs_f64();
                events += trace.events.len();
                let o = evaluate(&out, &trace.truth);
                if verbose {
                    for w in d.takeover().map(|t| t.drift_windows()).unwrap_or_default() {
                        eprintln!(
                            "   drift {:.1} h +{:.1} h, peak z {:.1}, {} unknown / {} attempts (attack {:?})",
                            (w.start_ms - gatehouse_detect::shapes::T0) as f64 / 3.6e6,
                            (w.end_ms - w.start_ms) as f64 / 3.6e6,
                            w.peak_site_z,
                            w.unknown,
                            w.attempts,
                            trace.truth.attack.map(|(a, b)| (
                                (a - gatehouse_detect::shapes::T0) as f64 / 3.6e6,
                                (b - a) / 60_000
                            )),
                        );
                    }
                    for w in d.attack_windows() {
                        eprintln!(
                            "   window {:.1} h +{:.0} min, peak z {:.1}, {} unknown / {} attempts (attack {:?}, outage at {:.1} h)",
                            (w.start_ms - gatehouse_detect::shapes::T0) as f64 / 3.6e6,
                            (w.end_ms - w.start_ms) as f64 / 6e4,
                            w.peak_site_z,
                            w.unknown,
                            w.attempts,
                            trace.truth.attack.map(|(a, b)| (
                                (a - gatehouse_detect::shapes::T0) as f64 / 3.6e6,
                                (b - a) / 60_000
                            )),
                            (trace.truth.outage.0 - gatehouse_detect::shapes::T0) as f64 / 3.6e6,
                        );
                    }
                }
                if explain {
                    let mut seen = std::collections::HashSet::new();
                    for s in &out {
                        let (Some(a), Some(t)) = (s.account, s.evidence.takeover) else {
                            continue;
                        };
                        if seen.insert(a) {
                            let hit = trace.truth.taken_over.contains(&a);
                            let e = rules
                                .entry(format!(
                                    "{:?} {:?} ks{} {:?}{}{}{}",
                                    t.rule,
                                    t.grain,
                                    t.known_successes.min(3),
                                    t.corroboration,
                                    if t.new_device { " dev" } else { "" },
                                    if t.new_country { " ctry" } else { "" },
                                    if t.site_drifting { " drift" } else { "" },
                                ))
                                .or_insert((0, 0));
                            if hit { e.0 += 1 } else { e.1 += 1 }
                        }
                    }
                }
                for a in &o.missed {
                    if let Some(x) = late.get(a) {
                        let c = classify(x, &cfg.takeover);
                        *why.entry(c).or_default() += 1;
                        if verbose {
                            eprintln!("   MISS {c}: {x:?}");
                        }
                    }
                }
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
                        .take(if explain { 1000 } else { 5 })
                    {
                        let class = s.account.and_then(|a| trace.truth.class.get(&a));
                        eprintln!("   FP {class:?} {:?} {:?}", s.detector, s.evidence);
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
            if explain {
                let mut w: Vec<_> = why.into_iter().collect();
                w.sort_by_key(|e| std::cmp::Reverse(e.1));
                eprintln!("misses {} {accounts}: {w:?}", shape.name());
                eprintln!("rules (TP, FP) {} {accounts}: {rules:?}", shape.name());
            }
        }
    }
}

/// Runs the trace, and for every attacker success notes what the takeover
/// detector had on it at its last chance: the end of the attack (plus a review)
/// or the end of the pending window, whichever comes first.
fn explain_run(
    d: &mut Detectors,
    trace: &ShapeTrace,
    out: &mut Vec<gatehouse_detect::Signal>,
) -> HashMap<AccountKey, Explanation> {
    let tc = d.config().takeover;
    let attack_end = trace.truth.attack.map_or(i64::MAX, |a| a.1);
    let mine: HashMap<(AccountKey, i64), ()> = trace
        .truth
        .attacker_successes
        .iter()
        .map(|&(a, t, _)| ((a, t), ()))
        .collect();
    // (when to look, the event, its novelty)
    let mut queue: Vec<(
        i64,
        gatehouse_detect::LoginEvent,
        gatehouse_detect::takeover::Novelty,
    )> = Vec::new();
    let mut late = HashMap::new();
    for e in &trace.events {
        let t = d.takeover().expect("takeover on");
        queue.retain(|(when, ev, n)| {
            if *when <= e.time_ms {
                late.insert(ev.account, t.explain(ev, *n));
                false
            } else {
                true
            }
        });
        if e.outcome == Outcome::Success && mine.contains_key(&(e.account, e.time_ms)) {
            let n = t.novelty(e);
            let pending_end = e.time_ms + i64::from(tc.pending_hours) * 3_600_000 - 300_000;
            let when = pending_end.min(attack_end + 600_000).max(e.time_ms);
            queue.push((when, *e, n));
        }
        d.observe(e, out);
    }
    let t = d.takeover().expect("takeover on");
    for (_, ev, n) in queue {
        late.insert(ev.account, t.explain(&ev, n));
    }
    late
}

/// The first condition of the takeover rules a missed success fails.
fn classify(x: &Explanation, c: &TakeoverConfig) -> &'static str {
    let n = &x.novelty;
    if n.level() < c.min_novelty {
        return "owner-like (novelty < min_novelty)";
    }
    let [ip, net, asn, _ua, _block] = &x.grains;
    let local = |g: &gatehouse_detect::takeover::GrainView| {
        g.z >= c.local_z && g.excess >= c.min_excess && g.unknown_share >= c.local_unknown_share
    };
    if local(ip) || (local(net) && n.new_network) {
        return "local grain fires late (pending lost?)";
    }
    let asn_hot = asn.z >= c.wide_z
        && asn.excess >= c.min_excess
        && asn.unknown_share >= c.wide_unknown_share;
    let ip_other = ip.attempts_day >= 1.5;
    match (
        asn_hot,
        n.known_successes >= c.wide_history,
        n.level() >= c.wide_novelty,
    ) {
        (false, ..) if ip_other => "asn not hot; address tried other accounts",
        (false, ..) => "asn not hot; address's only attempt",
        (true, false, _) if ip_other => "asn hot; young history; address tried other accounts",
        (true, false, _) => "asn hot; young history; address's only attempt",
        (true, true, false) => "asn hot; novelty < wide_novelty",
        (true, true, true) if ip_other => "asn hot; uncorroborated; address tried other accounts",
        (true, true, true) => "asn hot; uncorroborated; address's only attempt",
    }
}
