//! Lines of the files operators feed Gatehouse: a leaked `email:password` dump
//! (`gatehouse scan --leaked`) and an account import (JSON Lines), through
//! the real line parsers (`gatehouse_server::fuzzing`).
#![no_main]

use gatehouse_domain::{Email, Timestamp};
use gatehouse_server::fuzzing::{account_import_line, leaked_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = leaked_line(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = Timestamp::from_millis(1_796_342_400_000);
    if let Ok((email, key)) = account_import_line(text, now) {
        // What is stored parses back to the same account.
        let again = Email::parse(&email).expect("a stored address parses");
        assert_eq!(again.key(), key);
    }
});
