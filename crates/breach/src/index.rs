//! Opening and querying an index file.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use sha1::{Digest as _, Sha1};

use crate::count;
use crate::error::{BreachError, IoContext as _, Result};
use crate::exact::ExactView;
use crate::filter;
use crate::format::{self, Header, PartitionEntry, section};

/// The answer for one password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not in the corpus (certain: the filter has no false negatives).
    Clean,
    /// In the corpus, confirmed by the exact tier.
    Breached {
        /// Lower bound of how often it was seen: the true count is in
        /// `[approx_count, 4 × approx_count)`.
        approx_count: u64,
    },
}

impl Verdict {
    /// Whether the password is breached.
    pub fn is_breached(&self) -> bool {
        matches!(self, Verdict::Breached { .. })
    }
}

/// Sizes and provenance of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// The file.
    pub path: PathBuf,
    /// Format version.
    pub version: u32,
    /// Unique 64-bit keys.
    pub keys: u64,
    /// Source description given at import.
    pub source: String,
    /// Unix seconds of the build.
    pub built_at: u64,
    /// File size.
    pub file_bytes: u64,
    /// Filter bytes (fingerprints and partition table): the tier that should stay in RAM.
    pub filter_bytes: u64,
    /// Exact-tier bytes (entries, bucket bits, samples).
    pub exact_bytes: u64,
    /// Filter bits per key.
    pub filter_bits_per_key: f64,
    /// Exact-tier bits per key, counts included.
    pub exact_bits_per_key: f64,
    /// Filter partitions.
    pub partitions: u32,
}

/// A loaded index: the file mmapped read-only, queried in place.
///
/// It is `Send + Sync` and never changes after `open`, so a server can keep it in an
/// `Arc` (or `ArcSwap`) and swap in a newly imported one while requests still run
/// against the old one; the old mapping lives until its last `Arc` is dropped, and
/// because an import renames a new file over the path (never writes into the old
/// one), the old mapping stays valid.
pub struct BreachIndex {
    map: Mmap,
    /// The fingerprints copied into anonymous memory backed by huge pages, if asked
    /// for (see [`OpenOptions::filter_in_huge_pages`]).
    filter_copy: Option<Mmap>,
    header: Header,
    path: PathBuf,
    partitions: Vec<PartitionEntry>,
    partition_shift: u32,
    /// Each partition with its fingerprints, and the exact tier, as slices into `map`
    /// (or `filter_copy`), made once at open so that a lookup does no re-slicing.
    /// The `'static` is a private fiction: the slices point into mappings this struct
    /// owns, whose addresses do not change when the struct moves, and they never leave
    /// it except reborrowed for `&self`'s lifetime.
    probes: Vec<(PartitionEntry, &'static [u16])>,
    exact_view: ExactView<'static>,
    fingerprints: Range<usize>,
    samples: Range<usize>,
    upper: Range<usize>,
    entries: Range<usize>,
}

// Keep the promise to the server in the type system.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<BreachIndex>();
};

fn corrupt(path: &Path, reason: impl Into<String>) -> BreachError {
    BreachError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// How to open an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Check the body checksum (reads the whole file once, which also warms the page
    /// cache). Without it, opening takes constant time; a damaged body can then give
    /// wrong answers (never undefined behaviour: every read is bounds-checked).
    pub verify_body: bool,
    /// Copy the filter tier (about 2.3 bytes per key) out of the file mapping into
    /// anonymous memory advised for transparent huge pages. Random probes into a
    /// file mapping pay a TLB miss on most of their three reads (4 KiB pages); with
    /// 2 MiB pages they mostly do not, which makes a probe several times faster on
    /// large indexes (measure on your machine: BENCHMARKS.md). Off by default, to
    /// keep the open zero-copy. The exact tier stays zero-copy either way.
    pub filter_in_huge_pages: bool,
    /// Map a private copy instead of the file itself: an unnamed file in the
    /// same directory (`O_TMPFILE` where the system has it), filled from the
    /// index (`copy_file_range`: a reflink on filesystems that have them) and
    /// checked. Nobody can open an unnamed file, so an operator overwriting or
    /// truncating the index in place (`cp other.idx breach.idx`) cannot pull
    /// pages out from under a live server — which would be SIGBUS, a crash.
    /// Costs the index's size in disk space (until the index is dropped) and the
    /// copy's time at open. What the server uses; the CLI's one-shot commands
    /// map in place.
    pub private_copy: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            verify_body: true,
            filter_in_huge_pages: false,
            private_copy: false,
        }
    }
}

impl BreachIndex {
    /// Opens an index with the default [`OpenOptions`]: everything checked, both tiers
    /// mmapped in place (zero-copy).
    pub fn open(path: impl AsRef<Path>) -> Result<BreachIndex> {
        Self::open_with(path.as_ref(), OpenOptions::default())
    }

