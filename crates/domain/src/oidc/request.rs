//! The parts of an authorization request with rules of their own: scopes,
//! `prompt` and `max_age`.

use std::time::Duration;

use crate::time::Timestamp;

/// Why a request parameter was refused (each maps to an OAuth error code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `scope` lacks `openid` (this is an OpenID Connect provider only).
    #[error("scope must include openid")]
    NoOpenid,
    /// A scope we do not offer.
    #[error("unknown scope {0:?} (offered: openid email profile offline_access)")]
    UnknownScope(String),
    /// A `prompt` value we do not know, or `none` with another value.
    #[error("prompt {0:?} is not one of none, login, consent (none only alone)")]
    BadPrompt(String),
    /// `max_age` is not a non-negative whole number of seconds.
    #[error("max_age must be a whole number of seconds")]
    BadMaxAge,
}

/// One scope Gatehouse offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Required: this is an OpenID Connect request.
    Openid,
    /// `email` and `email_verified` claims.
    Email,
    /// `name`/`preferred_username` claims (what Gatehouse knows: the address).
    Profile,
    /// A refresh token is issued.
    OfflineAccess,
}

impl Scope {
    /// The scope's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openid => "openid",
            Self::Email => "email",
            Self::Profile => "profile",
            Self::OfflineAccess => "offline_access",
        }
    }

    /// Every scope, in display order (discovery's `scopes_supported`).
    pub const ALL: [Scope; 4] = [
        Self::Openid,
        Self::Email,
        Self::Profile,
        Self::OfflineAccess,
    ];
}

/// A validated, de-duplicated, ordered scope set that contains `openid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses a space-separated `scope` parameter.
    ///
    /// Unknown scopes are refused rather than dropped: an app asking for
    /// something we cannot give should hear so while it is being written, not
    /// find a claim missing in production.
    pub fn parse(s: &str) -> Result<Self, RequestError> {
        let mut out = Vec::new();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|sc| sc.as_str() == word)
                .ok_or_else(|| RequestError::UnknownScope(word.to_owned()))?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        if !out.contains(&Scope::Openid) {
            return Err(RequestError::NoOpenid);
        }
        out.sort();
        Ok(Self(out))
    }

    /// Whether the set has `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of `self` is in `other` (a consent covers a request).
    pub fn within(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.has(*s))
    }

    /// The scopes.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// The `prompt` parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: never show a page; fail with `login_required`/`consent_required`.
    pub none: bool,
    /// `login`: sign in again even with a session.
    pub login: bool,
    /// `consent`: ask again even with a stored consent.
    pub consent: bool,
}

impl Prompt {
    /// Parses a space-separated `prompt`. `select_account` is refused: one
    /// Gatehouse session is one account.
    pub fn parse(s: Option<&str>) -> Result<Self, RequestError> {
        let mut p = Self::default();
        for word in s.unwrap_or("").split(' ').filter(|w| !w.is_empty()) {
            match word {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                _ => return Err(RequestError::BadPrompt(word.to_owned())),
            }
        }
        if p.none && (p.login || p.consent) {
            return Err(RequestError::BadPrompt(s.unwrap_or("").to_owned()));
        }
        Ok(p)
    }
}

/// The `max_age` parameter: the longest time since the person last entered
/// their password that the client accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxAge(pub Duration);

impl MaxAge {
    /// Parses `max_age` (absent is `None`).
    pub fn parse(s: Option<&str>) -> Result<Option<Self>, RequestError> {
        match s {
            None | Some("") => Ok(None),
            Some(s) => s
                .parse::<u64>()
                .map(|n| Some(Self(Duration::from_secs(n))))
                .map_err(|_| RequestError::BadMaxAge),
        }
    }

    /// Whether a sign-in at `auth_time` is too old at `now` (the person must
    /// sign in again). `max_age=0` always asks, as the specification says.
    pub fn requires_login(self, auth_time: Timestamp, now: Timestamp) -> bool {
        self.0.is_zero() || now.since(auth_time) > self.0
    }
}

/// Whether the person must (re)enter their password: no session, `prompt=login`,
/// or a sign-in older than `max_age`. With `prompt=login` the caller compares
/// against a sign-in made *after* the request started, so this is asked once.
pub fn needs_login(
    session_auth_time: Option<Timestamp>,
    prompt: Prompt,
    max_age: Option<MaxAge>,
    now: Timestamp,
) -> bool {
    match session_auth_time {
        None => true,
        Some(at) => prompt.login || max_age.is_some_and(|m| m.requires_login(at, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let s = Scopes::parse("email openid  openid offline_access").unwrap();
        assert_eq!(s.to_string(), "openid email offline_access");
        assert!(s.has(Scope::OfflineAccess) && !s.has(Scope::Profile));
        assert_eq!(Scopes::parse("email"), Err(RequestError::NoOpenid));
        assert_eq!(
            Scopes::parse("openid admin"),
            Err(RequestError::UnknownScope("admin".into()))
        );
        let narrow = Scopes::parse("openid").unwrap();
        assert!(narrow.within(&s) && !s.within(&narrow));
    }

    #[test]
    fn prompts() {
        assert_eq!(Prompt::parse(None).unwrap(), Prompt::default());
        let p = Prompt::parse(Some("login consent")).unwrap();
        assert!(p.login && p.consent && !p.none);
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("select_account")).is_err());
    }

    #[test]
    fn max_age_and_login() {
        let t0 = Timestamp::from_millis(1_000_000);
        let later = t0.plus(Duration::from_secs(120));
        let m = MaxAge::parse(Some("60")).unwrap();
        assert!(m.unwrap().requires_login(t0, later));
        assert!(!MaxAge(Duration::from_secs(300)).requires_login(t0, later));
        assert!(MaxAge(Duration::ZERO).requires_login(t0, t0));
        assert!(MaxAge::parse(Some("-1")).is_err());
        assert!(needs_login(None, Prompt::default(), None, t0));
        assert!(!needs_login(Some(t0), Prompt::default(), None, later));
        assert!(needs_login(Some(t0), Prompt::default(), m, later));
    }
}
