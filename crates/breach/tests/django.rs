//! Real data: Django's list of 19,640 common passwords (tests/data/README.md), turned
//! into the Pwned Passwords single-file format, must all come back breached; random
//! strong passwords must not.

use std::io::{BufRead as _, BufReader, Write as _};

use gatehouse_breach::synth::SplitMix64;
use gatehouse_breach::{BreachIndex, BuildOptions, Verdict, import};
use sha1::{Digest as _, Sha1};

fn common_passwords() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/common-passwords.txt.gz"
    );
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    BufReader::new(gz)
        .lines()
        .map(|l| l.unwrap())
        .filter(|l| !l.is_empty())
        .collect()
}

fn sha1_upper(s: &str) -> String {
    Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[test]
fn django_common_passwords_are_breached_and_random_ones_are_not() {
    let passwords = common_passwords();
    assert_eq!(passwords.len(), 19_640);
    let dir = tempfile::tempdir().unwrap();

    // The corpus format: upper-case SHA-1, a count, sorted by hash, CRLF.
    let mut lines: Vec<(String, u64)> = passwords
        .iter()
        .enumerate()
        .map(|(rank, p)| (sha1_upper(p), 1 + 1_000_000 / (rank as u64 + 1)))
        .collect();
    lines.sort();
    let corpus = dir.path().join("pwnedpasswords.txt");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&corpus).unwrap());
    for (h, c) in &lines {
        write!(w, "{h}:{c}\r\n").unwrap();
    }
    w.flush().unwrap();
    drop(w);

    let out = dir.path().join("django.ghbi");
    let opts = BuildOptions {
        source: "django common-passwords".into(),
        ..BuildOptions::default()
    };
    let report = import(&[corpus], &out, &opts).unwrap();
    assert_eq!(report.parse.bad_lines, 0);
    assert_eq!(report.keys, 19_640);
    let index = BreachIndex::open(&out).unwrap();

    for (rank, p) in passwords.iter().enumerate() {
        let Verdict::Breached { approx_count } = index.check_password(p) else {
            panic!("{p:?} (rank {rank}) not reported breached");
        };
        let count = 1 + 1_000_000 / (rank as u64 + 1);
        assert!(
            approx_count <= count && count < 4 * approx_count,
            "{p:?}: {approx_count} vs {count}"
        );
    }
    // Case matters: the hash is over the exact bytes.
    assert!(index.check_password("password").is_breached());
    assert!(
        !index
            .check_password("PassWord-not-in-the-list-7f3a")
            .is_breached()
    );

    // 100,000 random strong passwords: 20 characters from 94 printable ASCII.
    let mut rng = SplitMix64(2026);
    let (mut filter_hits, mut breached) = (0u32, 0u32);
    const N: u32 = 100_000;
    for _ in 0..N {
        let pw: String = (0..20)
            .map(|_| char::from(b'!' + (rng.next_u64() % 94) as u8))
            .collect();
        let digest: [u8; 20] = Sha1::digest(pw.as_bytes()).into();
        let key = BreachIndex::key_of(&digest);
        filter_hits += u32::from(index.filter_may_contain(key));
        breached += u32::from(index.check_password(&pw).is_breached());
    }
    let rate = f64::from(filter_hits) / f64::from(N);
    eprintln!(
        "random strong passwords: {filter_hits} filter hits in {N} (FP rate {rate:.2e}, \
         2^{:.1}); exact-tier confirmed: {breached}",
        rate.log2()
    );
    assert_eq!(breached, 0, "a filter false positive acted");
    // Expected about 1.5 at 2^-16; 20 would mean a broken filter.
    assert!(filter_hits < 20, "{filter_hits} filter hits");
}