    /// Opens an index without the body checksum: constant time on a cold cache.
    pub fn open_unverified(path: impl AsRef<Path>) -> Result<BreachIndex> {
        Self::open_with(
            path.as_ref(),
            OpenOptions {
                verify_body: false,
                filter_in_huge_pages: false,
                private_copy: false,
            },
        )
    }

    /// Opens an index with explicit options.
    pub fn open_with(path: &Path, options: OpenOptions) -> Result<BreachIndex> {
        // A private copy is always checked: the source may have been changing
        // while it was copied.
        let verify_body = options.verify_body || options.private_copy;
        let mut file = File::open(path).at(path)?;
        if options.private_copy {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut copy = tempfile::tempfile_in(dir).at(path)?;
            std::io::copy(&mut file, &mut copy).at(path)?;
            file = copy;
        }
        // SAFETY: the file is mapped read-only. Imports never modify an index in place
        // (they write a new file and rename it over the old path), so the mapped bytes
        // do not change under us unless someone writes into the file by hand — and
        // with `private_copy` the mapped file has no name anyone could write to.
        let map = unsafe { Mmap::map(&file) }.at(path)?;
        let header = Header::decode(&map).map_err(|r| corrupt(path, r))?;
        if header.body_len != map.len() as u64 - format::HEADER_LEN as u64 {
            return Err(corrupt(
                path,
                "file length does not match the header (truncated?)",
            ));
        }
        if verify_body && xxhash_rust::xxh3::xxh3_64(&map[format::HEADER_LEN..]) != header.body_hash
        {
            return Err(corrupt(path, "body checksum mismatch"));
        }
        // Lookups jump around: no readahead (after the checksum pass, which reads
        // sequentially and benefits from it).
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Random);
        let range = |i: usize| -> Result<Range<usize>> {
            let (off, len) = header.sections[i];
            let end = off
                .checked_add(len)
                .ok_or_else(|| corrupt(path, "section overflow"))?;
            if off < format::HEADER_LEN as u64 || end > map.len() as u64 || off % format::ALIGN != 0
            {
                return Err(corrupt(path, format!("section {i} out of bounds")));
            }
            Ok(off as usize..end as usize)
        };
        let part_range = range(section::PARTITIONS)?;
        if header.partition_bits > 16
            || part_range.len() != (format::PARTITION_ENTRY_LEN << header.partition_bits)
        {
            return Err(corrupt(path, "bad partition table"));
        }
        let partitions: Vec<PartitionEntry> = map[part_range]
            .chunks_exact(format::PARTITION_ENTRY_LEN)
            .map(PartitionEntry::decode)
            .collect();
        let mut index = BreachIndex {
            filter_copy: None,
            probes: Vec::new(),
            exact_view: ExactView {
                high_bits: 0,
                entry_bits: 0,
                keys: 0,
                samples: &[],
                upper: &[],
                entries: &[],
            },
            partition_shift: 64 - header.partition_bits,
            fingerprints: range(section::FINGERPRINTS)?,
            samples: range(section::SAMPLES)?,
            upper: range(section::UPPER)?,
            entries: range(section::ENTRIES)?,
            partitions,
            header,
            path: path.to_path_buf(),
            map,
        };
        let fps_len = bytemuck::try_cast_slice::<u8, u16>(&index.map[index.fingerprints.clone()])
            .map_err(|_| corrupt(path, "fingerprint section misaligned"))?
            .len() as u64;
        for p in &index.partitions {
            if !filter::entry_is_sound(p)
                || p.fp_start
                    .checked_add(u64::from(p.fp_len))
                    .is_none_or(|end| end > fps_len)
            {
                return Err(corrupt(path, "bad filter partition"));
            }
        }
        for r in [&index.samples, &index.upper] {
            if !index.map[r.clone()].len().is_multiple_of(8) {
                return Err(corrupt(path, "misaligned section"));
            }
        }
        if !index.exact().is_sound() {
            return Err(corrupt(
                path,
                "exact tier sections do not fit its parameters",
            ));
        }
        if options.filter_in_huge_pages && !index.fingerprints.is_empty() {
            let src = &index.map[index.fingerprints.clone()];
            let mut anon = memmap2::MmapMut::map_anon(src.len()).at(path)?;
            #[cfg(target_os = "linux")]
            let _ = anon.advise(memmap2::Advice::HugePage);
            anon.copy_from_slice(src);
            index.filter_copy = Some(anon.make_read_only().at(path)?);
        }
        let fps: &[u16] = match &index.filter_copy {
            Some(copy) => bytemuck::cast_slice(copy),
            None => bytemuck::cast_slice(&index.map[index.fingerprints.clone()]),
        };
        // SAFETY: see the `probes` field. The mappings live as long as `index` and are
        // never remapped or written.
        let fps: &'static [u16] = unsafe { &*std::ptr::from_ref::<[u16]>(fps) };
        let exact = index.exact();
        let exact_view = ExactView {
            // SAFETY: as above.
            samples: unsafe { &*std::ptr::from_ref::<[u64]>(exact.samples) },
            upper: unsafe { &*std::ptr::from_ref::<[u64]>(exact.upper) },
            entries: unsafe { &*std::ptr::from_ref::<[u8]>(exact.entries) },
            ..exact
        };
        index.exact_view = exact_view;
        index.probes = index
            .partitions
            .iter()
            .map(|p| {
                let start = p.fp_start as usize;
                (*p, &fps[start..start + p.fp_len as usize])
            })
            .collect();
        index.path = path.to_path_buf();
        Ok(index)
    }

    #[inline(always)]
    fn exact(&self) -> ExactView<'_> {
        ExactView {
            high_bits: self.header.high_bits,
            entry_bits: self.header.entry_bits,
            keys: self.header.key_count,
            samples: bytemuck::cast_slice(&self.map[self.samples.clone()]),
            upper: bytemuck::cast_slice(&self.map[self.upper.clone()]),
            entries: &self.map[self.entries.clone()],
        }
    }

    /// The index key of a SHA-1: its first 64 bits, big-endian (the order of the
    /// corpus's hex text).
    #[inline(always)]
    pub fn key_of(sha1: &[u8; 20]) -> u64 {
        u64::from_be_bytes(sha1[..8].try_into().expect("8 bytes"))
    }

    /// Filter tier only: `false` means certainly not in the corpus; `true` means
    /// "maybe" (about 1 in 65,000 absent keys say so). Never act on `true` alone: use
    /// [`BreachIndex::check_key`].
    #[inline]
    pub fn filter_may_contain(&self, key: u64) -> bool {
        let (p, fps) = &self.probes[key.checked_shr(self.partition_shift).unwrap_or(0) as usize];
        filter::probe(p, fps, key)
    }

    /// Exact tier only: the count bucket of `key`, if present.
    #[inline]
    pub fn exact_lookup(&self, key: u64) -> Option<u64> {
        let view: &ExactView<'_> = &self.exact_view;
        view.lookup(key).map(count::decode)
    }

    /// The verdict for a 64-bit key: filter first, and only on a filter hit the exact
    /// tier, whose answer is final.
    #[inline]
    pub fn check_key(&self, key: u64) -> Verdict {
        if !self.filter_may_contain(key) {
            return Verdict::Clean;
        }
        match self.exact_lookup(key) {
            Some(approx_count) => Verdict::Breached { approx_count },
            None => Verdict::Clean,
        }
    }

    /// The verdict for a SHA-1 digest (raw 20 bytes).
    #[inline]
    pub fn check_sha1(&self, sha1: &[u8; 20]) -> Verdict {
        self.check_key(Self::key_of(sha1))
    }

    /// The verdict for a password: SHA-1 over its UTF-8 bytes, as HIBP hashes them
    /// (no normalisation: "Password" and "password" are different passwords).
    pub fn check_password(&self, password: &str) -> Verdict {
        self.check_password_bytes(password.as_bytes())
    }

    /// The verdict for a password given as raw bytes (for input that is not UTF-8).
    pub fn check_password_bytes(&self, password: &[u8]) -> Verdict {
        let digest: [u8; 20] = Sha1::digest(password).into();
        self.check_sha1(&digest)
    }

    /// Sizes and provenance.
    pub fn stats(&self) -> Stats {
        let h = &self.header;
        let len = |i: usize| h.sections[i].1;
        let filter_bytes = len(section::FINGERPRINTS) + len(section::PARTITIONS);
        let exact_bytes = len(section::ENTRIES) + len(section::UPPER) + len(section::SAMPLES);
        let per_key = |b: u64| {
            if h.key_count == 0 {
                0.0
            } else {
                b as f64 * 8.0 / h.key_count as f64
            }
        };
        Stats {
            path: self.path.clone(),
            version: h.version,
            keys: h.key_count,
            source: h.source.clone(),
            built_at: h.built_at,
            file_bytes: self.map.len() as u64,
            filter_bytes,
            exact_bytes,
            filter_bits_per_key: per_key(filter_bytes),
            exact_bits_per_key: per_key(exact_bytes),
            partitions: 1 << h.partition_bits,
        }
    }

    /// The file this index was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks the kernel to read the filter tier in ahead of use (it is touched by every check;
    /// the exact tier only on a filter hit).
    pub fn prefetch_filter(&self) {
        #[cfg(unix)]
        {
            let r = &self.fingerprints;
            let _ = self
                .map
                .advise_range(memmap2::Advice::WillNeed, r.start, r.len());
        }
    }
}

impl std::fmt::Debug for BreachIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreachIndex")
            .field("path", &self.path)
            .field("keys", &self.header.key_count)
            .finish_non_exhaustive()
    }
}
