//! Criterion micro-benchmarks of the lookup paths on a 1 M-key index (built once in
//! a temp dir). The side-by-side figures at 10 M and 100 M keys come from the
//! `compare` bench; see BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_breach::synth::{Corpus, SplitMix64};
use gatehouse_breach::{BreachIndex, BuildOptions, IndexBuilder};
use std::hint::black_box;

fn lookups(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.ghbi");
    let mut b = IndexBuilder::new(&path, BuildOptions::default()).unwrap();
    let mut present = Vec::new();
    for (i, (h, count)) in Corpus::new(1_000_000, 1).enumerate() {
        b.push(BreachIndex::key_of(&h), count).unwrap();
        if i % 10 == 0 {
            present.push(BreachIndex::key_of(&h));
        }
    }
    b.finish().unwrap();
    let index = BreachIndex::open(&path).unwrap();
    let mut rng = SplitMix64(3);
    let absent: Vec<u64> = (0..1 << 16).map(|_| rng.next_u64()).collect();

    let mut i = 0usize;
    let mut next = |v: &[u64]| {
        i = (i + 1) & 0xffff;
        v[i % v.len()]
    };
    c.bench_function("filter_may_contain (absent)", |b| {
        b.iter(|| index.filter_may_contain(black_box(next(&absent))))
    });
    c.bench_function("check_key (absent)", |b| {
        b.iter(|| index.check_key(black_box(next(&absent))))
    });
    c.bench_function("check_key (present)", |b| {
        b.iter(|| index.check_key(black_box(next(&present))))
    });
    let passwords: Vec<String> = (0..1024).map(|i| format!("Tr0ub4dor&{i}")).collect();
    let mut j = 0usize;
    c.bench_function("check_password (absent)", |b| {
        b.iter(|| {
            j = (j + 1) & 1023;
            index.check_password(black_box(&passwords[j]))
        })
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
