use std::time::Duration;

use gatehouse_domain::{EmailError, PasswordError};
use gatehouse_store::StoreError;

use super::hashing::Overloaded;

/// Why a use case did not succeed. `http::error` maps each to a status and code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that cannot be used; says which field and why.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Input that cannot be used, where no one field is at fault (a store
    /// refusal that [`store_invalid_field`] does not know).
    #[error("{0}")]
    InvalidRequest(String),
    /// Wrong password, unknown account, or a password a forced reset suspended
    /// (right or wrong): deliberately indistinguishable.
    #[error(
        "the e-mail address or password is not correct (if we e-mailed you to choose a new password, use password recovery)"
    )]
    InvalidCredentials,
    /// The current password given for a change is wrong.
    #[error("the current password is not correct")]
    WrongCurrentPassword,
    /// Too many failures: try later.
    #[error("too many attempts; try again in {} seconds", .0.as_secs().max(1))]
    Throttled(Duration),
    /// The hashing pool is saturated.
    #[error("the server is busy; try again in a moment")]
    Overloaded,
    /// A recovery code or link that does not work (wrong, used, expired, or
    /// for an address without an account: deliberately one answer).
    #[error(
        "this code does not work: it is wrong, was used already, or has expired; check it, or request a new one"
    )]
    RecoveryCodeInvalid,
    /// A new password that the breach index holds (exact tier confirmed).
    #[error("{}", super::breach::breached_message(*.approx_count))]
    BreachedPassword {
        /// The field that held it.
        field: &'static str,
        /// Lower bound of how often it was seen.
        approx_count: u64,
    },
    /// A breach check was asked for, but no index is loaded.
    #[error("breach checks are off: no breached-password index is loaded")]
    BreachIndexUnavailable,
    /// A reload of the breach index failed; the previous index stays in use.
    #[error("the breach index was not reloaded (the previous one stays in use): {0}")]
    BreachReloadFailed(String),
    /// No valid session or key.
    #[error("authentication required")]
    Unauthenticated,
    /// Not allowed.
    #[error("not allowed")]
    Forbidden,
    /// No such thing (or not yours).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Already exists, or changed meanwhile.
    #[error("{0}")]
    Conflict(&'static str),
    /// A batch of login events with more than the API takes at once.
    #[error("at most {max} events per request; this one has {got}: split it")]
    TooManyEvents {
        /// Events sent.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// Login events that cannot be stored; the batch was refused as a whole.
    #[error(
        "{} of {of} events are invalid, so none was stored: {}",
        .items.len(),
        super::events::summarize(.items)
    )]
    InvalidEvents {
        /// Events in the batch.
        of: usize,
        /// Each bad event, by index.
        items: Vec<super::events::ItemError>,
    },
    /// A campaign command its guardrails refuse (says why).
    #[error("{0}")]
    CampaignRefused(String),
    /// A rule (TOML, JSON or a stored one being edited) that cannot be used.
    #[error("{0}")]
    InvalidRule(String),
    /// Anything else: logged, shown as a generic 500.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Invalid(why) => match store_invalid_field(why) {
                Some(field) => Self::Invalid {
                    field,
                    message: why.to_owned(),
                },
                None => Self::InvalidRequest(why.to_owned()),
            },
            other => Self::Unexpected(other.into()),
        }
    }
}

/// The request field a refusal of the store is about, by its message.
///
/// `StoreError::Invalid` carries only a message, so each message the store can
/// give is listed here with its field (the store crate carrying the field itself
/// would make this table unnecessary). A message not listed is answered without
/// a field rather than with a guessed one.
fn store_invalid_field(message: &str) -> Option<&'static str> {
    const FIELDS: &[(&str, &str)] = &[
        // sql.rs, creating a campaign.
        ("a campaign needs at least one target", "targets"),
    ];
    FIELDS
        .iter()
        .find(|(start, _)| message.starts_with(start))
        .map(|&(_, field)| field)
}

impl From<Overloaded> for AppError {
    fn from(_: Overloaded) -> Self {
        Self::Overloaded
    }
}

impl AppError {
    /// An invalid e-mail field.
    pub fn email(e: EmailError) -> Self {
        Self::Invalid {
            field: "email",
            message: e.to_string(),
        }
    }

    /// An invalid password field.
    pub fn password(field: &'static str, e: PasswordError) -> Self {
        Self::Invalid {
            field,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_refusals_name_their_field_or_none() {
        let e = AppError::from(StoreError::Invalid(
            "a campaign needs at least one target; an empty set never means all",
        ));
        assert!(
            matches!(&e, AppError::Invalid { field: "targets", message } if message.contains("at least one target")),
            "{e:?}"
        );
        let e = AppError::from(StoreError::Invalid("some refusal the table does not know"));
        assert!(
            matches!(&e, AppError::InvalidRequest(m) if m == "some refusal the table does not know"),
            "{e:?}"
        );
    }
}
