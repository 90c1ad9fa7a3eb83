//! Building an index from the corpus.
//!
//! ```text
//! parse ──> spill: 256 shard files by the top key byte, 8 bytes per record
//!           (the other 7 key bytes and the count code)
//!       ──> for each filter partition (a run of consecutive shards):
//!             sort + dedupe its shards in memory, build its fuse filter,
//!             stream its keys into the exact tier
//!       ──> assemble header + sections in `<out>.tmp`, fsync, rename over `<out>`
//! ```
//!
//! **Memory.** The parse phase holds 256 write buffers (16 MiB). The build phase holds
//! one filter partition at a time: its keys (8 B/key), count codes (1 B/key) and xorf's
//! construction arrays (about 26 B per key), so about 35 B × `max_partition_keys`
//! (default 2^22 keys: about 150 MB), whatever the size of the corpus (measured: 94 MB
//! peak RSS for 10 M keys). The exact tier is streamed to disk. Partitions of a few
//! million keys cost almost nothing in bits/key (xorf's size factor is at its floor
//! from 1 M keys up; rounding to whole segments adds under 0.1 bit/key) and build
//! faster than one big filter, because each partition's working set is smaller.
//!
//! **Failure and restart.** Nothing touches `<out>` until the final rename, so a
//! failed or interrupted import leaves the previous index in place. The spill files
//! live in `<out>.import/` with a manifest of the inputs (paths, sizes, mtimes); a
//! rerun with the same inputs skips the parse phase (the slow, I/O-bound one) and
//! rebuilds from the spill. The directory is removed after a successful import.
//!
//! **Duplicates.** Records with the same 64-bit key are merged keeping the *largest*
//! count, not the sum: importing the same corpus twice (or two overlapping copies)
//! then gives the same index as importing it once.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::count;
use crate::error::{BreachError, IoContext as _, Result};
use crate::exact::{self, ExactWriter};
use crate::filter;
use crate::format::{self, Header, section};
use crate::parse::{self, InputFile, ParseReport};

const SHARDS: usize = 256;
const WRITE_BUF: usize = 1 << 20;

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Any bad, unsorted or duplicate line fails the import.
    pub strict: bool,
    /// Free text stored in the header (e.g. "pwned-passwords-sha1 2026-11-01").
    pub source: String,
    /// Where to report how far the import got (the CLI draws a bar from it;
    /// this library never writes to the terminal itself). `None`: silent.
    pub progress: Option<Arc<dyn Progress>>,
    /// Upper bound on keys per filter partition, which bounds the build's memory.
    pub max_partition_keys: u64,
    /// Build time to record (Unix seconds); `None` reads the clock.
    pub built_at: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            strict: false,
            source: String::new(),
            progress: None,
            max_partition_keys: 1 << 22,
            built_at: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// The parse (all zero if it was skipped on a resumed import).
    pub parse: ParseReport,
    /// Whether the parse phase was skipped because a previous run had finished it.
    pub resumed: bool,
    /// Unique keys in the index.
    pub keys: u64,
    /// Records merged into another with the same key.
    pub merged_duplicates: u64,
    /// Filter partitions.
    pub partitions: u32,
    /// Size of the index file.
    pub index_bytes: u64,
    /// Seconds spent parsing and spilling.
    pub parse_secs: f64,
    /// Seconds spent reading and sorting shards.
    pub sort_secs: f64,
    /// Seconds spent building filters.
    pub filter_secs: f64,
    /// Seconds spent writing the exact tier.
    pub exact_secs: f64,
    /// Seconds spent assembling, syncing and renaming the file.
    pub write_secs: f64,
}

impl BuildReport {
    /// Seconds of the build proper (everything after parsing).
    pub fn build_secs(&self) -> f64 {
        self.sort_secs + self.filter_secs + self.exact_secs + self.write_secs
    }
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    out.with_file_name(name)
}

fn shard_path(work: &Path, s: usize) -> PathBuf {
    work.join(format!("shard-{s:02x}.bin"))
}

/// The two long phases of an import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading the corpus; units are bytes of input.
    Parsing,
    /// Sorting, filtering and writing; units are keys.
    Building,
}

