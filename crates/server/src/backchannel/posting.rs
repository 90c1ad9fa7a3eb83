//! The sender's POSTs: HTTP/1.1 over keep-alive connections it keeps itself,
//! one request at a time on each, as the minimal client of issue 17's
//! baseline does.
//!
//! Why not reqwest for every POST: to a local receiver a POST takes a few
//! microseconds, and reqwest's layers per request (parsing the URL, merging
//! default headers, its pool's checkout, proxy matching, the redirect policy,
//! a decoder around the answer) cost as much again. The sender needs none of
//! them: every row of a receiver goes to the one URI the claim names, it
//! follows no redirect (Back-Channel Logout §2.5: the token goes to the
//! registered URI only), and it reads nothing of the answer but the status.
//! reqwest stays for a replica behind a proxy (`HTTP_PROXY`, `HTTPS_PROXY`
//! or `ALL_PROXY` set), which it knows how to use.
//!
//! `https` receivers get rustls with the ring provider and the Mozilla roots
//! (webpki-roots), as reqwest was configured; ALPN offers HTTP/1.1 only.
//!
//! A kept connection the receiver closed meanwhile (its idle timeout) is
//! found out only when it is used: a POST that fails on a kept connection is
//! sent once more on a new one, within the same timeout. Sending a token
//! twice is what the outbox allows anyway (at least once, the same `jti`),
//! and a receiver drops the repeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT,
};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Conn = SendRequest<Full<Bytes>>;

/// How long an unused connection is kept for the next POST.
const IDLE_FOR: Duration = Duration::from_secs(60);
/// Unused connections kept per origin (the most POSTs a receiver has in
/// flight: `backchannel_concurrency` is at most 64).
const IDLE_MAX: usize = 64;
/// The most of an answer read so that its connection can carry the next
/// POST; a longer answer's connection is closed (its status still counts).
const ANSWER_MAX: usize = 64 * 1024;
const AGENT: &str = concat!("Gatehouse/", env!("CARGO_PKG_VERSION"));

/// One POST.
pub(super) struct Post<'a> {
    pub uri: &'a str,
    pub content_type: &'static str,
    pub accept: Option<&'static str>,
    pub authorization: Option<&'a str>,
    pub body: Bytes,
}

/// Why a POST got no answer.
#[derive(Debug)]
pub(super) enum PostError {
    /// No answer within the timeout (connecting included).
    Timeout,
    /// Could not connect, or the connection failed (the text says how).
    Unreachable(String),
}

/// Where a connection goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    /// As in the URI (an IPv6 address in brackets).
    host: String,
    port: u16,
    /// The `Host` header: the URI's host, and its port when it names one.
    header: HeaderValue,
}

impl Origin {
    fn of(uri: &http::Uri) -> Result<Self, PostError> {
        let bad = |why: &str| PostError::Unreachable(format!("the URI {why}"));
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("is neither http nor https")),
        };
        let host = uri.host().ok_or_else(|| bad("has no host"))?;
        let header = match uri.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Self {
            https,
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            header: HeaderValue::from_str(&header).map_err(|_| bad("has an invalid host"))?,
        })
    }
}

/// The sender's HTTP client (one per sender, shared by the receivers' tasks).
pub(super) struct Poster {
    timeout: Duration,
    tls: tokio_rustls::TlsConnector,
    idle: Mutex<HashMap<Origin, Vec<(Conn, Instant)>>>,
    /// Set when the environment names a proxy: every POST goes through it.
    proxied: Option<reqwest::Client>,
}

