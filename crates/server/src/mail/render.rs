//! Turning a notice (kind, reference, facts) into subject, text and HTML.
//!
//! Pure: no I/O, no clock. Everything a notice says comes from its stored
//! [`NoticeFacts`] (typed per kind, see [`super::facts`]) and the
//! [`SiteContext`] (configuration), so a re-send
//! renders the same words. Every notice says why it was sent, when, from
//! where, carries its reference, and tells the reader to type the site's
//! address themselves (invariant *Phishing-resistant notices*). Any link is built from the
//! configured public URL, never from a request, and only for kinds the
//! operator allowed.

use askama::Template;
use gatehouse_domain::status::{Impact, IncidentState};
use gatehouse_domain::{Email, NoticeKind, Timestamp};
use url::Url;

use super::facts::NoticeFacts;
use crate::human_time::{absolute, minutes};

/// What the templates need to know about the site.
#[derive(Clone, Debug)]
pub struct SiteContext {
    /// "Gatehouse", or the operator's name for it.
    pub site_name: String,
    /// The public origin, e.g. `https://id.example.com`.
    pub public_url: Url,
    /// Kinds whose mail may carry a link.
    pub link_kinds: Vec<NoticeKind>,
}

impl SiteContext {
    /// The address to type: host (and port if any), no scheme, so a mail
    /// client does not turn it into a link.
    pub fn site_address(&self) -> String {
        let host = self.public_url.host_str().unwrap_or("localhost");
        match self.public_url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }
}

/// A notice ready to be put in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedNotice {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// The one-click unsubscribe URL for `List-Unsubscribe` (RFC 8058), for
    /// status updates.
    pub list_unsubscribe: Option<String>,
}

/// Why a notice could not be rendered (no link can be made from the configured
/// public URL, or a template failed). A payload that lacks a fact fails before,
/// when it is read ([`super::facts::FactsError`]).
#[derive(Debug, thiserror::Error)]
#[error("notice cannot be rendered: {0}")]
pub struct RenderError(pub String);

/// Fields every template shows.
struct Common {
    subject: String,
    site_name: String,
    site_address: String,
    reference: String,
    recipient_masked: String,
    when: String,
    origin: String,
    coalesced_count: i64,
}

macro_rules! notice_templates {
    ($($text:ident = $tpath:literal, $html:ident = $hpath:literal { $($field:ident : $ty:ty),* $(,)? });* $(;)?) => {$(
        #[derive(Template)]
        #[template(path = $tpath, escape = "none")]
        struct $text<'a> {
            n: &'a Common,
            $($field: $ty),*
        }

        #[derive(Template)]
        #[template(path = $hpath)]
        struct $html<'a> {
            n: &'a Common,
            $($field: $ty),*
        }
    )*};
}

