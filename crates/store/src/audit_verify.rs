//! Walks the audit log and checks its hash chain.

use gatehouse_domain::audit::{ChainFields, GENESIS, chain_hash};

use crate::{AuditStore, Result};

/// The outcome of a chain walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainReport {
    /// Every entry's hash follows from its predecessor; `entries` were checked.
    Intact {
        /// Entries checked.
        entries: i64,
    },
    /// The first entry that does not fit, and why.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Recomputes every entry's hash from the start of the log.
pub async fn verify_audit_chain(store: &(dyn AuditStore + Sync)) -> Result<ChainReport> {
    const PAGE: i64 = 1000;
    let mut prev = GENESIS;
    let mut expected_seq = 1;
    loop {
        let page = store.audit_entries(expected_seq - 1, PAGE).await?;
        for e in &page {
            if e.seq != expected_seq {
                return Ok(ChainReport::Broken {
                    seq: expected_seq,
                    reason: format!("entry {expected_seq} is missing (next is {})", e.seq),
                });
            }
            let computed = chain_hash(
                &prev,
                &ChainFields {
                    seq: e.seq,
                    at: e.at.as_millis(),
                    actor_kind: &e.actor_kind,
                    actor_id: e.actor_id.as_deref(),
                    action: &e.action,
                    target: e.target.as_deref(),
                    ip: e.ip.as_deref(),
                    detail: &e.detail,
                },
            );
            if hex::encode(computed) != e.hash {
                return Ok(ChainReport::Broken {
                    seq: e.seq,
                    reason:
                        "its hash does not match its content and predecessor (edited or reordered)"
                            .into(),
                });
            }
            prev = computed;
            expected_seq += 1;
        }
        if (page.len() as i64) < PAGE {
            return Ok(ChainReport::Intact {
                entries: expected_seq - 1,
            });
        }
    }
}
