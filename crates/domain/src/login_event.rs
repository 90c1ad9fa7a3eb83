//! Login events: what the compromise checks read.
//!
//! Events come from three places ([`EventOrigin`]): Gatehouse's own logins, apps
//! that keep their own login and send theirs (`POST /api/v1/events/login`), and
//! files (`gatehouse events import`). Outside input is parsed here, once, into a
//! [`LoginEventInput`]: a valid time, an account reference, an IP address, an
//! outcome, and optional user agent, country and ASN.
//!
//! Each event from outside carries a [`dedupe_key`](LoginEventInput::dedupe_key):
//! a digest of its content, so the same event sent twice (a retried request, a
//! re-run import) is stored once. Two events identical in every field within the
//! same millisecond are, by that rule, one event.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::email::Email;
use crate::time::Timestamp;

/// What a login attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// The password was right.
    Success,
    /// The account exists; the password was wrong.
    WrongPassword,
    /// No such account.
    UnknownAccount,
}

impl EventOutcome {
    /// Stable text form (stored, and the API's vocabulary).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::WrongPassword => "wrong_password",
            Self::UnknownAccount => "unknown_account",
        }
    }
}

impl FromStr for EventOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "success" => Ok(Self::Success),
            "wrong_password" => Ok(Self::WrongPassword),
            "unknown_account" => Ok(Self::UnknownAccount),
            _ => Err(format!(
                "{s:?} is not an outcome: use success, wrong_password or unknown_account"
            )),
        }
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventOrigin {
    /// A login to Gatehouse itself.
    Gatehouse,
    /// Sent by an app over `POST /api/v1/events/login`.
    Api,
    /// Read from a file by `gatehouse events import`.
    Import,
}

impl EventOrigin {
    /// Stable text form (stored).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gatehouse => "gatehouse",
            Self::Api => "api",
            Self::Import => "import",
        }
    }
}

impl FromStr for EventOrigin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gatehouse" => Ok(Self::Gatehouse),
            "api" => Ok(Self::Api),
            "import" => Ok(Self::Import),
            _ => Err(format!("{s:?} is not an event origin")),
        }
    }
}

/// Who an event is about, as the sender named them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventAccount {
    /// An e-mail address, kept as its lower-cased key (what accounts are unique by).
    Email(String),
    /// Any other identifier (a Gatehouse account id, or the sending app's own id).
    Id(String),
}

impl EventAccount {
    /// Longest identifier accepted (addresses have their own limit).
    pub const MAX_ID_LEN: usize = 128;

    /// An address (anything with an `@`) or an opaque id without spaces or control characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.contains('@') {
            return Email::parse(s)
                .map(|e| Self::Email(e.key()))
                .map_err(|e| e.to_string());
        }
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.chars().count() > Self::MAX_ID_LEN {
            return Err(format!("is longer than {} characters", Self::MAX_ID_LEN));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains spaces or control characters".into());
        }
        Ok(Self::Id(s.to_owned()))
    }

    /// The text stored in the `account` column.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(k) | Self::Id(k) => k,
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Two ASCII letters, either case.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(format!(
                "{s:?} is not a two-letter country code (ISO 3166-1 alpha-2, e.g. \"NL\")"
            )),
        }
    }

    /// The code, e.g. `"NL"`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII by construction")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event's fields as they arrive, before validation.
#[derive(Debug)]
pub struct RawLoginEvent {
    /// RFC 3339 date-time.
    pub time: String,
    /// E-mail address or account id.
    pub account: String,
    /// IPv4 or IPv6 address.
    pub ip: String,
    /// Optional User-Agent.
    pub user_agent: Option<String>,
    /// `success`, `wrong_password` or `unknown_account`.
    pub outcome: String,
    /// Optional ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    /// Optional autonomous system number.
    pub asn: Option<u32>,
    /// Optional keyed fingerprint of the attempted password (64 hex digits; see
    /// [`password_fingerprint_key`]).
    pub password_fingerprint: Option<String>,
}

/// A validated login event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginEventInput {
    /// When the attempt happened.
    pub time: Timestamp,
    /// Who it was about.
    pub account: EventAccount,
    /// From where.
    pub ip: IpAddr,
    /// User-Agent, cut to [`MAX_USER_AGENT`] characters.
    pub user_agent: Option<String>,
    /// What it came to.
    pub outcome: EventOutcome,
    /// Country of the address, if the sender knew it.
    pub country: Option<Country>,
    /// Autonomous system of the address, if the sender knew it.
    pub asn: Option<u32>,
    /// The attempted password's keyed fingerprint, if the sender computed it
    /// ([`password_digest`] under [`password_fingerprint_key`]): lets the
    /// spraying check see one password tried against many of an app's accounts
    /// without the password leaving the app.
    pub password_fingerprint: Option<[u8; 32]>,
}

