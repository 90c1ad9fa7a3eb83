//! The notice renderer over arbitrary facts: a stored payload (any JSON) read
//! as the facts of a kind (`NoticeFacts::from_payload`), then rendered
//! (`mail::render::render`, text and HTML) for an arbitrary reference and
//! recipient. Facts that read must render (a notice that cannot is lost), and
//! what renders must not carry a raw control character into a header.
#![no_main]

use gatehouse_domain::NoticeKind;
use gatehouse_server::mail::{NoticeFacts, SiteContext, render::render};
use libfuzzer_sys::fuzz_target;

const KINDS: [NoticeKind; 7] = [
    NoticeKind::Recovery,
    NoticeKind::PasswordChanged,
    NoticeKind::ForcedReset,
    NoticeKind::Correction,
    NoticeKind::StatusConfirm,
    NoticeKind::StatusUpdate,
    NoticeKind::BreakerTripped,
];

fuzz_target!(|data: &[u8]| {
    // First byte: the kind and whether links are allowed; then the reference
    // and recipient up to the first two NULs; the rest is the payload.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(sel & 0x0f) % KINDS.len()];
    let mut parts = rest.splitn(3, |&b| b == 0);
    let (Some(reference), Some(recipient), Some(payload)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(reference), Ok(recipient)) = (
        std::str::from_utf8(reference),
        std::str::from_utf8(recipient),
    ) else {
        return;
    };
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return;
    };
    let Ok(facts) = NoticeFacts::from_payload(kind, &payload) else {
        return;
    };
    // What is stored reads back as the same facts.
    assert_eq!(
        NoticeFacts::from_payload(kind, &facts.payload()).as_ref(),
        Ok(&facts)
    );
    let site = SiteContext {
        site_name: "Gatehouse".into(),
        public_url: "https://id.example.com".parse().unwrap(),
        link_kinds: if sel & 0x80 != 0 {
            KINDS.to_vec()
        } else {
            Vec::new()
        },
    };
    let coalesced = i64::from(sel >> 4);
    let notice = render(&facts, reference, recipient, coalesced, &site)
        .unwrap_or_else(|e| panic!("facts that read did not render: {e}"));
    assert!(
        !notice.subject.chars().any(char::is_control),
        "a control character in the subject: {:?}",
        notice.subject
    );
});
