//! `gatehouse accounts import`: accounts moved from another system, with their
//! existing password hashes (argon2id or bcrypt; upgraded to Gatehouse's
//! argon2id parameters at each account's next login). No hashing happens at
//! import, so 100,000 accounts load in seconds.
//!
//! The file is JSON Lines, read as a stream and written in batches, one
//! transaction per batch. Bad lines are reported with their number and skipped
//! (or, with `strict`, the whole file is checked first and nothing is imported
//! if any line is bad). Accounts whose address already exists are skipped, so
//! an interrupted import is resumed by running it again.

use std::io::BufRead;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{AccountId, Email, Timestamp};
use gatehouse_store::NewAccount;
use serde::Deserialize;

use crate::app::App;
use crate::app::hashing::validate_imported_hash;

/// One line of the import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    password_hash: String,
    created_at: Option<String>,
}

/// A line that could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// Accounts created.
    pub inserted: u64,
    /// Lines whose address already had an account (or appeared earlier in the file).
    pub skipped_existing: u64,
    /// Bad lines (at most the first 1,000 are kept; `error_count` counts all).
    pub errors: Vec<LineError>,
    /// Number of bad lines.
    pub error_count: u64,
}

/// Bad lines kept for a report; the rest are only counted.
const KEEP_ERRORS: usize = 1000;

/// Counts a bad line, and keeps it while fewer than [`KEEP_ERRORS`] are kept
/// (so a file of garbage cannot fill memory with messages).
pub(crate) fn note_bad_line(
    errors: &mut Vec<LineError>,
    count: &mut u64,
    line: u64,
    message: String,
) {
    *count += 1;
    if errors.len() < KEEP_ERRORS {
        errors.push(LineError { line, message });
    }
}

impl ImportReport {
    fn error(&mut self, line: u64, message: String) {
        note_bad_line(&mut self.errors, &mut self.error_count, line, message);
    }
}

pub(crate) fn parse_line(text: &str, now: Timestamp, id: AccountId) -> Result<NewAccount, String> {
    let l: ImportLine =
        serde_json::from_str(text).map_err(|e| format!("not a valid import object: {e}"))?;
    let email = Email::parse(&l.email).map_err(|e| format!("email: {e}"))?;
    validate_imported_hash(&l.password_hash).map_err(|e| format!("password_hash: {e}"))?;
    let created_at = match l.created_at {
        Some(s) => {
            let t = Timestamp::parse_rfc3339(&s)
                .map_err(|e| format!("created_at: {s:?} is not an RFC 3339 date-time ({e})"))?;
            if t > now {
                return Err(format!("created_at: {s} is in the future"));
            }
            t
        }
        None => now,
    };
    Ok(NewAccount {
        id,
        email: email.as_str().to_owned(),
        email_key: email.key(),
        created_at,
        password_hash: l.password_hash,
    })
}

impl App {
    /// Checks every line without writing anything.
    pub fn check_import(
        &self,
        reader: impl BufRead,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<ImportReport> {
        let mut report = ImportReport::default();
        let now = self.clock.now();
        let mut lines = JsonLines::new(reader);
        while let Some((n, text)) = lines.next_line()? {
            report.lines += 1;
            if let Err(m) = parse_line(&text, now, AccountId::from(uuid::Uuid::nil())) {
                report.error(n, m);
            }
            if report.lines % 4096 == 0 {
                progress(lines.bytes());
            }
        }
        progress(lines.bytes());
        Ok(report)
    }

    /// Imports accounts from JSON Lines in batches of `batch_size`.
    /// `progress` receives the number of bytes read so far.
    pub async fn import_accounts(
        &self,
        reader: impl BufRead,
        batch_size: usize,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut batch: Vec<NewAccount> = Vec::with_capacity(batch_size);
        let now = self.clock.now();
        let mut lines = JsonLines::new(reader);
        loop {
            let next = lines.next_line()?;
            let done = next.is_none();
            if let Some((n, text)) = next {
                report.lines += 1;
                match parse_line(&text, now, AccountId::generate(self.entropy.as_ref())) {
                    Ok(acc) => batch.push(acc),
                    Err(m) => report.error(n, m),
                }
            }
            if batch.len() >= batch_size.max(1) || (done && !batch.is_empty()) {
                let audit = NewAuditEntry::new(
                    self.clock.now(),
                    Actor::System,
                    AuditAction::AccountsImported,
                )
                .detail(serde_json::json!({ "via": "cli" }));
                let flags = self.store.import_accounts(&batch, audit).await?;
                let inserted = flags.iter().filter(|f| **f).count() as u64;
                report.inserted += inserted;
                report.skipped_existing += batch.len() as u64 - inserted;
                batch.clear();
                progress(lines.bytes());
            }
            if done {
                break;
            }
        }
        progress(lines.bytes());
        Ok(report)
    }
}

/// The non-blank lines of a JSON Lines file, read as a stream: each item is
/// the line's number (1-based, blank lines counted) and its trimmed text.
/// [`bytes`](Self::bytes) is how far the reader got, for a progress bar.
pub(crate) struct JsonLines<R> {
    lines: std::io::Lines<R>,
    number: u64,
    bytes: u64,
}

impl<R: BufRead> JsonLines<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self {
            lines: reader.lines(),
            number: 0,
            bytes: 0,
        }
    }

    /// Bytes read so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The number of the last line read.
    pub(crate) fn line_number(&self) -> u64 {
        self.number
    }

    /// The next non-blank line; a read error names the line it happened on.
    pub(crate) fn next_line(&mut self) -> anyhow::Result<Option<(u64, String)>> {
        for line in self.lines.by_ref() {
            let line =
                line.map_err(|e| anyhow::anyhow!("line {}: cannot read: {e}", self.number + 1))?;
            self.number += 1;
            self.bytes += line.len() as u64 + 1;
            let text = line.trim();
            if !text.is_empty() {
                return Ok(Some((self.number, text.to_owned())));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_errors_say_what_is_wrong() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let id = AccountId::from(uuid::Uuid::nil());
        let ok = r#"{"email":"a@example.com","password_hash":"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW","created_at":"2020-01-01T00:00:00Z"}"#;
        let acc = parse_line(ok, now, id).unwrap();
        assert_eq!(
            acc.created_at,
            Timestamp::parse_rfc3339("2020-01-01T00:00:00Z").unwrap()
        );
        for (line, expect) in [
            ("{", "not a valid import object"),
            (
                r#"{"email":"a@example.com"}"#,
                "missing field `password_hash`",
            ),
            (r#"{"email":"nope","password_hash":"x"}"#, "email:"),
            (
                r#"{"email":"a@example.com","password_hash":"md5:abc"}"#,
                "password_hash: unsupported",
            ),
            (
                r#"{"email":"a@example.com","password_hash":"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW","created_at":"yesterday"}"#,
                "created_at:",
            ),
            (
                r#"{"email":"a@example.com","password_hash":"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW","name":"A"}"#,
                "unknown field `name`",
            ),
        ] {
            let err = parse_line(line, now, id).unwrap_err();
            assert!(err.contains(expect), "{line}: {err}");
        }
    }
}
