//! The key table and its reading: every key documented, defaults that
//! validate, bad values named with their source.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults() {
    let c = Config::load_from(None, env(&[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database_url, "sqlite:./gatehouse-data/gatehouse.db");
    assert_eq!(c.public_origin(), "http://127.0.0.1:8080");
    assert_eq!(c.password_policy.min_chars(), 15);
    assert_eq!(c.argon2, Argon2Config::default());
    assert!(!c.is_https());
    assert!(c.trusted_proxies.is_empty());
    assert_eq!(c.event_retention, Duration::from_secs(90 * 24 * 3600));
    assert_eq!(
        c.recovery_gate,
        gatehouse_domain::campaign::RecoveryGate::default()
    );
    assert_eq!(
        c.breach_index,
        BreachIndexSource::Default(PathBuf::from("./gatehouse-data/breach.idx"))
    );
}

#[test]
fn breach_index_explicit_or_off() {
    let c = Config::load_from(None, env(&[("GATEHOUSE_BREACH_INDEX", "/srv/pwned.idx")])).unwrap();
    assert_eq!(
        c.breach_index,
        BreachIndexSource::Explicit(PathBuf::from("/srv/pwned.idx"))
    );
    let c = Config::load_from(None, env(&[("GATEHOUSE_BREACH_INDEX", "")])).unwrap();
    assert_eq!(c.breach_index, BreachIndexSource::Off);
}

#[test]
fn env_overrides_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.toml");
    std::fs::write(
        &f,
        "listen = \"127.0.0.1:9000\"\npassword_min_length = 12\n",
    )
    .unwrap();
    let c = Config::load_from(
        Some(&f),
        env(&[
            ("GATEHOUSE_PASSWORD_MIN_LENGTH", "10"),
            ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("GATEHOUSE_PUBLIC_URL", "https://id.example.com"),
            ("GATEHOUSE_TEST_PG_URL", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.password_policy.min_chars(), 10);
    assert_eq!(c.trusted_proxies.len(), 2);
    assert!(c.is_https());
}

#[test]
fn bad_values_name_the_key() {
    for (k, v, key) in [
        ("GATEHOUSE_LISTEN", "nowhere", "`listen`"),
        (
            "GATEHOUSE_PASSWORD_MIN_LENGTH",
            "4",
            "`password_min_length`",
        ),
        (
            "GATEHOUSE_PASSWORD_MIN_LENGTH",
            "many",
            "password_min_length",
        ),
        ("GATEHOUSE_PUBLIC_URL", "ftp://x", "`public_url`"),
        (
            "GATEHOUSE_PUBLIC_URL",
            "https://x.org/app?x=1",
            "`public_url`",
        ),
        ("GATEHOUSE_DATABASE_URL", "mysql://x", "`database_url`"),
        (
            "GATEHOUSE_TRUSTED_PROXIES",
            "10.0.0.0/99",
            "`trusted_proxies`",
        ),
        ("GATEHOUSE_LOG_FORMAT", "xml", "`log_format`"),
        (
            "GATEHOUSE_EVENT_RETENTION_DAYS",
            "0",
            "`event_retention_days`",
        ),
        (
            "GATEHOUSE_EVENT_RETENTION_DAYS",
            "forever",
            "event_retention_days",
        ),
        (
            "GATEHOUSE_RECOVERY_GATE_PERCENT",
            "101",
            "`recovery_gate_percent`",
        ),
        (
            "GATEHOUSE_RECOVERY_GATE_MIN_SAMPLE",
            "0",
            "`recovery_gate_min_sample`",
        ),
        (
            "GATEHOUSE_RECOVERY_GATE_MIN_AGE_MINUTES",
            "20000",
            "`recovery_gate_min_age_minutes`",
        ),
    ] {
        let err = Config::load_from(None, env(&[(k, v)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{k}={v}: {err}");
    }
}

#[test]
fn unknown_file_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.toml");
    std::fs::write(&f, "lisen = \"127.0.0.1:9000\"\n").unwrap();
    let err = Config::load_from(Some(&f), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key `lisen`"), "{err}");
    let missing = Config::load_from(Some(&dir.path().join("nope.toml")), env(&[])).unwrap_err();
    assert!(missing.to_string().contains("cannot read config file"));
}

#[test]
fn every_key_has_help_and_an_env_name() {
    let keys = keys();
    assert_eq!(keys.len(), KEY_NAMES.len());
    let mut names = std::collections::HashSet::new();
    for k in &keys {
        assert!(names.insert(k.key), "{} declared twice", k.key);
        assert_eq!(k.env, format!("GATEHOUSE_{}", k.key.to_uppercase()));
        assert!(k.help.len() > 10, "{}: help {:?}", k.key, k.help);
        assert!(
            !k.help.contains("(default"),
            "{}: the default belongs in its own column",
            k.key
        );
        assert!(!k.derived || !k.default.is_empty(), "{}", k.key);
    }
}

/// Each printed default, given back as a value, is accepted and gives the
/// same configuration as leaving the key out: what `gatehouse config`
/// shows is what the server uses.
#[test]
fn printed_defaults_validate_and_are_the_defaults() {
    let plain = format!("{:?}", Config::load_from(None, env(&[])).unwrap());
    let given: Vec<(String, String)> = keys()
        .into_iter()
        // Derived defaults are sentences; an empty default means unset.
        .filter(|k| !k.derived && !k.default.is_empty())
        .map(|k| (k.env, k.default))
        .collect();
    assert!(given.len() > 30, "{given:?}");
    let explicit = Config::load_from(None, given.clone()).unwrap();
    assert_eq!(format!("{explicit:?}"), plain, "{given:?}");
}

#[test]
fn bad_values_in_file_and_env_name_the_key_and_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.toml");
    for (key, toml_value, env_value) in [
        ("listen", "\"nowhere\"", "nowhere"),
        ("password_min_length", "4", "4"),
        ("password_min_length", "\"many\"", "many"),
        ("mail_concurrency", "0", "0"),
        ("approval_max_share_percent", "101", "101"),
        ("session_cache_seconds", "61", "61"),
        ("detection", "\"maybe\"", "maybe"),
        ("trusted_proxies", "[\"10.0.0.0/99\"]", "10.0.0.0/99"),
        ("mail_link_kinds", "[\"everything\"]", "everything"),
        ("site_name", "\"\"", " "),
        ("smtp_url", "\"http://x\"", "http://x"),
        ("log_format", "\"xml\"", "xml"),
        ("argon2_memory_kib", "[1]", "-1"),
    ] {
        std::fs::write(&f, format!("{key} = {toml_value}\n")).unwrap();
        let err = Config::load_from(Some(&f), env(&[]))
            .unwrap_err()
            .to_string();
        let place = format!("`{key}` (in config file {})", f.display());
        assert!(err.contains(&place), "file {key}={toml_value}: {err}");

        let var = env_name(key);
        let err = Config::load_from(None, env(&[(&var, env_value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("`{key}` (env {var})")),
            "env {key}={env_value}: {err}"
        );

        // Both given: the environment's value is the one used and blamed.
        let err = Config::load_from(Some(&f), env(&[(&var, env_value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("(env {var})")), "{err}");
    }
}

#[test]
fn file_values_of_every_kind_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.toml");
    std::fs::write(
        &f,
        "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\n\
         mail_link_kinds = [\"recovery\"]\n\
         detection = false\n\
         approval_max_share_percent = 1\n\
         bounce_gate_percent = 7.5\n\
         site_name = \"Example\"\n\
         hash_workers = 3\n",
    )
    .unwrap();
    let c = Config::load_from(Some(&f), env(&[])).unwrap();
    assert_eq!(c.trusted_proxies.len(), 2);
    assert_eq!(c.mail.link_kinds, vec![NoticeKind::Recovery]);
    assert!(!c.detection);
    assert_eq!(c.approval.max_share_of_active, 0.01);
    assert_eq!(c.bounce_gate, 0.075);
    assert_eq!(c.site_name, "Example");
    assert_eq!((c.hash_workers, c.hash_queue), (3, 6));
}

#[test]
fn the_printed_table_lists_every_key() {
    let text = reference(false);
    for k in keys() {
        assert!(
            text.contains(&format!("\n{}  (env {})\n", k.key, k.env)),
            "{} missing",
            k.key
        );
        assert!(text.contains(&k.help), "{}'s help missing", k.key);
    }
    let json: Vec<serde_json::Value> = serde_json::from_str(&reference(true)).unwrap();
    let listed: Vec<&str> = json.iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert_eq!(listed, KEY_NAMES);
    assert_eq!(json[0]["env"], "GATEHOUSE_DATA_DIR");
    assert_eq!(json[0]["default"], "./gatehouse-data");
}

/// The README documents every key (its configuration table, or the
/// section of the feature a key belongs to).
#[test]
fn the_readme_mentions_every_key() {
    let readme = include_str!("../../../../README.md");
    for k in KEY_NAMES {
        assert!(readme.contains(&format!("`{k}`")), "README.md lacks `{k}`");
    }
}
