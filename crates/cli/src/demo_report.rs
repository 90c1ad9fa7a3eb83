//! The demo's report: what `gatehouse demo` prints, as text for people or as
//! JSON (`--json`) for scripts and the test.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::demo_apps::AppsReport;
use crate::demo_cmd::BROKEN_RULE_ID;

/// The demo's report (printed as text, or as JSON with `--json`).
#[derive(Serialize)]
pub struct Report {
    pub data_dir: String,
    pub seed: u64,
    pub settings: Settings,
    pub population: PopulationReport,
    pub stuffing: StuffingReport,
    /// The example app: people signed out of it by the takeovers' resets,
    /// and what the app-delivery outbox delivered to it.
    pub apps: AppsReport,
    pub broken_rule: BrokenRuleReport,
    pub halt: HaltReport,
    pub undo: UndoSummary,
    pub mail: MailReport,
    pub audit_chain: AuditChain,
    pub phases: Vec<PhaseTime>,
    pub total_seconds: f64,
    pub operators: Vec<&'static str>,
    /// Only with `--serve`: the first operator's API key, for the admin API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_api_key_alice: Option<String>,
    /// Only with `--serve`: console passwords generated for the operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_logins: Option<Vec<ConsoleLogin>>,
}

/// An operator's console sign-in, shown once.
#[derive(Serialize)]
pub struct ConsoleLogin {
    pub email: &'static str,
    pub password: String,
}

#[derive(Serialize)]
pub struct Settings {
    pub note: &'static str,
    pub approval_max_accounts: u64,
    pub approval_max_multiple_of_normal: f64,
    pub approval_max_share_percent: f64,
    pub budget_hourly_floor: u64,
    pub budget_daily_floor: u64,
    pub budget_multiple_of_normal: f64,
}

#[derive(Serialize)]
pub struct PopulationReport {
    pub accounts: u64,
    pub carrier_share: f64,
    pub history_events: u64,
    pub demo_password: &'static str,
}

#[derive(Serialize)]
pub struct StuffingReport {
    pub attack_events: u64,
    pub true_takeovers: u64,
    pub accounts_reset: u64,
    pub precision: f64,
    pub recall: f64,
    pub exactly_the_takeovers: bool,
    pub campaigns: u64,
    /// Each attack: which rule found its takeovers, and how many were reset.
    pub attacks: Vec<AttackReport>,
}

#[derive(Serialize)]
pub struct AttackReport {
    pub attack: &'static str,
    pub shape: String,
    pub attack_events: u64,
    pub true_takeovers: u64,
    /// Its takeovers with a finding of the shipped stuffing rule.
    pub found_by_stuffing_rule: u64,
    /// Its takeovers with a finding of the shipped account-takeover rule.
    pub found_by_takeover_rule: u64,
    /// Its takeovers reset by either rule's automatic campaigns.
    pub reset: u64,
    pub recall: f64,
}

#[derive(Serialize)]
pub struct BrokenRuleReport {
    pub rule: String,
    pub backtest_flagged_accounts: u64,
    pub backtest_share_of_accounts: f64,
    pub backtest_warnings: Vec<String>,
    pub preview_accounts: u64,
    pub preview_share_of_accounts: f64,
    /// Accounts with a sign-in in the last 30 days (the approval share's basis).
    pub preview_active_accounts: u64,
    pub preview_share_of_active: f64,
    pub preview_normal_daily_resets: f64,
    pub preview_multiple_of_normal: f64,
    pub preview_needs_second_approval: bool,
    pub self_approval_refused: String,
}

#[derive(Serialize)]
pub struct HaltReport {
    pub findings_pending_at_enforce: u64,
    pub live_sign_ins: usize,
    pub budget_per_hour: u64,
    pub budget_per_day: u64,
    pub used_last_hour_before: u64,
    pub budget_left_for_the_rule: u64,
    pub accounts_wrongly_reset: u64,
    /// Every forced reset of the last 24 hours (the budget's count).
    pub resets_last_day: u64,
    pub seconds_first_wrong_reset_to_halt: Option<f64>,
    pub breaker_open: bool,
    pub breaker_reason: String,
    pub resets_after_halt: u64,
    pub automatic_campaigns: u64,
    pub campaigns_paused_by_breaker: u64,
    pub incident_draft_title: Option<String>,
    pub incident_draft_id: Option<i64>,
}

