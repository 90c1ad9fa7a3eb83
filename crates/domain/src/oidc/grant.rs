//! The grant state machine: codes and refresh-token families.
//!
//! A *grant* is what one authorization gave one client: its scopes, bound to
//! the Gatehouse session that signed the person in. It starts when a code is
//! redeemed and is the refresh-token *family*: each refresh rotates the token
//! (generation n → n+1) and only the newest generation is usable. The rules
//! (RFC 6749 §4.1.2 and §10.4, RFC 9700 §4.13–4.14):
//!
//! - a code is redeemed at most once, within [`CODE_LIFETIME`], by the client
//!   it was issued to, with the same redirect URI and the PKCE verifier;
//! - a code presented again is a *replay*: whatever it issued is revoked
//!   (someone else has the code, so its tokens cannot be trusted);
//! - a refresh token of an older generation presented again is a *reuse*:
//!   the whole family is revoked (the legitimate client and the thief cannot
//!   be told apart, so both lose it).
//!
//! These functions only decide; the store applies the decision in one
//! transaction with the row locked, so two concurrent redemptions cannot both
//! see "unused".

use std::time::Duration;

use super::pkce::{CodeChallenge, CodeVerifier};
use crate::time::Timestamp;

/// How long a code lives. RFC 6749 recommends at most ten minutes; a code is
/// redeemed by a server within a second of the redirect, so a minute is plenty.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Why a code or refresh token is refused (all answer `invalid_grant`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    /// No such code or token (or it is malformed).
    #[error("unknown code or token")]
    Unknown,
    /// Past its lifetime.
    #[error("expired")]
    Expired,
    /// Issued to another client.
    #[error("issued to another client")]
    WrongClient,
    /// `redirect_uri` differs from the authorization request's.
    #[error("redirect_uri does not match the authorization request")]
    WrongRedirect,
    /// The PKCE verifier does not hash to the challenge.
    #[error("code_verifier does not match the code_challenge")]
    PkceMismatch,
    /// The grant was revoked (logout, revocation, replay, reuse).
    #[error("the grant was revoked")]
    Revoked,
    /// The Gatehouse session behind the grant is not active.
    #[error("the sign-in this grant belongs to has ended or is suspended")]
    SessionInactive,
    /// A code used a second time: what it issued is revoked.
    #[error("the code was already used; the tokens it issued are revoked")]
    CodeReplayed,
    /// An old refresh token used again: the family is revoked.
    #[error("the refresh token was already used; every token of this grant is revoked")]
    RefreshReused,
}

/// A stored code, as the decision needs it.
#[derive(Clone, Debug)]
pub struct CodeFacts {
    /// The client it was issued to.
    pub client_id: String,
    /// The `redirect_uri` of the authorization request.
    pub redirect_uri: String,
    /// The PKCE challenge.
    pub challenge: CodeChallenge,
    /// Issued at.
    pub created_at: Timestamp,
    /// Already redeemed at, if so.
    pub used_at: Option<Timestamp>,
}

/// A token request presenting a code.
#[derive(Clone, Debug)]
pub struct CodeRedemption<'a> {
    /// The authenticated (or, for a public client, named) client.
    pub client_id: &'a str,
    /// The request's `redirect_uri`.
    pub redirect_uri: &'a str,
    /// The request's `code_verifier`, if it parsed.
    pub verifier: Option<&'a CodeVerifier>,
    /// When.
    pub now: Timestamp,
}

/// What to do with a presented code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeDecision {
    /// Mark it used and issue tokens.
    Issue,
    /// Refuse; the code stays as it is.
    Refuse(GrantRefusal),
    /// It was used before: revoke the grant it issued, then refuse.
    RevokeIssued,
}

/// Decides a code redemption. A used code is a replay whoever presents it.
pub fn redeem_code(code: &CodeFacts, req: &CodeRedemption<'_>) -> CodeDecision {
    if code.used_at.is_some() {
        return CodeDecision::RevokeIssued;
    }
    if req.now.since(code.created_at) >= CODE_LIFETIME || req.now < code.created_at {
        return CodeDecision::Refuse(GrantRefusal::Expired);
    }
    if code.client_id != req.client_id {
        return CodeDecision::Refuse(GrantRefusal::WrongClient);
    }
    if code.redirect_uri != req.redirect_uri {
        return CodeDecision::Refuse(GrantRefusal::WrongRedirect);
    }
    match req.verifier {
        Some(v) if code.challenge.verify(v) => CodeDecision::Issue,
        _ => CodeDecision::Refuse(GrantRefusal::PkceMismatch),
    }
}

