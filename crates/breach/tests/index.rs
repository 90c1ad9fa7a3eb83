//! End-to-end tests of import, open and lookup over real-format files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use gatehouse_breach::synth::{Corpus, SplitMix64, hex_upper, write_line};
use gatehouse_breach::{
    BreachError, BreachIndex, BuildOptions, IndexBuilder, OpenOptions, Verdict, count, import,
};

fn opts() -> BuildOptions {
    BuildOptions {
        source: "test corpus".into(),
        built_at: Some(1_800_000_000),
        ..BuildOptions::default()
    }
}

fn key(h: &[u8; 20]) -> u64 {
    BreachIndex::key_of(h)
}

fn write_file(path: &Path, corpus: &[([u8; 20], u64)]) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for (h, c) in corpus {
        write_line(&mut w, h, *c).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn every_imported_hash_is_found_with_its_count_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Vec<_> = Corpus::new(50_000, 1).collect();
    let input = dir.path().join("pwned.txt");
    write_file(&input, &corpus);
    let out = dir.path().join("index.ghbi");
    let report = import(&[input], &out, &opts()).unwrap();
    assert_eq!(report.keys, 50_000);
    assert_eq!(report.parse.records, 50_000);
    assert_eq!(report.parse.bad_lines, 0);
    assert!(
        !dir.path().join("index.ghbi.import").exists(),
        "work dir left behind"
    );

    let index = BreachIndex::open(&out).unwrap();
    for (h, c) in &corpus {
        let v = index.check_sha1(h);
        assert_eq!(
            v,
            Verdict::Breached {
                approx_count: count::decode(count::encode(*c))
            }
        );
        let Verdict::Breached { approx_count } = v else {
            unreachable!()
        };
        assert!(approx_count <= *c && *c < approx_count * 4 || approx_count == count::decode(15));
    }
    let stats = index.stats();
    assert_eq!(stats.keys, 50_000);
    assert_eq!(stats.source, "test corpus");
    assert_eq!(stats.built_at, 1_800_000_000);
    assert!(
        stats.filter_bits_per_key > 16.0 && stats.filter_bits_per_key < 20.0,
        "{stats:?}"
    );
    assert!(stats.exact_bits_per_key < 64.0, "{stats:?}");
}

#[test]
fn filter_false_positives_never_yield_breached() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("index.ghbi");
    let mut b = IndexBuilder::new(&out, opts()).unwrap();
    let keys: Vec<u64> = Corpus::new(100_000, 9).map(|(h, _)| key(&h)).collect();
    for &k in &keys {
        b.push(k, 5).unwrap();
    }
    b.finish().unwrap();
    let index = BreachIndex::open(&out).unwrap();

    // Brute force: random keys until the filter alone says "maybe" for 30 non-members.
    let mut rng = SplitMix64(12345);
    let (mut probes, mut false_hits) = (0u64, 0u64);
    while false_hits < 30 {
        let q = rng.next_u64();
        probes += 1;
        if keys.binary_search(&q).is_ok() || !index.filter_may_contain(q) {
            continue;
        }
        false_hits += 1;
        assert_eq!(index.exact_lookup(q), None, "exact tier accepted {q:#x}");
        assert_eq!(
            index.check_key(q),
            Verdict::Clean,
            "filter hit acted alone for {q:#x}"
        );
    }
    // 30 hits at about 2^-16 each take on the order of 2 million probes.
    assert!(
        probes > 100_000,
        "filter far too permissive: {false_hits} hits in {probes}"
    );
    for &k in &keys {
        assert!(index.check_key(k).is_breached());
    }
}

