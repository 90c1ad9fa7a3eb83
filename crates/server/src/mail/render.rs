//! Turning a notice (kind, reference, facts) into subject, text and HTML.
//!
//! Pure: no I/O, no clock. Everything a notice says comes from its stored
//! [`NoticeFacts`] and the [`SiteContext`] (configuration), so a re-send
//! renders the same words. Every notice says why it was sent, when, from
//! where, carries its reference, and tells the reader to type the site's
//! address themselves (design invariant 4). Any link is built from the
//! configured public URL, never from a request, and only for kinds the
//! operator allowed.

use askama::Template;
use gatehouse_domain::status::{Impact, IncidentState};
use gatehouse_domain::{Email, NoticeKind, Timestamp};
use serde::{Deserialize, Serialize};
use url::Url;

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

/// The facts a notice states, stored with it in the outbox as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeFacts {
    /// When the event happened (RFC 3339).
    pub at: String,
    /// From which address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Approximate device ("Firefox on Windows").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Recovery code, display form (removed with the payload once sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Link token (likewise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How long the code works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_minutes: Option<u64>,
    /// How a password was changed ("your account settings", "password recovery").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Why Gatehouse acted (forced reset, correction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reference a correction corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// Correction: whether the old password works again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub still_works: Option<bool>,
    /// Status update: the incident's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_title: Option<String>,
    /// Status update: the state it moved to (`investigating`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_state: Option<String>,
    /// Status update: the impact (`minor`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// Status update: what the operators wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
    /// Status update: the subscriber's one-click unsubscribe token (removed with
    /// the payload once sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
    /// Breaker alert: who tripped it, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripped_by: Option<String>,
    /// Breaker alert: forced resets in the trailing hour at the trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_last_hour: Option<i64>,
    /// Breaker alert: in the trailing day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_last_day: Option<i64>,
    /// Breaker alert: automatic campaigns the trip paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaigns_paused: Option<u64>,
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

