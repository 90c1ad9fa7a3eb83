//! The index loader over a corrupt or truncated file: whatever the bytes,
//! `BreachIndex::open_with` refuses them with an error or opens an index whose
//! every lookup is bounds-checked (never a panic, never undefined behaviour).
//! The body checksum is off here, or nearly every mutation would stop at it:
//! what is fuzzed is the header and section validation behind it.
#![no_main]

use gatehouse_breach::{BreachIndex, OpenOptions, format::Header};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let _ = Header::decode(data);
    let mut file = tempfile::NamedTempFile::new_in(dir()).expect("temporary file");
    file.write_all(data).expect("write");
    file.flush().expect("flush");
    let options = OpenOptions {
        verify_body: false,
        filter_in_huge_pages: data.first().is_some_and(|b| b & 1 == 1),
        private_copy: false,
    };
    if let Ok(index) = BreachIndex::open_with(file.path(), options) {
        let _ = index.stats();
        for password in ["password", "correct horse battery staple", ""] {
            let _ = index.check_password(password);
        }
        for key in [0, u64::MAX, 0x8000_0000_0000_0000, 0x0123_4567_89ab_cdef] {
            let _ = index.check_key(key);
            let _ = index.exact_lookup(key);
        }
    }
});

/// Memory-backed where there is one: a file per execution.
fn dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
