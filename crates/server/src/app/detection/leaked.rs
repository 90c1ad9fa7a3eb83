//! `gatehouse scan --leaked`: e-mail/password pairs from a leaked dump, checked
//! against the stored password hashes.
//!
//! A dump is a text file of `email:password` lines, split at the first `:` (so a
//! password may contain `:`). Each pair whose address has an account is verified
//! on the hashing pool, `workers` at a time, never on an async thread: argon2 is
//! the whole cost of a scan, and the pool's bounds are what keep it from starving
//! logins when the scan runs beside a server on the same machine. A pair that
//! opens an account becomes a finding under every `leaked_credentials` rule that
//! is not off; its evidence names the dump, the line and the dates, never the
//! password or its hash.
//!
//! Skipped without hashing: unknown addresses (never a finding: there is nothing
//! to protect), pairs seen earlier in the same run (remembered as 128-bit digests,
//! 16 bytes each, not as passwords), and accounts whose password was changed after
//! the dump was taken (the leaked password cannot be theirs any more).
//!
//! Resumable: the scan records in a state file how far every line is *fully*
//! processed (verified, and its finding committed). Verifications finish out of
//! order, so the saved position is the start of the oldest line still in flight,
//! never the last line read. After a crash, lines past the saved position are
//! verified again; a finding's key is (rule, account, credential version), so
//! that records nothing twice. The same key means a later scan of this or another
//! dump does not flag an unchanged password again, while a new password that
//! leaks again does.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::finding::RuleMode;
use gatehouse_domain::{AccountId, CredentialState, Email, LoginPassword, Timestamp};
use gatehouse_store::{NewFinding, RecordedFindings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::app::App;
use crate::app::findings::finding_key;
use crate::app::hashing::Hasher;
use crate::app::import::{LineError, note_bad_line};
use crate::app::rules::{DetectorKind, Rule};

/// Findings written per transaction.
const FINDING_BATCH: usize = 500;

/// How far a dump has been processed: every line up to and including `line`,
/// which ends just before byte `offset`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPosition {
    /// Bytes from the start of the file.
    pub offset: u64,
    /// Lines (blank ones included) before `offset`.
    pub line: u64,
}

/// The date of a dump, as `--dump-date` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpDate {
    /// As written, normalised (`2024-05-01`, or RFC 3339 in UTC).
    pub text: String,
    /// The last instant the dump may describe: a password changed after it is not
    /// the one in the dump.
    pub latest: Timestamp,
}

impl DumpDate {
    /// An RFC 3339 date-time, or a `YYYY-MM-DD` date. A bare date stands for the
    /// whole day (its last millisecond): a password changed on the day the dump
    /// was taken may still be the leaked one, and a scan that skips a compromised
    /// account is worse than one that hashes once more.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(t) = Timestamp::parse_rfc3339(s) {
            return Ok(Self {
                text: t.to_rfc3339(),
                latest: t,
            });
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = time::Date::parse(s, &format).map_err(|_| {
            format!("{s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time")
        })?;
        let start = Timestamp::from(day.midnight().assume_utc());
        Ok(Self {
            text: s.to_owned(),
            latest: Timestamp::from_millis(start.as_millis() + 86_400_000 - 1),
        })
    }
}

/// What identifies a dump for resuming: its size and the SHA-256 of its first
/// 64 KiB. Cheap to compute on a file of gigabytes, and a dump replaced by
/// another (or appended to) no longer matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpFingerprint {
    /// File size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the first 64 KiB.
    pub head_sha256: String,
}

impl DumpFingerprint {
    /// Fingerprints the file at `path`.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let f = std::fs::File::open(path)?;
        let size = f.metadata()?.len();
        let mut head = Vec::with_capacity(1 << 16);
        f.take(1 << 16).read_to_end(&mut head)?;
        Ok(Self {
            size,
            head_sha256: hex::encode(Sha256::digest(&head)),
        })
    }
}

/// The state file's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SavedState {
    /// Format version, for a later change of layout.
    format: u32,
    dump: DumpFingerprint,
    position: ScanPosition,
    /// The scan reached the end of the file.
    complete: bool,
    saved_at: String,
}