/// Receives an import's progress, phase by phase.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// `phase` begins, with `total` units to go.
    fn start(&self, phase: Phase, total: u64);
    /// `done` units of the current phase are done.
    fn set(&self, done: u64);
    /// The current phase is over.
    fn finish(&self);
}

/// Forwards to the caller's [`Progress`], if any.
struct Reporter<'a>(Option<&'a dyn Progress>, u64);

impl<'a> Reporter<'a> {
    fn start(progress: &'a Option<Arc<dyn Progress>>, phase: Phase, total: u64) -> Self {
        let p = progress.as_deref();
        if let Some(p) = p {
            p.start(phase, total);
        }
        Reporter(p, 0)
    }

    fn set(&mut self, done: u64) {
        self.1 = done;
        if let Some(p) = self.0 {
            p.set(done);
        }
    }

    fn inc(&mut self, n: u64) {
        self.set(self.1 + n);
    }
}

impl Drop for Reporter<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.finish();
        }
    }
}

/// Pushes keys into an index without any text parsing (for tests, benchmarks, and
/// other sources). [`import`] uses it under the hood.
pub struct IndexBuilder {
    out: PathBuf,
    work: PathBuf,
    writers: Vec<BufWriter<File>>,
    opts: BuildOptions,
}

impl IndexBuilder {
    /// Starts a fresh build of `out` (any unfinished build's work directory is removed).
    pub fn new(out: &Path, opts: BuildOptions) -> Result<IndexBuilder> {
        let work = sibling(out, ".import");
        if work.exists() {
            fs::remove_dir_all(&work).at(&work)?;
        }
        fs::create_dir_all(&work).at(&work)?;
        let writers = (0..SHARDS)
            .map(|s| {
                let p = shard_path(&work, s);
                // 64 KiB per shard: 16 MiB for all, and still large sequential writes.
                File::create(&p)
                    .at(&p)
                    .map(|f| BufWriter::with_capacity(1 << 16, f))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(IndexBuilder {
            out: out.to_path_buf(),
            work,
            writers,
            opts,
        })
    }

    /// Adds one record: the first 64 bits of a SHA-1 and its count.
    #[inline]
    pub fn push(&mut self, key: u64, count: u64) -> Result<()> {
        let s = (key >> 56) as usize;
        let v = (key << 8) | u64::from(count::encode(count));
        self.writers[s].write_all(&v.to_le_bytes()).at(&self.work)
    }

    /// Flushes and syncs the spill files (after this, a rerun can resume from them).
    fn seal(&mut self) -> Result<()> {
        for w in &mut self.writers {
            w.flush().at(&self.work)?;
            w.get_ref().sync_all().at(&self.work)?;
        }
        self.writers.clear();
        Ok(())
    }

    /// Sorts, builds and writes the index, then renames it over `out`.
    pub fn finish(mut self) -> Result<BuildReport> {
        self.seal()?;
        let mut report = BuildReport::default();
        assemble(&self.work, &self.out, &self.opts, &mut report)?;
        fs::remove_dir_all(&self.work).at(&self.work)?;
        Ok(report)
    }
}

fn manifest(files: &[InputFile], strict: bool) -> String {
    let mut m = format!("gatehouse-breach spill v1 strict={strict}\n");
    for f in files {
        let mtime = fs::metadata(&f.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        m.push_str(&format!("{}\t{}\t{}\n", f.path.display(), f.len, mtime));
    }
    m
}

/// Imports corpus files or directories into the index at `out`; see the module docs.
pub fn import(inputs: &[PathBuf], out: &Path, opts: &BuildOptions) -> Result<BuildReport> {
    let files = parse::expand_inputs(inputs)?;
    let work = sibling(out, ".import");
    let manifest = manifest(&files, opts.strict);
    let done_marker = work.join("spilled");
    let resumable = fs::read_to_string(work.join("manifest")).ok().as_deref() == Some(&manifest)
        && done_marker.exists()
        && (0..SHARDS).all(|s| shard_path(&work, s).exists());
    let mut report = BuildReport::default();
    if resumable {
        report.resumed = true;
    } else {
        let started = Instant::now();
        let mut builder = IndexBuilder::new(out, opts.clone())?;
        fs::write(work.join("manifest"), &manifest).at(&work)?;
        let total: u64 = files.iter().map(|f| f.len).sum();
        let mut pb = Reporter::start(&opts.progress, Phase::Parsing, total);
        let mut done = 0u64;
        for f in &files {
            let mut sink = |key: u64, count: u64| builder.push(key, count);
            let mut progress = |b: u64| pb.set(done + b);
            parse::parse_file(f, opts.strict, &mut report.parse, &mut sink, &mut progress)?;
            done += f.len;
        }
        drop(pb);
        builder.seal()?;
        fs::write(&done_marker, b"").at(&work)?;
        report.parse_secs = started.elapsed().as_secs_f64();
    }
    assemble(&work, out, opts, &mut report)?;
    fs::remove_dir_all(&work).at(&work)?;
    Ok(report)
}

/// Feeds what passes through it into XXH3, so the body checksum costs no second read.
struct Hashing<W> {
    inner: W,
    hasher: xxhash_rust::xxh3::Xxh3,
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

type Body = BufWriter<Hashing<File>>;

fn body_pos(w: &Body) -> u64 {
    format::HEADER_LEN as u64 + w.get_ref().written + w.buffer().len() as u64
}

fn pad_to_align(w: &mut Body) -> std::io::Result<()> {
    let pos = body_pos(w);
    let pad = format::align_up(pos) - pos;
    w.write_all(&[0u8; format::ALIGN as usize][..pad as usize])
}

fn append_file(w: &mut Body, path: &Path) -> Result<(u64, u64)> {
    pad_to_align(w).at(path)?;
    let off = body_pos(w);
    let mut f = File::open(path).at(path)?;
    let len = std::io::copy(&mut f, w).at(path)?;
    Ok((off, len))
}

fn read_shard(path: &Path) -> Result<Vec<u64>> {
    let mut f = File::open(path).at(path)?;
    let len = f.metadata().at(path)?.len();
    let mut v = vec![0u64; (len / 8) as usize];
    f.read_exact(bytemuck::cast_slice_mut(&mut v)).at(path)?;
    // Stored little-endian; this crate only builds on little-endian targets.
    Ok(v)
}

fn partition_bits(counts: &[u64; SHARDS], max: u64) -> u32 {
    (0..=8u32)
        .find(|&p| {
            let per = SHARDS >> p;
            counts.chunks(per).all(|c| c.iter().sum::<u64>() <= max)
        })
        .unwrap_or(8)
}

fn assemble(work: &Path, out: &Path, opts: &BuildOptions, report: &mut BuildReport) -> Result<()> {
    let mut counts = [0u64; SHARDS];
    for (s, c) in counts.iter_mut().enumerate() {
        let p = shard_path(work, s);
        *c = fs::metadata(&p).at(&p)?.len() / 8;
    }
    let total: u64 = counts.iter().sum();
    let pbits = partition_bits(&counts, opts.max_partition_keys.max(1));
    let high_bits = exact::choose_high_bits(total);

    let tmp = sibling(out, ".tmp");
    let file = File::create(&tmp).at(&tmp)?;
    let mut body: Body = BufWriter::with_capacity(
        WRITE_BUF,
        Hashing {
            inner: file,
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            written: 0,
        },
    );
    // The header is written last, once the checksum is known.
    body.get_mut()
        .inner
        .write_all(&[0u8; format::HEADER_LEN])
        .at(&tmp)?;

    let side = |name: &str| -> Result<(PathBuf, BufWriter<File>)> {
        let p = work.join(name);
        let f = File::create(&p).at(&p)?;
        Ok((p, BufWriter::with_capacity(WRITE_BUF, f)))
    };
    let (fps_path, mut fps_w) = side("fingerprints.bin")?;
    let (upper_path, upper_w) = side("upper.bin")?;
    let (samples_path, samples_w) = side("samples.bin")?;
    let mut ew = ExactWriter::new(high_bits, body, upper_w, samples_w);

    let mut pb = Reporter::start(&opts.progress, Phase::Building, total);
    let mut parts = Vec::with_capacity(1 << pbits);
    let mut fp_total = 0u64;
    let per = SHARDS >> pbits;
    for part in 0..(1usize << pbits) {
        let t = Instant::now();
        let n: u64 = counts[part * per..(part + 1) * per].iter().sum();
        let mut keys: Vec<u64> = Vec::with_capacity(n as usize);
        let mut codes: Vec<u8> = Vec::with_capacity(n as usize);
        for s in part * per..(part + 1) * per {
            let mut raw = read_shard(&shard_path(work, s))?;
            raw.sort_unstable();
            let top = (s as u64) << 56;
            for v in raw {
                let key = top | (v >> 8);
                let code = (v & 0xff) as u8;
                // Sorted by (key, code): a repeat of the last key carries a count code
                // at least as large, so overwriting keeps the maximum.
                if keys.last() == Some(&key) {
                    *codes.last_mut().expect("parallel to keys") = code;
                    report.merged_duplicates += 1;
                } else {
                    keys.push(key);
                    codes.push(code);
                }
            }
        }
        report.sort_secs += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let (mut entry, fps) = filter::build_partition(&keys)?;
        entry.fp_start = fp_total;
        fp_total += fps.len() as u64;
        fps_w.write_all(bytemuck::cast_slice(&fps)).at(&fps_path)?;
        parts.push(entry);
        drop(fps);
        report.filter_secs += t.elapsed().as_secs_f64();

        let t = Instant::now();
        for (&k, &c) in keys.iter().zip(&codes) {
            ew.push(k, c).at(&tmp)?;
        }
        report.exact_secs += t.elapsed().as_secs_f64();
        report.keys += keys.len() as u64;
        pb.inc(n);
    }
    drop(pb);

    let t = Instant::now();
    let (mut body, upper_w, samples_w, sizes) = ew.finish().at(&tmp)?;
    for (mut w, p) in [
        (fps_w, &fps_path),
        (upper_w, &upper_path),
        (samples_w, &samples_path),
    ] {
        w.flush().at(p)?;
    }
    let mut sections = [(0u64, 0u64); section::COUNT];
    sections[section::ENTRIES] = (format::HEADER_LEN as u64, sizes.entry_bytes);
    sections[section::FINGERPRINTS] = append_file(&mut body, &fps_path)?;
    sections[section::UPPER] = append_file(&mut body, &upper_path)?;
    sections[section::SAMPLES] = append_file(&mut body, &samples_path)?;
    pad_to_align(&mut body).at(&tmp)?;
    sections[section::PARTITIONS] = (
        body_pos(&body),
        (parts.len() * format::PARTITION_ENTRY_LEN) as u64,
    );
    for p in &parts {
        body.write_all(&p.encode()).at(&tmp)?;
    }
    debug_assert_eq!(sizes.upper_bytes, sections[section::UPPER].1);
    debug_assert_eq!(sizes.sample_bytes, sections[section::SAMPLES].1);
    let hashing = body.into_inner().map_err(|e| BreachError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    let built_at = opts.built_at.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let header = Header {
        version: format::VERSION,
        key_count: report.keys,
        built_at,
        body_len: hashing.written,
        body_hash: hashing.hasher.digest(),
        partition_bits: pbits,
        high_bits,
        entry_bits: exact::entry_bits(high_bits),
        sections,
        source: format::clip_source(&opts.source).to_string(),
    };
    let mut file = hashing.inner;
    file.seek(SeekFrom::Start(0)).at(&tmp)?;
    file.write_all(&header.encode()).at(&tmp)?;
    file.sync_all().at(&tmp)?;
    report.index_bytes = format::HEADER_LEN as u64 + header.body_len;
    drop(file);
    // The rename is the commit point: readers see the old file or the new one, whole.
    fs::rename(&tmp, out).at(out)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable.
        File::open(dir).and_then(|d| d.sync_all()).at(dir)?;
    }
    report.partitions = 1 << pbits;
    report.write_secs += t.elapsed().as_secs_f64();
    Ok(())
}