/// A stored refresh token with its grant, as the decision needs it.
#[derive(Clone, Debug)]
pub struct RefreshFacts {
    /// The grant's client.
    pub client_id: String,
    /// This token's generation in the family.
    pub generation: i64,
    /// The newest generation issued.
    pub current_generation: i64,
    /// The grant was revoked.
    pub revoked: bool,
    /// This token's expiry.
    pub expires_at: Timestamp,
    /// The grant's Gatehouse session is active now (read at refresh time, never
    /// copied: a suspended session that an undo reinstates works again).
    pub session_active: bool,
}

/// What to do with a presented refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue generation `current_generation + 1`; this one becomes old.
    Rotate,
    /// Refuse; nothing changes.
    Refuse(GrantRefusal),
    /// An old generation came back: revoke the family, then refuse.
    RevokeFamily,
}

/// Decides a refresh.
pub fn refresh(token: &RefreshFacts, client_id: &str, now: Timestamp) -> RefreshDecision {
    if token.client_id != client_id {
        // Not evidence against the family's owner (the presenter may simply
        // have the wrong token), so refuse without revoking.
        return RefreshDecision::Refuse(GrantRefusal::WrongClient);
    }
    if token.revoked {
        return RefreshDecision::Refuse(GrantRefusal::Revoked);
    }
    if token.generation < token.current_generation {
        return RefreshDecision::RevokeFamily;
    }
    if now >= token.expires_at {
        return RefreshDecision::Refuse(GrantRefusal::Expired);
    }
    if !token.session_active {
        return RefreshDecision::Refuse(GrantRefusal::SessionInactive);
    }
    RefreshDecision::Rotate
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn verifier(c: char) -> CodeVerifier {
        CodeVerifier::parse(&c.to_string().repeat(43)).unwrap()
    }

    fn code(at: i64) -> CodeFacts {
        CodeFacts {
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            challenge: verifier('a').challenge(),
            created_at: Timestamp::from_millis(at),
            used_at: None,
        }
    }

    #[test]
    fn a_code_is_bound_to_client_redirect_verifier_and_a_minute() {
        let c = code(0);
        let v = verifier('a');
        let ok = CodeRedemption {
            client_id: "app",
            redirect_uri: "https://app.example/cb",
            verifier: Some(&v),
            now: Timestamp::from_millis(59_999),
        };
        assert_eq!(redeem_code(&c, &ok), CodeDecision::Issue);
        let late = CodeRedemption {
            now: Timestamp::from_millis(60_000),
            ..ok.clone()
        };
        assert_eq!(
            redeem_code(&c, &late),
            CodeDecision::Refuse(GrantRefusal::Expired)
        );
        let other = CodeRedemption {
            client_id: "other",
            ..ok.clone()
        };
        assert_eq!(
            redeem_code(&c, &other),
            CodeDecision::Refuse(GrantRefusal::WrongClient)
        );
        let redirect = CodeRedemption {
            redirect_uri: "https://app.example/cb/",
            ..ok.clone()
        };
        assert_eq!(
            redeem_code(&c, &redirect),
            CodeDecision::Refuse(GrantRefusal::WrongRedirect)
        );
        let w = verifier('b');
        let wrong = CodeRedemption {
            verifier: Some(&w),
            ..ok.clone()
        };
        assert_eq!(
            redeem_code(&c, &wrong),
            CodeDecision::Refuse(GrantRefusal::PkceMismatch)
        );
        let none = CodeRedemption {
            verifier: None,
            ..ok.clone()
        };
        assert_eq!(
            redeem_code(&c, &none),
            CodeDecision::Refuse(GrantRefusal::PkceMismatch)
        );
        let used = CodeFacts {
            used_at: Some(Timestamp::from_millis(1)),
            ..c
        };
        assert_eq!(redeem_code(&used, &ok), CodeDecision::RevokeIssued);
    }

    /// A model of the store applying the decisions: one code, one family.
    #[derive(Debug, Default)]
    struct Model {
        code_used: bool,
        issued_by_code: bool,
        current: i64,
        revoked: bool,
        issued_tokens: Vec<i64>,
    }

    #[derive(Debug, Clone)]
    enum Step {
        RedeemCode,
        Refresh(usize),
        SessionActive(bool),
        Clock(u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::RedeemCode),
            (0usize..8).prop_map(Step::Refresh),
            any::<bool>().prop_map(Step::SessionActive),
            (0u32..30_000).prop_map(Step::Clock),
        ]
    }

    proptest! {
        /// Over any sequence: the code issues at most once; a replay revokes;
        /// each generation rotates at most once; after a reuse nothing works.
        #[test]
        fn codes_and_families_hold_their_rules(steps in proptest::collection::vec(step(), 1..40)) {
            let mut m = Model::default();
            let mut now = 0i64;
            let mut session = true;
            let v = verifier('a');
            let c0 = code(0);
            let mut rotated_from: Vec<i64> = Vec::new();
            for s in steps {
                match s {
                    Step::Clock(ms) => now += i64::from(ms),
                    Step::SessionActive(a) => session = a,
                    Step::RedeemCode => {
                        let facts = CodeFacts { used_at: m.code_used.then_some(Timestamp::from_millis(0)), ..c0.clone() };
                        let req = CodeRedemption { client_id: "app", redirect_uri: "https://app.example/cb", verifier: Some(&v), now: Timestamp::from_millis(now) };
                        match redeem_code(&facts, &req) {
                            CodeDecision::Issue => {
                                prop_assert!(!m.issued_by_code, "a code issued twice");
                                prop_assert!(now < 60_000);
                                m.code_used = true;
                                m.issued_by_code = true;
                                m.issued_tokens.push(0);
                            }
                            CodeDecision::RevokeIssued => {
                                prop_assert!(m.code_used);
                                m.revoked = true;
                            }
                            CodeDecision::Refuse(r) => prop_assert_eq!(r, GrantRefusal::Expired),
                        }
                    }
                    Step::Refresh(i) => {
                        let Some(&generation) = m.issued_tokens.get(i) else { continue };
                        let facts = RefreshFacts {
                            client_id: "app".into(),
                            generation,
                            current_generation: m.current,
                            revoked: m.revoked,
                            expires_at: Timestamp::from_millis(i64::MAX),
                            session_active: session,
                        };
                        match refresh(&facts, "app", Timestamp::from_millis(now)) {
                            RefreshDecision::Rotate => {
                                prop_assert!(!m.revoked && session);
                                prop_assert!(!rotated_from.contains(&generation), "generation {} rotated twice", generation);
                                prop_assert_eq!(generation, m.current);
                                rotated_from.push(generation);
                                m.current += 1;
                                m.issued_tokens.push(m.current);
                            }
                            RefreshDecision::RevokeFamily => {
                                prop_assert!(generation < m.current);
                                m.revoked = true;
                            }
                            RefreshDecision::Refuse(_) => {}
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refresh_rules() {
        let t = RefreshFacts {
            client_id: "app".into(),
            generation: 2,
            current_generation: 2,
            revoked: false,
            expires_at: Timestamp::from_millis(100),
            session_active: true,
        };
        let now = Timestamp::from_millis(50);
        assert_eq!(refresh(&t, "app", now), RefreshDecision::Rotate);
        assert_eq!(
            refresh(&t, "other", now),
            RefreshDecision::Refuse(GrantRefusal::WrongClient)
        );
        let old = RefreshFacts {
            generation: 1,
            ..t.clone()
        };
        assert_eq!(refresh(&old, "app", now), RefreshDecision::RevokeFamily);
        let suspended = RefreshFacts {
            session_active: false,
            ..t.clone()
        };
        assert_eq!(
            refresh(&suspended, "app", now),
            RefreshDecision::Refuse(GrantRefusal::SessionInactive)
        );
        assert_eq!(
            refresh(&t, "app", Timestamp::from_millis(100)),
            RefreshDecision::Refuse(GrantRefusal::Expired)
        );
        let revoked = RefreshFacts { revoked: true, ..t };
        assert_eq!(
            refresh(&revoked, "app", now),
            RefreshDecision::Refuse(GrantRefusal::Revoked)
        );
    }
}
