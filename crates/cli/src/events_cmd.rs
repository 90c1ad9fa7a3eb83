//! `gatehouse events import`: login events from a JSON Lines file (the same
//! objects `POST /api/v1/events/login` takes, one per line).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use gatehouse_server::Config;

use crate::file_import::{bar, interrupt, open, print_errors, refuse_strict};

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Import login events from a JSON Lines file.
    ///
    /// One object per line: {"time": "<RFC 3339>", "account": "<email or id>",
    /// "ip": "<v4 or v6>", "outcome": "success" | "wrong_password" | "unknown_account",
    /// "user_agent": "...", "country": "NL", "asn": 64500, "password_fingerprint":
    /// "<64 hex digits>"} (the last four optional; see `fingerprint-key`).
    /// Bad lines are reported as FILE:LINE and skipped (exit status 1). Events stored
    /// already are skipped, so an interrupted import resumes by running it again.
    Import {
        /// The .jsonl file.
        file: PathBuf,
        /// Check the whole file first; import nothing if any line is bad.
        #[arg(long)]
        strict: bool,
        /// Events per transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch_size: u32,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Print the key apps fingerprint attempted passwords with (64 hex digits).
    ///
    /// An app that sends its logins to Gatehouse can add to each event
    /// "password_fingerprint": hex(HMAC-SHA256(key, "gatehouse/login-event-password/v1\0"
    /// followed by the password)), so the password-spraying check sees one
    /// password tried against many of its accounts, without the password ever
    /// leaving the app.
    /// The key is derived from the server key and is a secret like it: whoever
    /// holds it and the stored fingerprints can test password guesses quickly.
    FingerprintKey,
}

pub async fn run(config: Config, command: EventsCommand) -> anyhow::Result<ExitCode> {
    match command {
        EventsCommand::Import {
            file,
            strict,
            batch_size,
            quiet,
        } => import(config, &file, strict, batch_size as usize, quiet).await,
        EventsCommand::FingerprintKey => {
            let app = gatehouse_server::build_app(config).await?;
            eprintln!(
                "The password-fingerprint key: a secret. Give it only to apps that send login \
                 events, through their secret store; never log it."
            );
            println!("{}", hex::encode(app.password_fingerprint_key().as_slice()));
            app.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn import(
    config: Config,
    file: &Path,
    strict: bool,
    batch: usize,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    // Open the file before touching the database: a wrong path fails fast.
    let mut first = Some(open(file)?);
    let app = gatehouse_server::build_app(config).await?;
    if strict {
        let (reader, len) = first.take().map_or_else(|| open(file), Ok)?;
        let pb = bar(quiet, len, "checking");
        let report = app.check_event_import(reader, |b| pb.set_position(b))?;
        pb.finish_and_clear();
        if report.error_count > 0 {
            refuse_strict(file, &report.errors, report.error_count, report.lines);
            return Ok(ExitCode::FAILURE);
        }
    }
    let (reader, len) = first.take().map_or_else(|| open(file), Ok)?;
    let mut sigint = interrupt()?;
    let pb = bar(quiet, len, "importing");
    let started = std::time::Instant::now();
    let read = Cell::new(0u64);
    let work = app.import_login_events(reader, batch, |b| {
        read.set(b);
        pb.set_position(b);
    });
    // Ctrl-C stops between statements: every batch committed so far stays, the one
    // in flight rolls back, and running the same command again skips what is stored.
    let report = tokio::select! {
        biased;
        _ = sigint.recv() => {
            pb.finish_and_clear();
            eprintln!(
                "interrupted after {} of {} bytes; the events stored so far stay: run the same command again to resume",
                read.get(),
                len
            );
            return Ok(ExitCode::from(130));
        }
        r = work => r?,
    };
    pb.finish_and_clear();
    print_errors(file, &report.errors, report.error_count);
    let s = &report.stored;
    println!(
        "{} lines: {} events imported, {} stored already, {} older than event_retention_days (dropped), {} bad lines ({:.1} s)",
        report.lines,
        s.inserted,
        s.duplicates,
        s.older_than_retention,
        report.error_count,
        started.elapsed().as_secs_f64()
    );
    Ok(if report.error_count > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
