//! Notices: what Gatehouse mails people, and the codes they carry.
//!
//! Every notice has a [`Reference`] (`GH-7K3Q-9XMD`) that anyone can check on
//! `/verify`, so a reader can tell a real notice from a phishing copy without
//! following a link. Recovery mail carries a [`RecoveryCode`] (`XXXX-XXXX`) to
//! type on the site. Both are written in Crockford's base32: no `I`, `L`, `O`
//! or `U`, and a reader's `O`/`I`/`L` typed by mistake is read as `0`/`1`/`1`.
//!
//! Delivery policy that needs no I/O lives here too: the retry schedule
//! ([`retry_delay`]) and the idempotency keys of notices that report a state
//! change ([`password_changed_key`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::entropy::Entropy;
use crate::ids::AccountId;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Eight Crockford characters from 40 random bits.
fn random_crockford8(entropy: &dyn Entropy) -> [u8; 8] {
    let mut raw = zeroize::Zeroizing::new([0u8; 8]);
    entropy.fill(&mut raw[..5]);
    let mut bits = u64::from_be_bytes(*raw) >> 24; // the 40 bits filled
    let mut out = [0u8; 8];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(bits & 31) as usize];
        bits >>= 5;
    }
    out
}

/// Reads what a person typed: drops spaces and hyphens, upper-cases, and maps
/// the look-alikes Crockford allows (`O`→`0`, `I`/`L`→`1`). `None` if any
/// other character is not in the alphabet.
fn normalize_crockford(input: &str) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && CROCKFORD.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    Some(out)
}

/// Why a typed reference or code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not eight Crockford base32 characters (after the optional `GH-` and hyphens).
    #[error("expected 8 letters and digits, like XXXX-XXXX")]
    Malformed,
}

/// A notice's public reference, `GH-XXXX-XXXX`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference(String);

impl Reference {
    /// A fresh random reference (40 bits).
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let c = random_crockford8(entropy);
        Self(format!(
            "GH-{}-{}",
            std::str::from_utf8(&c[..4]).expect("ascii"),
            std::str::from_utf8(&c[4..]).expect("ascii")
        ))
    }

    /// Accepts `GH-7K3Q-9XMD`, `gh 7k3q 9xmd`, `7K3Q9XMD` and look-alike typos.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let trimmed = input.trim();
        let body = match trimmed.get(..2) {
            Some(p) if p.eq_ignore_ascii_case("GH") => &trimmed[2..],
            _ => trimmed,
        };
        let n = normalize_crockford(body).ok_or(CodeError::Malformed)?;
        if n.len() != 8 {
            return Err(CodeError::Malformed);
        }
        Ok(Self(format!("GH-{}-{}", &n[..4], &n[4..])))
    }

    /// The canonical text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({})", self.0)
    }
}

/// A recovery code: eight Crockford characters (40 bits), shown `XXXX-XXXX`.
///
/// 40 bits is short enough to type and, with at most five guesses per request
/// and a 30-minute life, far out of a guesser's reach online. Offline, a
/// database thief would need the server's secret key too: the code is stored
/// only as an HMAC under that key ([`RecoveryCode::digest`]).
pub struct RecoveryCode(SecretString);