/// Longest User-Agent kept (longer ones are cut, as for Gatehouse's own logins).
pub const MAX_USER_AGENT: usize = 512;

/// How far ahead of the receiver's clock an event's time may be (clock skew).
/// Later times are refused: they would outlive retention and skew windows.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(300);

impl LoginEventInput {
    /// Validates one event received at `now`. The error names the field.
    pub fn parse(raw: RawLoginEvent, now: Timestamp) -> Result<Self, String> {
        let time = Timestamp::parse_rfc3339(&raw.time)
            .map_err(|e| format!("time: {:?} is not an RFC 3339 date-time ({e})", raw.time))?;
        if time > now.plus(MAX_FUTURE_SKEW) {
            return Err(format!(
                "time: {} is in the future (more than {} s ahead of this server's clock)",
                raw.time,
                MAX_FUTURE_SKEW.as_secs()
            ));
        }
        let account = EventAccount::parse(&raw.account).map_err(|e| format!("account: {e}"))?;
        let ip: IpAddr = raw
            .ip
            .trim()
            .parse()
            .map_err(|_| format!("ip: {:?} is not an IPv4 or IPv6 address", raw.ip))?;
        let outcome: EventOutcome = raw.outcome.parse().map_err(|e| format!("outcome: {e}"))?;
        let country = raw
            .country
            .as_deref()
            .map(Country::parse)
            .transpose()
            .map_err(|e| format!("country: {e}"))?;
        // Kept for what it says, never refused: an app relays whatever a browser
        // sent, and refusing the batch would make it send the same batch forever.
        let user_agent = raw.user_agent.filter(|ua| !ua.is_empty()).map(|ua| {
            crate::text::lossy_one_line(&ua.chars().take(MAX_USER_AGENT).collect::<String>())
        });
        let password_fingerprint =
            raw.password_fingerprint
                .as_deref()
                .map(|h| {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(h.trim(), &mut out).map(|()| out).map_err(|_| {
                    "password_fingerprint: must be 64 hexadecimal digits (HMAC-SHA256 of the \
                     attempted password under the key `gatehouse events fingerprint-key` prints)"
                        .to_owned()
                })
                })
                .transpose()?;
        Ok(Self {
            time,
            account,
            ip: canonical_ip(ip),
            user_agent,
            outcome,
            country,
            asn: raw.asn,
            password_fingerprint,
        })
    }

    /// Parses and validates one JSON object (a line of an import file).
    pub fn parse_json(text: &str, now: Timestamp) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a login event object: {e}"))?;
        Self::from_value(value, now)
    }

    /// Parses and validates one JSON value (an item of an API batch). Field by
    /// field, so that every error names its field (serde's type errors do not).
    pub fn from_value(value: serde_json::Value, now: Timestamp) -> Result<Self, String> {
        use serde_json::Value;
        const FIELDS: [&str; 8] = [
            "time",
            "account",
            "ip",
            "user_agent",
            "outcome",
            "country",
            "asn",
            "password_fingerprint",
        ];
        let mut m = match value {
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "not a login event object: expected a JSON object, found {other}"
                ));
            }
        };
        if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "unknown field `{k}`; the fields are {}",
                FIELDS.join(", ")
            ));
        }
        let mut text = |k: &str, required: bool| match m.remove(k) {
            None | Some(Value::Null) if required => Err(format!("missing field `{k}`")),
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("{k}: must be a string, not {other}")),
        };
        let (time, account, ip, outcome) = (
            text("time", true)?.unwrap_or_default(),
            text("account", true)?.unwrap_or_default(),
            text("ip", true)?.unwrap_or_default(),
            text("outcome", true)?.unwrap_or_default(),
        );
        let (user_agent, country) = (text("user_agent", false)?, text("country", false)?);
        let password_fingerprint = text("password_fingerprint", false)?;
        let asn = match m.remove("asn") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("asn: {n} is not an AS number (0 to 4294967295)"))?,
            ),
            Some(other) => return Err(format!("asn: must be a number, not {other}")),
        };
        let raw = RawLoginEvent {
            time,
            account,
            ip,
            user_agent,
            outcome,
            country,
            asn,
            password_fingerprint,
        };
        Self::parse(raw, now)
    }

    /// 128 bits of SHA-256 over every field, length-prefixed so no two different
    /// events share an encoding. Stored under a unique constraint: sending the same
    /// event again (from the API or a file) is a no-op.
    pub fn dedupe_key(&self) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(b"gatehouse/login-event/v1");
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(&self.time.as_millis().to_le_bytes());
        field(match self.account {
            EventAccount::Email(_) => b"e",
            EventAccount::Id(_) => b"i",
        });
        field(self.account.as_str().as_bytes());
        field(self.ip.to_string().as_bytes());
        field(self.user_agent.as_deref().unwrap_or("\0none").as_bytes());
        field(self.outcome.as_str().as_bytes());
        field(
            self.country
                .as_ref()
                .map_or("\0none", Country::as_str)
                .as_bytes(),
        );
        field(&self.asn.map_or(-1i64, i64::from).to_le_bytes());
        // Only when sent: the keys of events without one stay what they were.
        if let Some(fp) = &self.password_fingerprint {
            field(b"password_fingerprint");
            field(fp);
        }
        let full = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4 address: the
