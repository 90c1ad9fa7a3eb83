//! Remediation campaigns as pure policy: the lifecycle state machine, who may
//! approve, how a target set is split into stages, and the reset budget.
//!
//! A forced reset — of one account or a million — is a campaign. Nothing here
//! touches a store or a clock: the application layer asks these functions what
//! is allowed and records what happened, so every guardrail is tested
//! deterministically (invariants *Bounded blast radius* and *Pure domain*).
//!
//! ```text
//!  Draft ──preview──► Previewed ──approve/auto──► Approved ──start──► Running ──► Completed
//!    │                 ▲   │ (re-preview: new          │                │  ▲
//!    │                 └───┘  snapshot, approvals      │           pause│  │resume
//!    │                        dropped)                 │                ▼  │
//!    └──────────────── abort (any state before Completed) ──────────► Paused
//!                                                                      │
//!  Running | Paused | Completed | Aborted ──undo──► Undoing ──► Undone
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a campaign stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Created; its target set is not frozen yet.
    Draft,
    /// The target set is frozen (a snapshot with a hash) and the preview shown.
    Previewed,
    /// Approved for the frozen snapshot (by a second operator, or by policy).
    Approved,
    /// Applying, stage by stage.
    Running,
    /// Stopped by an operator, a failed health gate or the breaker; may resume.
    Paused,
    /// Every target applied.
    Completed,
    /// Stopped for good; what was applied stays (and can be undone).
    Aborted,
    /// Restoring the accounts it reset.
    Undoing,
    /// Restored.
    Undone,
}

impl CampaignState {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Previewed => "previewed",
            Self::Approved => "approved",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Aborted => "aborted",
            Self::Undoing => "undoing",
            Self::Undone => "undone",
        }
    }

    /// Every state, for tests and listings.
    pub const ALL: [CampaignState; 9] = [
        Self::Draft,
        Self::Previewed,
        Self::Approved,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Aborted,
        Self::Undoing,
        Self::Undone,
    ];

    /// Whether accounts may be reset in this state.
    pub fn applies(self) -> bool {
        self == Self::Running
    }
}

impl fmt::Display for CampaignState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CampaignState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown campaign state {s:?}"))
    }
}

/// Who acts on a campaign: the audit log's [`Actor`](crate::audit::Actor) (an
/// operator, or Gatehouse itself; an account never acts on a campaign).
pub use crate::audit::Actor;

/// What an operator (or the worker) asks of a campaign once it is approved, as
/// the CLI, the API and the console name it. Parsed once, at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignCommand {
    /// Begin applying (stage 0).
    Start,
    /// Stop applying until resumed.
    Pause,
    /// Go on after a pause.
    Resume,
    /// Stop for good.
    Abort,
}

impl CampaignCommand {
    /// The name the CLI and the API use (stored in the audit detail).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Abort => "abort",
        }
    }

    /// The state machine's command.
    pub fn command(self) -> Command {
        match self {
            Self::Start => Command::Start,
            Self::Pause => Command::Pause,
            Self::Resume => Command::Resume,
            Self::Abort => Command::Abort,
        }
    }
}

impl FromStr for CampaignCommand {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "start" => Ok(Self::Start),
            "pause" => Ok(Self::Pause),
            "resume" => Ok(Self::Resume),
            "abort" => Ok(Self::Abort),
            other => Err(format!(
                "unknown command {other:?}: start, pause, resume or abort"
            )),
        }
    }
}

/// What is asked of a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Freeze the target set: `snapshot` is the hash of the sorted account ids,
    /// `size` their number. Allowed again while not yet running: a new snapshot
    /// drops every approval.
    Preview {
        /// Hash of the frozen target set.
        snapshot: [u8; 32],
        /// Accounts in it.
        size: u64,
    },
    /// Approve the previewed snapshot `snapshot`.
    Approve {
        /// Who approves.
        by: Actor,
        /// The snapshot they saw (must be the frozen one).
        snapshot: [u8; 32],
    },
    /// Begin applying.
    Start,
    /// Stop applying for now.
    Pause,
    /// Go on applying.
    Resume,
    /// Every target applied.
    Complete,
    /// Stop for good.
    Abort,
    /// Begin restoring what was applied.
    BeginUndo,
    /// Everything restorable was restored.
    FinishUndo,
}

