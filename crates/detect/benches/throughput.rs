//! Detector throughput on one core, sketch detectors beside the exact hash-map
//! baseline, over the same pre-generated events (generation not timed):
//!
//! - `trace`: the generated trace with ground truth (~105 k events, 20 k users,
//!   three attacks);
//! - `wide`: 1 M events from 500 k distinct source addresses (the memory
//!   benchmark's stream, scaled down to keep the run short).
//!
//! Memory at 10 M distinct sources: `examples/memory.rs`. Figures: BENCHMARKS.md.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gatehouse_detect::synth::{Trace, TraceSpec, WideStream};
use gatehouse_detect::tracker::KeyTracker;
use gatehouse_detect::{DetectConfig, Detectors, Engine, ExactDetectors, LoginEvent};
use std::hint::black_box;

/// Feed every event; the detectors are returned so dropping them is not timed.
fn feed<T: KeyTracker>(mut d: Engine<T>, events: &[LoginEvent]) -> (Engine<T>, usize) {
    let mut out = Vec::new();
    for e in events {
        d.observe(e, &mut out);
    }
    (d, out.len())
}

fn throughput(c: &mut Criterion) {
    let trace = Trace::generate(TraceSpec::default()).events;
    let wide: Vec<LoginEvent> = WideStream::new(500_000, 2, 1_000_000, 3_600_000, 7).collect();
    let cfg = DetectConfig::default();
    for (name, events) in [("trace", &trace), ("wide", &wide)] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.throughput(Throughput::Elements(events.len() as u64));
        // Building the detectors (zeroed sketches) is setup, not timed.
        g.bench_function("sketch", |b| {
            b.iter_batched(
                || Detectors::new(cfg),
                |d| feed(d, black_box(events)),
                BatchSize::LargeInput,
            )
        });
        g.bench_function("exact", |b| {
            b.iter_batched(
                || ExactDetectors::new(cfg),
                |d| feed(d, black_box(events)),
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
