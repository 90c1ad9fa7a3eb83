//! What the JSON Lines importers (`accounts import`, `events import`) share:
//! opening the file, the progress bar, the Ctrl-C listener (also the leaked
//! scan's), and the `FILE:LINE: message` report.

use std::path::Path;

use anyhow::Context as _;
use gatehouse_server::app::import::LineError;

/// The file, buffered, and its length for the progress bar.
pub fn open(file: &Path) -> anyhow::Result<(std::io::BufReader<std::fs::File>, u64)> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((std::io::BufReader::with_capacity(1 << 16, f), len))
}

/// Ctrl-C (SIGINT), listened for from now on. Created before a long job's first
/// write: `tokio::signal::ctrl_c()` installs its handler only when first polled,
/// and a job polled first (or a listening task not yet run) can commit a batch
/// before that — a Ctrl-C then killed the process outright, with no resume hint
/// (an interrupted import's test, once in CI).
pub fn interrupt() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
}

/// A byte-progress bar (hidden with `--quiet`).
pub fn bar(quiet: bool, len: u64, msg: &'static str) -> indicatif::ProgressBar {
    let pb = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(len)
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

/// Bad lines as `FILE:LINE: message`, then how many more were not kept.
pub fn print_errors(file: &Path, errors: &[LineError], count: u64) {
    for e in errors {
        eprintln!("{}:{}: {}", file.display(), e.line, e.message);
    }
    if count > errors.len() as u64 {
        eprintln!("… and {} more bad lines", count - errors.len() as u64);
    }
}

/// The `--strict` refusal, after a check found bad lines.
pub fn refuse_strict(file: &Path, errors: &[LineError], count: u64, lines: u64) {
    print_errors(file, errors, count);
    eprintln!("{count} of {lines} lines are bad; nothing was imported (--strict)");
}
