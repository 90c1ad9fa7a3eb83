//! Undoing a campaign. An operator asks for it ([`App::begin_undo`]); the
//! campaign worker then restores the accounts a step at a time
//! ([`App::undo_step`]), at most the campaign's own rate a minute, so the
//! corrections it sends are paced like the forced-reset notices were. Each
//! account is one transaction, done once: an undo stopped by a crash resumes.
//!
//! Per account: if the owner has not set a new password since, the prior
//! password works again, the sessions the campaign suspended come back (within
//! [`UNDO_WINDOW`]), outstanding codes stop working and a correction goes out
//! (or, when the forced-reset notice had not gone out yet, it is withdrawn);
//! otherwise the owner gets an explanation.

use std::time::Duration;

use gatehouse_domain::audit::{Actor as AuditActor, AuditAction, NewAuditEntry};
use gatehouse_domain::campaign::{CampaignState, Command};
use gatehouse_domain::{CampaignId, Email};
use gatehouse_store::{CampaignRecord, CampaignUpdate, TargetState, UndoOutcome, UndoStep};

use crate::app::campaigns::{STEP, UNDO_WINDOW, UndoReport, domain, refused};
use crate::app::{App, AppError};
use crate::mail::{CorrectionFacts, NoticeFacts};

/// The audit actor behind stored actor text (`operator:<id>` or `system`).
impl App {
    /// How many of the campaign's accounts an undo would restore, without doing it.
    pub async fn undo_preview(&self, id: CampaignId) -> Result<UndoReport, AppError> {
        let mut r = UndoReport::default();
        let mut after = -1;
        loop {
            let page = self.store.campaign_targets(id, None, after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for t in page.iter().filter(|t| t.state == TargetState::Applied) {
                let still = self
                    .store
                    .login_record(&t.email.to_lowercase())
                    .await?
                    .is_some_and(|rec| {
                        rec.state == gatehouse_domain::CredentialState::ResetRequired
                            && Some(rec.version) == t.credential_version
                    });
                if still {
                    r.restorable += 1;
                } else {
                    r.not_restorable += 1;
                }
            }
        }
        Ok(r)
    }

    /// Asks for a campaign's undo: it stops (nothing more is reset) and the
    /// campaign worker restores its accounts, paced. Audited with `by`, whose
    /// name every restore's audit entry carries. Asking again changes nothing.
    pub async fn begin_undo(
        &self,
        id: CampaignId,
        by: AuditActor,
    ) -> Result<CampaignRecord, AppError> {
        let c = self.campaign(id).await?;
        if c.state == CampaignState::Undoing {
            return Ok(c);
        }
        let next = domain(&c)
            .apply(&Command::BeginUndo, false)
            .map_err(refused)?;
        let now = self.clock.now();
        let mut u = CampaignUpdate::at(now);
        u.state = Some(next.state);
        u.undo_by = Some(Some(by.clone()));
        let audit = NewAuditEntry::new(now, by, AuditAction::CampaignTransition)
            .target(id)
            .detail(serde_json::json!({ "command": "undo" }));
        let c = self.store.update_campaign(id, c.state, &u, audit).await?;
        self.campaigns_wakeup.notify_one();
        Ok(c)
    }

    /// One worker step of an undo: restores up to the campaign's rate for the
    /// trailing minute (and at most a worker step's worth), and finishes the
    /// undo when no applied account is left.
    pub async fn undo_step(&self, id: CampaignId) -> Result<UndoReport, AppError> {
        let c = self.campaign(id).await?;
        if c.state != CampaignState::Undoing {
            return Ok(UndoReport::default());
        }
        let now = self.clock.now();
        let recent = self
            .store
            .campaign_undone_since(id, now.minus(Duration::from_secs(60)))
            .await?;
        let allowed = usize::try_from((c.rate_per_minute - recent).max(0))
            .unwrap_or(0)
            .min(STEP);
        let mut r = UndoReport::default();
        if allowed > 0 {
            self.undo_targets(&c, allowed, &mut r).await?;
        }
        self.finish_undo_if_done(&c).await?;
        Ok(r)
    }

    /// Undoes a campaign here and now, unpaced (`gatehouse demo`, and tests):
    /// the same steps as the worker's, as fast as they go.
    pub async fn undo_campaign(
        &self,
        id: CampaignId,
        by: AuditActor,
    ) -> Result<UndoReport, AppError> {
        let c = self.begin_undo(id, by).await?;
        let mut r = UndoReport::default();
        while self.undo_targets(&c, 1000, &mut r).await? > 0 {}
        r.restorable = r.restored;
        r.not_restorable = r.explained;
        self.finish_undo_if_done(&c).await?;
        Ok(r)
    }

    /// Restores (or explains to) up to `limit` applied accounts; returns how many.
    async fn undo_targets(
        &self,
        c: &CampaignRecord,
        limit: usize,
        r: &mut UndoReport,
    ) -> Result<usize, AppError> {
        let id = c.id;
        let page = self
            .store
            .campaign_targets(id, Some(TargetState::Applied), -1, limit as i64)
            .await?;
        // An undo asked for before `undo_by` was recorded runs in the system's name.
        let by = c.undo_by.clone().unwrap_or(AuditActor::System);
        let mut done = 0;
        for t in page.iter().filter(|t| t.state == TargetState::Applied) {
            let to = Email::parse(&t.email).map_err(AppError::email)?;
            let out = self
                .with_fresh_reference(|| async {
                    let now = self.clock.now();
                    // Applying a target stores its notice's reference in the same
                    // transaction, so an applied one without it is a broken row.
                    let corrects = t.notice_reference.clone().ok_or_else(|| {
                        gatehouse_store::StoreError::Corrupt(format!(
                            "applied target {} of campaign {id} has no notice reference to correct",
                            t.account_id
                        ))
                    })?;
                    // No address or device: Gatehouse acted, not a person's request.
                    let facts = |still_works| {
                        NoticeFacts::Correction(CorrectionFacts {
                            at: now.to_rfc3339(),
                            corrects: corrects.clone(),
                            reason: Some(c.reason.clone()),
                            still_works,
                        })
                    };
                    let correction = self.new_notice(
                        Some(t.account_id),
                        &to,
                        format!("undo/{id}/{}", t.account_id),
                        &facts(true),
                        None,
                    );
                    let explanation = self.new_notice(
                        Some(t.account_id),
                        &to,
                        format!("undo/{id}/{}", t.account_id),
                        &facts(false),
                        None,
                    );
                    let step = UndoStep {
                        campaign: id,
                        account: t.account_id,
                        now,
                        reinstate_after: now.minus(UNDO_WINDOW),
                        correction: &correction,
                        explanation: &explanation,
                        audit: NewAuditEntry::new(now, by.clone(), AuditAction::AccountRestored)
                            .target(t.account_id),
                    };
                    self.store.undo_campaign_target(&step).await
                })
                .await?;
            done += 1;
            match out {
                UndoOutcome::Restored { withdrawn, .. } => {
                    r.restored += 1;
                    r.withdrawn += u64::from(withdrawn);
                }
                UndoOutcome::NotRestorable => r.explained += 1,
                UndoOutcome::AlreadyDone => {}
            }
        }
        if done > 0 {
            self.wake_outbox();
        }
        Ok(done)
    }

    /// Marks the undo done once no account is left to restore.
    async fn finish_undo_if_done(&self, c: &CampaignRecord) -> Result<(), AppError> {
        let counts = self.store.campaign_target_counts(c.id).await?;
        let count = |state| {
            counts
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n)
        };
        if count(TargetState::Applied) > 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let next = domain(c)
            .apply(&Command::FinishUndo, false)
            .map_err(refused)?;
        let mut u = CampaignUpdate::at(now);
        u.state = Some(next.state);
        let audit = NewAuditEntry::new(now, AuditActor::System, AuditAction::CampaignTransition)
            .target(c.id)
            .detail(serde_json::json!({
                "command": "finish_undo",
                "restored": count(TargetState::Restored),
                "explained": count(TargetState::NotRestorable),
                "undo_by": c.undo_by.as_ref().map(AuditActor::text),
            }));
        match self
            .store
            .update_campaign(c.id, CampaignState::Undoing, &u, audit)
            .await
        {
            // Another replica's worker finished it first.
            Err(gatehouse_store::StoreError::Conflict(_)) => Ok(()),
            other => other.map(|_| ()).map_err(AppError::from),
        }
    }
}

