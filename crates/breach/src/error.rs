//! Errors of the breach index.

use std::path::PathBuf;

/// Everything that can go wrong while importing, opening or reading an index.
#[derive(Debug, thiserror::Error)]
pub enum BreachError {
    /// An I/O error, with the path it happened on.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input is the NTLM corpus; only SHA-1 is supported.
    #[error(
        "{path}:{line}: this looks like the NTLM corpus ({hex_len}-hex hashes); \
         only the SHA-1 corpus is supported (run the downloader without its NTLM option)"
    )]
    NtlmRefused {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Number of hex digits in the hash.
        hex_len: usize,
    },
    /// The input is not in a supported layout at all.
    #[error("{path}:{line}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A bad line, fatal because the import runs with `strict`.
    #[error("{0} (fatal with --strict)")]
    Strict(crate::parse::LineIssue),
    /// The inputs hold no usable file.
    #[error("no input files: {0}")]
    NoInput(String),
    /// The index file is not a valid index (wrong magic, version, checksum, bounds).
    #[error("{path}: not a valid breach index: {reason}")]
    Corrupt {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The filter could not be constructed (should not happen with unique keys).
    #[error("filter construction failed: {0}")]
    Filter(&'static str),
}

/// Result alias for this crate.
pub type Result<T, E = BreachError> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| BreachError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
