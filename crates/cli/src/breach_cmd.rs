//! `gatehouse breach …`: import the Pwned Passwords corpus into a local index, check
//! passwords or hashes against it, show its figures, and measure it.

use std::io::{BufRead, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use clap::Subcommand;
use gatehouse_breach::{BreachIndex, BuildOptions, Verdict};
use indicatif::{ProgressBar, ProgressStyle};

/// The `breach` verbs.
#[derive(Subcommand)]
pub enum BreachCommand {
    /// Build an index from Pwned Passwords files (SHA-1 only).
    ///
    /// Inputs are files of HASH40:COUNT lines, or directories of files named by a
    /// 5-hex prefix (00000.txt ...) holding SUFFIX35:COUNT lines, as the official
    /// downloader writes them; plain or gzip; LF or CRLF. Bad lines are reported with
    /// file:line and skipped (unless --strict). Duplicate keys are merged keeping the
    /// largest count. The new index is written beside INDEX and renamed over it only
    /// when complete, so a failed import leaves the previous index in place; rerunning
    /// an interrupted import with the same inputs skips the parse phase.
    Import {
        /// Corpus files or directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Index file to write.
        #[arg(long, value_name = "INDEX")]
        out: PathBuf,
        /// Fail on any bad, unsorted or duplicate line (nothing is written).
        #[arg(long)]
        strict: bool,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
        /// Description stored in the index header (e.g. "pwned-passwords-sha1 2026-11").
        #[arg(long, value_name = "DESC", default_value = "")]
        source: String,
        /// Keys per filter partition: bounds the build's memory at about 35 bytes each.
        #[arg(long, default_value_t = 1 << 22, value_parser = clap::value_parser!(u64).range(1..))]
        max_partition_keys: u64,
    },
    /// Check passwords (one per line on stdin) against an index.
    ///
    /// Writes one line per input line, in order: `breached<TAB><count>` or `clean`,
    /// where count is a lower bound of how often it was seen (the true count is below
    /// four times it). Passwords are never echoed; on a terminal they are read
    /// without echo. With --sha1, each line is a 40-hex SHA-1 (either case); a
    /// malformed line gets `error<TAB>line N: …` in its place (and the same on
    /// stderr), the other lines are still answered, and the exit status is 1.
    Check {
        /// The index file.
        #[arg(long, value_name = "INDEX", env = "GATEHOUSE_BREACH_INDEX")]
        index: PathBuf,
        /// Input lines are SHA-1 hashes, not passwords.
        #[arg(long)]
        sha1: bool,
        /// JSON lines: {"breached":true,"count":N}, {"breached":false} or {"error":"…"}.
        #[arg(long)]
        json: bool,
    },
    /// Show an index's size, figures and source.
    Stats {
        /// The index file.
        #[arg(long, value_name = "INDEX", env = "GATEHOUSE_BREACH_INDEX")]
        index: PathBuf,
    },
    /// Measure parse, build and lookup speed on a generated corpus in the real format.
    Bench {
        /// Keys in the generated corpus.
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// Directory for the corpus and index (default: a temporary one, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Runs a `breach` verb.
pub fn run(cmd: BreachCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BreachCommand::Import {
            inputs,
            out,
            strict,
            quiet,
            source,
            max_partition_keys,
        } => import(&inputs, &out, strict, quiet, source, max_partition_keys),
        BreachCommand::Check { index, sha1, json } => check(&index, sha1, json),
        BreachCommand::Stats { index } => stats(&index),
        BreachCommand::Bench { keys, dir } => bench(keys, dir),
    }
}

/// The import's progress as indicatif bars on stderr, one per phase.
#[derive(Debug, Default)]
struct Bars(Mutex<Option<ProgressBar>>);

impl gatehouse_breach::Progress for Bars {
    fn start(&self, phase: gatehouse_breach::Phase, total: u64) {
        let template = match phase {
            gatehouse_breach::Phase::Parsing => {
                "parsing  [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})"
            }
            gatehouse_breach::Phase::Building => "building [{bar:40}] {pos}/{len} keys ({eta})",
        };
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template(template)
                .expect("static template")
                .progress_chars("=> "),
        );
        *self.0.lock().expect("progress lock") = Some(pb);
    }

    fn set(&self, done: u64) {
        if let Some(pb) = &*self.0.lock().expect("progress lock") {
            pb.set_position(done);
        }
    }

    fn finish(&self) {
        if let Some(pb) = self.0.lock().expect("progress lock").take() {
            pb.finish_and_clear();
        }
    }
}

fn import(
    inputs: &[PathBuf],
    out: &Path,
    strict: bool,
    quiet: bool,
    source: String,
    max_partition_keys: u64,
) -> anyhow::Result<ExitCode> {
    let opts = BuildOptions {
        strict,
        source,
        progress: (!quiet && std::io::stderr().is_terminal())
            .then(|| Arc::new(Bars::default()) as Arc<dyn gatehouse_breach::Progress>),
        max_partition_keys,
        built_at: None,
    };
    let started = Instant::now();
    let report = gatehouse_breach::import(inputs, out, &opts)?;
    let p = &report.parse;
    for issue in &p.issues {
        eprintln!("warning: {issue}");
    }
    let noted = p.bad_lines + p.unsorted + p.duplicates;
    if noted > p.issues.len() as u64 {
        eprintln!("warning: … and {} more", noted - p.issues.len() as u64);
    }
    if report.resumed {
        eprintln!("resumed: the parse phase of an earlier run was reused");
    } else {
        eprintln!(
            "{} lines in {} files: {} records, {} bad lines skipped, {} unsorted, {} duplicate",
            p.lines, p.files, p.records, p.bad_lines, p.unsorted, p.duplicates
        );
    }
    println!(
        "{}: {} keys ({} merged duplicates), {} bytes, {:.1} s (parse {:.1} s, build {:.1} s = {:.0} ns/key)",
        out.display(),
        report.keys,
        report.merged_duplicates,
        report.index_bytes,
        started.elapsed().as_secs_f64(),
        report.parse_secs,
        report.build_secs(),
        report.build_secs() * 1e9 / report.keys.max(1) as f64,
    );
    Ok(ExitCode::SUCCESS)
}

fn decode_sha1(line: &[u8]) -> Option<[u8; 20]> {
    let line = line.trim_ascii();
    if line.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(line.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *o = (hi << 4 | lo) as u8;
    }
    Some(out)
}

fn write_verdict(out: &mut impl Write, v: Verdict, json: bool) -> std::io::Result<()> {
    match (v, json) {
        (Verdict::Breached { approx_count }, false) => writeln!(out, "breached\t{approx_count}"),
        (Verdict::Breached { approx_count }, true) => {
            writeln!(out, "{{\"breached\":true,\"count\":{approx_count}}}")
        }
        (Verdict::Clean, false) => writeln!(out, "clean"),
        (Verdict::Clean, true) => writeln!(out, "{{\"breached\":false}}"),
    }
}

fn check(index: &Path, sha1: bool, json: bool) -> anyhow::Result<ExitCode> {
    let index = BreachIndex::open(index)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut bad_lines = 0u64;
    if !sha1 && std::io::stdin().is_terminal() {
        // Interactive: read each password without echo.
        loop {
            eprint!("password (empty to stop): ");
            let pw = rpassword::read_password().context("cannot read from the terminal")?;
            if pw.is_empty() {
                break;
            }
            write_verdict(&mut out, index.check_password(&pw), json)?;
            out.flush()?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stdin = std::io::stdin();
    let mut input = std::io::BufReader::with_capacity(1 << 16, stdin.lock());
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("cannot read stdin")?
            == 0
        {
            break;
        }
        line_no += 1;
        let mut text = line.as_slice();
        if let [rest @ .., b'\n'] = text {
            text = rest;
        }
        if let [rest @ .., b'\r'] = text {
            text = rest;
        }
        if sha1 {
            match decode_sha1(text) {
                Some(h) => write_verdict(&mut out, index.check_sha1(&h), json)?,
                None => {
                    bad_lines += 1;
                    let msg = format!("line {line_no}: not a 40-hex SHA-1");
                    eprintln!("error: {msg}");
                    if json {
                        writeln!(out, "{{\"error\":\"{msg}\"}}")?;
                    } else {
                        writeln!(out, "error\t{msg}")?;
                    }
                }
            }
        } else {
            write_verdict(&mut out, index.check_password_bytes(text), json)?;
        }
        // Flush whenever no more input is waiting, so an interactive pipe gets its
        // answer at once while bulk input is still written in large blocks.
        if input.buffer().is_empty() {
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(if bad_lines > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn stats(index: &Path) -> anyhow::Result<ExitCode> {
    let index = BreachIndex::open(index)?;
    let s = index.stats();
    println!("index        {}", s.path.display());
    println!("version      {}", s.version);
    println!(
        "source       {}",
        if s.source.is_empty() { "-" } else { &s.source }
    );
    println!("built at     {} (Unix seconds)", s.built_at);
    println!("keys         {}", s.keys);
    println!("file bytes   {}", s.file_bytes);
    println!(
        "filter       {} bytes, {:.2} bits/key, {} partition(s)",
        s.filter_bytes, s.filter_bits_per_key, s.partitions
    );
    println!(
        "exact tier   {} bytes, {:.2} bits/key (4-bit counts included)",
        s.exact_bytes, s.exact_bits_per_key
    );
    Ok(ExitCode::SUCCESS)
}

/// Median nanoseconds per call over batches of `batch` calls.
fn median_ns(queries: &[u64], batch: usize, mut f: impl FnMut(u64) -> bool) -> (f64, u64) {
    let mut per_batch = Vec::with_capacity(queries.len() / batch);
    let mut hits = 0u64;
    for chunk in queries.chunks_exact(batch) {
        let t = Instant::now();
        for &q in chunk {
            hits += u64::from(std::hint::black_box(f(std::hint::black_box(q))));
        }
        per_batch.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    per_batch.sort_by(f64::total_cmp);
    (per_batch[per_batch.len() / 2], hits)
}

fn bench(keys: u64, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use gatehouse_breach::synth::{Corpus, SplitMix64, write_corpus_file};
    let tmp;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            tmp = tempfile_dir()?;
            tmp.0.clone()
        }
    };
    let corpus = dir.join("corpus.txt");
    let index_path = dir.join("bench.ghbi");
    let t = Instant::now();
    let text_bytes = write_corpus_file(&corpus, keys, 42)?;
    eprintln!(
        "generated {keys} keys, {text_bytes} bytes of corpus text in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Parse alone (no spill), to see the parser's own speed.
    let files = gatehouse_breach::parse::expand_inputs(std::slice::from_ref(&corpus))?;
    let mut report = gatehouse_breach::parse::ParseReport::default();
    let mut acc = 0u64;
    let t = Instant::now();
    gatehouse_breach::parse::parse_file(
        &files[0],
        false,
        &mut report,
        &mut |k, c| {
            acc ^= k ^ c;
            Ok(())
        },
        &mut |_| {},
    )?;
    let parse_secs = t.elapsed().as_secs_f64();
    std::hint::black_box(acc);

    let opts = BuildOptions {
        source: format!("synthetic {keys} keys"),
        ..BuildOptions::default()
    };
    let build = gatehouse_breach::import(std::slice::from_ref(&corpus), &index_path, &opts)?;
    let index = BreachIndex::open(&index_path)?;
    let s = index.stats();

    let mut rng = SplitMix64(7);
    let absent: Vec<u64> = (0..2_000_000).map(|_| rng.next_u64()).collect();
    let step = (keys / 1_000_000).max(1) as usize;
    let mut present: Vec<u64> = Corpus::new(keys, 42)
        .step_by(step)
        .map(|(h, _)| BreachIndex::key_of(&h))
        .collect();
    // Shuffle so that consecutive lookups do not share cache lines.
    for i in (1..present.len()).rev() {
        present.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let fp_probes: Vec<u64> = (0..10_000_000).map(|_| rng.next_u64()).collect();
    let fp_hits = fp_probes
        .iter()
        .filter(|&&q| index.filter_may_contain(q))
        .count();
    let fp = fp_hits as f64 / fp_probes.len() as f64;
    let (filter_ns, _) = median_ns(&absent, 1000, |q| index.filter_may_contain(q));
    let (check_absent_ns, _) = median_ns(&absent, 1000, |q| index.check_key(q).is_breached());
    let (check_present_ns, found) = median_ns(&present, 1000, |q| index.check_key(q).is_breached());
    anyhow::ensure!(
        found as usize == present.len() / 1000 * 1000,
        "present keys not found"
    );
    let passwords: Vec<String> = (0..200_000)
        .map(|i| format!("bench-password-{i}"))
        .collect();
    let mut i = 0usize;
    let (password_ns, _) = median_ns(&absent[..200_000], 1000, |_| {
        i += 1;
        index.check_password(&passwords[i - 1]).is_breached()
    });

    println!("keys                      {}", s.keys);
    println!(
        "parse                     {:.0} MB/s ({} bytes in {:.2} s, one core)",
        text_bytes as f64 / parse_secs / 1e6,
        text_bytes,
        parse_secs
    );
    println!(
        "build (after parse)       {:.0} ns/key (sort {:.2} s, filter {:.2} s, exact {:.2} s, write {:.2} s)",
        build.build_secs() * 1e9 / s.keys as f64,
        build.sort_secs,
        build.filter_secs,
        build.exact_secs,
        build.write_secs
    );
    println!(
        "import total              {:.1} s",
        build.parse_secs + build.build_secs()
    );
    println!(
        "filter tier               {:.2} bits/key",
        s.filter_bits_per_key
    );
    println!(
        "exact tier                {:.2} bits/key (counts included)",
        s.exact_bits_per_key
    );
    println!(
        "filter FP rate            {:.3e} = 2^{:.2} ({fp_hits} of {})",
        fp,
        fp.log2(),
        fp_probes.len()
    );
    println!("filter only, median       {filter_ns:.1} ns (random absent keys)");
    println!("check, absent key, median {check_absent_ns:.1} ns");
    println!("check, present key, median {check_present_ns:.1} ns");
    println!("password (SHA-1 + check)  {password_ns:.1} ns median");
    Ok(ExitCode::SUCCESS)
}

/// A temporary directory removed on drop (avoids a runtime dependency on `tempfile`).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<TempDir> {
    let p = std::env::temp_dir().join(format!("gatehouse-breach-bench-{}", std::process::id()));
    std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(TempDir(p))
}