/// Where a scan stands according to its state file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// No state file: start at the beginning.
    Fresh,
    /// An earlier run stopped here.
    From(ScanPosition),
    /// An earlier run reached the end of this very file.
    Complete(ScanPosition),
    /// The state file describes another file (size or first 64 KiB differ).
    OtherFile,
}

/// A scan's state file, bound to one dump.
#[derive(Clone, Debug)]
pub struct StateFile {
    /// Where it lives (by default `FILE.scan-progress`).
    pub path: PathBuf,
    /// The dump it belongs to.
    pub dump: DumpFingerprint,
}

impl StateFile {
    /// The default place: next to the dump, `FILE.scan-progress`.
    pub fn default_path(dump: &Path) -> PathBuf {
        let mut p = dump.as_os_str().to_owned();
        p.push(".scan-progress");
        PathBuf::from(p)
    }

    /// Reads the saved state. An unreadable or malformed file is an error (the
    /// caller may ignore it with `--restart`), not silently a fresh start.
    pub fn resume(&self) -> anyhow::Result<Resume> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Resume::Fresh),
            Err(e) => anyhow::bail!("cannot read {}: {e}", self.path.display()),
        };
        let saved: SavedState = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{} is not a scan state file: {e}", self.path.display())
        })?;
        if saved.format != 1 {
            anyhow::bail!(
                "{} has state format {}, which this version does not know",
                self.path.display(),
                saved.format
            );
        }
        Ok(
            if saved.dump != self.dump || saved.position.offset > self.dump.size {
                Resume::OtherFile
            } else if saved.complete {
                Resume::Complete(saved.position)
            } else {
                Resume::From(saved.position)
            },
        )
    }

    /// Writes the state atomically: a temporary file beside it, flushed to disk,
    /// then renamed over the old one, so a crash leaves the old state or the new,
    /// never half of one.
    fn save(&self, position: ScanPosition, complete: bool, now: Timestamp) -> anyhow::Result<()> {
        let state = SavedState {
            format: 1,
            dump: self.dump.clone(),
            position,
            complete,
            saved_at: now.to_rfc3339(),
        };
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(&state).map_err(std::io::Error::other)?)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| anyhow::anyhow!("cannot save {}: {e}", self.path.display()))
    }
}

/// How to run a scan.
pub struct LeakedScanOptions {
    /// The dump's file name as findings and the audit log name it (no directory:
    /// where an operator keeps a dump is nobody else's business).
    pub dump_name: String,
    /// When the dump was taken; accounts whose password changed later are skipped.
    pub dump_date: Option<DumpDate>,
    /// Verifications in flight at once (at least 1).
    pub workers: usize,
    /// Where the reader starts (a resumed scan's saved position).
    pub start: ScanPosition,
    /// Where to save progress, if anywhere.
    pub state: Option<StateFile>,
    /// How often progress is saved (pending findings are committed first).
    pub checkpoint_every: Duration,
    /// Set (by Ctrl-C) to stop reading; in-flight verifications still finish.
    pub stop: Arc<AtomicBool>,
}

/// Findings recorded by a scan, summed over its rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordedCounts {
    /// Recorded in shadow mode (acting on nothing).
    pub shadow: u64,
    /// Handed to remediation (enforced, within the daily cap).
    pub pending: u64,
    /// Enforced but over the daily cap: waiting for a person.
    pub held: u64,
    /// Recorded by an earlier scan (same rule, account and password version).
    pub already_recorded: u64,
}

impl RecordedCounts {
    fn add(&mut self, r: &RecordedFindings) {
        self.shadow += r.shadow;
        self.pending += r.pending;
        self.held += r.held;
        self.already_recorded += r.duplicates;
    }
}

