//! The fuzz targets' corpora (`fuzz/corpus/<target>/`, FUZZING.md) replayed on
//! stable through the same parsers, so that a change that makes one of the
//! inputs a fuzzer once found panic fails the ordinary suite, without nightly
//! or libFuzzer. Only "no panic" is checked here (each target's own
//! properties run under `cargo fuzz`). Takes well under a second.

use std::path::PathBuf;

use gatehouse_breach::{BreachIndex, OpenOptions};
use gatehouse_domain::login_event::LoginEventInput;
use gatehouse_domain::{Email, LoginPassword, NewPassword, NoticeKind, PasswordPolicy, Timestamp};
use gatehouse_server::app::rules::{RuleSpec, parse_rules_toml};
use gatehouse_server::mail::{NoticeFacts, SiteContext, render::render};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    inputs.sort();
    inputs
}

const NOW: Timestamp = Timestamp::from_millis(1_796_342_400_000);

#[test]
fn every_fuzz_corpus_still_parses_without_panicking() {
    for input in corpus("email_password") {
        let text = String::from_utf8_lossy(&input);
        if let Ok(e) = Email::parse(&text) {
            let _ = Email::parse(e.as_str());
        }
        let _ = LoginPassword::parse(&text);
        let _ = NewPassword::parse(&text, &PasswordPolicy::default());
    }
    for input in corpus("breach_line") {
        if let Some((&sel, line)) = input.split_first() {
            let prefix = (sel & 1 == 1).then(|| (u32::from(sel >> 1) * 0x2041) & 0xF_FFFF);
            let _ = gatehouse_breach::parse::parse_line(line, prefix);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, input) in corpus("breach_index").into_iter().enumerate() {
        let path = dir.path().join(format!("{i}.idx"));
        std::fs::write(&path, &input).unwrap();
        let options = OpenOptions {
            verify_body: false,
            filter_in_huge_pages: false,
            private_copy: false,
        };
        if let Ok(index) = BreachIndex::open_with(&path, options) {
            let _ = index.stats();
            let _ = index.check_password("password");
            let _ = index.check_key(u64::MAX);
        }
    }
    for input in corpus("login_event") {
        let text = String::from_utf8_lossy(&input);
        let _ = LoginEventInput::parse_json(&text, NOW);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            let _ = LoginEventInput::from_value(v, NOW);
        }
    }
    for input in corpus("rules") {
        let text = String::from_utf8_lossy(&input);
        let _ = parse_rules_toml(&text);
        if let Ok(spec) = serde_json::from_str::<RuleSpec>(&text) {
            let _ = spec.resolve();
        }
    }
    for input in corpus("import_lines") {
        let _ = gatehouse_server::fuzzing::leaked_line(&input);
        let _ =
            gatehouse_server::fuzzing::account_import_line(&String::from_utf8_lossy(&input), NOW);
    }
    for input in corpus("forms") {
        let _ = gatehouse_server::fuzzing::page_forms(&input);
    }
    let kinds = [
        NoticeKind::Recovery,
        NoticeKind::PasswordChanged,
        NoticeKind::ForcedReset,
        NoticeKind::Correction,
        NoticeKind::StatusConfirm,
        NoticeKind::StatusUpdate,
        NoticeKind::BreakerTripped,
    ];
    let site = SiteContext {
        site_name: "Gatehouse".into(),
        public_url: "https://id.example.com".parse().unwrap(),
        link_kinds: kinds.to_vec(),
    };
    for input in corpus("notice_render") {
        let Some((&sel, rest)) = input.split_first() else {
            continue;
        };
        let mut parts = rest.splitn(3, |&b| b == 0);
        let (Some(r), Some(to), Some(payload)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(payload) = serde_json::from_slice::<serde_json::Value>(payload) else {
            continue;
        };
        let kind = kinds[usize::from(sel & 0x0f) % kinds.len()];
        if let Ok(facts) = NoticeFacts::from_payload(kind, &payload) {
            let _ = render(
                &facts,
                &String::from_utf8_lossy(r),
                &String::from_utf8_lossy(to),
                0,
                &site,
            );
        }
    }
}