impl RecoveryCode {
    /// A fresh random code.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let c = random_crockford8(entropy);
        Self(SecretString::from(
            std::str::from_utf8(&c).expect("ascii").to_owned(),
        ))
    }

    /// Accepts what a person typed (`ab12-cd34`, `AB12CD34`, look-alikes).
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let n = normalize_crockford(input).ok_or(CodeError::Malformed)?;
        if n.len() != 8 {
            return Err(CodeError::Malformed);
        }
        Ok(Self(SecretString::from(n)))
    }

    /// The code as mailed: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let s = self.0.expose_secret();
        format!("{}-{}", &s[..4], &s[4..])
    }

    /// What is stored: HMAC-SHA256 under the server key, bound to the request
    /// id so equal codes of two requests do not share a digest.
    pub fn digest(&self, key: &[u8], request_id: &str) -> [u8; 32] {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .expect("HMAC takes keys of any length");
        mac.update(request_id.as_bytes());
        mac.update(b"\0");
        mac.update(self.0.expose_secret().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check against a stored digest.
    pub fn matches(&self, key: &[u8], request_id: &str, stored: &[u8]) -> bool {
        self.digest(key, request_id).ct_eq(stored).into()
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

/// The kinds of notice Gatehouse sends. The text form is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A password recovery code (someone asked for it).
    Recovery,
    /// The password was changed (settings or recovery).
    PasswordChanged,
    /// Gatehouse reset the password because the account looked compromised.
    ForcedReset,
    /// An earlier notice was sent in error; disregard it.
    Correction,
    /// Status page: confirm a subscription (double opt-in; carries a link).
    StatusConfirm,
    /// Status page: an incident was published or updated (carries a one-click
    /// unsubscribe link). Sent under its own hourly budget, never ahead of a
    /// security notice.
    StatusUpdate,
    /// To an operator: the circuit breaker tripped. Written in the trip's own
    /// transaction, one per enabled operator; never held by the open breaker
    /// (it is the alert about it) nor by the per-recipient cap.
    BreakerTripped,
}

impl NoticeKind {
    /// Every kind, for configuration and docs.
    pub const ALL: [Self; 7] = [
        Self::Recovery,
        Self::PasswordChanged,
        Self::ForcedReset,
        Self::Correction,
        Self::StatusConfirm,
        Self::StatusUpdate,
        Self::BreakerTripped,
    ];

    /// Alerts to operators: security-lane mail that the per-recipient cap never
    /// holds (a trip is rare — only an operator closes the breaker — and its
    /// alert must go out).
    pub fn is_operator_alert(self) -> bool {
        matches!(self, Self::BreakerTripped)
    }

    /// Status-page mail: not about an account. It is claimed only after every
    /// due security notice, under its own hourly budget, and it neither counts
    /// toward nor is held by the per-recipient cap of security notices.
    pub fn is_status(self) -> bool {
        matches!(self, Self::StatusConfirm | Self::StatusUpdate)
    }

    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recovery => "recovery",
            Self::PasswordChanged => "password_changed",
            Self::ForcedReset => "forced_reset",
            Self::Correction => "correction",
            Self::StatusConfirm => "status_confirm",
            Self::StatusUpdate => "status_update",
            Self::BreakerTripped => "breaker_tripped",
        }
    }

    /// How `/verify` names it to the public.
    pub fn description(self) -> &'static str {
        match self {
            Self::Recovery => "a password recovery code",
            Self::PasswordChanged => "a notice that the account's password was changed",
            Self::ForcedReset => "a notice that Gatehouse reset the account's password",
            Self::Correction => "a correction of an earlier notice",
            Self::StatusConfirm => "a request to confirm a status page subscription",
            Self::StatusUpdate => "a status page update",
            Self::BreakerTripped => {
                "an alert to the site's operators that automatic resets were stopped"
            }
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NoticeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown notice kind {s:?} (one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// The idempotency key of the "password changed" notice for a credential
/// version: however often the commit is retried, one notice per change.
pub fn password_changed_key(account: AccountId, version: i64) -> String {
    format!("password-changed/{account}/{version}")
}

/// Delay before retry number `attempt` (1 = the first retry) of a temporary
/// delivery failure: `base · 2^(attempt−1)`, at most `max`, scaled by `jitter`
/// in `[0.5, 1.0]` (drawn by the caller) so a recovering SMTP server is not hit
/// by every queued notice in the same second.
pub fn retry_delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    full.mul_f64(jitter.clamp(0.5, 1.0))
}

/// A coarse, human description of a User-Agent header ("Firefox on Windows"),
/// enough for a person to recognise their own device and short enough that
/// a crafted header cannot write a paragraph into a security notice.
pub fn approximate_user_agent(ua: Option<&str>) -> String {
    let Some(ua) = ua.filter(|u| !u.trim().is_empty()) else {
        return "an unknown program".into();
    };
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else if has("python") || has("Python") {
        "a Python program"
    } else {
        "an unrecognised program"
    };
    let os = if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::{Fixed, OsEntropy};
    use proptest::prelude::*;

    #[test]
    fn reference_shape_and_parsing() {
        let r = Reference::generate(&OsEntropy);
        assert_eq!(r.as_str().len(), 12);
        assert!(r.as_str().starts_with("GH-"));
        assert_eq!(Reference::parse(r.as_str()).unwrap(), r);
        assert_eq!(
            Reference::parse(&r.as_str().to_lowercase()).unwrap(),
            r,
            "case does not matter"
        );
        assert_eq!(
            Reference::parse(" gh 7k3q 9xmd ").unwrap().as_str(),
            "GH-7K3Q-9XMD"
        );
        assert_eq!(
            Reference::parse("GH-OIL0-0000").unwrap().as_str(),
            "GH-0110-0000"
        );
        assert_eq!(
            Reference::parse("7K3Q9XMD").unwrap().as_str(),
            "GH-7K3Q-9XMD"
        );
        for bad in [
            "",
            "GH-",
            "GH-7K3Q-9XM",
            "GH-7K3Q-9XMDD",
            "GH-7K3Q-9XMU",
            "<script>",
        ] {
            assert_eq!(Reference::parse(bad), Err(CodeError::Malformed), "{bad}");
        }
    }

    #[test]
    fn fixed_entropy_gives_fixed_codes() {
        // 0xFF… → every 5-bit group is 31 → 'Z'.
        assert_eq!(Reference::generate(&Fixed(0xFF)).as_str(), "GH-ZZZZ-ZZZZ");
        assert_eq!(RecoveryCode::generate(&Fixed(0)).display(), "0000-0000");
    }

    #[test]
    fn recovery_code_digest_is_keyed_and_bound_to_the_request() {
        let code = RecoveryCode::generate(&OsEntropy);
        let typed = RecoveryCode::parse(&code.display().to_lowercase()).unwrap();
        let d = code.digest(b"key-1", "req-1");
        assert!(typed.matches(b"key-1", "req-1", &d));
        assert!(!typed.matches(b"key-2", "req-1", &d));
        assert!(!typed.matches(b"key-1", "req-2", &d));
        assert!(!typed.matches(b"key-1", "req-1", &d[..31]));
        assert!(format!("{code:?}").contains("REDACTED"));
        assert!(RecoveryCode::parse("1234-567").is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in NoticeKind::ALL {
            assert_eq!(k.as_str().parse::<NoticeKind>().unwrap(), k);
        }
        assert!(
            "nope"
                .parse::<NoticeKind>()
                .unwrap_err()
                .contains("recovery")
        );
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, base, max, 1.0), base);
        assert_eq!(retry_delay(3, base, max, 1.0), Duration::from_secs(120));
        assert_eq!(retry_delay(30, base, max, 1.0), max);
        assert_eq!(retry_delay(1000, base, max, 1.0), max);
        assert_eq!(retry_delay(1, base, max, 0.5), Duration::from_secs(15));
        assert_eq!(
            retry_delay(1, base, max, 0.0),
            Duration::from_secs(15),
            "clamped"
        );
    }

    #[test]
    fn user_agents_are_summarised() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(approximate_user_agent(Some(firefox)), "Firefox on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(approximate_user_agent(Some(safari)), "Safari on iOS");
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(approximate_user_agent(Some(chrome)), "Chrome on Linux");
        assert_eq!(approximate_user_agent(Some("curl/8.5")), "curl");
        assert_eq!(approximate_user_agent(None), "an unknown program");
        assert_eq!(
            approximate_user_agent(Some("<b>click here</b>")),
            "an unrecognised program"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Reference::parse(&s);
            let _ = RecoveryCode::parse(&s);
        }

        #[test]
        fn generated_codes_parse_back(seed in any::<u8>()) {
            let code = RecoveryCode::generate(&Fixed(seed));
            let again = RecoveryCode::parse(&code.display()).unwrap();
            prop_assert_eq!(again.digest(b"k", "r"), code.digest(b"k", "r"));
        }
    }
}
