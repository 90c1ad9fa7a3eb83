//! The campaign state machine and its policies: examples, and the guardrails
//! held for any sequence of commands (proptest).

use super::*;
use proptest::prelude::*;

const SNAP: [u8; 32] = [7; 32];

#[test]
fn commands_parse_from_their_names_only() {
    use CampaignCommand as C;
    for c in [C::Start, C::Pause, C::Resume, C::Abort] {
        assert_eq!(c.as_str().parse::<C>(), Ok(c));
    }
    let err = "approve".parse::<C>().unwrap_err();
    assert!(err.contains("start, pause, resume or abort"), "{err}");
    assert!("Start".parse::<C>().is_err());
    assert_eq!(C::Abort.command(), Command::Abort);
}

#[test]
fn recovery_gate_judges_only_a_large_enough_sample() {
    let g = RecoveryGate::default();
    // Too few to tell: passes however few completed.
    assert_eq!(g.failure(0, 0), None);
    assert_eq!(g.failure(49, 0), None);
    // Enough, and below 1 %: fails, saying why.
    let why = g.failure(50, 0).unwrap();
    assert!(why.contains("only 0 of 50"), "{why}");
    assert!(why.contains("phishing"), "{why}");
    assert!(g.failure(200, 1).is_some(), "0.5 % < 1 %");
    // At or above the share: passes.
    assert_eq!(g.failure(200, 2), None);
    assert_eq!(g.failure(50, 1), None, "2 %");
    let strict = RecoveryGate {
        min_sample: 10,
        min_share: 0.5,
        min_age_secs: 0,
    };
    assert!(strict.failure(10, 4).is_some());
    assert_eq!(strict.failure(10, 5), None);
    // The bake time counts when it is longer than the minimum age.
    assert_eq!(g.age_secs(0), 600);
    assert_eq!(g.age_secs(3600), 3600);
}
fn op(id: &str) -> Actor {
    Actor::Operator(id.into())
}
fn previewed(size: u64, needs: bool) -> Campaign {
    Campaign::draft(op("ann"))
        .apply(
            &Command::Preview {
                snapshot: SNAP,
                size,
            },
            needs,
        )
        .unwrap()
}

#[test]
fn an_empty_target_set_is_refused_never_all() {
    let c = Campaign::draft(op("ann"));
    assert_eq!(
        c.apply(
            &Command::Preview {
                snapshot: SNAP,
                size: 0
            },
            false
        ),
        Err(Refusal::EmptyTargets)
    );
}

#[test]
fn a_big_campaign_needs_another_operator() {
    let c = previewed(5000, true);
    assert_eq!(c.state, CampaignState::Previewed);
    assert_eq!(c.apply(&Command::Start, false), Err(Refusal::NeedsApproval));
    let self_approve = Command::Approve {
        by: op("ann"),
        snapshot: SNAP,
    };
    assert_eq!(c.apply(&self_approve, false), Err(Refusal::SelfApproval));
    let system = Command::Approve {
        by: Actor::System,
        snapshot: SNAP,
    };
    assert_eq!(c.apply(&system, false), Err(Refusal::SystemCannotApprove));
    let approved = c
        .apply(
            &Command::Approve {
                by: op("bob"),
                snapshot: SNAP,
            },
            false,
        )
        .unwrap();
    assert_eq!(approved.state, CampaignState::Approved);
    assert_eq!(
        approved.apply(&Command::Start, false).unwrap().state,
        CampaignState::Running
    );
}

#[test]
fn approval_binds_to_the_snapshot() {
    let c = previewed(5000, true);
    let stale = Command::Approve {
        by: op("bob"),
        snapshot: [8; 32],
    };
    assert_eq!(c.apply(&stale, false), Err(Refusal::StaleSnapshot));
    // Approved, then the set changes: a new preview drops the approval.
    let approved = c
        .apply(
            &Command::Approve {
                by: op("bob"),
                snapshot: SNAP,
            },
            false,
        )
        .unwrap();
    let again = approved
        .apply(
            &Command::Preview {
                snapshot: [9; 32],
                size: 5001,
            },
            true,
        )
        .unwrap();
    assert_eq!(again.state, CampaignState::Previewed);
    assert_eq!(again.approved_by, None);
    assert_eq!(
        again.apply(&Command::Start, false),
        Err(Refusal::NeedsApproval)
    );
}