#[derive(Serialize, Default)]
pub struct UndoSummary {
    pub campaigns_undone: u64,
    pub restorable: u64,
    pub not_restorable: u64,
    pub accounts_restored: u64,
    pub explanations: u64,
    pub breaker_left_open: bool,
}

#[derive(Serialize, Default)]
pub struct MailReport {
    pub in_maildir: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub forced_reset_takeovers: u64,
    pub forced_reset_wrong: u64,
    pub forced_reset_held: u64,
    /// Held by the breaker, then withdrawn by the undo: never sent.
    pub forced_reset_withdrawn: u64,
    pub corrections: u64,
    /// Operators e-mailed about the breaker's trip.
    pub operators_alerted: u64,
}

#[derive(Serialize)]
pub struct AuditChain {
    pub intact: bool,
    pub entries: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Serialize)]
pub struct PhaseTime {
    pub phase: &'static str,
    pub seconds: f64,
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        let (p, st, b, h, u, m) = (
            &self.population,
            &self.stuffing,
            &self.broken_rule,
            &self.halt,
            &self.undo,
            &self.mail,
        );
        let _ = writeln!(s, "\nGatehouse demo — report ({})", self.data_dir);
        let _ = writeln!(
            s,
            "Settings: {}; second approval past {} accounts, {}× normal or {} % of accounts; \
             budget max({}/h, {}/day, {}× normal).",
            self.settings.note,
            self.settings.approval_max_accounts,
            self.settings.approval_max_multiple_of_normal,
            self.settings.approval_max_share_percent,
            self.settings.budget_hourly_floor,
            self.settings.budget_daily_floor,
            self.settings.budget_multiple_of_normal
        );
        let _ = writeln!(
            s,
            "\nPopulation: {} accounts (imported with a precomputed argon2id hash), {} sign-in events over 30 days; {} sign in through one mobile carrier.",
            p.accounts,
            p.history_events,
            pct(p.carrier_share)
        );
        let _ = writeln!(
            s,
            "\nCredential stuffing: two combo lists in the same 50 minutes ({} attempts, {} accounts really taken over),\n  \
             the shipped credential-stuffing and account-takeover rules enforced:",
            st.attack_events, st.true_takeovers,
        );
        for a in &st.attacks {
            let _ = writeln!(
                s,
                "  {} ({}; {} attempts, {} taken over): the stuffing rule found {}, the takeover rule found {}; {} reset (recall {:.2})",
                a.attack,
                a.shape,
                a.attack_events,
                a.true_takeovers,
                a.found_by_stuffing_rule,
                a.found_by_takeover_rule,
                a.reset,
                a.recall
            );
        }
        let _ = writeln!(
            s,
            "  together: {} accounts reset in {} automatic campaigns: precision {:.2}, recall {:.2}{}",
            st.accounts_reset,
            st.campaigns,
            st.precision,
            st.recall,
            if st.exactly_the_takeovers {
                " — exactly the takeovers."
            } else {
                " — NOT exactly the takeovers."
            }
        );
        let a = &self.apps;
        let _ = writeln!(
            s,
            "\nThe example app (`{}`), signed in to through Gatehouse before the attack:\n  \
             {} of the {} taken-over people signed in to it were signed out of it by the reset; \
             {} of {} bystanders still signed in{}\n  \
             from the app-delivery outbox: {} app sessions ended, {} logout tokens and {} SETs delivered ({}); \
             {} pending, {} failed",
            a.app,
            a.victims_signed_out_by_reset,
            a.victims_signed_in,
            a.bystanders_still_signed_in,
            a.bystanders_signed_in,
            a.sign_ins_refused
                .iter()
                .map(|r| format!("\n    sign-in refused: {r}"))
                .collect::<String>(),
            a.app_sessions_ended,
            a.logout_tokens_delivered,
            a.sets_delivered,
            a.sets_by_event
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            a.deliveries_pending,
            a.deliveries_failed
        );
        let _ = writeln!(
            s,
            "\nBroken rule `{BROKEN_RULE_ID}` (ASN grouping, failure ratio 0.08 where 0.8 was meant), in shadow mode:\n  \
             backtest over 30 days: {} accounts flagged ({}){}\n  \
             campaign preview: {} accounts, {} of all ({} of the {} active), {}× the normal daily volume ({} forced resets a day){}\n  \
             alice approving her own campaign: refused (\"{}\")",
            b.backtest_flagged_accounts,
            pct(b.backtest_share_of_accounts),
            b.backtest_warnings
                .iter()
                .map(|w| format!("\n    warning: {w}"))
                .collect::<String>(),
            b.preview_accounts,
            pct(b.preview_share_of_accounts),
            pct(b.preview_share_of_active),
            b.preview_active_accounts,
            b.preview_multiple_of_normal,
            b.preview_normal_daily_resets,
            if b.preview_needs_second_approval {
                "; needs a second operator"
            } else {
                ""
            },
            b.self_approval_refused
        );
        let _ = writeln!(
            s,
            "\nForced through as an automatic rule (enforce mode), then {} live sign-ins:\n  \
             findings handed on when enforced: {} (its shadow findings stay shadow)\n  \
             budget: {}/hour ({}/day); {} used by the stuffing rule in the last hour, {} left\n  \
             accounts wrongly reset: {}\n  \
             time from first wrong reset to halt: {} (sign-ins fed one per worker pass, without waiting)\n  \
             breaker: {} — {}\n  \
             resets after the halt: {}; automatic campaigns: {} ({} paused by the breaker)\n  \
             incident draft: {}",
            h.live_sign_ins,
            h.findings_pending_at_enforce,
            h.budget_per_hour,
            h.budget_per_day,
            h.used_last_hour_before,
            h.budget_left_for_the_rule,
            h.accounts_wrongly_reset,
            h.seconds_first_wrong_reset_to_halt
                .map_or_else(|| "-".into(), |x| format!("{x:.2} s")),
            if h.breaker_open { "open" } else { "closed" },
            h.breaker_reason,
            h.resets_after_halt,
            h.automatic_campaigns,
            h.campaigns_paused_by_breaker,
            h.incident_draft_title.as_deref().unwrap_or("none")
        );
        let _ = writeln!(
            s,
            "\nUndo by bob ({} campaigns): restorable {}, not restorable {}; accounts restored {}, explanations {}; \
             the rule is off, the breaker left open for review.",
            u.campaigns_undone, u.restorable, u.not_restorable, u.accounts_restored, u.explanations
        );
        let _ = writeln!(
            s,
            "\nMail in the maildir: {} ({}).\n  \
             forced-reset notices sent: {} to the taken-over accounts, {} to wrongly reset accounts ({} held by the breaker, unsent; {} held, then withdrawn by the undo)\n  \
             corrections sent: {}\n  \
             operators e-mailed about the trip: {}",
            m.in_maildir,
            m.by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            m.forced_reset_takeovers,
            m.forced_reset_wrong,
            m.forced_reset_held,
            m.forced_reset_withdrawn,
            m.corrections,
            m.operators_alerted
        );
        let _ = writeln!(
            s,
            "\nAudit chain: {} ({} entries).",
            if self.audit_chain.intact {
                "verified"
            } else {
                "BROKEN"
            },
            self.audit_chain.entries
        );
        let _ = writeln!(
            s,
            "Time: {} (total {:.1} s).",
            self.phases
                .iter()
                .map(|p| format!("{} {:.1} s", p.phase, p.seconds))
                .collect::<Vec<_>>()
                .join(", "),
            self.total_seconds
        );
        let _ = writeln!(
            s,
            "\nEvery demo account's password is \"{}\"; operators: {}.",
            p.demo_password,
            self.operators.join(", ")
        );
        for login in self.console_logins.iter().flatten() {
            let _ = writeln!(
                s,
                "console sign-in (shown once): {} / {}",
                login.email, login.password
            );
        }
        if let Some(key) = &self.operator_api_key_alice {
            let _ = writeln!(s, "alice's operator API key (admin API): {key}");
        }
        s
    }
}
