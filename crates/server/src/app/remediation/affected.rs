//! "Was I affected?": what Gatehouse's campaigns did to the signed-in person's
//! own account — when it was reset, why in plain words, the notice's
//! reference, whether it was undone, and what to do now. Only ever for the
//! account of the session asking: nobody learns this about an address they
//! cannot sign in as (the public status page only says where to look).

use gatehouse_store::{AccountCampaign, TargetState};
use serde::Serialize;

use crate::app::{App, AppError, Authenticated};

/// At most this many campaigns are listed (newest first).
const LIMIT: i64 = 100;

/// One campaign that reset the signed-in account, as its owner reads it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MyCampaign {
    /// The campaign's id (for support requests).
    pub campaign_id: String,
    /// When the password was reset, RFC 3339.
    pub reset_at: Option<String>,
    /// Why, in plain words (what the notice said).
    pub reason: String,
    /// Who decided: `automatic` (Gatehouse's routine checks) or `operator`
    /// (the site's security team).
    pub decided_by: &'static str,
    /// The reference of the e-mail that told you (check it at `/verify`).
    pub notice_reference: Option<String>,
    /// Where it stands now: `awaiting_new_password` (reset; set a new password
    /// with the code from the e-mail, or request a new code), `new_password_set`
    /// (you set a new password since), `restored` (the reset was undone: your
    /// previous password works again) or `undone_after_new_password` (the reset
    /// was undone, but you had already set a new password, which stays).
    pub status: &'static str,
    /// Whether the reset was undone.
    pub undone: bool,
    /// When it was undone, RFC 3339.
    pub undone_at: Option<String>,
    /// One sentence about what happened.
    pub summary: String,
    /// What to do now.
    pub what_to_do: String,
}

fn describe(c: &AccountCampaign, site: &str) -> MyCampaign {
    let when = c
        .applied_at
        .map(crate::human_time::absolute)
        .unwrap_or_else(|| "an unrecorded time".into());
    let decided_by = if c.automatic { "automatic" } else { "operator" };
    let who = if c.automatic {
        format!("{site}'s routine checks for compromised accounts")
    } else {
        format!("{site}'s security team")
    };
    let (status, summary, what_to_do) = match c.state {
        TargetState::Restored => (
            "restored",
            format!(
                "On {when}, {who} reset your password because {}. We later undid that reset: it should not have happened to your account.",
                c.reason
            ),
            "Nothing. Your previous password works again, and the sessions we paused were resumed. You can disregard the e-mail about the reset.".to_owned(),
        ),
        TargetState::NotRestorable => (
            "undone_after_new_password",
            format!(
                "On {when}, {who} reset your password because {}. We later undid that reset, but you had already set a new password by then.",
                c.reason
            ),
            "Nothing. The new password you chose stays as it is.".to_owned(),
        ),
        _ if c.password_changed_since => (
            "new_password_set",
            format!(
                "On {when}, {who} reset your password because {}. You have set a new password since.",
                c.reason
            ),
            "Nothing more is needed. If you did not set that new password yourself, recover your account at /recover and check where you are signed in below.".to_owned(),
        ),
        _ => (
            "awaiting_new_password",
            format!(
                "On {when}, {who} reset your password because {}.",
                c.reason
            ),
            "Choose a new password: type the code from our e-mail at /recover/complete, or request a new code at /recover. Check the e-mail is really ours by entering its reference at /verify.".to_owned(),
        ),
    };
    MyCampaign {
        campaign_id: c.campaign_id.to_string(),
        reset_at: c.applied_at.map(|t| t.to_rfc3339()),
        reason: c.reason.clone(),
        decided_by,
        notice_reference: c.notice_reference.clone(),
        status,
        undone: matches!(c.state, TargetState::Restored | TargetState::NotRestorable),
        undone_at: c.undone_at.map(|t| t.to_rfc3339()),
        summary,
        what_to_do,
    }
}

impl App {
    /// The campaigns that reset the signed-in account, newest first.
    pub async fn my_campaigns(&self, who: &Authenticated) -> Result<Vec<MyCampaign>, AppError> {
        Ok(self
            .store
            .account_campaigns(who.account, LIMIT)
            .await?
            .iter()
            .map(|c| describe(c, &self.config.site_name))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::Timestamp;
    use gatehouse_domain::campaign::CampaignState;

    fn target(state: TargetState, changed: bool) -> AccountCampaign {
        AccountCampaign {
            campaign_id: "00000000-0000-4000-8000-000000000001".parse().unwrap(),
            reason: "your password appeared in a list of stolen credentials".into(),
            automatic: true,
            campaign_state: CampaignState::Completed,
            state,
            applied_at: Some(Timestamp::from_millis(1_795_000_000_000)),
            notice_reference: Some("GH-AAAA-BBBB".into()),
            undone_at: None,
            password_changed_since: changed,
            awaiting_new_password: state == TargetState::Applied && !changed,
        }
    }

    #[test]
    fn each_outcome_says_what_happened_and_what_to_do() {
        let d = describe(&target(TargetState::Applied, false), "Example ID");
        assert_eq!(d.status, "awaiting_new_password");
        assert_eq!(d.decided_by, "automatic");
        assert!(
            d.summary.contains("Example ID's routine checks"),
            "{}",
            d.summary
        );
        assert!(
            d.summary.contains("because your password appeared"),
            "{}",
            d.summary
        );
        assert!(d.what_to_do.contains("/recover"), "{}", d.what_to_do);
        assert!(!d.undone);
        let d = describe(&target(TargetState::Applied, true), "Example ID");
        assert_eq!(d.status, "new_password_set");
        let d = describe(&target(TargetState::Restored, false), "Example ID");
        assert_eq!((d.status, d.undone), ("restored", true));
        assert!(d.what_to_do.contains("previous password works again"));
        let d = describe(&target(TargetState::NotRestorable, true), "Example ID");
        assert_eq!((d.status, d.undone), ("undone_after_new_password", true));
    }
}
