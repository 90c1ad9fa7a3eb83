//! The breached-password index inside the server.
//!
//! `serve` loads the index named by `breach_index` (see [`BreachIndexSource`]) into a
//! [`BreachGuard`]: an atomic pointer that a reload (SIGHUP or the admin call) swaps
//! while requests keep answering from the index they already hold. The old mapping
//! stays valid until its last reader lets go, because an import renames a new file
//! over the path and never writes into the old one (see `gatehouse-breach`).
//!
//! **Only the exact tier acts.** Every decision here goes through
//! [`BreachIndex::check_password`] / [`BreachIndex::check_sha1`], which answer
//! `Breached` only after the exact tier (every 64-bit key prefix of the corpus, no
//! fingerprints) holds the key; a filter hit alone ends as `Clean`. The remaining
//! chance that a password absent from the corpus shares a 64-bit SHA-1 prefix with
//! one of its ~2·10⁹ entries is about 10⁻¹⁰.
//!
//! Three uses:
//! - a new password (sign-up, change, recovery) that is breached is refused
//!   ([`AppError::BreachedPassword`]) before any argon2 work is spent on it;
//! - a successful login with a breached password goes to
//!   [`App::breached_password_in_use`], the one hook the compromise checks will turn
//!   into a finding, and today asks the person to change it (no reset);
//! - `POST /api/v1/breach/check` answers other services by SHA-1.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use gatehouse_breach::{BreachIndex, Verdict};
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{AccountId, SessionId, Timestamp};
use serde::Serialize;

use crate::app::{App, AppError, Client};
use crate::config::BreachIndexSource;

/// What a loaded index says about itself (start-up log, reload answer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BreachIndexInfo {
    /// The file.
    pub path: String,
    /// Unique keys (SHA-1 prefixes) it holds.
    pub keys: u64,
    /// The source description recorded at import.
    pub source: String,
    /// When it was built, Unix seconds.
    pub built_at: u64,
}

impl BreachIndexInfo {
    fn of(index: &BreachIndex) -> Self {
        let s = index.stats();
        Self {
            path: s.path.display().to_string(),
            keys: s.keys,
            source: s.source,
            built_at: s.built_at,
        }
    }
}

/// The index currently in use, swappable while readers hold the old one.
pub struct BreachGuard {
    source: BreachIndexSource,
    current: ArcSwapOption<BreachIndex>,
    /// One reload at a time: two concurrent reloads would each read the whole file
    /// for its checksum, and the later-finishing one would win arbitrarily.
    reloading: tokio::sync::Mutex<()>,
}

