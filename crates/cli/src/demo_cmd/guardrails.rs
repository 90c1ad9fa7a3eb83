//! The demo's second half: the guardrails. A broken rule previewed (it needs a
//! second operator; self-approval refused), forced through as an automatic rule
//! and stopped by the budget and the breaker, then undone.

use super::*;

impl Demo {
    /// The broken rule in shadow mode, its backtest, and a campaign over what
    /// it flags: previewed, self-approval refused, aborted.
    pub(super) async fn broken_rule_preview(&mut self) -> anyhow::Result<BrokenRuleReport> {
        let alice = self.alice.clone();
        let spec = parse_rules_toml(BROKEN_RULE)
            .map_err(anyhow_app)?
            .pop()
            .context("the broken rule's TOML holds a rule")?;
        self.app
            .put_rule(spec, alice.clone())
            .await
            .map_err(anyhow_app)?;
        self.monitor.pass().await?;
        self.monitor.rebuild().await?;

        let now = self.app.clock.now();
        let since = now.minus(Duration::from_secs(30 * 86_400));
        let backtest = self
            .app
            .backtest_rule(
                BROKEN_RULE_ID,
                BacktestRequest {
                    since: Some(since.to_rfc3339()),
                    ..BacktestRequest::default()
                },
                alice.clone(),
                |_, _| {},
            )
            .await
            .map_err(anyhow_app)?;
        let rule = self
            .app
            .rule(BROKEN_RULE_ID, None)
            .await
            .map_err(anyhow_app)?;
        let flagged = self
            .app
            .flagged_accounts(rule, since, now)
            .await
            .map_err(anyhow_app)?;
        let c = self
            .app
            .create_campaign(
                CampaignSpec {
                    name: "slow-stuffing findings (30 days)".into(),
                    reason: "our checks found signs that someone else signed in to your account"
                        .into(),
                    accounts: flagged.iter().map(|a| a.to_string()).collect(),
                    stages: None,
                    rate_per_minute: None,
                    bake_secs: None,
                },
                alice.clone(),
            )
            .await
            .map_err(anyhow_app)?;
        let (_, preview) = self
            .app
            .preview_campaign(c.id, alice.clone())
            .await
            .map_err(anyhow_app)?;
        let refusal = match self
            .app
            .approve_campaign(c.id, &preview.snapshot, alice.clone())
            .await
        {
            Err(AppError::CampaignRefused(why)) => why,
            Err(e) => return Err(anyhow_app(e)),
            Ok(_) => anyhow::bail!("the campaign's creator approved her own campaign"),
        };
        self.app
            .command_campaign(
                c.id,
                gatehouse_domain::campaign::CampaignCommand::Abort,
                Some("not approved by a second operator".into()),
                alice,
            )
            .await
            .map_err(anyhow_app)?;
        Ok(BrokenRuleReport {
            rule: BROKEN_RULE.to_owned(),
            backtest_flagged_accounts: backtest.tested.flagged_accounts,
            backtest_share_of_accounts: round4(backtest.tested.share_of_accounts),
            backtest_warnings: backtest.warnings,
            preview_accounts: preview.accounts,
            preview_share_of_accounts: round4(preview.share_of_accounts),
            preview_active_accounts: preview.active_accounts,
            preview_share_of_active: round4(preview.share_of_active),
            preview_normal_daily_resets: preview.normal_daily,
            preview_multiple_of_normal: round2(preview.multiple_of_normal),
            preview_needs_second_approval: preview.needs_second_approval,
            self_approval_refused: refusal,
        })
    }

