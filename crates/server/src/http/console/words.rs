//! Stored states as a person reads them on console pages.
//!
//! The stored words ("previewed", "reset_required", "coalesced") are the
//! machine's vocabulary: stable, short, shared with the API and the CLI. A
//! person reading the console wants to know what the state means and what
//! happens next, so each page shows these sentences and keeps the machine
//! value beside them in a `data-state` attribute (for tests, scripts and
//! anyone who wants to match the API).

use gatehouse_domain::CredentialState;
use gatehouse_domain::campaign::CampaignState;
use gatehouse_store::{CampaignSource, NoticeState};

/// A campaign's state: what it is and what it waits for.
pub(crate) fn campaign_state(s: CampaignState) -> &'static str {
    match s {
        CampaignState::Draft => "Draft — not previewed yet",
        CampaignState::Previewed => "Previewed — waiting for approval",
        CampaignState::Approved => "Approved — waiting to be started",
        CampaignState::Running => "Running — resetting in stages",
        CampaignState::Paused => "Paused — nothing is reset until it resumes",
        CampaignState::Completed => "Completed — every account was handled",
        CampaignState::Aborted => "Aborted — stopped for good",
        CampaignState::Undoing => "Being undone — accounts are being restored",
        CampaignState::Undone => "Undone — accounts restored",
    }
}

/// Where a campaign's accounts came from.
pub(crate) fn campaign_source(s: CampaignSource) -> &'static str {
    match s {
        CampaignSource::Rule => "Findings of a rule",
        CampaignSource::List => "A list of accounts from an operator",
        CampaignSource::Account => "One account, from its console page",
    }
}

/// An account's password state.
pub(crate) fn credential_state(s: Option<CredentialState>) -> &'static str {
    match s {
        None => "No password set",
        Some(CredentialState::Active) => "In use",
        Some(CredentialState::ResetRequired) => {
            "Reset by a campaign — the owner must choose a new one"
        }
    }
}

/// A finding's status (stored as text: "shadow", "pending", "held").
pub(crate) fn finding_status(s: &str) -> String {
    match s {
        "shadow" => "Shadow — recorded only".to_owned(),
        "pending" => "Pending — handed to remediation".to_owned(),
        "held" => "Held — past the rule's daily cap, waiting for a person".to_owned(),
        // A status added later still shows, as stored.
        other => other.to_owned(),
    }
}

/// A notice's delivery state, as a plural count reads: "3 sent".
pub(crate) fn notice_state(s: NoticeState) -> &'static str {
    match s {
        NoticeState::Pending => "waiting to be sent",
        NoticeState::Sending => "being sent",
        NoticeState::Sent => "sent",
        NoticeState::Failed => "failed",
        NoticeState::Coalesced => "merged into a later notice",
        NoticeState::Expired => "expired unsent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_campaign_state_reads_as_a_sentence_not_its_stored_word() {
        for s in CampaignState::ALL {
            let words = campaign_state(s);
            assert_ne!(words, s.as_str());
            assert!(words.starts_with(char::is_uppercase), "{words}");
            assert!(!words.contains('_'), "{words}");
        }
        assert_eq!(
            campaign_state(CampaignState::Previewed),
            "Previewed — waiting for approval"
        );
    }

    #[test]
    fn other_states_have_no_underscores_either() {
        for s in NoticeState::ALL {
            assert!(!notice_state(s).contains('_'));
        }
        assert!(!credential_state(Some(CredentialState::ResetRequired)).contains('_'));
        assert_eq!(finding_status("held").split(' ').next(), Some("Held"));
        assert_eq!(finding_status("later"), "later");
    }
}
