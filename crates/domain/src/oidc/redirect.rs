//! Redirect URIs: validated once at registration, then matched byte for byte.
//!
//! RFC 9700 §4.1.3 asks for exact string matching: no wildcards, no prefix
//! rules, no normalisation at match time — every "smart" comparison has been
//! an open redirect somewhere. So a registered URI must already be in the
//! canonical form the `url` crate writes (what you register is what must come
//! back), and a requested `redirect_uri` matches only if it is the same string.
//! An attacker's variants (another port, a path suffix, a query, a fragment,
//! userinfo, other case, an encoded slash) are different strings and fail.

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    /// Not an absolute URL.
    #[error("{0:?} is not an absolute URL")]
    NotAbsolute(String),
    /// Neither https nor http on a loopback address (RFC 8252 §7.3).
    #[error("{0:?} must use https (http only for localhost, 127.0.0.1 or [::1])")]
    Scheme(String),
    /// Has a fragment (RFC 6749 §3.1.2 forbids it).
    #[error("{0:?} must not have a fragment")]
    Fragment(String),
    /// Has a user name or password.
    #[error("{0:?} must not contain a user name or password")]
    Userinfo(String),
    /// Not in canonical form, so exact matching would surprise its owner.
    #[error("{0:?} is not in canonical form; register {1:?} instead")]
    NotCanonical(String, String),
}

/// A registered redirect (or post-logout redirect) URI, in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks a URI an operator wants to register.
    pub fn parse(s: &str) -> Result<Self, RedirectUriError> {
        let url = url::Url::parse(s).map_err(|_| RedirectUriError::NotAbsolute(s.to_owned()))?;
        if url.cannot_be_a_base() {
            return Err(RedirectUriError::NotAbsolute(s.to_owned()));
        }
        let loopback = matches!(
            url.host_str(),
            Some("localhost") | Some("127.0.0.1") | Some("[::1]")
        );
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(RedirectUriError::Scheme(s.to_owned())),
        }
        if url.fragment().is_some() {
            return Err(RedirectUriError::Fragment(s.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::Userinfo(s.to_owned()));
        }
        if url.as_str() != s {
            return Err(RedirectUriError::NotCanonical(
                s.to_owned(),
                url.as_str().to_owned(),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The URI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a requested `redirect_uri` is exactly this one (byte for byte).
    pub fn matches(&self, requested: &str) -> bool {
        self.0 == requested
    }

    /// The registered URI equal to `requested`, if any.
    pub fn find<'a>(registered: &'a [RedirectUri], requested: &str) -> Option<&'a RedirectUri> {
        registered.iter().find(|r| r.matches(requested))
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectUriError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RedirectUri> for String {
    fn from(r: RedirectUri) -> String {
        r.0
    }
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn registration_rules() {
        assert!(RedirectUri::parse("https://app.example/cb").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:8080/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost:3000/cb?x=1").is_ok());
        assert!(matches!(
            RedirectUri::parse("http://app.example/cb"),
            Err(RedirectUriError::Scheme(_))
        ));
        assert!(matches!(
            RedirectUri::parse("javascript:alert(1)"),
            Err(RedirectUriError::NotAbsolute(_) | RedirectUriError::Scheme(_))
        ));
        assert!(matches!(
            RedirectUri::parse("https://app.example/cb#x"),
            Err(RedirectUriError::Fragment(_))
        ));
        assert!(matches!(
            RedirectUri::parse("https://u:p@app.example/cb"),
            Err(RedirectUriError::Userinfo(_))
        ));
        assert!(matches!(
            RedirectUri::parse("https://APP.example/cb"),
            Err(RedirectUriError::NotCanonical(_, _))
        ));
        assert!(matches!(
            RedirectUri::parse("https://app.example"),
            Err(RedirectUriError::NotCanonical(_, c)) if c == "https://app.example/"
        ));
        assert!(RedirectUri::parse("/relative").is_err());
    }

    /// The attacker's variants of a registered URI, each refused.
    fn variants(uri: &str) -> Vec<String> {
        let url = url::Url::parse(uri).unwrap();
        let host = url.host_str().unwrap();
        let mut v = vec![
            uri.replacen(host, &format!("{host}:444"), 1),
            format!("{uri}/evil"),
            format!("{uri}evil"),
            format!("{uri}?next=https://evil.example/"),
            format!("{uri}#frag"),
            uri.replacen("://", "://evil.example@", 1),
            uri.replacen("://", "://user:pw@", 1),
            uri.to_uppercase(),
            uri.replacen(host, &host.to_uppercase(), 1),
            uri.replace('/', "%2F"),
            uri.replacen(url.path(), &url.path().replace('/', "%2f"), 1),
            format!("{uri}%2F..%2Fevil"),
            format!("{uri}/"),
            uri.replacen("https://", "http://", 1),
            format!(" {uri}"),
        ];
        v.retain(|s| s != uri);
        v
    }

    #[test]
    fn fixed_variants_of_a_real_uri_are_refused() {
        let reg = RedirectUri::parse("https://app.example/auth/cb").unwrap();
        assert!(reg.matches("https://app.example/auth/cb"));
        for v in variants(reg.as_str()) {
            assert!(!reg.matches(&v), "{v} matched");
        }
    }

    proptest! {
        #[test]
        fn only_the_registered_string_matches(
            host in "[a-z]{1,10}\\.(example|test)",
            path in "(/[a-z0-9]{1,8}){1,3}",
            port in proptest::option::of(1024u16..65535),
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let s = format!("https://{host}{port}{path}");
            let reg = RedirectUri::parse(&s).unwrap();
            prop_assert!(RedirectUri::find(std::slice::from_ref(&reg), &s).is_some());
            for v in variants(&s) {
                prop_assert!(RedirectUri::find(std::slice::from_ref(&reg), &v).is_none(), "{} matched", v);
            }
        }
    }
}
