//! Form bodies (`application/x-www-form-urlencoded`) of the pages and the
//! console, decoded into their real `Form` types as the extractors do.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gatehouse_server::fuzzing::page_forms(data);
});
