//! The SMTP client: lettre's protocol code over connections Gatehouse opens
//! itself, kept in a small pool.
//!
//! Why not lettre's own pooled transport: lettre 0.11 (up to 0.11.23, the
//! newest release) leaves Nagle's algorithm on, and writes a message's body
//! and its `.` terminator as two writes. The terminator then waits for the
//! server's delayed ACK, 40 ms on Linux, on every message: 87 messages a
//! second into a local smtp-sink at four connections, where Postfix's
//! smtp-source does 11,000 (BENCHMARKS.md). The fix is merged upstream
//! (lettre PR #1159) but not released. Opening the TCP connection here, with
//! `TCP_NODELAY`, and handing it to `AsyncSmtpConnection::connect_with_transport`
//! keeps lettre's SMTP, STARTTLS and AUTH code and loses the stall. When a
//! lettre release sets `TCP_NODELAY`, this module can go.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::transport::SendError;

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain text (loopback only).
    Plain,
    /// STARTTLS, required: a server that does not offer it is not used.
    StartTls,
    /// TLS from the first byte (`smtps`, port 465).
    Tls,
}

/// A connection idle longer than this is checked with `NOOP` before reuse.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(2);
/// A connection idle longer than this is closed (servers drop them anyway).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// An SMTP server and a pool of open connections to it.
pub struct SmtpClient {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    pool_size: usize,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: tokio::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("auth", &self.credentials.is_some())
            .finish()
    }
}

impl SmtpClient {
    /// A client for `host:port`; connections are opened on first use.
    pub fn new(
        host: &str,
        port: u16,
        security: Security,
        credentials: Option<Credentials>,
        pool_size: usize,
    ) -> anyhow::Result<Self> {
        let tls = match security {
            Security::Tls => Some(tls_connector()?),
            _ => None,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            security,
            credentials,
            hello: ClientId::default(),
            pool_size: pool_size.max(1),
            tls,
            idle: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    /// Sends one message on a pooled connection (or a new one). The caller
    /// bounds the whole exchange with its own timeout; a connection whose
    /// exchange failed or was cut short is never reused.
    pub async fn send(&self, message: &lettre::Message) -> Result<(), SendError> {
        let mut conn = self.checkout().await?;
        let raw = message.formatted();
        match conn.send(message.envelope(), &raw).await {
            Ok(_) => {
                let mut idle = self.idle.lock().await;
                if idle.len() < self.pool_size {
                    idle.push((conn, Instant::now()));
                }
                Ok(())
            }
            Err(e) => {
                conn.abort().await;
                Err(classify(e))
            }
        }
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().await.pop() else {
                break;
            };
            let idle_for = since.elapsed();
            if conn.has_broken() || idle_for > MAX_IDLE {
                conn.abort().await;
                continue;
            }
            if idle_for > CHECK_AFTER_IDLE && !conn.test_connected().await {
                conn.abort().await;
                continue;
            }
            return Ok(conn);
        }
        self.connect().await
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let temporary = |what: &str, e: &dyn std::fmt::Display| {
            SendError::Temporary(format!("{what} {}:{}: {e}", self.host, self.port))
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| temporary("cannot connect to", &e))?;
        // The point of this module: no 40 ms wait for the `.` after each body.
        tcp.set_nodelay(true)
            .map_err(|e| temporary("cannot set TCP_NODELAY on", &e))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            Some(connector) => {
                let name = rustls_pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| SendError::Permanent(format!("smtp host name: {e}")))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| temporary("TLS handshake with", &e))?;
                Box::new(TlsTcp(tls))
            }
            None => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(classify)?;
        if self.security == Security::StartTls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(SendError::Temporary(format!(
                    "{}:{} does not offer STARTTLS, which is required off loopback",
                    self.host, self.port
                )));
            }
            let params = TlsParameters::new(self.host.clone()).map_err(classify)?;
            conn.starttls(params, &self.hello).await.map_err(classify)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }
}

/// 5xx answers are permanent; everything else (refused connections,
/// timeouts, TLS hiccups, 4xx answers) is worth another try.
pub(super) fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Temporary(e.to_string())
    }
}

/// rustls with the Mozilla roots (webpki-roots), as lettre configures it.
fn tls_connector() -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A TLS stream lettre can drive (its stream trait wants `peer_addr`).
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
