//! Gatehouse's domain core.
//!
//! Everything here is pure: no database, no network, no clock and no global
//! randomness. Time arrives as a [`Timestamp`] argument and randomness through
//! the [`Entropy`] trait, so policies (throttles, later budgets and breakers) are
//! tested deterministically (invariant *Pure domain*).
//!
//! Input from the outside world becomes a domain type here, once, at the edge:
//! an [`Email`] or a [`NewPassword`] is valid by construction.
#![deny(missing_docs)]

pub mod audit;
pub mod campaign;
pub mod credential;
pub mod email;
pub mod entropy;
pub mod finding;
pub mod guardrail;
pub mod ids;
pub mod login_event;
pub mod notice;
pub mod oidc;
pub mod password;
pub mod session;
pub mod status;
pub mod text;
pub mod throttle;
pub mod time;
pub mod token;

pub use credential::{CredentialState, HashScheme};
pub use email::{Email, EmailError};
pub use entropy::{Clock, Entropy, OsEntropy, SystemClock};
pub use ids::{AccountId, CampaignId, NoticeId, OperatorId, RecoveryId, SessionId};
pub use notice::{NoticeKind, RecoveryCode, Reference};
pub use password::{LoginPassword, NewPassword, PasswordError, PasswordPolicy};
pub use session::SessionState;
pub use time::Timestamp;
pub use token::{
    ApiKey, RecoveryToken, SessionToken, StatusConfirmToken, TokenError, TokenHash,
    UnsubscribeToken, console_csrf_token, csrf_matches,
};
