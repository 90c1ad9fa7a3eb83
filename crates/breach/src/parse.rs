//! Streaming parser for the files the Pwned Passwords downloader writes.
//!
//! Two layouts are accepted: one file of `HASH40:COUNT` lines, or files named by a
//! 5-hex prefix (`00000.txt`, `00000.txt.gz`, ...) holding `SUFFIX35:COUNT` lines.
//! Either may be gzip-compressed (recognised by its magic bytes, not its name), and
//! lines may end in LF or CRLF. Only the first 64 bits of each SHA-1 are kept: that is
//! the index key.
//!
//! The hot loop reads byte lines from a 1 MiB `BufReader` into one reused buffer and
//! decodes hex with a lookup table, so nothing is allocated per line.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{BreachError, IoContext as _, Result};

/// At most this many bad lines are kept in a report (the rest are only counted).
pub const MAX_REPORTED_ISSUES: usize = 100;

const READ_BUF: usize = 1 << 20;

/// One input file, with its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// `Some(prefix)` (20 bits) for a per-prefix file holding 35-hex suffixes;
    /// `None` for a file of full 40-hex hashes.
    pub prefix: Option<u32>,
    /// Size on disk (compressed size for gzip), for progress.
    pub len: u64,
}

/// The 5-hex prefix a file name stands for, if it is one (`0A1B2`, `0a1b2.txt`,
/// `0A1B2.txt.gz`).
pub fn prefix_of_file_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let stem = name.split('.').next()?;
    if stem.len() != 5 {
        return None;
    }
    u32::from_str_radix(stem, 16).ok()
}

/// Expands the command-line inputs: files as they are, directories to the per-prefix
/// files in them (sorted by name; other files are ignored, hidden ones silently).
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).at(input)?;
        if meta.is_dir() {
            let mut entries = Vec::new();
            for entry in std::fs::read_dir(input).at(input)? {
                let entry = entry.at(input)?;
                let path = entry.path();
                if let Some(prefix) = prefix_of_file_name(&path) {
                    let len = entry.metadata().at(&path)?.len();
                    entries.push(InputFile {
                        path,
                        prefix: Some(prefix),
                        len,
                    });
                }
            }
            if entries.is_empty() {
                return Err(BreachError::NoInput(format!(
                    "{} holds no file named by a 5-hex prefix (00000.txt ...)",
                    input.display()
                )));
            }
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            out.extend(entries);
        } else {
            out.push(InputFile {
                path: input.clone(),
                prefix: prefix_of_file_name(input),
                len: meta.len(),
            });
        }
    }
    if out.is_empty() {
        return Err(BreachError::NoInput("nothing given".into()));
    }
    Ok(out)
}

/// What is wrong with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// A character of the hash is not a hex digit.
    BadHex,
    /// No `:COUNT` after the hash.
    MissingCount,
    /// The count is not a decimal number of at most 19 digits.
    BadCount,
    /// The hash has this many characters instead of 40 (or 35 in a per-prefix file).
    WrongLength(usize),
    /// The key is smaller than the one on the line before (handled: keys are sorted
    /// during the build anyway).
    Unsorted,
    /// The same 64-bit key as the line before (handled: duplicates are merged,
    /// keeping the larger count).
    Duplicate,
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueKind::BadHex => f.write_str("bad hex digit in the hash"),
            IssueKind::MissingCount => f.write_str("missing ':COUNT'"),
            IssueKind::BadCount => f.write_str("bad count (want a decimal number)"),
            IssueKind::WrongLength(n) => write!(f, "wrong hash length ({n} characters)"),
            IssueKind::Unsorted => f.write_str("not sorted (smaller than the line before)"),
            IssueKind::Duplicate => f.write_str("duplicate of the line before"),
        }
    }
}

/// A bad line: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIssue {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub kind: IssueKind,
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.kind)
    }
}

impl std::error::Error for LineIssue {}

/// Totals of a parse.
#[derive(Debug, Clone, Default)]
pub struct ParseReport {
    /// Files read.
    pub files: u64,
    /// Lines read (blank lines included).
    pub lines: u64,
    /// Records handed on (bad lines excluded; unsorted and duplicate lines included).
    pub records: u64,
    /// Lines skipped as bad (hex, length, count).
    pub bad_lines: u64,
    /// Lines out of order (kept).
    pub unsorted: u64,
    /// Lines repeating the key before them (kept; merged during the build).
    pub duplicates: u64,
    /// Bytes read from disk (compressed bytes for gzip files).
    pub bytes: u64,
    /// Uncompressed text bytes parsed.
    pub text_bytes: u64,
    /// The first [`MAX_REPORTED_ISSUES`] issues.
    pub issues: Vec<LineIssue>,
}