    /// Enforces the broken rule and lets live sign-ins come in, one per pass,
    /// until the breaker trips.
    pub(super) async fn force_through(
        &mut self,
        pop: &Population,
        victims: &BTreeSet<String>,
    ) -> anyhow::Result<Halt> {
        let alice = self.alice.clone();
        self.put_rule_mode(BROKEN_RULE_ID, RuleMode::Enforce, &alice)
            .await?;
        let pending_at_enforce = self.pending_findings(BROKEN_RULE_ID).await?;
        let (per_hour, per_day) = self.app.budget_limits().await.map_err(anyhow_app)?;
        let now = self.app.clock.now();
        let used_before = self
            .app
            .resets_since(now.minus(Duration::from_secs(3600)))
            .await?
            .max(0) as u64;

        // Everyone but the accounts already reset, in a seeded order; each signs in once.
        let mut order: Vec<usize> = (0..pop.people.len())
            .filter(|&i| !victims.contains(&pop.people[i].email))
            .collect();
        for i in (1..order.len()).rev() {
            order.swap(i, self.rng.below(i as u64 + 1) as usize);
        }
        let pb = count_bar(self.quiet, 0, "live sign-ins");
        let mut sign_ins = 0;
        for &i in order.iter().take(MAX_LIVE_SIGN_INS) {
            if self.app.breaker().await?.open {
                break;
            }
            let mut events = Vec::new();
            let at = self.app.clock.now().as_millis();
            pop.login(&mut self.rng, &pop.people[i], at, &mut events);
            self.arrive(&events).await?;
            sign_ins += 1;
            pb.inc(1);
        }
        pb.finish_and_clear();
        let breaker = self.app.breaker().await?;
        anyhow::ensure!(
            breaker.open,
            "the breaker did not trip after {sign_ins} live sign-ins"
        );
        // One more pass: nothing may move while the breaker is open.
        let after = self.app.campaigns_pass().await.map_err(anyhow_app)?;
        let campaigns = self.rule_campaigns(BROKEN_RULE_ID).await?;
        let targets = self.applied_targets(&campaigns).await?;
        let first = targets.iter().filter_map(|t| t.applied_at).min();
        let wrong: BTreeSet<String> = targets.into_iter().map(|t| t.email).collect();
        let incident = self
            .app
            .incidents(100)
            .await
            .map_err(anyhow_app)?
            .into_iter()
            .find(|i| i.state.as_str() == "draft");
        // Every reset of the day, whatever its campaign: the budget's own count.
        let resets_last_day = self
            .app
            .breaker_view()
            .await
            .map_err(anyhow_app)?
            .used_last_day;
        let paused = campaigns
            .iter()
            .filter(|c| c.state == CampaignState::Paused)
            .count() as u64;
        Ok(Halt {
            report: HaltReport {
                findings_pending_at_enforce: pending_at_enforce,
                live_sign_ins: sign_ins,
                budget_per_hour: per_hour,
                budget_per_day: per_day,
                used_last_hour_before: used_before,
                budget_left_for_the_rule: per_hour.saturating_sub(used_before),
                accounts_wrongly_reset: wrong.len() as u64,
                resets_last_day: resets_last_day.max(0) as u64,
                seconds_first_wrong_reset_to_halt: first
                    .map(|f| round2(breaker.changed_at.since(f).as_secs_f64())),
                breaker_open: breaker.open,
                breaker_reason: breaker.reason.unwrap_or_default(),
                resets_after_halt: after.applied,
                automatic_campaigns: campaigns.len() as u64,
                campaigns_paused_by_breaker: paused,
                incident_draft_title: incident.as_ref().map(|i| i.title.clone()),
                incident_draft_id: incident.map(|i| i.id),
            },
            campaigns,
            wrong,
        })
    }

    /// The second operator undoes each of the broken rule's campaigns, then
    /// turns the rule off. The breaker stays open: closing it is a decision
    /// for after the review (and the console shows it open).
    pub(super) async fn undo(
        &mut self,
        campaigns: &[CampaignRecord],
    ) -> anyhow::Result<UndoSummary> {
        let mut s = UndoSummary::default();
        let bob = self.bob.clone();
        for c in campaigns {
            let c = self.app.campaign(c.id).await.map_err(anyhow_app)?;
            if c.applied == 0 {
                continue;
            }
            let preview = self.app.undo_preview(c.id).await.map_err(anyhow_app)?;
            s.restorable += preview.restorable;
            s.not_restorable += preview.not_restorable;
            let done = self
                .app
                .undo_campaign(c.id, bob.clone())
                .await
                .map_err(anyhow_app)?;
            s.accounts_restored += done.restored;
            s.explanations += done.explained;
            s.campaigns_undone += 1;
        }
        self.put_rule_mode(BROKEN_RULE_ID, RuleMode::Off, &bob)
            .await?;
        s.breaker_left_open = self.app.breaker().await?.open;
        Ok(s)
    }
}