/// Why a notice could not be rendered (its payload lacks something).
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
    RecoveryText = "mail/recovery.txt", RecoveryHtml = "mail/recovery.html" { code: &'a str, expires_minutes: u64, link: Option<String> };
    ChangedText = "mail/password_changed.txt", ChangedHtml = "mail/password_changed.html" { via: &'a str };
    ResetText = "mail/forced_reset.txt", ResetHtml = "mail/forced_reset.html" { code: &'a str, expires_minutes: u64, reason: &'a str, link: Option<String> };
    CorrectionText = "mail/correction.txt", CorrectionHtml = "mail/correction.html" { corrects: &'a str, reason: Option<&'a str>, still_works: bool };
    StatusConfirmText = "mail/status_confirm.txt", StatusConfirmHtml = "mail/status_confirm.html" { link: &'a str, expires_hours: u64 };
    StatusUpdateText = "mail/status_update.txt", StatusUpdateHtml = "mail/status_update.html" { title: &'a str, state: &'a str, impact: &'a str, update: &'a str, status_url: &'a str, unsubscribe: &'a str };
    BreakerText = "mail/breaker_tripped.txt", BreakerHtml = "mail/breaker_tripped.html" { reason: &'a str, tripped_by: &'a str, resets_last_hour: i64, resets_last_day: i64, campaigns_paused: u64, console_url: &'a str };
}

/// "26 Nov 2026, 14:03 UTC".
fn human_time(rfc3339: &str) -> String {
    let Ok(t) = Timestamp::parse_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let dt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    dt.format(&fmt).unwrap_or_else(|_| rfc3339.to_string())
}

/// Renders one notice.
pub fn render(
    kind: NoticeKind,
    reference: &str,
    recipient: &str,
    coalesced_count: i64,
    facts: &NoticeFacts,
    site: &SiteContext,
) -> Result<RenderedNotice, RenderError> {
    let subject = match kind {
        NoticeKind::Recovery => format!("Your {} password recovery code", site.site_name),
        NoticeKind::PasswordChanged => format!("Your {} password was changed", site.site_name),
        NoticeKind::ForcedReset => format!("We reset your {} password", site.site_name),
        NoticeKind::Correction => format!("Please disregard our earlier {} notice", site.site_name),
        NoticeKind::StatusConfirm => format!("Confirm your {} status updates", site.site_name),
        NoticeKind::StatusUpdate => format!(
            "[{} status] {}: {}",
            site.site_name,
            facts
                .incident_state
                .as_deref()
                .and_then(|s| s.parse::<IncidentState>().ok())
                .map_or("Update", IncidentState::label),
            facts.incident_title.as_deref().unwrap_or("incident")
        ),
        NoticeKind::BreakerTripped => format!(
            "[{}] Circuit breaker tripped: automatic resets stopped",
            site.site_name
        ),
    };
    let origin = match (&facts.ip, &facts.device) {
        (Some(ip), Some(d)) => format!("{d} at the address {ip}"),
        (Some(ip), None) => format!("the address {ip}"),
        (None, Some(d)) => d.clone(),
        (None, None) => "an unknown place".into(),
    };
    let n = Common {
        subject: subject.clone(),
        site_name: site.site_name.clone(),
        site_address: site.site_address(),
        reference: reference.to_string(),
        recipient_masked: Email::parse(recipient)
            .map(|e| e.masked())
            .unwrap_or_else(|_| "your address".into()),
        when: human_time(&facts.at),
        origin,
        coalesced_count,
    };
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .ok_or_else(|| RenderError(format!("{kind} notice without {what}")))
    };
    let link = |path: &str| -> Option<String> {
        let token = facts.token.as_deref()?;
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
    let expires_minutes = facts.expires_minutes.unwrap_or(30);
    let (text, html) = match kind {
        NoticeKind::Recovery => {
            let code = need(&facts.code, "a code")?;
            let link = link("/recover/complete");
            (
                RecoveryText {
                    n: &n,
                    code: &code,
                    expires_minutes,
                    link: link.clone(),
                }
                .render(),
                RecoveryHtml {
                    n: &n,
                    code: &code,
                    expires_minutes,
                    link,
                }
                .render(),
            )
        }
        NoticeKind::PasswordChanged => {
            let via = facts.via.as_deref().unwrap_or("your account settings");
            (
                ChangedText { n: &n, via }.render(),
                ChangedHtml { n: &n, via }.render(),
            )
        }
        NoticeKind::ForcedReset => {
            let code = need(&facts.code, "a code")?;
            let reason = need(&facts.reason, "a reason")?;
            let link = link("/recover/complete");
            (
                ResetText {
                    n: &n,
                    code: &code,
                    expires_minutes,
                    reason: &reason,
                    link: link.clone(),
                }
                .render(),
                ResetHtml {
                    n: &n,
                    code: &code,
                    expires_minutes,
                    reason: &reason,
                    link,
                }
                .render(),
            )
        }
        NoticeKind::Correction => {
            let corrects = need(&facts.corrects, "the reference it corrects")?;
            let reason = facts.reason.as_deref();
            let still_works = facts.still_works.unwrap_or(true);
            (
                CorrectionText {
                    n: &n,
                    corrects: &corrects,
                    reason,
                    still_works,
                }
                .render(),
                CorrectionHtml {
                    n: &n,
                    corrects: &corrects,
                    reason,
                    still_works,
                }
                .render(),
            )
        }
        NoticeKind::StatusConfirm => {
            let link = status_link("/status/confirm", &need(&facts.token, "a token")?)?;
            let expires_hours = (expires_minutes / 60).max(1);
            (
                StatusConfirmText {
                    n: &n,
                    link: &link,
                    expires_hours,
                }
                .render(),
                StatusConfirmHtml {
                    n: &n,
                    link: &link,
                    expires_hours,
                }
                .render(),
            )
        }
        NoticeKind::StatusUpdate => {
            let title = need(&facts.incident_title, "an incident title")?;
            let update = need(&facts.update, "the update's text")?;
            let state = facts
                .incident_state
                .as_deref()
                .and_then(|s| s.parse::<IncidentState>().ok())
                .map_or("Update", IncidentState::label);
            let impact = facts
                .impact
                .as_deref()
                .and_then(|s| s.parse::<Impact>().ok())
                .map_or("", Impact::label);
            let unsubscribe = status_link(
                "/status/unsubscribe",
                &need(&facts.unsubscribe, "an unsubscribe token")?,
            )?;
            let status_url = site
                .public_url
                .join("/status")
                .map_err(|e| RenderError(format!("public_url cannot make a link: {e}")))?
                .to_string();
            list_unsubscribe = Some(unsubscribe.clone());
            let t = StatusUpdateText {
                n: &n,
                title: &title,
                state,
                impact,
                update: &update,
                status_url: &status_url,
                unsubscribe: &unsubscribe,
            };
            let h = StatusUpdateHtml {
                n: &n,
                title: &title,
                state,
                impact,
                update: &update,
                status_url: &status_url,
                unsubscribe: &unsubscribe,
            };
            (t.render(), h.render())
        }
        NoticeKind::BreakerTripped => {
            let reason = need(&facts.reason, "a reason")?;
            let tripped_by = facts.tripped_by.as_deref().unwrap_or("not recorded");
            // The console's address, from the configured origin only (never a
            // request's Host header); shown as text to type, not as a link.
            let console_url = site
                .public_url
                .join("/console")
                .map_err(|e| RenderError(format!("public_url cannot make a link: {e}")))?
                .to_string();
            let t = BreakerText {
                n: &n,
                reason: &reason,
                tripped_by,
                resets_last_hour: facts.resets_last_hour.unwrap_or(0),
                resets_last_day: facts.resets_last_day.unwrap_or(0),
                campaigns_paused: facts.campaigns_paused.unwrap_or(0),
                console_url: &console_url,
            };
            let h = BreakerHtml {
                n: &n,
                reason: &reason,
                tripped_by,
                resets_last_hour: t.resets_last_hour,
                resets_last_day: t.resets_last_day,
                campaigns_paused: t.campaigns_paused,
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
    use super::*;

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

    fn facts() -> NoticeFacts {
        NoticeFacts {
            at: "2026-11-26T14:03:00Z".into(),
            ip: Some("192.0.2.44".into()),
            device: Some("Firefox on Windows".into()),
            ..NoticeFacts::default()
        }
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
        let f = NoticeFacts {
            code: Some("7K3Q-9XMD".into()),
            token: Some("ghr_TOKEN".into()),
            expires_minutes: Some(30),
            ..facts()
        };
        let plain = render(
            NoticeKind::Recovery,
            "GH-AAAA-BBBB",
            "jane@example.org",
            0,
            &f,
            &site(false),
        )
        .unwrap();
        assert!(
            !plain.text.contains("http"),
            "no link unless configured: {}",
            plain.text
        );
        assert!(!plain.html.contains("href"), "no link unless configured");
        snapshot("recovery", &plain);
        let linked = render(
            NoticeKind::Recovery,
            "GH-AAAA-BBBB",
            "jane@example.org",
            0,
            &f,
            &site(true),
        )
        .unwrap();
        assert!(
            linked
                .text
                .contains("https://id.example.com/recover/complete?token=ghr_TOKEN")
        );
        snapshot("recovery_with_link", &linked);
    }

    #[test]
    fn password_changed_notice() {
        let f = NoticeFacts {
            via: Some("password recovery".into()),
            ..facts()
        };
        let r = render(
            NoticeKind::PasswordChanged,
            "GH-CCCC-DDDD",
            "jane@example.org",
            2,
            &f,
            &site(false),
        )
        .unwrap();
        assert!(r.text.contains("2 similar notices"));
        snapshot("password_changed", &r);
    }

    #[test]
    fn forced_reset_notice() {
        let f = NoticeFacts {
            code: Some("ABCD-1234".into()),
            expires_minutes: Some(1440),
            reason: Some(
                "your password appeared in a list of passwords stolen from another site".into(),
            ),
            ..facts()
        };
        let r = render(
            NoticeKind::ForcedReset,
            "GH-EEEE-FFFF",
            "jane@example.org",
            0,
            &f,
            &site(false),
        )
        .unwrap();
        snapshot("forced_reset", &r);
        let missing = render(
            NoticeKind::ForcedReset,
            "GH-EEEE-FFFF",
            "jane@example.org",
            0,
            &facts(),
            &site(false),
        );
        assert!(missing.unwrap_err().to_string().contains("code"));
    }

    #[test]
    fn correction_notice() {
        let f = NoticeFacts {
            corrects: Some("GH-EEEE-FFFF".into()),
            reason: Some("a faulty rule flagged accounts that were never at risk".into()),
            still_works: Some(true),
            ..facts()
        };
        let r = render(
            NoticeKind::Correction,
            "GH-GGGG-HHHH",
            "jane@example.org",
            0,
            &f,
            &site(false),
        )
        .unwrap();
        snapshot("correction", &r);
        let changed = NoticeFacts {
            still_works: Some(false),
            ..f
        };
        let r = render(
            NoticeKind::Correction,
            "GH-GGGG-HHHH",
            "jane@example.org",
            0,
            &changed,
            &site(false),
        )
        .unwrap();
        assert!(r.text.contains("already set a new password"));
    }

    #[test]
    fn every_notice_is_phishing_resistant() {
        let f = NoticeFacts {
            code: Some("ABCD-1234".into()),
            reason: Some("r".into()),
            corrects: Some("GH-EEEE-FFFF".into()),
            ..facts()
        };
        for kind in NoticeKind::ALL.into_iter().filter(|k| !k.is_status()) {
            let r = render(
                kind,
                "GH-AAAA-BBBB",
                "jane@example.org",
                0,
                &f,
                &site(false),
            )
            .unwrap();
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

    fn status_facts() -> NoticeFacts {
        NoticeFacts {
            incident_title: Some("Sign-in is slow".into()),
            incident_state: Some("identified".into()),
            impact: Some("minor".into()),
            update: Some(
                "A database replica is lagging; we are moving traffic away from it.".into(),
            ),
            unsubscribe: Some("ghx_UNSUB".into()),
            ..facts()
        }
    }

    #[test]
    fn status_confirm_notice() {
        let f = NoticeFacts {
            token: Some("ghc_CONFIRM".into()),
            expires_minutes: Some(48 * 60),
            ..facts()
        };
        // Links are there whatever `mail_link_kinds` says: this mail is not
        // about an account, and the link is the double opt-in.
        let r = render(
            NoticeKind::StatusConfirm,
            "GH-JJJJ-KKKK",
            "jane@example.org",
            0,
            &f,
            &site(false),
        )
        .unwrap();
        assert!(
            r.text
                .contains("https://id.example.com/status/confirm?token=ghc_CONFIRM")
        );
        assert!(r.text.contains("48 hours"), "{}", r.text);
        assert!(r.text.contains("GH-JJJJ-KKKK") && r.text.contains("id.example.com/verify"));
        assert_eq!(r.list_unsubscribe, None);
        snapshot("status_confirm", &r);
    }

    #[test]
    fn status_update_notice() {
        let r = render(
            NoticeKind::StatusUpdate,
            "GH-MMMM-NNNN",
            "jane@example.org",
            0,
            &status_facts(),
            &site(false),
        )
        .unwrap();
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
        let mut bad = status_facts();
        bad.unsubscribe = None;
        let err = render(
            NoticeKind::StatusUpdate,
            "GH-MMMM-NNNN",
            "jane@example.org",
            0,
            &bad,
            &site(false),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unsubscribe"), "{err}");
    }

    #[test]
    fn status_update_html_is_escaped() {
        let f = NoticeFacts {
            incident_title: Some("<script>x</script>".into()),
            update: Some("a <b>bold</b> & \"quoted\" claim".into()),
            ..status_facts()
        };
        let r = render(
            NoticeKind::StatusUpdate,
            "GH-MMMM-NNNN",
            "jane@example.org",
            0,
            &f,
            &site(false),
        )
        .unwrap();
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
        let f = NoticeFacts {
            reason: Some(
                "reset budget used up (50 in the last hour of 50, 60 in the last day of 100)"
                    .into(),
            ),
            tripped_by: Some("Gatehouse itself (an automatic guardrail)".into()),
            resets_last_hour: Some(50),
            resets_last_day: Some(60),
            campaigns_paused: Some(1),
            ..facts()
        };
        let r = render(
            NoticeKind::BreakerTripped,
            "GH-PPPP-QQQQ",
            "oncall@example.org",
            0,
            &f,
            &site(true),
        )
        .unwrap();
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
        let f = NoticeFacts {
            device: Some("<script>alert(1)</script>".into()),
            ip: Some("\"><img src=x>".into()),
            reason: Some("a <b>bold</b> & risky reason".into()),
            code: Some("ABCD-1234".into()),
            ..facts()
        };
        let reset = render(
            NoticeKind::ForcedReset,
            "GH-AAAA-BBBB",
            "jane@example.org",
            0,
            &f,
            &site(false),
        )
        .unwrap();
        assert!(!reset.html.contains("<b>"), "{}", reset.html);
        assert!(
            reset.html.contains("&amp; risky") || reset.html.contains("&#38; risky"),
            "{}",
            reset.html
        );
        // The password-changed notice shows where the change came from.
        let r = render(
            NoticeKind::PasswordChanged,
            "GH-AAAA-BBBB",
            "jane@example.org",
            0,
            &f,
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
