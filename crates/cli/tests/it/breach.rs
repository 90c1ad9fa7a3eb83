//! `gatehouse breach …` end to end, through the real binary.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn gatehouse(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn sha1_hex(s: &str) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

const BREACHED: [(&str, u64); 3] = [("password", 9_000_000), ("123456", 40), ("letmein", 1)];

fn corpus(dir: &Path) -> std::path::PathBuf {
    let mut lines: Vec<String> = BREACHED
        .iter()
        .map(|(p, c)| format!("{}:{c}", sha1_hex(p)))
        .collect();
    lines.sort();
    let p = dir.join("pwnedpasswords.txt");
    std::fs::write(&p, lines.join("\r\n") + "\r\n").unwrap();
    p
}

fn import(dir: &Path) -> String {
    let input = corpus(dir);
    let index = dir.join("pwned.ghbi");
    let out = gatehouse(
        &[
            "breach",
            "import",
            input.to_str().unwrap(),
            "--out",
            index.to_str().unwrap(),
            "--quiet",
            "--source",
            "test",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 keys"));
    index.to_str().unwrap().to_string()
}

#[test]
fn sha1_of_the_fixture_is_right() {
    assert_eq!(
        sha1_hex("password"),
        "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
    );
    assert_eq!(sha1_hex(""), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
}

#[test]
fn check_passwords_in_order_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let index = import(dir.path());
    let out = gatehouse(
        &["breach", "check", "--index", &index],
        b"password\ncorrect horse battery staple\n123456\r\nletmein\n",
    );
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "breached\t4194304\nclean\nbreached\t16\nbreached\t1\n"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    for secret in ["password", "correct horse", "letmein"] {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "echoed {secret}"
        );
    }
}

#[test]
fn check_sha1_json_and_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let index = import(dir.path());
    let input = format!(
        "{}\n{}\nnot-a-hash\n{}\n",
        sha1_hex("password").to_lowercase(),
        sha1_hex("something else"),
        sha1_hex("letmein")
    );
    let out = gatehouse(
        &["breach", "check", "--index", &index, "--sha1", "--json"],
        input.as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit status 1"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "{\"breached\":true,\"count\":4194304}\n{\"breached\":false}\n\
         {\"error\":\"line 3: not a 40-hex SHA-1\"}\n{\"breached\":true,\"count\":1}\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3: not a 40-hex SHA-1"));

    let out = gatehouse(
        &["breach", "check", "--index", &index, "--sha1"],
        sha1_hex("123456").as_bytes(),
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "breached\t16\n");
}

#[test]
fn stats_shows_keys_and_source() {
    let dir = tempfile::tempdir().unwrap();
    let index = import(dir.path());
    let out = gatehouse(&["breach", "stats", "--index", &index], b"");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("keys         3\n"), "{stdout}");
    assert!(stdout.contains("source       test\n"), "{stdout}");
    assert!(stdout.contains("bits/key"), "{stdout}");
}

#[test]
fn import_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.txt");
    std::fs::write(&input, format!("{}:3\nXYZ:1\n", sha1_hex("a"))).unwrap();
    let index = dir.path().join("i.ghbi");
    let (i, o) = (input.to_str().unwrap(), index.to_str().unwrap());

    // Not strict: warned, skipped, index written.
    let out = gatehouse(&["breach", "import", i, "--out", o, "--quiet"], b"");
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{i}:2: bad hex digit in the hash")),
        "{stderr}"
    );
    let before = std::fs::read(&index).unwrap();

    // Strict: fails, names the line, leaves the previous index alone.
    let out = gatehouse(
        &["breach", "import", i, "--out", o, "--quiet", "--strict"],
        b"",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{i}:2: bad hex digit")),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&index).unwrap(), before);

    // NTLM: refused with a clear message.
    let ntlm = dir.path().join("ntlm.txt");
    std::fs::write(&ntlm, "8846F7EAEE8FB117AD06BDD830B7586C:1\n").unwrap();
    let out = gatehouse(
        &[
            "breach",
            "import",
            ntlm.to_str().unwrap(),
            "--out",
            o,
            "--quiet",
        ],
        b"",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(":1: this looks like the NTLM corpus"),
        "{stderr}"
    );

    // A missing index is an error, not an empty answer.
    let out = gatehouse(
        &["breach", "check", "--index", "/nonexistent/x.ghbi"],
        b"password\n",
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

/// Starts `gatehouse serve` on a free port with `env`, and returns its stderr up to
/// the first line containing `until` (then stops it), or everything it wrote if it exited.
fn serve_until(dir: &Path, env: &[(&str, &str)], until: &str) -> (Option<i32>, String) {
    use std::io::{BufRead as _, BufReader};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("serve")
        .current_dir(dir)
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_BREACH_INDEX")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "1024")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(until) {
            child.kill().unwrap();
            child.wait().unwrap();
            return (None, seen);
        }
    }
    (child.wait().unwrap().code(), seen)
}

#[test]
fn serve_says_whether_breach_checks_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_, err) = serve_until(dir.path(), &[], "Breach checks are");
    assert!(
        err.contains("Breach checks are off: no breached-password index (none at"),
        "{err}"
    );
    // The default path, once an index is there.
    let index = import(dir.path());
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::copy(&index, dir.path().join("data/breach.idx")).unwrap();
    let (_, err) = serve_until(dir.path(), &[], "Breach checks are");
    assert!(err.contains("Breach checks are on"), "{err}");
    assert!(err.contains("breach.idx holds 3 keys"), "{err}");
    // Explicitly off.
    let (_, err) = serve_until(
        dir.path(),
        &[("GATEHOUSE_BREACH_INDEX", "")],
        "Breach checks are",
    );
    assert!(err.contains("breach_index is empty"), "{err}");
}

#[test]
fn serve_refuses_a_named_index_that_is_missing_or_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = serve_until(
        dir.path(),
        &[("GATEHOUSE_BREACH_INDEX", "/nonexistent/pwned.ghbi")],
        "Breach checks are",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("`breach_index` (env GATEHOUSE_BREACH_INDEX)")
            && err.contains("/nonexistent/pwned.ghbi"),
        "{err}"
    );
    let junk = dir.path().join("junk.ghbi");
    std::fs::write(&junk, b"GHBI but not really").unwrap();
    let (code, err) = serve_until(
        dir.path(),
        &[("GATEHOUSE_BREACH_INDEX", junk.to_str().unwrap())],
        "Breach checks are",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a valid breach index"), "{err}");
}

#[test]
fn sighup_reloads_the_breach_index() {
    use std::io::{BufRead as _, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let index = import(dir.path());
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let at = dir.path().join("data/breach.idx");
    std::fs::copy(&index, &at).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_BREACH_INDEX")
        .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "1024")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut wait_for = |what: &str| -> String {
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.contains(what) {
                return line;
            }
        }
        panic!("serve ended before {what:?}");
    };
    wait_for("Breach checks are on");
    let hup = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP");
    };
    // A good file: swapped in.
    hup(child.id());
    let line = wait_for("breach index reloaded");
    assert!(line.contains("keys=3"), "{line}");
    // A damaged one (renamed into place, as an import does; never written into the
    // mapped file): refused, the old index stays.
    let damaged = dir.path().join("damaged");
    std::fs::write(&damaged, b"not an index").unwrap();
    std::fs::rename(&damaged, &at).unwrap();
    hup(child.id());
    let line = wait_for("breach index reload failed");
    assert!(
        line.contains("previous index stays in use") && line.contains("not a valid breach index"),
        "{line}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
