//! Postfix's `smtp-sink` as a test SMTP server.
//!
//! `smtp-sink` is a real SMTP server (the one Postfix's own benchmarks use):
//! it speaks ESMTP, answers as configured, and with `-d` writes each accepted
//! message to its own file, headed by `X-*` lines with the envelope. A message
//! file is complete once the server has answered the final `.` with 250, so
//! read the dump only after the sender saw its message accepted (for
//! Gatehouse: after the outbox row is `sent`).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `smtp-sink` is on Debian (package `postfix`).
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// How the sink answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkMode {
    /// Accept every message.
    Accept,
    /// Answer `DATA` with a temporary (4xx) error.
    TempFail,
    /// Answer `DATA` with a permanent (5xx) error.
    PermFail,
    /// Accept, but wait this many seconds before answering `DATA`.
    Slow(u32),
}

/// A running `smtp-sink` on a loopback port; killed on drop.
pub struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// A socket bound to the port but not listening, while no server runs:
    /// connections are refused, as by a mail server that is down, and no other
    /// test's listener can take the port meanwhile (one did, and the sink
    /// restarted on it could not bind: "Address already in use").
    hold: Option<socket2::Socket>,
}

/// A TCP socket bound to 127.0.0.1:`port` (0: any free one), not listening.
/// Without `SO_REUSEADDR`, so that nobody else's bind shares it.
fn hold_port(port: u16) -> std::io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    Ok(socket)
}

impl SmtpSink {
    /// Starts a sink on a free loopback port.
    ///
    /// # Panics
    /// If `smtp-sink` is not installed (install Debian's `postfix`; the
    /// README's test command does) or does not start listening within 10 s.
    pub fn start(mode: SinkMode) -> Self {
        let mut sink = Self::reserve();
        sink.restart(mode);
        sink
    }

    /// A sink with a port and a dump directory but no server yet: connections
    /// are refused until [`restart`](Self::restart), as when a mail server is down.
    pub fn reserve() -> Self {
        assert!(
            Path::new(SMTP_SINK).exists(),
            "{SMTP_SINK} is missing: install Debian's postfix package (scripts/test.sh does)"
        );
        let hold = hold_port(0).expect("a free loopback port");
        let port = hold
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("a bound loopback address")
            .port();
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-smtp-sink")
            .tempdir()
            .expect("dump directory");
        // smtp-sink drops to an unprivileged user when started as root; that
        // user must be able to write the dump files.
        set_mode(dir.path(), 0o777);
        Self {
            port,
            dir,
            child: None,
            hold: Some(hold),
        }
    }