/// What a scan did (this run only; a resumed run counts from where it resumed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeakedScanReport {
    /// Where this run started (non-zero when resumed).
    pub started_at: ScanPosition,
    /// Where every line is processed up to (saved in the state file).
    pub position: ScanPosition,
    /// Non-blank lines read.
    pub lines: u64,
    /// Pairs verified against a stored hash.
    pub checked: u64,
    /// Pairs that opened their account.
    pub matched: u64,
    /// Findings recorded for the matches.
    pub recorded: RecordedCounts,
    /// The rules that record leaked-credential findings (none: matches are only counted).
    pub rules: Vec<String>,
    /// Pairs whose address has no account.
    pub unknown: u64,
    /// Pairs seen earlier in this run.
    pub duplicates: u64,
    /// Accounts whose password changed after the dump's date.
    pub changed_after_dump: u64,
    /// Bad lines (at most the first 1,000 are kept; `error_count` counts all).
    pub errors: Vec<LineError>,
    /// Number of bad lines.
    pub error_count: u64,
    /// Stopped by Ctrl-C before the end of the file.
    pub interrupted: bool,
}

/// Splits one raw line (newline included or not) into an address and a password.
/// `Ok(None)` for a blank line. Messages never quote the password.
pub(crate) fn parse_pair(raw: &[u8]) -> Result<Option<(Email, LoginPassword)>, String> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8 text".to_owned())?;
    let (email, password) = text
        .split_once(':')
        .ok_or_else(|| "no ':' between the e-mail address and the password".to_owned())?;
    let email = Email::parse(email).map_err(|e| format!("e-mail: {e}"))?;
    // The password is taken exactly as written (spaces included), then normalised
    // the way a login normalises it, so the pair is tested as a login would be.
    let password = LoginPassword::parse(password).map_err(|e| format!("password: {e}"))?;
    Ok(Some((email, password)))
}

/// 128 bits naming a (account key, password) pair, to spot repeats without
/// keeping passwords in memory. Length-prefixed so no two pairs encode alike.
fn pair_digest(key: &str, password: &LoginPassword) -> u128 {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_be_bytes());
    h.update(key.as_bytes());
    h.update(password.expose().as_bytes());
    u128::from_be_bytes(h.finalize()[..16].try_into().expect("16 bytes"))
}

