//! Re-keying accounts stored before addresses were normalised (NFC, the domain
//! decoded from Punycode, invisible characters refused — issue 18 item 10):
//! `gatehouse accounts renormalise`. Each stored address is parsed as a new
//! one would be; an account whose address or key changes is re-keyed, unless
//! its new key is another account's too — then neither is touched and both
//! are reported: two accounts are never merged silently.

use std::collections::BTreeMap;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{AccountId, Email};
use gatehouse_store::{AccountKey, StoreError};
use serde::Serialize;

use super::super::{App, AppError};

/// One account whose stored address is not in today's form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rekey {
    /// The account.
    pub id: AccountId,
    /// Its address as stored.
    pub email: String,
    /// The address in today's form.
    pub new_email: String,
    /// Its uniqueness key in today's form.
    pub new_key: String,
}

/// Accounts that would share one key: left as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Collision {
    /// The key they would share.
    pub key: String,
    /// (id, stored address) of each.
    pub accounts: Vec<(AccountId, String)>,
}

/// What a run found and (with `apply`) did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RenormaliseReport {
    /// Accounts read.
    pub accounts: u64,
    /// Accounts re-keyed (or, in a dry run, to re-key).
    pub rekeyed: Vec<Rekey>,
    /// Accounts left alone because their new key is not theirs alone.
    pub collisions: Vec<Collision>,
    /// (id, stored address, why) of addresses that no longer parse (e.g. an
    /// invisible character): left alone, for an operator to look at.
    pub unparseable: Vec<(AccountId, String, String)>,
    /// Whether the changes were written.
    pub applied: bool,
}

impl App {
    /// Finds (and with `apply`, re-keys) accounts whose stored address or key
    /// is not what parsing the address gives today. Each re-key is one
    /// transaction with its audit entry (`account.rekeyed`, old and new
    /// address), and only if the account still has the key it was read with.
    pub async fn renormalise_accounts(&self, apply: bool) -> Result<RenormaliseReport, AppError> {
        let mut all: Vec<AccountKey> = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.account_keys(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            all.extend(page);
        }
        let mut report = RenormaliseReport {
            accounts: all.len() as u64,
            applied: apply,
            ..Default::default()
        };
        // Every account's key after the change (unchanged and unparseable
        // accounts keep theirs), to find keys that would be shared.
        let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut wanted: Vec<Option<(String, String)>> = Vec::with_capacity(all.len());
        for (i, a) in all.iter().enumerate() {
            match Email::parse(&a.email) {
                Ok(e) => {
                    by_key.entry(e.key()).or_default().push(i);
                    wanted.push(Some((e.as_str().to_owned(), e.key())));
                }
                Err(why) => {
                    by_key.entry(a.email_key.clone()).or_default().push(i);
                    report
                        .unparseable
                        .push((a.id, a.email.clone(), why.to_string()));
                    wanted.push(None);
                }
            }
        }
        let mut todo: Vec<(Rekey, String)> = Vec::new();
        for (key, ids) in &by_key {
            if ids.len() > 1 {
                report.collisions.push(Collision {
                    key: key.clone(),
                    accounts: ids
                        .iter()
                        .map(|&i| (all[i].id, all[i].email.clone()))
                        .collect(),
                });
                continue;
            }
            let a = &all[ids[0]];
            if let Some((new_email, new_key)) = &wanted[ids[0]]
                && (*new_email != a.email || *new_key != a.email_key)
            {
                let r = Rekey {
                    id: a.id,
                    email: a.email.clone(),
                    new_email: new_email.clone(),
                    new_key: new_key.clone(),
                };
                todo.push((r, a.email_key.clone()));
            }
        }
        if apply {
            // A new key may be another re-keyed account's old one: what
            // conflicts is tried again after the others moved.
            let mut pending = todo;
            loop {
                let before = pending.len();
                let mut again = Vec::new();
                for (r, old_key) in pending {
                    let mut audit = NewAuditEntry::new(
                        self.clock.now(),
                        Actor::System,
                        AuditAction::AccountRekeyed,
                    );
                    audit.target = Some(r.id.to_string());
                    audit.detail = serde_json::json!({ "from": r.email, "to": r.new_email });
                    match self
                        .store
                        .rekey_account(r.id, &old_key, &r.new_email, &r.new_key, audit)
                        .await
                    {
                        Ok(()) => report.rekeyed.push(r),
                        Err(StoreError::Conflict(_)) => again.push((r, old_key)),
                        Err(e) => return Err(e.into()),
                    }
                }
                if again.is_empty() || again.len() == before {
                    // What still conflicts collides with an account created
                    // meanwhile (or changed): reported, not merged.
                    for (r, _) in again {
                        report.collisions.push(Collision {
                            key: r.new_key.clone(),
                            accounts: vec![(r.id, r.email.clone())],
                        });
                    }
                    break;
                }
                pending = again;
            }
        } else {
            report.rekeyed = todo.into_iter().map(|(r, _)| r).collect();
        }
        Ok(report)
    }
}
