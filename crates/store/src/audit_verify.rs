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

/// [`verify_audit_chain`], then that the log still holds entry `seq` with
/// `hash` — what a checkpoint saved outside the database saw. Catches what the
/// chain alone cannot: the log cut short and its head moved back to match, or
/// rewritten from the start with every hash recomputed.
pub async fn verify_audit_chain_against(
    store: &(dyn AuditStore + Sync),
    seq: i64,
    hash: &str,
    taken_at: &str,
) -> Result<ChainReport> {
    let report = verify_audit_chain(store).await?;
    if matches!(report, ChainReport::Broken { .. }) || seq == 0 {
        return Ok(report);
    }
    let entry = store
        .audit_entries(seq - 1, 1)
        .await?
        .into_iter()
        .next()
        .filter(|e| e.seq == seq);
    Ok(match entry {
        None => ChainReport::Broken {
            seq,
            reason: format!(
                "the checkpoint of {taken_at} saw entry {seq}, which the log no longer holds (cut short)"
            ),
        },
        Some(e) if e.hash != hash => ChainReport::Broken {
            seq,
            reason: format!(
                "entry {seq} differs from the checkpoint of {taken_at}: the log was rewritten up to it"
            ),
        },
        Some(_) => report,
    })
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
            // The head the appenders keep must be the last entry: rows deleted
            // from the end (or a head moved back) leave the two apart.
            let (head_seq, head_hash) = store.audit_head().await?;
            let last = expected_seq - 1;
            if head_seq != last {
                return Ok(ChainReport::Broken {
                    seq: last + 1,
                    reason: format!(
                        "the log ends at entry {last} but its head says {head_seq} entries were \
                         written (entries removed from the end?)"
                    ),
                });
            }
            if head_hash != hex::encode(prev) {
                return Ok(ChainReport::Broken {
                    seq: last,
                    reason: "the log's head does not match its last entry".into(),
                });
            }
            return Ok(ChainReport::Intact { entries: last });
        }
    }
}
