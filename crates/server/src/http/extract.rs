//! Extractors: who is calling, from where.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
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
}
