//! Entry points for the fuzz targets (`fuzz/` at the repository root,
//! FUZZING.md) into parsers that are not public API: the leaked-dump line, the
//! account import line and the page forms. Hidden from the docs; nothing else
//! should call them.

use gatehouse_domain::{AccountId, Timestamp};

/// One line of a leaked `email:password` dump, as `gatehouse scan --leaked`
/// reads it. `Ok(true)` for a pair, `Ok(false)` for a blank line.
pub fn leaked_line(raw: &[u8]) -> Result<bool, String> {
    crate::app::detection::leaked::parse_pair(raw).map(|p| p.is_some())
}

/// One line of an account import file (JSON Lines), as `gatehouse accounts
/// import` reads it. Returns the stored address and its uniqueness key.
pub fn account_import_line(text: &str, now: Timestamp) -> Result<(String, String), String> {
    crate::app::identity::import::parse_line(text, now, AccountId::from(uuid::Uuid::nil()))
        .map(|a| (a.email, a.email_key))
}

/// Decodes `body` as every form of the pages and the console, the way their
/// extractors do (`serde_urlencoded`). Returns how many accepted it.
pub fn page_forms(body: &[u8]) -> usize {
    fn one<T: serde::de::DeserializeOwned>(body: &[u8]) -> usize {
        usize::from(serde_urlencoded::from_bytes::<T>(body).is_ok())
    }
    use crate::http::{pages, recovery_pages, status_pages};
    one::<pages::SignupForm>(body)
        + one::<pages::LoginForm>(body)
        + one::<pages::PasswordForm>(body)
        + one::<recovery_pages::RecoverForm>(body)
        + one::<recovery_pages::CompleteForm>(body)
        + one::<recovery_pages::ReportForm>(body)
        + one::<status_pages::SubscribeForm>(body)
        + one::<status_pages::TokenForm>(body)
        + one::<status_pages::UnsubscribeForm>(body)
        + crate::http::console::decode_forms(body)
}