/// What an undo by rule did: every campaign of the rule that reset someone is
/// being undone, every one that reset no one is aborted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RuleUndoReport {
    /// The rule.
    pub rule: String,
    /// Campaigns now undoing (the worker restores their accounts, paced).
    #[schema(value_type = Vec<String>)]
    pub undoing: Vec<CampaignId>,
    /// Campaigns that reset nobody, aborted.
    #[schema(value_type = Vec<String>)]
    pub aborted: Vec<CampaignId>,
    /// Campaigns already undoing or undone, left as they are.
    #[schema(value_type = Vec<String>)]
    pub already: Vec<CampaignId>,
}

impl App {
    /// Undoes what a rule did, in one audited action: every campaign of the rule
    /// that reset accounts begins its undo (the worker restores them at the
    /// campaign's rate), every one that reset nobody is aborted, so a broken
    /// rule's campaigns need not be handled one by one. The rule itself is not
    /// changed (turn it off or edit it separately).
    pub async fn undo_rule(&self, rule: &str, by: AuditActor) -> Result<RuleUndoReport, AppError> {
        let r = self.undo_rule_plan(rule).await?;
        for &id in &r.undoing {
            self.begin_undo(id, by.clone()).await?;
        }
        for &id in &r.aborted {
            self.command_campaign(
                id,
                gatehouse_domain::campaign::CampaignCommand::Abort,
                Some(format!("undo of rule {rule}")),
                by.clone(),
            )
            .await?;
        }
        let now = self.clock.now();
        let ids = |v: &[CampaignId]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        self.store
            .append_audit(
                NewAuditEntry::new(now, by, AuditAction::CampaignTransition)
                    .target(rule)
                    .detail(serde_json::json!({
                        "command": "undo_rule",
                        "rule": rule,
                        "undoing": ids(&r.undoing),
                        "aborted": ids(&r.aborted),
                    })),
            )
            .await?;
        self.campaigns_wakeup.notify_one();
        Ok(r)
    }

    /// What [`App::undo_rule`] would do, without doing it: the rule's campaigns
    /// that reset accounts (to undo), those that reset nobody and can still be
    /// stopped (to abort), and those already undoing or undone.
    pub async fn undo_rule_plan(&self, rule: &str) -> Result<RuleUndoReport, AppError> {
        if self.store.rule(rule).await?.is_none() {
            return Err(AppError::NotFound("rule"));
        }
        let mut r = RuleUndoReport {
            rule: rule.to_owned(),
            ..RuleUndoReport::default()
        };
        // By state: the store lists at most 1,000 campaigns per call.
        let mut mine = Vec::new();
        for state in CampaignState::ALL {
            let all = self.store.campaigns(Some(state), 1_000).await?;
            mine.extend(
                all.into_iter()
                    .filter(|c| c.rule_id.as_deref() == Some(rule)),
            );
        }
        for c in mine {
            match c.state {
                CampaignState::Undoing | CampaignState::Undone => r.already.push(c.id),
                _ if c.applied > 0 => r.undoing.push(c.id),
                CampaignState::Completed | CampaignState::Aborted => {}
                _ => r.aborted.push(c.id),
            }
        }
        Ok(r)
    }
}
