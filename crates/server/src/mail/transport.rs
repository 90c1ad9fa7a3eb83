//! Where mail goes: SMTP (lettre's protocol over our own pooled connections,
//! see [`super::smtp`]), a maildir under the data directory
//! (the embedded default, so a newcomer can read what was sent), or memory
//! (unit tests of pure logic only).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lettre::transport::smtp::authentication::Credentials;
use url::Url;

use super::smtp::{Security, SmtpClient};

/// How a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: connection refused, timeout, a 4xx answer.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Not worth retrying: a 5xx answer. The text is the server's.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// One message as sent: envelope recipient and the full RFC 5322 text.
#[derive(Clone, Debug)]
pub struct SentMail {
    /// Envelope recipient.
    pub to: String,
    /// Raw message.
    pub raw: Vec<u8>,
}

/// The mail transports behind one type.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server.
    Smtp(Arc<SmtpClient>),
    /// A maildir (`new/`, `tmp/`, `cur/`).
    Maildir(PathBuf),
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<SentMail>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(c) => write!(f, "Transport::Smtp({c:?})"),
            Self::Maildir(p) => write!(f, "Transport::Maildir({})", p.display()),
            Self::Memory(_) => f.write_str("Transport::Memory"),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Transport {
    /// An SMTP transport for `smtp://[user:pass@]host[:port]` (STARTTLS
    /// required, port 587 by default, unless the host is loopback: then plain,
    /// port 25) or `smtps://…` (TLS from the first byte, port 465).
    /// The whole exchange is bounded by the delivery worker's timeout.
    pub fn smtp(url: &Url, pool_size: u32) -> anyhow::Result<Self> {
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("smtp_url has no host"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let (security, default_port) = match url.scheme() {
            "smtps" => (Security::Tls, 465),
            "smtp" if is_loopback(host) => (Security::Plain, 25),
            "smtp" => (Security::StartTls, 587),
            other => anyhow::bail!("smtp_url: unsupported scheme {other}"),
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            let decode = |s: &str| {
                percent_decode(s).map_err(|_| {
                    anyhow::anyhow!("smtp_url: user or password is not valid percent-encoded UTF-8")
                })
            };
            Some(Credentials::new(
                decode(url.username())?,
                decode(url.password().unwrap_or(""))?,
            ))
        };
        let client = SmtpClient::new(
            bare,
            url.port().unwrap_or(default_port),
            security,
            credentials,
            pool_size as usize,
        )?;
        Ok(Self::Smtp(Arc::new(client)))
    }

    /// A maildir at `dir`, created if missing.
    pub fn maildir(dir: &Path) -> anyhow::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| {
                anyhow::anyhow!("cannot create the maildir {}: {e}", dir.join(sub).display())
            })?;
        }
        Ok(Self::Maildir(dir.to_path_buf()))
    }

    /// Sends one message. `unique` names the maildir file, so a re-send of
    /// the same notice replaces the file instead of adding a second one.
    pub async fn send(&self, message: &lettre::Message, unique: &str) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).await,
            Self::Maildir(dir) => {
                let raw = message.formatted();
                let dir = dir.clone();
                let name = unique.to_string();
                tokio::task::spawn_blocking(move || write_maildir(&dir, &name, &raw))
                    .await
                    .map_err(|e| SendError::Temporary(e.to_string()))?
                    .map_err(|e| SendError::Temporary(format!("maildir: {e}")))
            }
            Self::Memory(sent) => {
                let to = message
                    .envelope()
                    .to()
                    .first()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                sent.lock()
                    .expect("memory transport poisoned")
                    .push(SentMail {
                        to,
                        raw: message.formatted(),
                    });
                Ok(())
            }
        }
    }
}

/// tmp/ then rename into new/: a reader never sees a half-written message.
fn write_maildir(dir: &Path, name: &str, raw: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join("tmp").join(name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(raw)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("new").join(name))
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("mail.example.com"));
        assert!(!is_loopback("192.0.2.1"));
    }

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(percent_decode("p%40ss%3Aword").unwrap(), "p@ss:word");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        assert_eq!(percent_decode("odd%4").unwrap(), "odd%4");
    }

    #[tokio::test]
    async fn maildir_replaces_a_resent_message() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::maildir(dir.path()).unwrap();
        let msg = lettre::Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .subject("s")
            .body(String::from("hello"))
            .unwrap();
        t.send(&msg, "1.notice.gatehouse").await.unwrap();
        t.send(&msg, "1.notice.gatehouse").await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("new")).unwrap().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