#[test]
fn gzip_crlf_prefix_directory_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Vec<_> = Corpus::new(3_000, 2).collect();
    // Per-prefix files as the downloader writes them: 35-hex suffixes, CRLF, some gzipped.
    let pdir = dir.path().join("hashes");
    std::fs::create_dir(&pdir).unwrap();
    let mut by_prefix: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    for (h, c) in &corpus {
        let mut hex = [0u8; 40];
        hex_upper(h, &mut hex);
        let hex = std::str::from_utf8(&hex).unwrap();
        let buf = by_prefix.entry(hex[..5].to_string()).or_default();
        write!(buf, "{}:{c}\r\n", &hex[5..]).unwrap();
    }
    for (i, (prefix, body)) in by_prefix.iter().enumerate() {
        if i % 2 == 0 {
            std::fs::write(pdir.join(format!("{prefix}.txt")), body).unwrap();
        } else {
            let f = std::fs::File::create(pdir.join(format!("{prefix}.txt.gz"))).unwrap();
            let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            gz.write_all(body).unwrap();
            gz.finish().unwrap();
        }
    }
    // And a plain file repeating the first 100 hashes with a larger count: merged,
    // keeping the maximum.
    let dup = dir.path().join("again.txt");
    let bigger: Vec<_> = corpus[..100].iter().map(|(h, _)| (*h, 1_000_000)).collect();
    write_file(&dup, &bigger);
    let out = dir.path().join("index.ghbi");
    let report = import(&[pdir, dup], &out, &opts()).unwrap();
    assert_eq!(report.keys, 3_000);
    assert_eq!(report.merged_duplicates, 100);
    assert_eq!(report.parse.bad_lines, 0);
    let index = BreachIndex::open(&out).unwrap();
    for (i, (h, c)) in corpus.iter().enumerate() {
        let want = if i < 100 { 1_000_000 } else { *c };
        assert_eq!(
            index.check_sha1(h),
            Verdict::Breached {
                approx_count: count::decode(count::encode(want))
            }
        );
    }
}

fn bad_corpus(dir: &Path) -> PathBuf {
    let corpus: Vec<_> = Corpus::new(10, 3).collect();
    let mut text = Vec::new();
    for (h, c) in &corpus[..5] {
        write_line(&mut text, h, *c).unwrap();
    }
    text.extend_from_slice(b"0000000000000000000000000000000000000ZZZ:1\n"); // line 6
    text.extend_from_slice(b"00000000000000000000000000000000000000\n"); // line 7: no count
    for (h, c) in &corpus[5..] {
        write_line(&mut text, h, *c).unwrap();
    }
    write_line(&mut text, &corpus[0].0, 1).unwrap(); // line 13: unsorted
    let p = dir.join("bad.txt");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_lines_are_reported_with_file_and_line_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = bad_corpus(dir.path());
    let out = dir.path().join("index.ghbi");
    let report = import(std::slice::from_ref(&input), &out, &opts()).unwrap();
    assert_eq!(report.keys, 10);
    assert_eq!(report.parse.bad_lines, 2);
    assert_eq!(report.parse.unsorted, 1);
    let lines: Vec<String> = report.parse.issues.iter().map(|i| i.to_string()).collect();
    let p = input.display();
    assert_eq!(
        lines,
        [
            format!("{p}:6: bad hex digit in the hash"),
            format!("{p}:7: missing ':COUNT'"),
            format!("{p}:13: not sorted (smaller than the line before)"),
        ]
    );
}

#[test]
fn strict_failure_leaves_the_previous_index_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("index.ghbi");
    let good: Vec<_> = Corpus::new(1_000, 4).collect();
    let good_file = dir.path().join("good.txt");
    write_file(&good_file, &good);
    import(&[good_file], &out, &opts()).unwrap();
    let before = std::fs::read(&out).unwrap();

    let bad = bad_corpus(dir.path());
    let strict = BuildOptions {
        strict: true,
        ..opts()
    };
    let err = import(std::slice::from_ref(&bad), &out, &strict).unwrap_err();
    assert!(matches!(err, BreachError::Strict(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:6: bad hex digit in the hash (fatal with --strict)",
            bad.display()
        )
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "previous index was touched"
    );
    let index = BreachIndex::open(&out).unwrap();
    assert!(index.check_sha1(&good[0].0).is_breached());
}