/// The facts the state machine decides on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// Current state.
    pub state: CampaignState,
    /// Who created it.
    pub created_by: Actor,
    /// The frozen target set's hash and size, once previewed.
    pub snapshot: Option<([u8; 32], u64)>,
    /// Whether the frozen set needs a second operator's approval.
    pub needs_second_approval: bool,
    /// Who approved the current snapshot.
    pub approved_by: Option<Actor>,
    /// Accounts applied so far.
    pub applied: u64,
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not allowed from this state.
    #[error("a campaign that is {state} cannot {command}")]
    WrongState {
        /// Current state.
        state: CampaignState,
        /// What was asked.
        command: &'static str,
    },
    /// An empty target set is never read as "all".
    #[error(
        "the target set is empty: a campaign needs at least one account (an empty set never means all)"
    )]
    EmptyTargets,
    /// The creator approving their own campaign.
    #[error("nobody approves their own campaign: another operator must approve it")]
    SelfApproval,
    /// Approval of a snapshot that is not the frozen one.
    #[error("the target set changed since it was previewed: preview it again, then approve")]
    StaleSnapshot,
    /// Starting without the approval the size requires.
    #[error("this campaign needs a second operator's approval before it starts")]
    NeedsApproval,
    /// Only a person approves; the system does not approve what needs a person.
    #[error("only an operator can approve a campaign that needs a second approval")]
    SystemCannotApprove,
    /// Undo of a campaign that applied nothing.
    #[error("nothing to undo: the campaign reset no account")]
    NothingToUndo,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Preview { .. } => "be previewed",
            Self::Approve { .. } => "be approved",
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Complete => "complete",
            Self::Abort => "be aborted",
            Self::BeginUndo => "be undone",
            Self::FinishUndo => "finish undoing",
        }
    }
}

impl Campaign {
    /// A new draft.
    pub fn draft(created_by: Actor) -> Self {
        Campaign {
            state: CampaignState::Draft,
            created_by,
            snapshot: None,
            needs_second_approval: false,
            approved_by: None,
            applied: 0,
        }
    }

    /// The campaign after `cmd`, or why not. `needs_second_approval` (for a
    /// preview) comes from [`ApprovalPolicy::needs_second_approval`]; a preview
    /// that does not need it is approved by policy at once.
    pub fn apply(&self, cmd: &Command, needs_second_approval: bool) -> Result<Campaign, Refusal> {
        use CampaignState as S;
        let wrong = || Refusal::WrongState {
            state: self.state,
            command: cmd.name(),
        };
        let mut next = self.clone();
        match cmd {
            Command::Preview { snapshot, size } => {
                if !matches!(self.state, S::Draft | S::Previewed | S::Approved) {
                    return Err(wrong());
                }
                if *size == 0 {
                    return Err(Refusal::EmptyTargets);
                }
                next.snapshot = Some((*snapshot, *size));
                next.needs_second_approval = needs_second_approval;
                next.approved_by = None;
                next.state = if needs_second_approval {
                    S::Previewed
                } else {
                    S::Approved
                };
            }
            Command::Approve { by, snapshot } => {
                if self.state != S::Previewed {
                    return Err(wrong());
                }
                if self.snapshot.map(|s| s.0) != Some(*snapshot) {
                    return Err(Refusal::StaleSnapshot);
                }
                if !by.is_operator() {
                    return Err(Refusal::SystemCannotApprove);
                }
                if *by == self.created_by {
                    return Err(Refusal::SelfApproval);
                }
                next.approved_by = Some(by.clone());
                next.state = S::Approved;
            }
            Command::Start => match self.state {
                S::Approved => next.state = S::Running,
                S::Previewed => return Err(Refusal::NeedsApproval),
                _ => return Err(wrong()),
            },
            Command::Pause => {
                if self.state != S::Running {
                    return Err(wrong());
                }
                next.state = S::Paused;
            }
            Command::Resume => {
                if self.state != S::Paused {
                    return Err(wrong());
                }
                next.state = S::Running;
            }
            Command::Complete => {
                if self.state != S::Running {
                    return Err(wrong());
                }
                next.state = S::Completed;
            }
            Command::Abort => {
                if !matches!(
                    self.state,
                    S::Draft | S::Previewed | S::Approved | S::Running | S::Paused
                ) {
                    return Err(wrong());
                }
                next.state = S::Aborted;
            }
            Command::BeginUndo => {
                if !matches!(
                    self.state,
                    S::Running | S::Paused | S::Completed | S::Aborted
                ) {
                    return Err(wrong());
                }
                if self.applied == 0 {
                    return Err(Refusal::NothingToUndo);
                }
                next.state = S::Undoing;
            }
            Command::FinishUndo => {
                if self.state != S::Undoing {
                    return Err(wrong());
                }
                next.state = S::Undone;
            }
        }
        Ok(next)
    }
}

/// When a campaign needs a second operator (defaults from the issue: more than
/// 10× the normal daily volume, more than 0.1 % of active accounts, or more than
/// 1,000 accounts — any one is enough).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct ApprovalPolicy {
    /// Multiple of the normal daily volume of forced resets.
    pub max_multiple_of_normal: f64,
    /// Share of active accounts, `0..=1`.
    pub max_share_of_active: f64,
    pub max_accounts: u64,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            max_multiple_of_normal: 10.0,
            max_share_of_active: 0.001,
            max_accounts: 1000,
        }
    }
}