notice_templates! {
    RecoveryText = "mail/recovery.txt", RecoveryHtml = "mail/recovery.html" { code: &'a str, expires: String, link: Option<String> };
    ChangedText = "mail/password_changed.txt", ChangedHtml = "mail/password_changed.html" { via: &'a str };
    ResetText = "mail/forced_reset.txt", ResetHtml = "mail/forced_reset.html" { code: &'a str, expires: String, reason: &'a str, link: Option<String> };
    CorrectionText = "mail/correction.txt", CorrectionHtml = "mail/correction.html" { corrects: &'a str, reason: Option<&'a str>, still_works: bool };
    StatusConfirmText = "mail/status_confirm.txt", StatusConfirmHtml = "mail/status_confirm.html" { link: &'a str, expires: String };
    StatusUpdateText = "mail/status_update.txt", StatusUpdateHtml = "mail/status_update.html" { title: &'a str, state: &'a str, impact: &'a str, update: &'a str, status_url: &'a str, unsubscribe: &'a str };
    BreakerText = "mail/breaker_tripped.txt", BreakerHtml = "mail/breaker_tripped.html" { reason: &'a str, tripped_by: &'a str, resets_last_hour: i64, resets_last_day: i64, campaigns_paused: u64, console_url: &'a str };
}

/// "26 Nov 2026, 14:03 UTC" (a fact that is not a time is shown as written).
fn human_time(rfc3339: &str) -> String {
    Timestamp::parse_rfc3339(rfc3339).map_or_else(|_| rfc3339.to_string(), absolute)
}

/// Renders one notice: its facts (whose variant is its kind), reference,
/// recipient and how many similar notices were merged into it.
pub fn render(
    facts: &NoticeFacts,
    reference: &str,
    recipient: &str,
    coalesced_count: i64,
    site: &SiteContext,
) -> Result<RenderedNotice, RenderError> {
    let kind = facts.kind();
    // A state the mail does not know reads as a plain "Update".
    let state_label = |state: &str| {
        state
            .parse::<IncidentState>()
            .map_or("Update", IncidentState::label)
    };
    let subject = match facts {
        NoticeFacts::Recovery(_) => format!("Your {} password recovery code", site.site_name),
        NoticeFacts::PasswordChanged(_) => {
            format!("Your {} password was changed", site.site_name)
        }
        NoticeFacts::ForcedReset(_) => format!("We reset your {} password", site.site_name),
        NoticeFacts::Correction(_) => {
            format!("Please disregard our earlier {} notice", site.site_name)
        }
        NoticeFacts::StatusConfirm(_) => {
            format!("Confirm your {} status updates", site.site_name)
        }
        NoticeFacts::StatusUpdate(f) => format!(
            "[{} status] {}: {}",
            site.site_name,
            state_label(&f.incident_state),
            // Titles are checked when written; a stored payload from before
            // that (or edited by hand) must still not put a control character
            // in a header (found by the `notice_render` fuzz target).
            gatehouse_domain::text::lossy_one_line(&f.incident_title)
        ),
        NoticeFacts::BreakerTripped(_) => format!(
            "[{}] Circuit breaker tripped: automatic resets stopped",
            site.site_name
        ),
    };
    let origin = match facts.occasion().map(|o| (&o.ip, &o.device)) {
        Some((Some(ip), Some(d))) => format!("{d} at the address {ip}"),
        Some((Some(ip), None)) => format!("the address {ip}"),
        Some((None, Some(d))) => d.clone(),
        _ => "an unknown place".into(),
    };
    let n = Common {
        subject: subject.clone(),
        site_name: site.site_name.clone(),
        site_address: site.site_address(),
        reference: reference.to_string(),
        recipient_masked: Email::parse(recipient)
            .map(|e| e.masked())
            .unwrap_or_else(|_| "your address".into()),
        when: human_time(facts.at()),
        origin,
        coalesced_count,
    };
    let link = |path: &str, token: Option<&str>| -> Option<String> {
        let token = token?;
        if !site.link_kinds.contains(&kind) {
            return None;
        }
        // From the configured origin only: never from a request's Host header.
        let mut url = site.public_url.join(path).ok()?;
        url.query_pairs_mut().append_pair("token", token);
        Some(url.to_string())
    };
    // Status mail is not about an account, so its links (confirm, unsubscribe)
    // are always there; still only from the configured origin.
    let status_link = |path: &str, token: &str| -> Result<String, RenderError> {
        let mut url = site
            .public_url
            .join(path)
            .map_err(|e| RenderError(format!("public_url cannot make a link: {e}")))?;
        url.query_pairs_mut().append_pair("token", token);
        Ok(url.to_string())
    };
    let mut list_unsubscribe = None;
    let (text, html) = match facts {
        NoticeFacts::Recovery(f) => {
            let link = link("/recover/complete", f.token.as_deref());
            (
                RecoveryText {
                    n: &n,
                    code: &f.code,
                    expires: minutes(f.expires_minutes),
                    link: link.clone(),
                }
                .render(),
                RecoveryHtml {
                    n: &n,
                    code: &f.code,
                    expires: minutes(f.expires_minutes),
                    link,
                }
                .render(),
            )
        }
        NoticeFacts::PasswordChanged(f) => {
            let via = f.via.as_str();
            (
                ChangedText { n: &n, via }.render(),
                ChangedHtml { n: &n, via }.render(),
            )
        }
        NoticeFacts::ForcedReset(f) => {
            let link = link("/recover/complete", f.token.as_deref());
            (
                ResetText {
                    n: &n,
                    code: &f.code,
                    expires: minutes(f.expires_minutes),
                    reason: &f.reason,
                    link: link.clone(),
                }
                .render(),
                ResetHtml {
                    n: &n,
                    code: &f.code,
                    expires: minutes(f.expires_minutes),
                    reason: &f.reason,
                    link,
                }
                .render(),
            )
        }
        NoticeFacts::Correction(f) => {
            let reason = f.reason.as_deref();
            (
                CorrectionText {
                    n: &n,
                    corrects: &f.corrects,
                    reason,
                    still_works: f.still_works,
                }
                .render(),
                CorrectionHtml {
                    n: &n,
                    corrects: &f.corrects,
                    reason,
                    still_works: f.still_works,
                }
                .render(),
            )
        }
        NoticeFacts::StatusConfirm(f) => {
            let link = status_link("/status/confirm", &f.token)?;
            let expires = minutes(f.expires_minutes);
            (
                StatusConfirmText {
                    n: &n,
                    link: &link,
                    expires: expires.clone(),
                }
                .render(),
                StatusConfirmHtml {
                    n: &n,
                    link: &link,
                    expires,
                }
                .render(),
            )
        }
        NoticeFacts::StatusUpdate(f) => {
            let state = state_label(&f.incident_state);
            let impact = f
                .impact
                .as_deref()
                .and_then(|s| s.parse::<Impact>().ok())
                .map_or("", Impact::label);
            let unsubscribe = status_link("/status/unsubscribe", &f.unsubscribe)?;
            let status_url = site
                .public_url
                .join("/status")
                .map_err(|e| RenderError(format!("public_url cannot make a link: {e}")))?
                .to_string();
            list_unsubscribe = Some(unsubscribe.clone());
            let t = StatusUpdateText {
                n: &n,
                title: &f.incident_title,
                state,
                impact,
                update: &f.update,
                status_url: &status_url,
                unsubscribe: &unsubscribe,
            };
            let h = StatusUpdateHtml {
                n: &n,
                title: &f.incident_title,
                state,
                impact,
                update: &f.update,
                status_url: &status_url,
                unsubscribe: &unsubscribe,
            };
            (t.render(), h.render())
        }
        NoticeFacts::BreakerTripped(f) => {
            // The console's address, from the configured origin only (never a
            // request's Host header); shown as text to type, not as a link.
            let console_url = site
                .public_url
                .join("/console")
                .map_err(|e| RenderError(format!("public_url cannot make a link: {e}")))?
                .to_string();
            let t = BreakerText {
                n: &n,
                reason: &f.reason,
                tripped_by: &f.tripped_by,
                resets_last_hour: f.resets_last_hour,
                resets_last_day: f.resets_last_day,
                campaigns_paused: f.campaigns_paused,
                console_url: &console_url,
            };
            let h = BreakerHtml {
                n: &n,
                reason: &f.reason,
                tripped_by: &f.tripped_by,
                resets_last_hour: f.resets_last_hour,
                resets_last_day: f.resets_last_day,
                campaigns_paused: f.campaigns_paused,
                console_url: &console_url,
            };
            (t.render(), h.render())
        }
    };
    Ok(RenderedNotice {
        subject,
        text: text.map_err(|e| RenderError(e.to_string()))?,
        html: html.map_err(|e| RenderError(e.to_string()))?,
        list_unsubscribe,
    })
}

#[cfg(test)]
mod tests {
    //! Every notice here is read from a payload in the shape the previous
    //! version stored ([`examples`]), so these snapshots also show that notices
    //! queued before an upgrade render exactly as they did.

    use super::*;
    use crate::mail::facts::{
        CorrectionFacts, ForcedResetFacts, Occasion, PasswordChangedFacts, StatusUpdateFacts,
        examples,
    };
    use serde_json::json;

    fn site(links: bool) -> SiteContext {
        SiteContext {
            site_name: "Example ID".into(),
            public_url: Url::parse("https://id.example.com").unwrap(),
            link_kinds: if links {
                vec![NoticeKind::Recovery, NoticeKind::ForcedReset]
            } else {
                vec![]
            },
        }
    }

    /// Reads a stored payload as its kind's facts, as delivery does.
    fn stored(kind: NoticeKind, payload: serde_json::Value) -> NoticeFacts {
        NoticeFacts::from_payload(kind, &payload).unwrap_or_else(|e| panic!("{kind}: {e}"))
    }

    fn snapshot(name: &str, r: &RenderedNotice) {
        insta::assert_snapshot!(
            name,
            format!(
                "Subject: {}\n\n--- text ---\n{}\n--- html ---\n{}",
                r.subject, r.text, r.html
            )
        );
    }

    #[test]
    fn recovery_notice() {
        let f = stored(NoticeKind::Recovery, examples::recovery());
        let plain = render(&f, "GH-AAAA-BBBB", "jane@example.org", 0, &site(false)).unwrap();
        assert!(
            !plain.text.contains("http"),
            "no link unless configured: {}",
            plain.text
        );
        assert!(!plain.html.contains("href"), "no link unless configured");
        snapshot("recovery", &plain);
        let linked = render(&f, "GH-AAAA-BBBB", "jane@example.org", 0, &site(true)).unwrap();
        assert!(
            linked
                .text
                .contains("https://id.example.com/recover/complete?token=ghr_TOKEN")
        );
        snapshot("recovery_with_link", &linked);
    }

    #[test]
    fn password_changed_notice() {
        let f = stored(NoticeKind::PasswordChanged, examples::password_changed());
        let r = render(&f, "GH-CCCC-DDDD", "jane@example.org", 2, &site(false)).unwrap();
        assert!(r.text.contains("2 similar notices"));
        snapshot("password_changed", &r);
    }

    #[test]
    fn forced_reset_notice() {
        let f = stored(NoticeKind::ForcedReset, examples::forced_reset());
        let r = render(&f, "GH-EEEE-FFFF", "jane@example.org", 0, &site(false)).unwrap();
        // The example's code lives 1440 minutes: said as people say it.
        for body in [&r.text, &r.html] {
            assert!(
                body.contains("The code works for 24 hours, once."),
                "{body}"
            );
            assert!(!body.contains("minutes"), "{body}");
        }
        snapshot("forced_reset", &r);
        // Links for this kind only when there is a token and links are allowed.
        let linked = render(&f, "GH-EEEE-FFFF", "jane@example.org", 0, &site(true)).unwrap();
        assert_eq!(linked.text, r.text, "no token, no link");
    }

    #[test]
    fn correction_notice() {
        let f = stored(NoticeKind::Correction, examples::correction());
        let r = render(&f, "GH-GGGG-HHHH", "jane@example.org", 0, &site(false)).unwrap();
        snapshot("correction", &r);
        let NoticeFacts::Correction(c) = f else {
            unreachable!("read as a correction")
        };
        let changed = NoticeFacts::Correction(CorrectionFacts {
            still_works: false,
            ..c
        });
        let r = render(
            &changed,
            "GH-GGGG-HHHH",
            "jane@example.org",
            0,
            &site(false),
        )
        .unwrap();
        assert!(r.text.contains("already set a new password"));
    }

    #[test]
    fn every_notice_is_phishing_resistant() {
        for (kind, payload) in examples::all().into_iter().filter(|(k, _)| !k.is_status()) {
            let f = stored(kind, payload);
            let r = render(&f, "GH-AAAA-BBBB", "jane@example.org", 0, &site(false)).unwrap();
            for body in [&r.text, &r.html] {
                assert!(body.contains("GH-AAAA-BBBB"), "{kind}: reference");
                assert!(body.contains("id.example.com/verify"), "{kind}: verify");
                assert!(
                    body.contains("into your browser"),
                    "{kind}: type it yourself"
                );
                assert!(body.contains("26 Nov 2026, 14:03 UTC"), "{kind}: when");
                assert!(body.contains("j***@example.org"), "{kind}: whose account");
            }
            assert!(!r.html.contains("href"), "{kind}: no links by default");
        }
    }

    #[test]
    fn status_confirm_notice() {
        let f = stored(NoticeKind::StatusConfirm, examples::status_confirm());
        // Links are there whatever `mail_link_kinds` says: this mail is not
        // about an account, and the link is the double opt-in.
        let r = render(&f, "GH-JJJJ-KKKK", "jane@example.org", 0, &site(false)).unwrap();
        assert!(
            r.text
                .contains("https://id.example.com/status/confirm?token=ghc_CONFIRM")
        );
        assert!(r.text.contains("The link works for 2 days."), "{}", r.text);
        assert!(r.text.contains("GH-JJJJ-KKKK") && r.text.contains("id.example.com/verify"));
        assert_eq!(r.list_unsubscribe, None);
        snapshot("status_confirm", &r);
    }

    #[test]
    fn status_update_notice() {
        let f = stored(NoticeKind::StatusUpdate, examples::status_update());
        let r = render(&f, "GH-MMMM-NNNN", "jane@example.org", 0, &site(false)).unwrap();
        assert_eq!(r.subject, "[Example ID status] Identified: Sign-in is slow");
        let unsub = "https://id.example.com/status/unsubscribe?token=ghx_UNSUB";
        assert_eq!(r.list_unsubscribe.as_deref(), Some(unsub));
        for body in [&r.text, &r.html] {
            assert!(body.contains(unsub), "{body}");
            assert!(body.contains("https://id.example.com/status"), "{body}");
            assert!(body.contains("GH-MMMM-NNNN"), "{body}");
            assert!(body.contains("id.example.com/verify"), "{body}");
        }
        snapshot("status_update", &r);
        // The typed constructor writes the same facts as the stored example.
        let built = NoticeFacts::StatusUpdate(StatusUpdateFacts::new(
            "2026-11-26T14:03:00Z".into(),
            "Sign-in is slow".into(),
            IncidentState::Identified,
            Some(Impact::Minor),
            "A database replica is lagging; we are moving traffic away from it.".into(),
            "ghx_UNSUB".into(),
        ));
        assert_eq!(built, f);
        // A state this version does not know reads as a plain "Update".
        let mut odd = examples::status_update();
        odd["incident_state"] = json!("exploded");
        let r = render(
            &stored(NoticeKind::StatusUpdate, odd),
            "GH-MMMM-NNNN",
            "jane@example.org",
            0,
            &site(false),
        )
        .unwrap();
        assert_eq!(r.subject, "[Example ID status] Update: Sign-in is slow");
        // Found by the `notice_render` fuzz target: a stored title with a
        // control character (DEL) does not carry it into the subject.
        let mut del = examples::status_update();
        del["incident_title"] = json!("Sign-in is slo\u{7f}");
        let r = render(
            &stored(NoticeKind::StatusUpdate, del),
            "GH-MMMM-NNNN",
            "jane@example.org",
            0,
            &site(false),
        )
        .unwrap();
        assert!(!r.subject.chars().any(char::is_control), "{:?}", r.subject);
    }

    #[test]
    fn status_update_html_is_escaped() {
        let NoticeFacts::StatusUpdate(base) =
            stored(NoticeKind::StatusUpdate, examples::status_update())
        else {
            unreachable!("read as a status update")
        };
        let f = NoticeFacts::StatusUpdate(StatusUpdateFacts {
            incident_title: "<script>x</script>".into(),
            update: "a <b>bold</b> & \"quoted\" claim".into(),
            ..base
        });
        let r = render(&f, "GH-MMMM-NNNN", "jane@example.org", 0, &site(false)).unwrap();
        assert!(
            !r.html.contains("<script>") && !r.html.contains("<b>"),
            "{}",
            r.html
        );
        assert!(
            r.text.contains("a <b>bold</b> & \"quoted\" claim"),
            "text as written"
        );
    }

    #[test]
    fn breaker_tripped_alert() {
        let f = stored(NoticeKind::BreakerTripped, examples::breaker_tripped());
        let r = render(&f, "GH-PPPP-QQQQ", "oncall@example.org", 0, &site(true)).unwrap();
        assert_eq!(
            r.subject,
            "[Example ID] Circuit breaker tripped: automatic resets stopped"
        );
        for body in [&r.text, &r.html] {
            assert!(body.contains("reset budget used up"), "{body}");
            assert!(body.contains("https://id.example.com/console"), "{body}");
            assert!(body.contains("an automatic guardrail"), "{body}");
            assert!(body.contains("GH-PPPP-QQQQ"), "{body}");
        }
        assert!(r.text.contains("last hour: 50"), "{}", r.text);
        assert!(r.text.contains("last 24 hours: 60"), "{}", r.text);
        assert!(
            r.text.contains("Automatic campaigns paused: 1"),
            "{}",
            r.text
        );
        // Plain: the console's address to type, no link to click, no unsubscribe.
        assert!(!r.html.contains("href"), "{}", r.html);
        assert_eq!(r.list_unsubscribe, None);
        let urls = r.text.matches("http").count();
        assert_eq!(urls, 1, "only the console's address: {}", r.text);
        snapshot("breaker_tripped", &r);
    }

    #[test]
    fn html_is_escaped_and_text_is_not_mangled() {
        let reset = NoticeFacts::ForcedReset(ForcedResetFacts {
            at: "2026-11-26T14:03:00Z".into(),
            code: "ABCD-1234".into(),
            token: None,
            expires_minutes: 30,
            reason: "a <b>bold</b> & risky reason".into(),
        });
        let reset = render(&reset, "GH-AAAA-BBBB", "jane@example.org", 0, &site(false)).unwrap();
        assert!(!reset.html.contains("<b>"), "{}", reset.html);
        assert!(
            reset.html.contains("&amp; risky") || reset.html.contains("&#38; risky"),
            "{}",
            reset.html
        );
        // The password-changed notice shows where the change came from.
        let changed = NoticeFacts::PasswordChanged(PasswordChangedFacts {
            occasion: Occasion {
                at: "2026-11-26T14:03:00Z".into(),
                ip: Some("\"><img src=x>".into()),
                device: Some("<script>alert(1)</script>".into()),
            },
            via: "your account settings".into(),
        });
        let r = render(
            &changed,
            "GH-AAAA-BBBB",
            "jane@example.org",
            0,
            &site(false),
        )
        .unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(
            r.html.contains("&lt;script&gt;") || r.html.contains("&#60;script&#62;"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<img"));
        assert!(
            r.text.contains("<script>alert(1)</script>"),
            "plain text is shown as is"
        );
    }
}