impl BreachGuard {
    /// Loads the index `source` names. An explicitly named file that is missing or
    /// not a valid index is an error (start-up stops); a missing default file means
    /// breach checks are off.
    pub fn load(source: BreachIndexSource) -> anyhow::Result<Self> {
        let index = match &source {
            BreachIndexSource::Off => None,
            BreachIndexSource::Default(p) if !p.exists() => None,
            BreachIndexSource::Default(p) | BreachIndexSource::Explicit(p) => {
                Some(Arc::new(open(p).map_err(|e| {
                    anyhow::anyhow!(
                        "configuration: `breach_index` (env GATEHOUSE_BREACH_INDEX): {e}"
                    )
                })?))
            }
        };
        Ok(Self {
            source,
            current: ArcSwapOption::new(index),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The index in use now, if any. Cheap (no reference count on the hot path).
    pub fn current(&self) -> arc_swap::Guard<Option<Arc<BreachIndex>>> {
        self.current.load()
    }

    /// Facts about the index in use, or `None` when breach checks are off.
    pub fn info(&self) -> Option<BreachIndexInfo> {
        self.current.load().as_deref().map(BreachIndexInfo::of)
    }

    /// Opens the configured file anew and swaps it in. On failure the index in use
    /// stays and the error says why.
    async fn reload(&self) -> Result<BreachIndexInfo, String> {
        let _one = self.reloading.lock().await;
        let Some(path) = self.source.path().map(Path::to_path_buf) else {
            return Err("breach checks are off in the configuration (`breach_index` is empty); restart with an index to turn them on".into());
        };
        if matches!(self.source, BreachIndexSource::Default(_)) && !path.exists() {
            return Err(format!(
                "no index at {} (build one with `gatehouse breach import … --out {}`)",
                path.display(),
                path.display()
            ));
        }
        // Opening checks the body checksum, which reads the whole file: off the async threads.
        let index = tokio::task::spawn_blocking(move || open(&path))
            .await
            .map_err(|e| format!("reload task failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let info = BreachIndexInfo::of(&index);
        self.current.store(Some(Arc::new(index)));
        Ok(info)
    }
}

/// Opens and checks an index — a private copy of it, so that an operator
/// overwriting the file in place cannot crash the server — and asks the kernel
/// to bring its filter tier in.
fn open(path: &Path) -> Result<BreachIndex, gatehouse_breach::BreachError> {
    let index = BreachIndex::open_with(
        path,
        gatehouse_breach::OpenOptions {
            private_copy: true,
            ..Default::default()
        },
    )?;
    index.prefetch_filter();
    Ok(index)
}

/// The verdict for a password that may reach us in two forms (as typed, and
/// NFKC-normalised, which is what gets hashed): breached if either is, with the
/// larger count. HIBP hashes passwords as typed, so both forms matter.
fn verdict_for(index: &BreachIndex, forms: &[&str]) -> Verdict {
    forms
        .iter()
        .map(|p| index.check_password(p))
        .fold(Verdict::Clean, |acc, v| match (acc, v) {
            (Verdict::Clean, v) => v,
            (a, Verdict::Clean) => a,
            (Verdict::Breached { approx_count: a }, Verdict::Breached { approx_count: b }) => {
                Verdict::Breached {
                    approx_count: a.max(b),
                }
            }
        })
}

/// `1048576` → `1,048,576`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How often a password was seen, in words. The index keeps a lower bound of the
/// count (true count within 4× above it); "about" says it is not exact.
pub fn times_seen(approx_count: u64) -> String {
    if approx_count <= 1 {
        "at least once".into()
    } else {
        format!("about {} times", grouped(approx_count))
    }
}

/// The refusal shown for a breached new password.
pub fn breached_message(approx_count: u64) -> String {
    format!(
        "this password has appeared in data breaches {}; choose another",
        times_seen(approx_count)
    )
}

/// A successful login whose password the breach index holds (exact tier). Carries
/// no password data: the count bucket is all that is kept of it.
#[derive(Clone, Debug)]
pub struct BreachedLogin {
    /// Who logged in.
    pub account: AccountId,
    /// The session the login opened.
    pub session: SessionId,
    /// Lower bound of how often the password was seen in breaches.
    pub approx_count: u64,
    /// The credential's version (a finding is recorded once per password).
    pub credential_version: i64,
    /// When.
    pub at: Timestamp,
}

/// What Gatehouse asks of a person after a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordAdvice {
    /// The password has appeared in breaches: change it (no reset, sessions kept).
    ChangeBreached {
        /// Lower bound of how often it was seen.
        approx_count: u64,
    },
}

impl PasswordAdvice {
    /// Stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ChangeBreached { .. } => "breached_password",
        }
    }

    /// What to tell the person.
    pub fn message(&self) -> String {
        match self {
            Self::ChangeBreached { approx_count } => format!(
                "the password you signed in with has appeared in data breaches {}, so attackers \
                 may try it; please change it now",
                times_seen(*approx_count)
            ),
        }
    }
}

impl App {
    /// Refuses a new password that the breach index holds. Cheap (a SHA-1 and one or
    /// two memory probes), so callers run it before any argon2 work. Checks the form
    /// that will be hashed and, when it differs, the form as typed.
    pub(crate) fn refuse_breached(
        &self,
        field: &'static str,
        normalised: &str,
        raw: &str,
        during: &'static str,
    ) -> Result<(), AppError> {
        let guard = self.breach.current();
        let Some(index) = guard.as_deref() else {
            return Ok(());
        };
        let forms: &[&str] = if normalised == raw {
            &[normalised]
        } else {
            &[normalised, raw]
        };
        match verdict_for(index, forms) {
            Verdict::Clean => Ok(()),
            Verdict::Breached { approx_count } => {
                metrics::counter!("gatehouse_breached_passwords_refused_total", "during" => during)
                    .increment(1);
                Err(AppError::BreachedPassword {
                    field,
                    approx_count,
                })
            }
        }
    }

    /// The login-time verdict for a password already verified against the account's
    /// hash. `None` when clean or when breach checks are off.
    pub(crate) fn breached_at_login(&self, normalised: &str, raw: Option<&str>) -> Option<u64> {
        let guard = self.breach.current();
        let index = guard.as_deref()?;
        let forms: Vec<&str> = std::iter::once(normalised).chain(raw).collect();
        match verdict_for(index, &forms) {
            Verdict::Breached { approx_count } => Some(approx_count),
            Verdict::Clean => None,
        }
    }

    /// **The hook for a breached password in use.** Called once per successful login
    /// whose password the exact tier confirms, after the session exists. Today's
    /// policy records it (audit `breach.login_detected`, metric
    /// `gatehouse_breach_logins_detected_total`) and asks the person to change the
    /// password at this sign-in, without a reset and without ending any session.
    ///
    /// It is also a finding of the `breached_password` rule (once per account and
    /// password), whose mode decides whether it grows into anything more (shadow:
    /// record only; enforce: handed to remediation). Recording is best effort: a
    /// store failure is logged, never fails the login.
    pub(crate) async fn breached_password_in_use(
        &self,
        login: &BreachedLogin,
        client: &Client,
    ) -> PasswordAdvice {
        metrics::counter!("gatehouse_breach_logins_detected_total").increment(1);
        let audit = NewAuditEntry::new(
            login.at,
            Actor::Account(Some(login.account.to_string())),
            AuditAction::BreachLoginDetected,
        )
        .target(login.account)
        .ip(client.ip_string())
        .detail(serde_json::json!({ "session": login.session, "policy": "ask_to_change" }));
        if let Err(e) = self.store.append_audit(audit).await {
            tracing::warn!(error = %e, account = %login.account, "could not record a breached password in use");
        }
        if let Err(e) = self.breached_login_finding(login).await {
            tracing::warn!(error = %e, account = %login.account, "could not record a breached-password finding");
        }
        PasswordAdvice::ChangeBreached {
            approx_count: login.approx_count,
        }
    }

    /// The finding of a breached login, under the `breached_password` rule (if one
    /// is not off): once per account and password (credential version).
    async fn breached_login_finding(&self, login: &BreachedLogin) -> Result<(), AppError> {
        use crate::app::rules::DetectorKind;
        let Some(rule) = self
            .rule_for_detector(DetectorKind::BreachedPassword)
            .await?
        else {
            return Ok(());
        };
        let behaviour = format!("credential v{}", login.credential_version);
        let finding = gatehouse_store::NewFinding {
            account: login.account,
            detector: DetectorKind::BreachedPassword.as_str().to_owned(),
            score: 1.0,
            evidence: serde_json::json!({
                "detector": DetectorKind::BreachedPassword.as_str(),
                "explanation": format!(
                    "this account signed in at {} with a password that appears in known breaches (seen about {} times); the sign-in asked the person to change it",
                    login.at.to_rfc3339(),
                    login.approx_count
                ),
                "login": { "time": login.at.to_rfc3339(), "session": login.session.to_string() },
                "breach_count_at_least": login.approx_count,
                "credential_version": login.credential_version,
            }),
            observed_at: login.at,
            dedupe_key: crate::app::findings::finding_key(
                &rule.spec.id,
                login.account,
                DetectorKind::BreachedPassword,
                &behaviour,
            ),
        };
        self.record_findings(&rule, &[finding], Actor::System)
            .await?;
        Ok(())
    }

    /// Facts about the index in use, or `None` when breach checks are off.
    pub fn breach_status(&self) -> Option<BreachIndexInfo> {
        self.breach.info()
    }

    /// Loads the configured index file anew and swaps it in; requests under way
    /// finish on the old one. A failure keeps the old index. Both are audited.
    pub async fn reload_breach_index(&self, by: Actor) -> Result<BreachIndexInfo, AppError> {
        let result = self.breach.reload().await;
        let detail = match &result {
            Ok(info) => serde_json::json!({ "ok": true, "path": info.path, "keys": info.keys }),
            Err(e) => serde_json::json!({ "ok": false, "error": e }),
        };
        let audit = NewAuditEntry::new(self.clock.now(), by, AuditAction::BreachIndexReloaded)
            .detail(detail);
        self.store.append_audit(audit).await?;
        match result {
            Ok(info) => {
                metrics::gauge!("gatehouse_breach_index_keys").set(info.keys as f64);
                tracing::info!(path = %info.path, keys = info.keys, "breach index reloaded");
                Ok(info)
            }
            Err(e) => {
                tracing::error!(error = %e, "breach index reload failed; the previous index stays in use");
                Err(AppError::BreachReloadFailed(e))
            }
        }
    }

    /// The verdict for a SHA-1 given as 40 hex digits (either case), for other
    /// services. Exact-confirmed like every other check.
    pub fn check_breached_sha1(&self, hex_digest: &str) -> Result<Verdict, AppError> {
        let digest = parse_sha1_hex(hex_digest).ok_or_else(|| AppError::Invalid {
            field: "sha1",
            message: "must be a SHA-1 digest: exactly 40 hexadecimal digits".into(),
        })?;
        let guard = self.breach.current();
        let index = guard.as_deref().ok_or(AppError::BreachIndexUnavailable)?;
        Ok(index.check_sha1(&digest))
    }
}

/// 40 hex digits (either case, nothing else) → 20 bytes.
fn parse_sha1_hex(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    (s.len() == 40).then_some(())?;
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_hex_either_case_exactly_forty() {
        let lower = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8";
        let upper = lower.to_uppercase();
        assert_eq!(parse_sha1_hex(lower), parse_sha1_hex(&upper));
        assert_eq!(parse_sha1_hex(lower).unwrap()[0], 0x5b);
        for bad in [
            "",
            &lower[..39],
            &format!("{lower}0"),
            &lower.replace('5', "g"),
            &format!(" {}", &lower[1..]),
        ] {
            assert_eq!(parse_sha1_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(
            breached_message(1),
            "this password has appeared in data breaches at least once; choose another"
        );
        assert_eq!(
            breached_message(1_048_576),
            "this password has appeared in data breaches about 1,048,576 times; choose another"
        );
        assert_eq!(grouped(4), "4");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(65_536), "65,536");
        let advice = PasswordAdvice::ChangeBreached { approx_count: 16 };
        assert_eq!(advice.reason(), "breached_password");
        assert!(advice.message().contains("about 16 times"));
    }

    fn small_index(dir: &Path, passwords: &[&str]) -> BreachIndex {
        use sha1::{Digest as _, Sha1};
        let corpus = dir.join("corpus.txt");
        let mut lines: Vec<String> = passwords
            .iter()
            .map(|p| format!("{}:{}", hex::encode_upper(Sha1::digest(p.as_bytes())), 20))
            .collect();
        lines.sort();
        std::fs::write(&corpus, lines.join("\n")).unwrap();
        let out = dir.join("t.idx");
        gatehouse_breach::import(&[corpus], &out, &gatehouse_breach::BuildOptions::default())
            .unwrap();
        BreachIndex::open(&out).unwrap()
    }

    #[test]
    fn an_explicit_index_must_open_a_default_one_may_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.idx");
        let err = BreachGuard::load(BreachIndexSource::Explicit(missing.clone()))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("breach_index") && err.contains("nope.idx"),
            "{err}"
        );
        let off = BreachGuard::load(BreachIndexSource::Default(missing)).unwrap();
        assert_eq!(off.info(), None);
        let junk = dir.path().join("junk.idx");
        std::fs::write(&junk, b"not an index at all").unwrap();
        let err = BreachGuard::load(BreachIndexSource::Explicit(junk.clone()))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a valid breach index"), "{err}");
        // A corrupt default file is an error too: it is there, so it was meant to be used.
        assert!(BreachGuard::load(BreachIndexSource::Default(junk)).is_err());
        small_index(dir.path(), &["one breached password here"]);
        let on = BreachGuard::load(BreachIndexSource::Explicit(dir.path().join("t.idx"))).unwrap();
        assert_eq!(on.info().unwrap().keys, 1);
    }

    #[test]
    fn either_form_of_a_password_counts() {
        let dir = tempfile::tempdir().unwrap();
        let index = small_index(dir.path(), &["ｐａｓｓｗｏｒｄ", "plain breached one"]);
        // As typed (full-width) breached, normalised form not: still breached.
        assert!(verdict_for(&index, &["password", "ｐａｓｓｗｏｒｄ"]).is_breached());
        assert!(verdict_for(&index, &["plain breached one"]).is_breached());
        assert_eq!(
            verdict_for(&index, &["clean and long passphrase"]),
            Verdict::Clean
        );
    }
}