/// same client must look the same to the detectors whichever way it was written.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The keyed digest of an attempted password stored with Gatehouse's own login
/// events, so the password-spraying check can see one password tried against many
/// accounts without the password itself being kept: HMAC-SHA256 under the server
/// key, with a label that separates it from the key's other uses.
///
/// Whoever holds both the database and the server key can test password guesses
/// against these digests at HMAC speed (not argon2's), which is why the digests
/// leave with the events after `event_retention_days` and the key lives outside
/// the database.
pub fn password_digest(key: &[u8], password: &str) -> [u8; 32] {
    password_digest_bytes(key, password.as_bytes())
}

/// [`password_digest`] over the password's bytes.
fn password_digest_bytes(key: &[u8], password: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes keys of any length");
    mac.update(b"gatehouse/login-event-password/v1\0");
    mac.update(password);
    mac.finalize().into_bytes().into()
}

/// The key under which password digests are made, for Gatehouse's own logins
/// and for apps that send `password_fingerprint` with their events: derived
/// from the server key (HMAC-SHA256 of a fixed label), so an app can be given
/// it without being given the server key, and its fingerprints and Gatehouse's
/// own digests of the same password are equal.
///
/// An app computes, for each attempt, `hex(HMAC-SHA256(key,
/// "gatehouse/login-event-password/v1\0" || password))` — the password as
/// typed, UTF-8. Whoever holds this key and the stored fingerprints can test
/// password guesses at HMAC speed: it is a secret like the server key, kept out
/// of the database, and fingerprints leave with their events after
/// `event_retention_days`.
pub fn password_fingerprint_key(server_key: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(server_key)
        .expect("HMAC takes keys of any length");
    mac.update(b"gatehouse/password-fingerprint-key/v1");
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000); // 2026-01-01T00:00:00Z

    fn raw(json: &str) -> Result<LoginEventInput, String> {
        LoginEventInput::parse_json(json, NOW)
    }

    #[test]
    fn parses_a_full_event() {
        let e = raw(r#"{"time":"2025-12-31T23:00:00Z","account":"Ann@Example.COM","ip":"::ffff:192.0.2.7",
                       "user_agent":"curl/8","outcome":"wrong_password","country":"nl","asn":64500}"#)
        .unwrap();
        assert_eq!(e.time, NOW.minus(Duration::from_secs(3600)));
        assert_eq!(e.account, EventAccount::Email("ann@example.com".into()));
        assert_eq!(e.ip.to_string(), "192.0.2.7");
        assert_eq!(e.outcome, EventOutcome::WrongPassword);
        assert_eq!(e.country.unwrap().as_str(), "NL");
        assert_eq!(e.asn, Some(64500));
        let id = raw(r#"{"time":"2025-12-31T23:00:00Z","account":"user-42","ip":"2001:db8::1","outcome":"success"}"#)
            .unwrap();
        assert_eq!(id.account, EventAccount::Id("user-42".into()));
        assert_eq!((id.user_agent, id.country, id.asn), (None, None, None));
    }

    #[test]
    fn errors_name_the_field() {
        let ok = r#""time":"2025-12-31T23:00:00Z","account":"a@example.com","ip":"192.0.2.1","outcome":"success""#;
        for (json, expect) in [
            ("{".to_string(), "not a login event object"),
            (
                r#"{"account":"a@example.com"}"#.to_string(),
                "missing field `time`",
            ),
            (format!("{{{ok},\"extra\":1}}"), "unknown field `extra`"),
            (
                format!("{{{}}}", ok.replace("2025-12-31T23:00:00Z", "yesterday")),
                "time:",
            ),
            (
                format!(
                    "{{{}}}",
                    ok.replace("2025-12-31T23:00:00Z", "2026-01-01T01:00:00Z")
                ),
                "in the future",
            ),
            (
                format!("{{{}}}", ok.replace("a@example.com", "a@")),
                "account:",
            ),
            (
                format!("{{{}}}", ok.replace("a@example.com", "two words")),
                "account: contains spaces",
            ),
            (
                format!("{{{}}}", ok.replace("a@example.com", "")),
                "account: is empty",
            ),
            (
                format!("{{{}}}", ok.replace("192.0.2.1", "192.0.2.300")),
                "ip:",
            ),
            (format!("{{{}}}", ok.replace("success", "ok")), "outcome:"),
            (format!("{{{ok},\"country\":\"NLD\"}}"), "country:"),
            (
                format!("{{{ok},\"asn\":-1}}"),
                "asn: -1 is not an AS number",
            ),
            (format!("{{{ok},\"asn\":\"AS1\"}}"), "asn: must be a number"),
            (
                format!("{{{}}}", ok.replace("\"192.0.2.1\"", "7")),
                "ip: must be a string",
            ),
            ("7".to_string(), "expected a JSON object"),
        ] {
            let err = raw(&json).unwrap_err();
            assert!(err.contains(expect), "{json}: {err}");
        }
    }

    #[test]
    fn dedupe_key_follows_content() {
        let a = r#"{"time":"2025-12-31T23:00:00Z","account":"a@example.com","ip":"192.0.2.1","outcome":"success"}"#;
        let key = |s: &str| raw(s).unwrap().dedupe_key();
        // Same event, written differently: same key.
        assert_eq!(key(a), key(&a.replace("a@example.com", "A@EXAMPLE.com")));
        assert_eq!(key(a), key(&a.replace("23:00:00Z", "23:00:00.000Z")));
        // Any field that differs: another event.
        for other in [
            a.replace("23:00:00Z", "23:00:00.001Z"),
            a.replace("a@example.com", "b@example.com"),
            a.replace("192.0.2.1", "192.0.2.2"),
            a.replace("success", "wrong_password"),
            a.replace('}', r#","asn":1}"#),
            a.replace('}', r#","country":"NL"}"#),
            a.replace('}', r#","user_agent":"x"}"#),
        ] {
            assert_ne!(key(a), key(&other), "{other}");
        }
    }

    #[test]
    fn password_digest_is_keyed() {
        let d = password_digest(&[1; 32], "Winter2026!");
        assert_eq!(d, password_digest(&[1; 32], "Winter2026!"));
        assert_ne!(d, password_digest(&[2; 32], "Winter2026!"));
        assert_ne!(d, password_digest(&[1; 32], "Winter2027!"));
    }

    #[test]
    fn a_password_fingerprint_is_64_hex_digits_and_part_of_the_event() {
        let base = r#"{"time":"2025-12-31T23:00:00Z","account":"a@example.com","ip":"192.0.2.1","outcome":"wrong_password""#;
        let plain = raw(&format!("{base}}}")).unwrap();
        let fp = "ab".repeat(32);
        let with = raw(&format!("{base},\"password_fingerprint\":\"{fp}\"}}")).unwrap();
        assert_eq!(with.password_fingerprint, Some([0xab; 32]));
        assert_eq!(plain.password_fingerprint, None);
        assert_ne!(plain.dedupe_key(), with.dedupe_key());
        for bad in ["abc", "zz".repeat(32).as_str(), &"ab".repeat(33)] {
            let err = raw(&format!("{base},\"password_fingerprint\":\"{bad}\"}}")).unwrap_err();
            assert!(
                err.starts_with("password_fingerprint: must be 64 hexadecimal digits"),
                "{err}"
            );
        }
        // The key apps get is derived, not the server key, and stable.
        let k = password_fingerprint_key(&[7; 32]);
        assert_ne!(k, [7; 32]);
        assert_eq!(k, password_fingerprint_key(&[7; 32]));
    }
}