/// Verifies on the pool; when the pool refuses (it also serves any other work in
/// this process), waits and tries again: a scan is never in a hurry.
async fn verify_patiently(hasher: &Hasher, password: &LoginPassword, hash: &str) -> bool {
    let mut wait = Duration::from_millis(10);
    loop {
        match hasher.verify(password, Some(hash)).await {
            Ok(v) => return v.matched,
            Err(_overloaded) => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// A pair that opened its account.
struct Match {
    line: u64,
    account: AccountId,
    version: i64,
    changed_at: Timestamp,
    state: CredentialState,
    observed_at: Timestamp,
}

/// A finished verification.
struct Verified {
    line: u64,
    matched: Option<Match>,
}

/// The evidence of a match, for people and machines. Names the dump and line so
/// an operator can look the pair up; never the password or the hash.
fn match_evidence(m: &Match, dump: &str, date: Option<&DumpDate>) -> serde_json::Value {
    let dated = match date {
        Some(d) => format!("dump dated {}", d.text),
        None => "dump of unknown date".to_owned(),
    };
    let changed = m.changed_at.to_rfc3339();
    let explanation = match m.state {
        CredentialState::Active => format!(
            "the e-mail/password pair on line {} of {dump} ({dated}) opens this account; its password was last changed at {changed}.",
            m.line
        ),
        // The hash of a reset account is kept so the reset can be undone: undoing it
        // would bring this leaked password back.
        CredentialState::ResetRequired => format!(
            "the e-mail/password pair on line {} of {dump} ({dated}) matches this account's password, which a forced reset has suspended (undoing the reset would restore a leaked password); it was last changed at {changed}.",
            m.line
        ),
    };
    serde_json::json!({
        "detector": DetectorKind::LeakedCredentials.as_str(),
        "explanation": explanation,
        "dump": dump,
        "line": m.line,
        "dump_date": date.map(|d| d.text.clone()),
        "password_changed_at": changed,
        "credential_version": m.version,
        "credential_state": m.state.as_str(),
    })
}

/// A match as a finding under `rule`. The behaviour is the credential version:
/// the same password found again (in this dump or another) is one finding, a new
/// password that leaks too is another.
fn match_finding(rule: &Rule, m: &Match, dump: &str, date: Option<&DumpDate>) -> NewFinding {
    let detector = DetectorKind::LeakedCredentials;
    NewFinding {
        account: m.account,
        detector: detector.as_str().to_owned(),
        score: 1.0,
        evidence: match_evidence(m, dump, date),
        observed_at: m.observed_at,
        dedupe_key: finding_key(
            &rule.spec.id,
            m.account,
            detector,
            &format!("credential-v{}", m.version),
        ),
    }
}

/// Every line before this position is fully processed once pending findings are
/// committed: the start of the oldest line in flight (line number → start offset),
/// else the end of the last line read.
fn safe_position(in_flight: &BTreeMap<u64, u64>, read: ScanPosition) -> ScanPosition {
    match in_flight.first_key_value() {
        Some((&line, &offset)) => ScanPosition {
            offset,
            line: line - 1,
        },
        None => read,
    }
}

/// The mutable part of a running scan.
struct Scan<'a> {
    app: &'a App,
    opts: &'a LeakedScanOptions,
    rules: Vec<Rule>,
    report: LeakedScanReport,
    /// Lines being verified: line number → byte offset where the line starts.
    in_flight: BTreeMap<u64, u64>,
    /// Matches whose findings are not committed yet.
    pending: Vec<Match>,
    last_save: Instant,
}

impl Scan<'_> {
    fn finished(&mut self, v: Verified) {
        self.in_flight.remove(&v.line);
        self.report.checked += 1;
        if let Some(m) = v.matched {
            self.report.matched += 1;
            self.pending.push(m);
        }
    }

    /// Commits pending findings, in batches, under every rule.
    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let dump = self.opts.dump_name.as_str();
        let date = self.opts.dump_date.as_ref();
        for rule in &self.rules {
            for chunk in self.pending.chunks(FINDING_BATCH) {
                let findings: Vec<NewFinding> = chunk
                    .iter()
                    .map(|m| match_finding(rule, m, dump, date))
                    .collect();
                let r = self
                    .app
                    .record_findings(rule, &findings, Actor::System)
                    .await?;
                self.report.recorded.add(&r);
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Commits findings, then saves how far the dump is processed (in that order:
    /// the state file must never claim a line whose finding is not stored).
    async fn checkpoint(&mut self, read: ScanPosition, complete: bool) -> anyhow::Result<()> {
        self.flush().await?;
        self.report.position = safe_position(&self.in_flight, read);
        if let Some(state) = &self.opts.state {
            state.save(self.report.position, complete, self.app.clock.now())?;
        }
        self.last_save = Instant::now();
        Ok(())
    }
}

impl App {
    /// Scans a dump of `email:password` lines read from `reader`, which starts at
    /// `opts.start`. `progress` receives the byte offset reached. Bad lines are
    /// counted and reported, never fatal; a storage or state-file error is.
    pub async fn scan_leaked(
        self: &Arc<Self>,
        mut reader: impl BufRead,
        opts: LeakedScanOptions,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<LeakedScanReport> {
        let rules: Vec<Rule> = self
            .rules()
            .await?
            .into_iter()
            .filter(|r| {
                r.spec.detector == DetectorKind::LeakedCredentials && r.spec.mode != RuleMode::Off
            })
            .collect();
        let workers = opts.workers.max(1);
        let mut scan = Scan {
            app: self,
            opts: &opts,
            report: LeakedScanReport {
                started_at: opts.start,
                position: opts.start,
                rules: rules.iter().map(|r| r.spec.id.clone()).collect(),
                ..Default::default()
            },
            rules,
            in_flight: BTreeMap::new(),
            pending: Vec::new(),
            last_save: Instant::now(),
        };
        let mut seen: HashSet<u128> = HashSet::new();
        let mut tasks: tokio::task::JoinSet<Verified> = tokio::task::JoinSet::new();
        let mut read = opts.start;
        // The raw line holds a password: wiped when the scan ends.
        let mut buf = Zeroizing::new(Vec::<u8>::with_capacity(256));
        loop {
            if opts.stop.load(Ordering::Acquire) {
                scan.report.interrupted = true;
                break;
            }
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| anyhow::anyhow!("line {}: cannot read: {e}", read.line + 1))?;
            if n == 0 {
                break;
            }
            let start = read.offset;
            read.offset += n as u64;
            read.line += 1;
            let line = read.line;
            match parse_pair(&buf) {
                Ok(None) => {}
                Err(message) => {
                    scan.report.lines += 1;
                    note_bad_line(
                        &mut scan.report.errors,
                        &mut scan.report.error_count,
                        line,
                        message,
                    );
                }
                Ok(Some((email, password))) => {
                    scan.report.lines += 1;
                    let key = email.key();
                    if !seen.insert(pair_digest(&key, &password)) {
                        scan.report.duplicates += 1;
                    } else {
                        match self.store.login_record(&key).await? {
                            None => scan.report.unknown += 1,
                            Some(rec)
                                if opts
                                    .dump_date
                                    .as_ref()
                                    .is_some_and(|d| rec.changed_at > d.latest) =>
                            {
                                scan.report.changed_after_dump += 1;
                            }
                            Some(rec) => {
                                while tasks.len() >= workers {
                                    let done = tasks.join_next().await.expect("tasks running");
                                    scan.finished(done?);
                                }
                                scan.in_flight.insert(line, start);
                                let app = Arc::clone(self);
                                tasks.spawn(async move {
                                    let ok =
                                        verify_patiently(&app.hasher, &password, &rec.hash).await;
                                    Verified {
                                        line,
                                        matched: ok.then(|| Match {
                                            line,
                                            account: rec.account.id,
                                            version: rec.version,
                                            changed_at: rec.changed_at,
                                            state: rec.state,
                                            observed_at: app.clock.now(),
                                        }),
                                    }
                                });
                            }
                        }
                    }
                }
            }
            while let Some(done) = tasks.try_join_next() {
                scan.finished(done?);
            }
            // Cheap (the CLI's bar only stores a number and redraws at its own pace).
            progress(read.offset);
            if scan.pending.len() >= FINDING_BATCH {
                scan.flush().await?;
            }
            if scan.last_save.elapsed() >= opts.checkpoint_every {
                scan.checkpoint(read, false).await?;
            }
        }
        // Stopped or at the end: the verifications already started still count.
        while let Some(done) = tasks.join_next().await {
            scan.finished(done?);
        }
        progress(read.offset);
        let complete = !scan.report.interrupted;
        scan.checkpoint(read, complete).await?;
        let report = scan.report;
        let audit = NewAuditEntry::new(self.clock.now(), Actor::System, AuditAction::LeakedScanRun)
            .target(&opts.dump_name)
            .detail(serde_json::json!({
                "dump": opts.dump_name,
                "dump_date": opts.dump_date.as_ref().map(|d| d.text.clone()),
                "from_line": report.started_at.line,
                "to_line": report.position.line,
                "lines": report.lines,
                "checked": report.checked,
                "matched": report.matched,
                "recorded": report.recorded,
                "rules": report.rules,
                "unknown": report.unknown,
                "duplicates": report.duplicates,
                "changed_after_dump": report.changed_after_dump,
                "bad_lines": report.error_count,
                "interrupted": report.interrupted,
            }));
        self.store.append_audit(audit).await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(line: &str) -> (String, String) {
        let (e, p) = parse_pair(line.as_bytes()).unwrap().unwrap();
        (e.as_str().to_owned(), p.expose().to_owned())
    }

    #[test]
    fn lines_split_at_the_first_colon() {
        assert_eq!(
            pair("Bob@Example.ORG:hunter2\n"),
            ("Bob@example.org".into(), "hunter2".into())
        );
        assert_eq!(
            pair("a@example.com:pa:ss:word\r\n"),
            ("a@example.com".into(), "pa:ss:word".into())
        );
        // Spaces belong to the password; only the line ending is dropped.
        assert_eq!(
            pair("a@example.com: two words \n"),
            ("a@example.com".into(), " two words ".into())
        );
        assert_eq!(parse_pair(b"\r\n").unwrap().map(|_| ()), None);
        assert_eq!(parse_pair(b"   \n").unwrap().map(|_| ()), None);
    }

    #[test]
    fn bad_lines_say_why_without_the_password() {
        for (line, expect) in [
            (&b"a@example.com hunter2\n"[..], "no ':'"),
            (b"not-an-address:secret99\n", "e-mail:"),
            (b"a@example.com:\n", "password: the password is empty"),
            (b"a@example.com:tab\there\n", "control character"),
            (b"a@example.com:\xff\xfe\n", "not UTF-8"),
        ] {
            let err = parse_pair(line).err().unwrap();
            assert!(err.contains(expect), "{line:?}: {err}");
            assert!(!err.contains("secret99") && !err.contains("hunter2"));
        }
    }

    #[test]
    fn repeats_are_the_same_digest_after_normalisation() {
        let a = LoginPassword::parse("ｐassword").unwrap();
        let b = LoginPassword::parse("password").unwrap();
        assert_eq!(pair_digest("a@x.org", &a), pair_digest("a@x.org", &b));
        assert_ne!(pair_digest("a@x.org", &b), pair_digest("b@x.org", &b));
        // The length prefix keeps key and password apart.
        let p = LoginPassword::parse("gpassword").unwrap();
        assert_ne!(pair_digest("a@x.or", &p), pair_digest("a@x.org", &b));
    }

    #[test]
    fn dump_dates() {
        let d = DumpDate::parse("2024-05-01").unwrap();
        assert_eq!(d.text, "2024-05-01");
        assert_eq!(
            d.latest,
            Timestamp::parse_rfc3339("2024-05-01T23:59:59.999Z").unwrap()
        );
        let d = DumpDate::parse("2024-05-01T12:00:00+02:00").unwrap();
        assert_eq!(d.text, "2024-05-01T10:00:00Z");
        assert!(DumpDate::parse("May 2024").is_err());
        assert!(DumpDate::parse("2024-13-01").is_err());
    }

    #[test]
    fn the_safe_position_waits_for_the_oldest_line_in_flight() {
        let mut in_flight = BTreeMap::new();
        in_flight.insert(7u64, 300u64);
        in_flight.insert(9, 380);
        let read = ScanPosition {
            offset: 500,
            line: 12,
        };
        let pos = |m: &BTreeMap<u64, u64>| safe_position(m, read);
        assert_eq!(
            pos(&in_flight),
            ScanPosition {
                offset: 300,
                line: 6
            }
        );
        in_flight.remove(&7);
        assert_eq!(
            pos(&in_flight),
            ScanPosition {
                offset: 380,
                line: 8
            }
        );
        in_flight.remove(&9);
        assert_eq!(pos(&in_flight), read);
    }

    #[test]
    fn state_files_round_trip_and_know_their_dump() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump.txt");
        std::fs::write(&dump, "a@example.com:x\n").unwrap();
        let state = StateFile {
            path: StateFile::default_path(&dump),
            dump: DumpFingerprint::of(&dump).unwrap(),
        };
        assert_eq!(state.path, dir.path().join("dump.txt.scan-progress"));
        assert_eq!(state.resume().unwrap(), Resume::Fresh);
        let at = ScanPosition {
            offset: 16,
            line: 1,
        };
        state.save(at, false, Timestamp::from_millis(0)).unwrap();
        assert_eq!(state.resume().unwrap(), Resume::From(at));
        state.save(at, true, Timestamp::from_millis(0)).unwrap();
        assert_eq!(state.resume().unwrap(), Resume::Complete(at));
        // Another file under the same name.
        std::fs::write(&dump, "b@example.com:y\n").unwrap();
        let other = StateFile {
            dump: DumpFingerprint::of(&dump).unwrap(),
            ..state
        };
        assert_eq!(other.resume().unwrap(), Resume::OtherFile);
        std::fs::write(&other.path, "{").unwrap();
        assert!(other.resume().is_err());
    }
}