impl ParseReport {
    fn note(&mut self, path: &Path, line: u64, kind: IssueKind, strict: bool) -> Result<()> {
        let issue = || LineIssue {
            path: path.to_path_buf(),
            line,
            kind,
        };
        if strict {
            return Err(BreachError::Strict(issue()));
        }
        if self.issues.len() < MAX_REPORTED_ISSUES {
            self.issues.push(issue());
        }
        Ok(())
    }
}

/// Hex digit values; 0x80 marks a non-digit so one OR over a line tells whether any
/// digit was bad.
static HEX: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes `N` hex digits into the low `4N` bits; the second value has bit 7 set if
/// any digit was bad.
#[inline(always)]
fn hex_prefix<const N: usize>(digits: &[u8; N]) -> (u64, u8) {
    let mut acc = 0u64;
    let mut bad = 0u8;
    for &d in digits {
        let v = HEX[d as usize];
        bad |= v;
        acc = (acc << 4) | u64::from(v & 0x0f);
    }
    (acc, bad)
}

#[inline(always)]
fn hex_bad(digits: &[u8]) -> u8 {
    digits.iter().fold(0u8, |bad, &d| bad | HEX[d as usize])
}

#[inline(always)]
fn parse_count(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &d in digits {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        n = n * 10 + u64::from(v);
    }
    Some(n)
}

/// Parses one line without its line ending. `prefix` is the file's 5-hex prefix for
/// per-prefix files. Returns the 64-bit key and the count.
#[inline]
pub fn parse_line(line: &[u8], prefix: Option<u32>) -> std::result::Result<(u64, u64), IssueKind> {
    let hex_len = if prefix.is_some() { 35 } else { 40 };
    if line.len() > hex_len && line[hex_len] == b':' {
        let key = match prefix {
            None => {
                let (k, bad) = hex_prefix::<16>(line[..16].try_into().expect("16 bytes"));
                if (bad | hex_bad(&line[16..40])) & 0x80 != 0 {
                    return Err(IssueKind::BadHex);
                }
                k
            }
            Some(p) => {
                let (k, bad) = hex_prefix::<11>(line[..11].try_into().expect("11 bytes"));
                if (bad | hex_bad(&line[11..35])) & 0x80 != 0 {
                    return Err(IssueKind::BadHex);
                }
                (u64::from(p) << 44) | k
            }
        };
        let count = parse_count(&line[hex_len + 1..]).ok_or(IssueKind::BadCount)?;
        return Ok((key, count));
    }
    // Slow path: say precisely what is wrong.
    match line.iter().position(|&b| b == b':') {
        None if hex_bad(line) & 0x80 == 0 => Err(IssueKind::MissingCount),
        None => Err(IssueKind::BadHex),
        Some(n) if hex_bad(&line[..n]) & 0x80 != 0 => Err(IssueKind::BadHex),
        Some(n) => Err(IssueKind::WrongLength(n)),
    }
}

/// Counts bytes read from the file underneath any decompressor, for progress.
struct Counting<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Parses one input file, calling `sink(key, count)` for each good line and
/// `progress(bytes_read_so_far_in_this_file)` now and then.
pub fn parse_file(
    file: &InputFile,
    strict: bool,
    report: &mut ParseReport,
    sink: &mut dyn FnMut(u64, u64) -> Result<()>,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let read = Cell::new(0u64);
    let f = File::open(&file.path).at(&file.path)?;
    let mut raw = BufReader::with_capacity(
        READ_BUF,
        Counting {
            inner: f,
            read: &read,
        },
    );
    let gzip = raw.fill_buf().at(&file.path)?.starts_with(&[0x1f, 0x8b]);
    let result = if gzip {
        let dec = flate2::bufread::MultiGzDecoder::new(raw);
        parse_reader(
            BufReader::with_capacity(READ_BUF, dec),
            file,
            strict,
            report,
            sink,
            &mut || progress(read.get()),
        )
    } else {
        parse_reader(raw, file, strict, report, sink, &mut || {
            progress(read.get())
        })
    };
    report.files += 1;
    report.bytes += read.get();
    result
}

