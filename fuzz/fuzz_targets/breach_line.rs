//! One line of a Pwned Passwords corpus file (`HASH:COUNT`, whole-hash or
//! per-prefix files): `gatehouse_breach::parse::parse_line`, the parser every
//! line of a multi-gigabyte download goes through.
#![no_main]

use gatehouse_breach::parse::parse_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks whole-hash or a per-prefix file (and its prefix).
    let Some((&sel, line)) = data.split_first() else {
        return;
    };
    let prefix = (sel & 1 == 1).then(|| (u32::from(sel >> 1) * 0x2041) & 0xF_FFFF);
    if let Ok((key, _count)) = parse_line(line, prefix) {
        // A key from a per-prefix file starts with the file's prefix.
        if let Some(p) = prefix {
            assert_eq!(key >> 44, u64::from(p), "key outside its file's prefix");
        }
    }
});