#[test]
fn a_small_campaign_is_approved_by_policy() {
    let c = previewed(3, false);
    assert_eq!(c.state, CampaignState::Approved);
    assert_eq!(c.approved_by, None);
}

#[test]
fn the_approval_thresholds() {
    let p = ApprovalPolicy::default();
    assert!(
        !p.needs_second_approval(5, 2.0, 1_000_000),
        "5 = 2.5× normal, 0.0005 %"
    );
    assert!(
        p.needs_second_approval(1001, 1000.0, 10_000_000),
        "over 1,000 accounts"
    );
    assert!(p.needs_second_approval(21, 2.0, 1_000_000), "10.5× normal");
    assert!(
        p.needs_second_approval(11, 0.0, 1_000_000),
        "no history: 11× a normal of one"
    );
    assert!(
        p.needs_second_approval(20, 100.0, 10_000),
        "0.2 % of active accounts"
    );
}

#[test]
fn stages_default_to_one_ten_hundred_percent() {
    let p = StagePlan::default();
    assert_eq!(p.boundaries(10_000), [100, 1000, 10_000]);
    assert_eq!(
        p.boundaries(500),
        [50, 500],
        "1 % of 500 is below the minimum stage"
    );
    assert_eq!(p.boundaries(3), [3]);
    assert!(p.boundaries(0).is_empty());
    assert!(
        StagePlan {
            fractions: vec![0.5, 0.2, 1.0],
            min_stage: 1
        }
        .validate()
        .is_err()
    );
    assert!(
        StagePlan {
            fractions: vec![0.5],
            min_stage: 1
        }
        .validate()
        .is_err()
    );
}

#[test]
fn the_budget_is_the_larger_of_a_floor_and_a_multiple_of_normal() {
    let b = BudgetPolicy::default();
    assert_eq!(b.limits(0.0), (50, 100));
    assert_eq!(b.limits(1000.0), (125, 3000));
}

fn any_command() -> impl Strategy<Value = (Command, bool)> {
    let snap = prop_oneof![Just([7u8; 32]), Just([8u8; 32])];
    let actor = prop_oneof![Just(op("ann")), Just(op("bob")), Just(Actor::System)];
    (
        prop_oneof![
            (snap.clone(), 0u64..3)
                .prop_map(|(snapshot, size)| Command::Preview { snapshot, size }),
            (actor, snap).prop_map(|(by, snapshot)| Command::Approve { by, snapshot }),
            Just(Command::Start),
            Just(Command::Pause),
            Just(Command::Resume),
            Just(Command::Complete),
            Just(Command::Abort),
            Just(Command::BeginUndo),
            Just(Command::FinishUndo),
        ],
        any::<bool>(),
    )
}

proptest! {
    /// Whatever the sequence of commands: a campaign only runs after a
    /// non-empty preview and an approval of exactly that snapshot by someone
    /// other than its creator (or by policy when none was needed); finished
    /// states are never left except into undo; undo needs something applied.
    #[test]
    fn the_guardrails_hold_for_any_sequence(cmds in proptest::collection::vec(any_command(), 0..40)) {
        let mut c = Campaign::draft(op("ann"));
        for (cmd, needs) in &cmds {
            let before = c.clone();
            // `apply` takes `&self`: a refused command cannot change the campaign.
            if let Ok(next) = c.apply(cmd, *needs) {
                if next.state == CampaignState::Running && before.state != CampaignState::Running {
                    let (_, size) = next.snapshot.expect("ran without a preview");
                    prop_assert!(size > 0);
                    if next.needs_second_approval {
                        let by = next.approved_by.clone().expect("ran without approval");
                        prop_assert!(by != next.created_by && by != Actor::System);
                    }
                }
                if matches!(before.state, CampaignState::Completed | CampaignState::Aborted) {
                    prop_assert_eq!(next.state, CampaignState::Undoing);
                }
                prop_assert!(before.state != CampaignState::Undone, "undone is final");
                if next.state == CampaignState::Undoing && before.state != CampaignState::Undoing {
                    prop_assert!(before.applied > 0);
                }
                c = next;
                // Model the apply step: a running campaign resets someone.
                if c.state == CampaignState::Running {
                    c.applied += 1;
                }
            }
        }
    }
}