fn parse_reader<R: BufRead>(
    mut reader: R,
    file: &InputFile,
    strict: bool,
    report: &mut ParseReport,
    sink: &mut dyn FnMut(u64, u64) -> Result<()>,
    progress: &mut dyn FnMut(),
) -> Result<()> {
    let path = &file.path;
    let mut buf = Vec::with_capacity(128);
    let mut line_no = 0u64;
    let mut prev: Option<u64> = None;
    let mut first_data_line = true;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).at(path)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        report.text_bytes += n as u64;
        if line_no & 0xffff == 0 {
            progress();
        }
        let mut line = buf.as_slice();
        if let [rest @ .., b'\n'] = line {
            line = rest;
        }
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() {
            continue;
        }
        match parse_line(line, file.prefix) {
            Ok((key, count)) => {
                first_data_line = false;
                match prev {
                    Some(p) if key < p => {
                        report.unsorted += 1;
                        report.note(path, line_no, IssueKind::Unsorted, strict)?;
                    }
                    Some(p) if key == p => {
                        report.duplicates += 1;
                        report.note(path, line_no, IssueKind::Duplicate, strict)?;
                    }
                    _ => {}
                }
                prev = Some(key);
                report.records += 1;
                sink(key, count)?;
            }
            Err(kind) => {
                if first_data_line {
                    first_line_verdict(line, file, line_no, kind)?;
                }
                first_data_line = false;
                report.bad_lines += 1;
                report.note(path, line_no, kind, strict)?;
            }
        }
    }
    report.lines += line_no;
    progress();
    Ok(())
}

/// A bad first line may mean the whole file is of the wrong kind: say so once,
/// clearly, rather than report every line of it as bad.
fn first_line_verdict(line: &[u8], file: &InputFile, line_no: u64, kind: IssueKind) -> Result<()> {
    let IssueKind::WrongLength(n) = kind else {
        return Ok(());
    };
    let ntlm_len = if file.prefix.is_some() { 27 } else { 32 };
    if n == ntlm_len && hex_bad(&line[..n]) & 0x80 == 0 {
        return Err(BreachError::NtlmRefused {
            path: file.path.clone(),
            line: line_no,
            hex_len: n,
        });
    }
    if file.prefix.is_none() && n == 35 {
        return Err(BreachError::Format {
            path: file.path.clone(),
            line: line_no,
            reason: "35-hex suffixes, but the file name is not a 5-hex prefix \
                     (name it like 0A1B2.txt, or pass its directory)"
                .into(),
        });
    }
    if file.prefix.is_some() && n == 40 {
        return Err(BreachError::Format {
            path: file.path.clone(),
            line: line_no,
            reason: "full 40-hex hashes in a file named by a 5-hex prefix; rename it".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "000000005AD76BD555C1D6D771DE417A4B87E4B4";

    #[test]
    fn full_line() {
        let (k, c) = parse_line(format!("{H}:10").as_bytes(), None).unwrap();
        assert_eq!(k, 0x0000_0000_5AD7_6BD5);
        assert_eq!(c, 10);
        let lower = H.to_ascii_lowercase();
        assert_eq!(
            parse_line(format!("{lower}:10").as_bytes(), None)
                .unwrap()
                .0,
            k
        );
    }

    #[test]
    fn suffix_line_takes_prefix_from_file_name() {
        let prefix = prefix_of_file_name(Path::new("dir/00000.txt.gz")).unwrap();
        let (k, c) = parse_line(format!("{}:7", &H[5..]).as_bytes(), Some(prefix)).unwrap();
        assert_eq!(k, 0x0000_0000_5AD7_6BD5);
        assert_eq!(c, 7);
        let (k2, _) = parse_line(b"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:1", Some(0xABCDE)).unwrap();
        assert_eq!(k2, 0xABCD_EFFF_FFFF_FFFF);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let bad_hex = format!("{}G:1", &H[..39]);
        assert_eq!(parse_line(bad_hex.as_bytes(), None), Err(IssueKind::BadHex));
        assert_eq!(parse_line(H.as_bytes(), None), Err(IssueKind::MissingCount));
        assert_eq!(
            parse_line(format!("{H}:").as_bytes(), None),
            Err(IssueKind::BadCount)
        );
        assert_eq!(
            parse_line(format!("{H}:1x").as_bytes(), None),
            Err(IssueKind::BadCount)
        );
        assert_eq!(
            parse_line(format!("{}:1", &H[..39]).as_bytes(), None),
            Err(IssueKind::WrongLength(39))
        );
        assert_eq!(
            parse_line(b"00000:99999999999999999999", None),
            Err(IssueKind::WrongLength(5))
        );
        assert_eq!(parse_line(b"zz:1", None), Err(IssueKind::BadHex));
    }

    #[test]
    fn file_names() {
        assert_eq!(prefix_of_file_name(Path::new("0A1b2.txt")), Some(0x0A1B2));
        assert_eq!(prefix_of_file_name(Path::new("pwned.txt")), None);
        assert_eq!(prefix_of_file_name(Path::new("0A1B23.txt")), None);
    }
}