#[test]
fn ntlm_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pwned-ntlm.txt");
    std::fs::write(&p, "00000000000000000000000000000000:3\r\n").unwrap();
    let err = import(std::slice::from_ref(&p), &dir.path().join("i"), &opts()).unwrap_err();
    assert!(
        matches!(
            err,
            BreachError::NtlmRefused {
                line: 1,
                hex_len: 32,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("NTLM"), "{err}");

    // The per-prefix NTLM layout: 27-hex suffixes in files named by a 5-hex prefix.
    let pdir = dir.path().join("ntlm-dir");
    std::fs::create_dir(&pdir).unwrap();
    std::fs::write(pdir.join("0A1B2.txt"), "000000000000000000000000000:3\n").unwrap();
    let err = import(&[pdir], &dir.path().join("j"), &opts()).unwrap_err();
    assert!(
        matches!(
            err,
            BreachError::NtlmRefused {
                line: 1,
                hex_len: 27,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_interrupted_import_resumes_from_its_spill() {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Vec<_> = Corpus::new(2_000, 5).collect();
    let input = dir.path().join("pwned.txt");
    write_file(&input, &corpus);
    // The destination is a non-empty directory, so the final rename fails after the
    // parse phase has completed: like a crash late in the build.
    let out = dir.path().join("index.ghbi");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x"), b"x").unwrap();
    import(std::slice::from_ref(&input), &out, &opts()).unwrap_err();
    assert!(
        dir.path()
            .join("index.ghbi.import")
            .join("spilled")
            .exists()
    );
    std::fs::remove_dir_all(&out).unwrap();

    let report = import(std::slice::from_ref(&input), &out, &opts()).unwrap();
    assert!(report.resumed);
    assert_eq!(report.keys, 2_000);
    let index = BreachIndex::open(&out).unwrap();
    assert!(
        corpus
            .iter()
            .all(|(h, _)| index.check_sha1(h).is_breached())
    );

    // A changed input is not resumed from a stale spill.
    let more: Vec<_> = Corpus::new(2_500, 5).collect();
    write_file(&input, &more);
    let report = import(std::slice::from_ref(&input), &out, &opts()).unwrap();
    assert!(!report.resumed);
    assert_eq!(report.keys, 2_500);
}

#[test]
fn damaged_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("index.ghbi");
    let mut b = IndexBuilder::new(&out, opts()).unwrap();
    for (h, c) in Corpus::new(5_000, 6) {
        b.push(key(&h), c).unwrap();
    }
    b.finish().unwrap();
    let mut bytes = std::fs::read(&out).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let damaged = dir.path().join("damaged.ghbi");
    std::fs::write(&damaged, &bytes).unwrap();
    let err = BreachIndex::open(&damaged).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    // Without the body check it opens (bounds are still checked).
    BreachIndex::open_unverified(&damaged).unwrap();

    std::fs::write(&damaged, &bytes[..bytes.len() - 8]).unwrap();
    let err = BreachIndex::open_unverified(&damaged).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    std::fs::write(&damaged, b"not an index at all").unwrap();
    assert!(BreachIndex::open(&damaged).is_err());
}

#[test]
fn empty_and_tiny_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.ghbi");
    IndexBuilder::new(&out, opts()).unwrap().finish().unwrap();
    let index = BreachIndex::open(&out).unwrap();
    assert_eq!(index.stats().keys, 0);
    assert_eq!(index.check_password("password"), Verdict::Clean);

    let out = dir.path().join("one.ghbi");
    let mut b = IndexBuilder::new(&out, opts()).unwrap();
    b.push(0xdead_beef, 1).unwrap();
    b.finish().unwrap();
    let index = BreachIndex::open(&out).unwrap();
    assert_eq!(
        index.check_key(0xdead_beef),
        Verdict::Breached { approx_count: 1 }
    );
    assert_eq!(index.check_key(0xdead_bee0), Verdict::Clean);
}

#[test]
fn partitioned_filters_answer_like_a_single_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parts.ghbi");
    let small_parts = BuildOptions {
        max_partition_keys: 5_000,
        ..opts()
    };
    let mut b = IndexBuilder::new(&out, small_parts).unwrap();
    let corpus: Vec<_> = Corpus::new(30_000, 8).collect();
    for (h, c) in &corpus {
        b.push(key(h), *c).unwrap();
    }
    let report = b.finish().unwrap();
    assert!(report.partitions >= 8, "{report:?}");
    let index = BreachIndex::open(&out).unwrap();
    assert_eq!(index.stats().partitions, report.partitions);
    assert!(
        corpus
            .iter()
            .all(|(h, _)| index.check_sha1(h).is_breached())
    );
    let mut rng = SplitMix64(77);
    let clean = (0..100_000)
        .filter(|_| !index.check_key(rng.next_u64()).is_breached())
        .count();
    assert_eq!(clean, 100_000);
}

#[test]
fn filter_copied_into_huge_pages_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("index.ghbi");
    let corpus: Vec<_> = Corpus::new(20_000, 10).collect();
    let mut b = IndexBuilder::new(&out, opts()).unwrap();
    for (h, c) in &corpus {
        b.push(key(h), *c).unwrap();
    }
    b.finish().unwrap();
    let mapped = BreachIndex::open(&out).unwrap();
    let copied = BreachIndex::open_with(
        &out,
        gatehouse_breach::OpenOptions {
            verify_body: true,
            filter_in_huge_pages: true,
            private_copy: false,
        },
    )
    .unwrap();
    for (h, _) in &corpus {
        assert!(copied.check_sha1(h).is_breached());
        assert_eq!(copied.check_sha1(h), mapped.check_sha1(h));
    }
    let mut rng = SplitMix64(3);
    for _ in 0..200_000 {
        let q = rng.next_u64();
        assert_eq!(copied.filter_may_contain(q), mapped.filter_may_contain(q));
    }
}

/// An operator overwrites the live index in place (`cp other.idx live.idx`,
/// `truncate -s 0`): an index opened from a private copy keeps answering from
/// what it loaded (a mapping of the file itself would fault with SIGBUS on the
/// next lookup and take the server down), and leaves no file behind.
#[test]
fn a_private_copy_survives_the_file_being_overwritten_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Vec<_> = Corpus::new(20_000, 7).collect();
    let input = dir.path().join("pwned.txt");
    write_file(&input, &corpus);
    let live = dir.path().join("live.idx");
    import(&[input], &live, &opts()).unwrap();
    let index = BreachIndex::open_with(
        &live,
        gatehouse_breach::OpenOptions {
            private_copy: true,
            ..Default::default()
        },
    )
    .unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    // In place: same inode, truncated, then garbage written into it.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&live)
        .unwrap();
    f.set_len(0).unwrap();
    std::fs::write(&live, b"not an index").unwrap();
    for (h, _) in corpus.iter().take(2000) {
        assert!(matches!(index.check_sha1(h), Verdict::Breached { .. }));
    }
    drop(index);
    let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        before.len(),
        after.len(),
        "the copy had no name and is gone"
    );
    // A private copy of a file that is not an index is refused, like the file.
    let err = BreachIndex::open_with(
        &live,
        gatehouse_breach::OpenOptions {
            private_copy: true,
            ..Default::default()
        },
    );
    assert!(
        matches!(err, Err(BreachError::Corrupt { .. })),
        "{:?}",
        err.err()
    );
}