impl ApprovalPolicy {
    /// Whether `size` targets need a second operator, given the normal daily
    /// volume of forced resets and the number of active accounts. A normal
    /// volume of zero counts as one (a first campaign of 20 is 20× normal).
    pub fn needs_second_approval(
        &self,
        size: u64,
        normal_daily: f64,
        active_accounts: u64,
    ) -> bool {
        let multiple = size as f64 / normal_daily.max(1.0);
        let share = if active_accounts == 0 {
            1.0
        } else {
            size as f64 / active_accounts as f64
        };
        size > self.max_accounts
            || multiple > self.max_multiple_of_normal
            || share > self.max_share_of_active
    }
}

/// How a campaign is split into stages: default 1 % → 10 % → 100 %, each stage at
/// least `min_stage` accounts (so a small campaign is not a string of one-account
/// stages).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StagePlan {
    /// Cumulative fractions of the target set, increasing, the last 1.0.
    pub fractions: Vec<f64>,
    /// Smallest stage (except when fewer accounts are left).
    pub min_stage: u64,
}

impl Default for StagePlan {
    fn default() -> Self {
        StagePlan {
            fractions: vec![0.01, 0.10, 1.0],
            min_stage: 10,
        }
    }
}

impl StagePlan {
    /// Checks the plan: fractions in `(0, 1]`, strictly increasing, ending at 1.
    pub fn validate(&self) -> Result<(), String> {
        if self.fractions.last() != Some(&1.0) {
            return Err("stage fractions must end at 1.0 (the whole target set)".into());
        }
        if self.fractions.iter().any(|f| !(*f > 0.0 && *f <= 1.0)) {
            return Err("stage fractions must be above 0 and at most 1".into());
        }
        if self.fractions.windows(2).any(|w| w[0] >= w[1]) {
            return Err("stage fractions must increase".into());
        }
        Ok(())
    }

    /// The cumulative number of accounts applied at the end of each stage, for
    /// `total` targets: increasing, the last equal to `total`; stages smaller
    /// than `min_stage` merge into the next.
    pub fn boundaries(&self, total: u64) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for f in &self.fractions {
            let end = ((total as f64 * f).ceil() as u64).min(total);
            let start = out.last().copied().unwrap_or(0);
            if end > start && (end - start >= self.min_stage || end == total) {
                out.push(end);
            }
        }
        if out.last() != Some(&total) && total > 0 {
            out.push(total);
        }
        out
    }
}

/// The reset budget's size: per hour and per day, the larger of a floor and a
/// multiple of the normal volume (median daily forced resets over 30 days).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetPolicy {
    /// Resets per hour allowed whatever the history.
    pub hourly_floor: u64,
    /// Resets per day allowed whatever the history.
    pub daily_floor: u64,
    /// Multiple of the normal daily volume allowed per day (per hour: a 24th of it).
    pub multiple_of_normal: f64,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        BudgetPolicy {
            hourly_floor: 50,
            daily_floor: 100,
            multiple_of_normal: 3.0,
        }
    }
}

impl BudgetPolicy {
    /// `(per hour, per day)` given the normal daily volume.
    pub fn limits(&self, normal_daily: f64) -> (u64, u64) {
        let daily = (normal_daily.max(0.0) * self.multiple_of_normal).ceil() as u64;
        let hourly = (daily as f64 / 24.0).ceil() as u64;
        (hourly.max(self.hourly_floor), daily.max(self.daily_floor))
    }
}

/// The recovery-completion health gate: among a campaign's people whose
/// forced-reset notice was delivered long enough ago, too few setting a new
/// password means the mail is probably not reaching them, or looks like
/// phishing — widening the campaign would only make that worse.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryGate {
    /// Smallest sample (notices delivered at least `min_age` ago) the gate judges;
    /// below it, the gate passes (too few to tell).
    pub min_sample: u64,
    /// Least share of that sample, `0..=1`, that must have set a new password.
    pub min_share: f64,
    /// How long ago a notice must have been delivered to count, in seconds
    /// (at least; a campaign's bake time counts when longer), so people had
    /// time to read it.
    pub min_age_secs: u64,
}

impl Default for RecoveryGate {
    fn default() -> Self {
        RecoveryGate {
            min_sample: 50,
            min_share: 0.01,
            min_age_secs: 600,
        }
    }
}

impl RecoveryGate {
    /// How long ago a notice must have been delivered to count, for a campaign
    /// baking `bake_secs` between stages.
    pub fn age_secs(&self, bake_secs: u64) -> u64 {
        bake_secs.max(self.min_age_secs)
    }

    /// Why the gate fails for `completed` of `sample` people, or `None` if it
    /// passes (a sample below `min_sample` always passes: too few to tell).
    pub fn failure(&self, sample: u64, completed: u64) -> Option<String> {
        if sample == 0 || sample < self.min_sample {
            return None;
        }
        let share = completed as f64 / sample as f64;
        (share < self.min_share).then(|| {
            format!(
                "health gate: only {completed} of {sample} people whose forced-reset notice was delivered \
                 set a new password ({:.1}% < {}%): the mail may not be reaching them, or may look like phishing",
                share * 100.0,
                self.min_share * 100.0
            )
        })
    }
}

#[cfg(test)]
mod tests;
