//! Identifiers: random (version 4) UUIDs built from injected entropy.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entropy::Entropy;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn generate(entropy: &dyn Entropy) -> Self {
                let mut bytes = [0u8; 16];
                entropy.fill(&mut bytes);
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies an end-user account.
    AccountId
);
id_type!(
    /// Identifies one login session.
    SessionId
);
id_type!(
    /// Identifies an operator (a person who runs Gatehouse).
    OperatorId
);
id_type!(
    /// Identifies one notice in the outbox.
    NoticeId
);
id_type!(
    /// Identifies one password recovery request.
    RecoveryId
);
id_type!(
    /// Identifies one remediation campaign.
    CampaignId
);
