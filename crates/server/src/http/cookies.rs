//! The session cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`; with an https
//! public URL also `Secure` and the `__Host-` prefix (which browsers only
//! accept from a secure origin, without a Domain, for Path=/).

use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::config::Config;

/// The cookie's name for this configuration.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-gatehouse_session"
    } else {
        "gatehouse_session"
    }
}

/// A cookie carrying a new session token.
pub fn session_cookie(config: &Config, token: &str) -> Cookie<'static> {
    Cookie::build((session_cookie_name(config), token.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .path("/")
        .max_age(time_duration(config.session_policy.lifetime))
        .build()
}

/// A cookie that clears the session cookie.
pub fn clear_session_cookie(config: &Config) -> Cookie<'static> {
    Cookie::build((session_cookie_name(config), ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .path("/")
        .max_age(time_duration(std::time::Duration::ZERO))
        .build()
}

fn time_duration(d: std::time::Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
