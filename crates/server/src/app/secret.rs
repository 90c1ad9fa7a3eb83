//! The server key: 32 random bytes that key the recovery-code digests (and,
//! later, other keyed hashes). Kept in a file, not the database, so a copy of
//! the database alone is not enough to brute-force a short code offline.

use std::io::Write;
use std::path::Path;

use gatehouse_domain::Entropy;
use secrecy::SecretBox;

/// Reads the key file (64 hex digits), creating it with a fresh key (mode
/// 0600) if it does not exist. Replicas sharing a database must share the file.
pub fn load_or_create(path: &Path, entropy: &dyn Entropy) -> anyhow::Result<SecretBox<[u8; 32]>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            parse(&text).map_err(|e| anyhow::anyhow!("secret_key_file {}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            }
            let mut key = zeroize::Zeroizing::new([0u8; 32]);
            entropy.fill(key.as_mut());
            // Written whole to a file of our own, then linked into place: a
            // replica starting at the same moment sees either no key file or a
            // complete one, never the half-written file it would read if both
            // raced on `create_new` and one read while the other wrote.
            let mut name = path.file_name().unwrap_or_default().to_owned();
            let mut tag = [0u8; 8];
            entropy.fill(&mut tag);
            name.push(format!(".{}.tmp", hex::encode(tag)));
            let tmp = path.with_file_name(name);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let written = opts.open(&tmp).and_then(|mut f| {
                let hex = zeroize::Zeroizing::new(hex::encode(key.as_ref()));
                f.write_all(hex.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "created a new server key");
                    Ok(SecretBox::new(Box::new(*key)))
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_create(path, entropy)
                }
                Err(e) => Err(anyhow::anyhow!(
                    "cannot create secret_key_file {}: {e}",
                    path.display()
                )),
            }
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot read secret_key_file {}: {e}",
            path.display()
        )),
    }
}

fn parse(text: &str) -> Result<SecretBox<[u8; 32]>, &'static str> {
    let text = zeroize::Zeroizing::new(text.trim().to_string());
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.as_bytes(), &mut key).map_err(
        |_| "must hold exactly 64 hexadecimal digits (e.g. from `openssl rand -hex 32`)",
    )?;
    Ok(SecretBox::new(Box::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::OsEntropy;
    use secrecy::ExposeSecret;

    #[test]
    fn created_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret.key");
        let a = load_or_create(&path, &OsEntropy).unwrap();
        let b = load_or_create(&path, &OsEntropy).unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        let err = load_or_create(&path, &OsEntropy).unwrap_err().to_string();
        assert!(err.contains("64 hexadecimal digits"), "{err}");
    }

    #[test]
    fn replicas_starting_together_share_one_key() {
        for _ in 0..30 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("secret.key");
            let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| *load_or_create(&path, &OsEntropy).unwrap().expose_secret())
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(keys.windows(2).all(|w| w[0] == w[1]));
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "no temporary file left behind");
        }
    }
}