    /// (Re)starts the server on the same port with `mode`; earlier dumps stay.
    pub fn restart(&mut self, mode: SinkMode) {
        self.stop();
        let mut cmd = Command::new(SMTP_SINK);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        match &mode {
            SinkMode::Accept => {}
            SinkMode::TempFail => {
                cmd.args(["-r", "data", "-b", "451 4.3.0 test sink: try again later"]);
            }
            SinkMode::PermFail => {
                cmd.args(["-f", "data", "-B", "554 5.7.1 test sink: message refused"]);
            }
            SinkMode::Slow(s) => {
                cmd.args(["-w", &s.to_string()]);
            }
        }
        let template = format!("{}/%H%M%S.", self.dir.path().display());
        cmd.args(["-d", &template, &format!("127.0.0.1:{}", self.port), "100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // The port is let go only now, just before the sink binds it.
        self.hold = None;
        let child = cmd.spawn().expect("start smtp-sink");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.exited() {
                panic!(
                    "smtp-sink exited at start ({status}); is port {} taken?",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "smtp-sink is not listening after 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Something answered: the sink, unless another server had taken the
        // port and the sink exited on it.
        if let Some(status) = self.exited() {
            panic!(
                "smtp-sink exited at start ({status}); port {} answers, so another server holds it",
                self.port
            );
        }
    }

    /// How the server exited, if it has.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops the server (connections are refused until restarted). The port is
    /// held again if it can be (the killed server's connections may keep it
    /// for a while; then it is not held).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.hold = hold_port(self.port).ok();
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`, for `GATEHOUSE_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first (by file time, then name).
    /// Only messages the sender saw accepted are certainly complete: wait for
    /// that (the outbox row `sent`) before asserting on a body.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.dir.path())
            .expect("read dump directory")
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            // A file still being written may not parse yet: it is not a message yet.
            .filter_map(|(_, path)| ReceivedMail::parse(&std::fs::read(&path).ok()?).ok())
            .collect()
    }

    /// Waits until at least `n` messages were accepted; returns all of them.
    ///
    /// # Panics
    /// After `timeout`, naming how many arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages within {timeout:?}, the sink has {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as the sink received it.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The envelope recipient (`RCPT TO`).
    pub envelope_to: String,
    /// `From:` address.
    pub from: String,
    /// `To:` address.
    pub to: String,
    /// `Subject:`.
    pub subject: String,
    /// `Message-ID:` without the angle brackets.
    pub message_id: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part, if any.
    pub html: Option<String>,
    /// The message as received, with the sink's `X-*` envelope lines.
    pub raw: String,
}

impl ReceivedMail {
    /// Parses a dump file.
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        let parsed = mail_parser::MessageParser::default()
            .parse(raw)
            .ok_or("not a parsable message")?;
        let addr = |a: Option<&mail_parser::Address<'_>>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned()
        };
        let envelope_to = parsed
            .header_raw("X-Rcpt-Args")
            .map(|v| {
                v.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
            .ok_or("no X-Rcpt-Args envelope line")?;
        Ok(Self {
            envelope_to,
            from: addr(parsed.from()),
            to: addr(parsed.to()),
            subject: parsed.subject().unwrap_or_default().to_owned(),
            message_id: parsed.message_id().unwrap_or_default().to_owned(),
            text: parsed
                .body_text(0)
                .map(|t| t.into_owned())
                .ok_or("no text part")?,
            html: parsed.body_html(0).map(|t| t.into_owned()),
            raw: String::from_utf8_lossy(raw).into_owned(),
        })
    }

    /// The recovery code (`XXXX-XXXX`, Crockford base32) in the text part.
    pub fn code(&self) -> Option<String> {
        self.text
            .lines()
            .map(str::trim)
            .find(|l| {
                l.len() == 9
                    && l.as_bytes()[4] == b'-'
                    && l.chars()
                        .filter(|c| *c != '-')
                        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            })
            .map(str::to_owned)
    }

    /// The notice's reference (`GH-XXXX-XXXX`).
    pub fn reference(&self) -> Option<String> {
        let at = self.text.find("Reference: ")? + "Reference: ".len();
        self.text.get(at..at + 12).map(str::to_owned)
    }

    /// The first `http(s)://` link in the text part.
    pub fn link(&self) -> Option<String> {
        let at = self
            .text
            .find("http://")
            .or_else(|| self.text.find("https://"))?;
        let rest = &self.text[at..];
        Some(
            rest.split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("chmod dump directory");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_dump_with_the_envelope() {
        let raw = b"X-Client-Addr: 127.0.0.1\r\nX-Rcpt-Args: <ada@example.com>\r\n\
From: Gatehouse <no-reply@example.com>\r\nTo: ada@example.com\r\nSubject: Code\r\n\
Message-ID: <abc@example.com>\r\n\r\nType this code:\r\n\r\n    7K3Q-9XMD\r\n\r\n\
Link: http://127.0.0.1:1/recover/complete?token=ghr_x\r\nReference: GH-AAAA-BBBB\r\n";
        let m = ReceivedMail::parse(raw).unwrap();
        assert_eq!(m.envelope_to, "ada@example.com");
        assert_eq!(m.from, "no-reply@example.com");
        assert_eq!(m.message_id, "abc@example.com");
        assert_eq!(m.code().as_deref(), Some("7K3Q-9XMD"));
        assert_eq!(m.reference().as_deref(), Some("GH-AAAA-BBBB"));
        assert_eq!(
            m.link().as_deref(),
            Some("http://127.0.0.1:1/recover/complete?token=ghr_x")
        );
    }
}
