//! Resident memory and throughput for a stream with many distinct source addresses,
//! sketch detectors beside the exact hash-map baseline.
//!
//!     cargo run --release -p gatehouse-detect --example memory -- [sketch|exact|generator] [SOURCES]
//!
//! Run each implementation in its own process so the RSS figures do not mix. Heap
//! bytes come from a counting global allocator (peak while the detectors run, minus
//! what was live before); RSS from /proc/self/status.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use gatehouse_detect::synth::WideStream;
use gatehouse_detect::tracker::KeyTracker;
use gatehouse_detect::{DetectConfig, Detectors, Engine, ExactDetectors};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string() + " kB")
        .unwrap_or_else(|| "?".into())
}

fn stream(sources: u64) -> WideStream {
    // Two events per source over one hour (the default window), 1 M accounts.
    WideStream::new(sources, 2, 1_000_000, 3_600_000, 42)
}

fn run<T: KeyTracker>(name: &str, sources: u64, make: impl FnOnce() -> Engine<T>) {
    // The signal buffer is the caller's, not the detectors': allocate it first.
    let mut out = Vec::with_capacity(1 << 16);
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let mut d = make();
    let s = stream(sources);
    let n = s.len();
    let t = Instant::now();
    let mut signals = 0usize;
    for e in s {
        d.observe(&e, &mut out);
        if out.len() > 60_000 {
            signals += out.len();
            out.clear();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    signals += out.len();
    let peak = PEAK.load(Relaxed) - base;
    let held = LIVE.load(Relaxed) - base;
    println!(
        "{name}: {n} events from {sources} distinct IPs in {secs:.2} s = {:.2} M events/s; heap peak {:.1} MiB, held at end {:.1} MiB; VmHWM {}, VmRSS {}; signals {signals}; stats {:?}",
        n as f64 / secs / 1e6,
        peak as f64 / (1 << 20) as f64,
        held as f64 / (1 << 20) as f64,
        status("VmHWM"),
        status("VmRSS"),
        d.stats()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "sketch".into());
    let sources: u64 = args
        .next()
        .map(|s| s.parse().expect("SOURCES"))
        .unwrap_or(10_000_000);
    let cfg = DetectConfig::default();
    match which.as_str() {
        "sketch" => {
            println!(
                "bound (sketch + full tables): {:.1} MiB",
                Detectors::new(cfg).bound_bytes() as f64 / (1 << 20) as f64
            );
            run("sketch", sources, || Detectors::new(cfg))
        }
        "exact" => run("exact", sources, || ExactDetectors::new(cfg)),
        "generator" => {
            // The stream alone, to subtract its cost from the rates above.
            let t = Instant::now();
            let mut x = 0u64;
            let s = stream(sources);
            let n = s.len();
            for e in s {
                x = x.wrapping_add(e.account.0 ^ e.time_ms as u64);
            }
            let secs = t.elapsed().as_secs_f64();
            println!(
                "generator: {n} events in {secs:.2} s = {:.2} M events/s ({x:x}); VmHWM {}",
                n as f64 / secs / 1e6,
                status("VmHWM")
            );
        }
        other => panic!("unknown mode {other}: sketch | exact | generator"),
    }
}
