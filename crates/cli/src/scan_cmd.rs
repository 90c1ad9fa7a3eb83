//! `gatehouse scan --leaked FILE`: checks a leaked `email:password` dump against
//! the accounts (see `gatehouse_server::app::leaked`). This file is the edge: it
//! parses the options, finds or ignores the saved progress, draws the progress
//! bar, turns Ctrl-C into a clean stop, and prints the summary.

use std::io::{Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gatehouse_server::Config;
use gatehouse_server::app::leaked::{
    DumpDate, DumpFingerprint, LeakedScanOptions, LeakedScanReport, Resume, ScanPosition, StateFile,
};

use crate::file_import::{bar, interrupt, open, print_errors};

/// Bad lines printed in the summary; the rest are only counted.
const SHOWN_ERRORS: usize = 20;

/// Exit status for input that cannot be scanned (missing file, bad date, bad state file).
const UNUSABLE: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

#[derive(clap::Args)]
pub struct ScanArgs {
    /// A dump of leaked credentials: one `email:password` per line, split at the
    /// first ':' (the password may contain ':'). Blank lines are skipped; bad lines
    /// are reported as FILE:LINE and skipped (exit status 1).
    #[arg(long, value_name = "FILE")]
    pub leaked: PathBuf,
    /// When the dump was taken, as YYYY-MM-DD (the whole day) or an RFC 3339
    /// date-time. Accounts whose password was changed after it are skipped.
    #[arg(long, value_name = "DATE")]
    pub dump_date: Option<String>,
    /// Password verifications at once [default: the hash_workers setting]. They run
    /// on the bounded hashing pool; more workers than the pool has threads only queue.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: Option<u32>,
    /// Where progress is saved, so an interrupted scan resumes [default:
    /// FILE.scan-progress].
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Scan from the beginning, ignoring saved progress.
    #[arg(long)]
    pub restart: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Says why the input cannot be scanned; exit status 2.
fn unusable(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(UNUSABLE)
}

/// Where to start, from the state file (or its absence). `Err` holds the exit
/// status when there is nothing left to do or the state file is unusable.
fn start_position(state: &StateFile, file: &Path, restart: bool) -> Result<ScanPosition, ExitCode> {
    if restart {
        return Ok(ScanPosition::default());
    }
    match state.resume() {
        Ok(Resume::Fresh) => Ok(ScanPosition::default()),
        Ok(Resume::From(at)) => {
            eprintln!(
                "resuming {} after line {} (byte {} of {}), as saved in {}; --restart scans from the beginning",
                file.display(),
                at.line,
                at.offset,
                state.dump.size,
                state.path.display()
            );
            Ok(at)
        }
        Ok(Resume::Complete(at)) => {
            eprintln!(
                "{} was scanned to the end already ({} lines, saved in {}); --restart scans it again",
                file.display(),
                at.line,
                state.path.display()
            );
            Err(ExitCode::SUCCESS)
        }
        Ok(Resume::OtherFile) => {
            eprintln!(
                "{} describes another file (its size or first 64 KiB differ); scanning {} from the beginning",
                state.path.display(),
                file.display()
            );
            Ok(ScanPosition::default())
        }
        Err(e) => Err(unusable(format!("{e:#} (--restart ignores it)"))),
    }
}

pub async fn run(config: Config, args: ScanArgs) -> anyhow::Result<ExitCode> {
    let file = args.leaked.as_path();
    // Everything about the input is checked before the database is touched.
    let dump_date = match args.dump_date.as_deref().map(DumpDate::parse).transpose() {
        Ok(d) => d,
        Err(e) => return Ok(unusable(format!("--dump-date: {e}"))),
    };
    let (mut reader, len) = match open(file) {
        Ok(r) => r,
        Err(e) => return Ok(unusable(format!("{e:#}"))),
    };
    let state = StateFile {
        path: args
            .state
            .clone()
            .unwrap_or_else(|| StateFile::default_path(file)),
        dump: match DumpFingerprint::of(file) {
            Ok(f) => f,
            Err(e) => return Ok(unusable(format!("cannot read {}: {e}", file.display()))),
        },
    };
    let start = match start_position(&state, file, args.restart) {
        Ok(at) => at,
        Err(code) => return Ok(code),
    };
    reader.seek(SeekFrom::Start(start.offset))?;

    let app = gatehouse_server::build_app(config).await?;
    // The shipped rules (one of them records leaked pairs, in shadow mode) exist
    // even if the server was never started on this database.
    app.install_rules().await?;
    let workers = args.workers.map_or(app.config.hash_workers, |w| w as usize);

    let stop = Arc::new(AtomicBool::new(false));
    // Listening before the scan starts, not when the task first runs.
    let mut sigint = interrupt()?;
    let on_ctrl_c = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            if sigint.recv().await.is_some() {
                stop.store(true, Ordering::Release);
                // Saved progress is at most a few seconds old, and findings are
                // deduplicated: quitting at once loses only some re-verification.
                if sigint.recv().await.is_some() {
                    eprintln!("quit; run again to resume from the last saved progress");
                    std::process::exit(i32::from(INTERRUPTED));
                }
            }
        }
    });

    let pb = bar(args.quiet, len, "scanning");
    pb.set_position(start.offset);
    let started = std::time::Instant::now();
    let opts = LeakedScanOptions {
        dump_name: file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        dump_date,
        workers,
        start,
        state: Some(state.clone()),
        checkpoint_every: Duration::from_secs(2),
        stop,
    };
    let result = app.scan_leaked(reader, opts, |b| pb.set_position(b)).await;
    on_ctrl_c.abort();
    pb.finish_and_clear();
    let report = result?;

    let shown = &report.errors[..report.errors.len().min(SHOWN_ERRORS)];
    print_errors(file, shown, report.error_count);
    print_summary(file, &report, started.elapsed());
    if report.interrupted {
        eprintln!(
            "interrupted; run again to resume (every line up to {} is done, saved in {})",
            report.position.line,
            state.path.display()
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(if report.error_count > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(file: &Path, r: &LeakedScanReport, took: Duration) {
    let resumed = if r.started_at.line > 0 {
        format!(" (resumed after line {})", r.started_at.line)
    } else {
        String::new()
    };
    println!(
        "{}: {} lines{resumed}: {} pairs checked, {} matched, {} unknown addresses, {} duplicates, {} changed after the dump, {} bad lines ({:.1} s)",
        file.display(),
        r.lines,
        r.checked,
        r.matched,
        r.unknown,
        r.duplicates,
        r.changed_after_dump,
        r.error_count,
        took.as_secs_f64()
    );
    let f = &r.recorded;
    if r.rules.is_empty() {
        println!(
            "findings: none recorded: no rule with detector leaked_credentials is on, so the {} matches are only counted",
            r.matched
        );
    } else {
        println!(
            "findings ({}): {} shadow, {} pending, {} held, {} recorded before",
            r.rules.join(", "),
            f.shadow,
            f.pending,
            f.held,
            f.already_recorded
        );
    }
}