/// Found by the `breach_index` fuzz target: a file whose sections have the
/// right lengths but whose exact tier's bit vector is inconsistent opens
/// without its checksum, and a lookup used to panic (an entry index past the
/// end). Every lookup must answer instead.
#[test]
fn an_inconsistent_exact_tier_never_panics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corrupt-exact-tier.idx");
    let options = OpenOptions {
        verify_body: false,
        filter_in_huge_pages: false,
        private_copy: false,
    };
    let index = BreachIndex::open_with(&path, options).expect("its structure is plausible");
    for password in ["password", "correct horse battery staple", ""] {
        let _ = index.check_password(password);
    }
    for key in [0, u64::MAX, 0x8000_0000_0000_0000, 0x0123_4567_89ab_cdef] {
        let _ = index.check_key(key);
        let _ = index.exact_lookup(key);
    }
    for i in 0..100_000u64 {
        let _ = index.exact_lookup(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    // With the checksum, the damage is seen at open.
    assert!(BreachIndex::open(&path).is_err());
}

/// Found by the `breach_index` fuzz target: a filter partition whose start
/// plus length overflows used to panic the open (debug) or pass its check
/// (release); it is refused as corrupt.
#[test]
fn an_overflowing_filter_partition_is_refused() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/overflowing-partition.idx");
    let options = OpenOptions {
        verify_body: false,
        filter_in_huge_pages: false,
        private_copy: false,
    };
    assert!(BreachIndex::open_with(&path, options).is_err());
}