impl Poster {
    /// A client whose every POST (connecting included) ends within `timeout`.
    pub(super) fn new(timeout: Duration) -> anyhow::Result<Self> {
        let proxy_set = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"].iter().any(|v| {
            [v.to_string(), v.to_lowercase()]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
        });
        let proxied = if proxy_set {
            Some(
                reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(AGENT)
                    .build()?,
            )
        } else {
            None
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            timeout,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            idle: Mutex::new(HashMap::new()),
            proxied,
        })
    }

    /// POSTs and returns the answer's status.
    pub(super) async fn post(&self, p: Post<'_>) -> Result<http::StatusCode, PostError> {
        if let Some(client) = &self.proxied {
            return through_proxy(client, p).await;
        }
        let uri: http::Uri = p
            .uri
            .parse()
            .map_err(|e| PostError::Unreachable(format!("the URI is invalid: {e}")))?;
        let origin = Origin::of(&uri)?;
        let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let mut b = http::Request::post(path)
            .header(HOST, origin.header.clone())
            .header(CONTENT_TYPE, p.content_type)
            .header(USER_AGENT, AGENT)
            .header(CACHE_CONTROL, "no-store");
        if let Some(accept) = p.accept {
            b = b.header(ACCEPT, accept);
        }
        if let Some(auth) = p.authorization {
            b = b.header(AUTHORIZATION, auth);
        }
        let request = b
            .body(Full::new(p.body))
            .map_err(|e| PostError::Unreachable(format!("cannot build the request: {e}")))?;
        tokio::time::timeout(self.timeout, self.send(&origin, request))
            .await
            .unwrap_or(Err(PostError::Timeout))
    }

    async fn send(
        &self,
        origin: &Origin,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::StatusCode, PostError> {
        let request = match self.take_idle(origin) {
            Some(conn) => {
                let again = copy(&request);
                match self.round_trip(origin, conn, request).await {
                    Ok(status) => return Ok(status),
                    // Closed by the receiver while kept: once more, anew.
                    Err(_) => again,
                }
            }
            None => request,
        };
        let conn = self.connect(origin).await?;
        self.round_trip(origin, conn, request)
            .await
            .map_err(PostError::Unreachable)
    }

    async fn round_trip(
        &self,
        origin: &Origin,
        mut conn: Conn,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::StatusCode, String> {
        conn.ready().await.map_err(|e| with_sources(&e))?;
        let answer = conn
            .send_request(request)
            .await
            .map_err(|e| with_sources(&e))?;
        let status = answer.status();
        if Limited::new(answer.into_body(), ANSWER_MAX)
            .collect()
            .await
            .is_ok()
        {
            self.put_idle(origin, conn);
        }
        Ok(status)
    }

    async fn connect(&self, origin: &Origin) -> Result<Conn, PostError> {
        let unreachable = |e: &dyn std::error::Error| PostError::Unreachable(with_sources(e));
        // An IPv6 address is in brackets in the URI, not for the resolver.
        let host = origin.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host, origin.port))
            .await
            .map_err(|e| unreachable(&e))?;
        tcp.set_nodelay(true).map_err(|e| unreachable(&e))?;
        if origin.https {
            let name = rustls_pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| unreachable(&e))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(&e))?;
            let (conn, driver) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| unreachable(&e))?;
            tokio::spawn(driver);
            Ok(conn)
        } else {
            let (conn, driver) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| unreachable(&e))?;
            tokio::spawn(driver);
            Ok(conn)
        }
    }

    /// The most recently used open connection to `origin`, if one is kept.
    fn take_idle(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let kept = idle.get_mut(origin)?;
        while let Some((conn, since)) = kept.pop() {
            if !conn.is_closed() && since.elapsed() < IDLE_FOR {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle(&self, origin: &Origin, conn: Conn) {
        if conn.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let kept = idle.entry(origin.clone()).or_default();
        if kept.len() >= IDLE_MAX {
            kept.remove(0);
        }
        kept.push((conn, Instant::now()));
    }
}

/// The same request again (the body's bytes are shared, not copied).
fn copy(r: &http::Request<Full<Bytes>>) -> http::Request<Full<Bytes>> {
    let mut again = http::Request::new(r.body().clone());
    *again.method_mut() = r.method().clone();
    *again.uri_mut() = r.uri().clone();
    *again.headers_mut() = r.headers().clone();
    again
}

/// An error's text with its causes (hyper's own says only "connection error").
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// A POST through the environment's proxy (reqwest reads it).
async fn through_proxy(
    client: &reqwest::Client,
    p: Post<'_>,
) -> Result<http::StatusCode, PostError> {
    let mut r = client
        .post(p.uri)
        .header(CONTENT_TYPE, p.content_type)
        .header(CACHE_CONTROL, "no-store")
        .body(p.body);
    if let Some(accept) = p.accept {
        r = r.header(ACCEPT, accept);
    }
    if let Some(auth) = p.authorization {
        r = r.header(AUTHORIZATION, auth);
    }
    match r.send().await {
        Ok(answer) => Ok(answer.status()),
        Err(e) if e.is_timeout() => Err(PostError::Timeout),
        Err(e) => Err(PostError::Unreachable(without_url(&e))),
    }
}

/// A reqwest error's text without the URL (which the row already names).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = with_sources(e);
    if let Some(url) = e.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "the URI");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_and_host_header_come_from_the_uri() {
        let o = Origin::of(&"http://127.0.0.1:8080/events?x=1".parse().unwrap()).unwrap();
        assert_eq!(
            (o.https, o.host.as_str(), o.port),
            (false, "127.0.0.1", 8080)
        );
        assert_eq!(o.header, "127.0.0.1:8080");
        let o = Origin::of(&"https://rp.example/bcl".parse().unwrap()).unwrap();
        assert_eq!((o.https, o.port), (true, 443));
        assert_eq!(o.header, "rp.example");
        let o = Origin::of(&"http://[::1]:9/x".parse().unwrap()).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("[::1]", 9));
        assert!(matches!(
            Origin::of(&"ftp://rp.example/x".parse().unwrap()),
            Err(PostError::Unreachable(_))
        ));
    }
}
