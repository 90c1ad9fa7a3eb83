//! The demo's surroundings: its directory (made empty, never someone else's),
//! its configuration (never an SMTP server or database from the environment),
//! the maildir it reads back, and its progress bars.

use super::*;

/// Makes `dir` an empty demo directory: created if missing, emptied of what a
/// previous demo wrote if it carries the marker; any other non-empty directory
/// is refused (the demo never deletes what is not its own).
pub(super) fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Err(e) => anyhow::bail!("cannot use {} for the demo: {e}", dir.display()),
        Ok(mut entries) => {
            let empty = entries.next().is_none();
            if !empty && !dir.join(MARKER).is_file() {
                anyhow::bail!(
                    "{} exists and is not a Gatehouse demo directory (no {MARKER} in it); \
                     the demo empties its directory, so it refuses this one. \
                     Choose another with --data-dir",
                    dir.display()
                );
            }
            for name in DEMO_ENTRIES {
                remove_entry(&dir.join(name))?;
            }
        }
    }
    std::fs::write(
        dir.join(MARKER),
        "Written by `gatehouse demo`: this directory is emptied by the next demo run.\n",
    )
    .with_context(|| format!("cannot write in {}", dir.display()))
}

fn remove_entry(path: &Path) -> anyhow::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.with_context(|| format!("cannot remove {}", path.display()))
}

/// The defaults, with the demo's directory. Only the listen address, public
/// URL and log format are taken from the environment (for `--serve`): an SMTP
/// server or database set there for real use must never receive demo data.
pub(super) fn demo_config(dir: &Path) -> anyhow::Result<Config> {
    let mut env = vec![("GATEHOUSE_DATA_DIR".to_owned(), dir.display().to_string())];
    for key in [
        "GATEHOUSE_LISTEN",
        "GATEHOUSE_PUBLIC_URL",
        "GATEHOUSE_LOG_FORMAT",
    ] {
        if let Ok(v) = std::env::var(key) {
            env.push((key.to_owned(), v));
        }
    }
    Ok(Config::load_from(None, env)?)
}

/// The `Message-ID`s of the mails in a maildir (`new/` and `cur/`).
pub(super) fn maildir_message_ids(maildir: &Path) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for sub in ["new", "cur"] {
        let dir = maildir.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let header = text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("message-id")
                    .then(|| value.trim().trim_matches(['<', '>']).to_owned())
            });
            ids.push(header.unwrap_or_default());
        }
    }
    Ok(ids)
}

pub(super) fn count_bar(quiet: bool, len: u64, msg: &'static str) -> indicatif::ProgressBar {
    let pb = if quiet {
        indicatif::ProgressBar::hidden()
    } else if len == 0 {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::new(len)
    };
    let template = if len == 0 {
        "{msg}: {pos}"
    } else {
        "{msg} [{bar:40}] {pos}/{len} ({eta})"
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}
