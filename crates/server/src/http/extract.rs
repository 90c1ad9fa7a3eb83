//! Extractors: who is calling, from where, and the typed id in the path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use gatehouse_domain::{AccountId, CampaignId, NoticeId, OperatorId, SessionId};
use gatehouse_store::Operator;

use crate::app::{App, AppError, Authenticated, Client};
use crate::http::cookies;

const MAX_USER_AGENT: usize = 256;

/// The client's address: the TCP peer, or — only when the peer is a
/// configured trusted proxy — the rightmost untrusted `X-Forwarded-For` entry.
pub fn client_ip(
    peer: Option<IpAddr>,
    xff: Option<&str>,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(xff) = xff else { return Some(peer) };
    let hops: Option<Vec<IpAddr>> = xff.split(',').map(|s| s.trim().parse().ok()).collect();
    let Some(hops) = hops else { return Some(peer) };
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .or(Some(peer))
}

impl FromRequestParts<Arc<App>> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let xff = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let ip = client_ip(peer, xff, &app.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                let mut end = ua.len().min(MAX_USER_AGENT);
                while !ua.is_char_boundary(end) {
                    end -= 1;
                }
                ua[..end].to_owned()
            });
        Ok(Client { ip, user_agent })
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A request authenticated by a session: `Authorization: Bearer` or the session cookie.
pub struct CurrentUser(pub Authenticated);

impl FromRequestParts<Arc<App>> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(parts) {
            return app.authenticate(token).await.map(Self);
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let cookie = jar
            .get(cookies::session_cookie_name(&app.config))
            .ok_or(AppError::Unauthenticated)?;
        app.authenticate(cookie.value()).await.map(Self)
    }
}

/// A request authenticated by an operator API key.
pub struct OperatorAuth(pub Operator);

impl FromRequestParts<Arc<App>> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts).ok_or(AppError::Unauthenticated)?;
        app.authenticate_operator(key).await.map(Self)
    }
}

/// The path's `{id}`, parsed once, here, as a `T`. A segment that is not such
/// an id is refused with [`PathId::invalid`], in the error shape of
/// `http::error` (the console wraps this in its own page extractor).
///
/// Put it after the extractor that authenticates, so that an unauthenticated
/// caller learns nothing from the answer.
pub struct IdPath<T>(pub T);

/// An id type that routes take as `{id}`.
pub trait PathId: std::str::FromStr {
    /// What the id names, for "… not found".
    const NOUN: &'static str;

    /// The answer to a path segment that is not such an id: by default the
    /// 404 of an id that does not exist (a malformed id names nothing).
    fn invalid() -> AppError {
        AppError::NotFound(Self::NOUN)
    }
}

impl PathId for CampaignId {
    const NOUN: &'static str = "campaign";
}

impl PathId for SessionId {
    const NOUN: &'static str = "session";
}

impl PathId for OperatorId {
    const NOUN: &'static str = "operator";
}

impl PathId for AccountId {
    const NOUN: &'static str = "account";
}

impl PathId for NoticeId {
    const NOUN: &'static str = "notice";

    /// The outbox retry has always answered 400 for this.
    fn invalid() -> AppError {
        AppError::Invalid {
            field: "id",
            message: "not a notice id".into(),
        }
    }
}

/// A status-page incident's id (the store numbers incidents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncidentId(pub i64);

impl std::str::FromStr for IncidentId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

impl PathId for IncidentId {
    const NOUN: &'static str = "incident";

    /// The status API has always answered 400 for this (once as text from
    /// axum's `Path<i64>`; now in the JSON error shape).
    fn invalid() -> AppError {
        AppError::Invalid {
            field: "id",
            message: "not an incident id".into(),
        }
    }
}

impl<S: Send + Sync, T: PathId> FromRequestParts<S> for IdPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Not valid UTF-8 after percent-decoding: not an id either.
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| T::invalid())?;
        let Some((_, raw)) = params.iter().find(|(name, _)| *name == "id") else {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "IdPath on a route without {{id}}: {}",
                parts.uri.path()
            )));
        };
        raw.parse().map(Self).map_err(|_| T::invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(Some(ip("203.0.113.5")), Some("1.2.3.4"), &trusted),
            Some(ip("203.0.113.5"))
        );
        // Trusted peer: the rightmost untrusted hop is the client.
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.2")),
                Some("1.2.3.4, 198.51.100.7, 10.0.0.9"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        // Malformed header: fall back to the peer.
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), Some("evil, 1.2.3.4"), &trusted),
            Some(ip("10.0.0.2"))
        );
        // No proxies configured (the default): never trusted.
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), Some("1.2.3.4"), &[]),
            Some(ip("10.0.0.2"))
        );
    }

    /// A path segment that is not an id gets the JSON error shape, with the
    /// status each API answered before ids were parsed here.
    #[tokio::test]
    async fn id_path_refuses_malformed_ids_in_the_error_shape() {
        use axum::body::Body;
        use axum::http::{Request, StatusCode};
        use axum::routing::get;
        use tower::ServiceExt as _;

        async fn campaign(IdPath(id): IdPath<CampaignId>) -> String {
            id.to_string()
        }
        async fn incident(IdPath(IncidentId(id)): IdPath<IncidentId>) -> String {
            id.to_string()
        }
        async fn notice(IdPath(id): IdPath<NoticeId>) -> String {
            id.to_string()
        }
        let router = axum::Router::new()
            .route("/campaigns/{id}", get(campaign))
            .route("/incidents/{id}/publish", get(incident))
            .route("/outbox/{id}", get(notice));
        let call = |uri: String| {
            let router = router.clone();
            async move {
                let res = router
                    .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = res.status();
                let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                    .await
                    .unwrap();
                (status, body)
            }
        };
        let json = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap();

        let id: CampaignId = "0190a5e8-7d2e-7c4e-9b1a-3f2d8c6e5a41".parse().unwrap();
        let (status, body) = call(format!("/campaigns/{id}")).await;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, id.to_string().as_bytes())
        );
        let (status, body) = call("/incidents/42/publish".into()).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"42"[..]));

        let (status, body) = call("/campaigns/not-a-campaign".into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let e = json(&body);
        assert_eq!(e["error"]["code"], "not_found", "{e}");
        assert_eq!(e["error"]["message"], "campaign not found", "{e}");

        for uri in ["/incidents/abc/publish", "/outbox/%FF"] {
            let (status, body) = call(uri.into()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            let e = json(&body);
            assert_eq!(e["error"]["code"], "invalid_input", "{uri}: {e}");
            assert_eq!(e["error"]["field"], "id", "{uri}: {e}");
        }
    }
}
