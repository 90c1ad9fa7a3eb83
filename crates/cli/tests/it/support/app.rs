//! An app signed in to through Gatehouse (the real code flow over HTTP), and
//! the back-channel logout receiver it registers: records every logout token
//! it is POSTed (`aud`, `sid`, `jti`), so a test can check exactly one per
//! (session, app), none missing, a repeat only with the same `jti`. A test
//! can make the receiver answer 500 or hang (`set_mode`), as a broken app.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The redirect URI the test apps register.
pub const CB: &str = "https://app.example/cb";

/// (aud, sid, jti) of one logout token received.
pub type Received = (String, String, String);

/// (aud, event type, subject: the session's id for session-revoked, else the
/// account's `sub`, jti) of one SET received.
pub type ReceivedSet = (String, String, String, String);

/// How a receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 (logout) / 202 (SET), recording what it got.
    Ok = 0,
    /// 500 to everything, recording nothing.
    Fail = 1,
    /// Never answers (the sender's timeout ends each attempt).
    Hang = 2,
}

/// A receiver on a loopback port, alive until dropped.
pub struct LogoutReceiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    /// Where a Shared Signals stream pushes its SETs (RFC 8935).
    pub set_url: String,
    pub sets: Arc<Mutex<Vec<ReceivedSet>>>,
    mode: Arc<AtomicU8>,
    /// Pushes answered 500 or left hanging.
    refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LogoutReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn claims_of(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

impl LogoutReceiver {
    pub async fn start() -> Self {
        let mode: Arc<AtomicU8> = Arc::default();
        let refused: Arc<AtomicUsize> = Arc::default();
        // What a push gets before it is read: `None` to go on and answer.
        let broken = {
            let (mode, refused) = (mode.clone(), refused.clone());
            move || {
                let (mode, refused) = (mode.clone(), refused.clone());
                async move {
                    let m = mode.load(Ordering::SeqCst);
                    if m == Mode::Ok as u8 {
                        return None;
                    }
                    refused.fetch_add(1, Ordering::SeqCst);
                    if m == Mode::Hang as u8 {
                        std::future::pending::<()>().await;
                    }
                    Some(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        };
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let refuse = broken.clone();
        let handler = move |body: String| {
            let (seen, refuse) = (seen.clone(), refuse.clone());
            async move {
                if let Some(status) = refuse().await {
                    return status;
                }
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_str(&body).unwrap_or_default();
                let Some(c) = form
                    .iter()
                    .find(|(k, _)| k == "logout_token")
                    .and_then(|(_, v)| claims_of(v))
                else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                seen.lock().unwrap().push((s("aud"), s("sid"), s("jti")));
                axum::http::StatusCode::OK
            }
        };
        let sets: Arc<Mutex<Vec<ReceivedSet>>> = Arc::default();
        let seen_sets = sets.clone();
        let set_handler = move |body: String| {
            let (seen, refuse) = (seen_sets.clone(), broken.clone());
            async move {
                if let Some(status) = refuse().await {
                    return status;
                }
                let Some(c) = claims_of(body.trim()) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let Some(event) = c["events"].as_object().and_then(|e| e.keys().next()) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let subject = c["sub_id"]["session"]["id"]
                    .as_str()
                    .or(c["sub_id"]["sub"].as_str())
                    .unwrap_or_default();
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                seen.lock()
                    .unwrap()
                    .push((s("aud"), event.clone(), subject.to_owned(), s("jti")));
                axum::http::StatusCode::ACCEPTED
            }
        };
        let router = axum::Router::new()
            .route("/bcl", axum::routing::post(handler))
            .route("/set", axum::routing::post(set_handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}/bcl");
        let set_url = format!("http://{addr}/set");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            got,
            set_url,
            sets,
            mode,
            refused,
            task,
        }
    }

    /// From now on, answers as `mode` says.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// How many pushes it answered 500 or left hanging.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    pub fn received_sets(&self) -> Vec<ReceivedSet> {
        self.sets.lock().unwrap().clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in a {} answer", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Signs `email` in to each app (`(client_id, secret)`) in one browser (one
/// Gatehouse session) through `/oauth2/authorize`, `/login` and the token
/// endpoint; returns the session's `sid`.
pub async fn sign_in(base: &str, email: &str, password: &str, apps: &[(String, String)]) -> String {
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut sid = None;
    for (client, secret) in apps {
        let verifier = format!("verifier-{client}-{}", "v".repeat(48));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let authorize = format!(
            "{base}/oauth2/authorize?{}",
            serde_urlencoded::to_string([
                ("response_type", "code"),
                ("client_id", client.as_str()),
                ("redirect_uri", CB),
                ("scope", "openid"),
                ("state", "st"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .unwrap()
        );
        let mut r = b.get(&authorize).send().await.unwrap();
        if location(&r).starts_with("/login?") {
            let return_to = param(&location(&r), "return_to").unwrap();
            let login = b
                .post(format!("{base}/login"))
                .form(&[
                    ("email", email),
                    ("password", password),
                    ("return_to", &return_to),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(login.status(), 303, "login of {email}");
            r = b.get(format!("{base}{return_to}")).send().await.unwrap();
        }
        let code =
            param(&location(&r), "code").unwrap_or_else(|| panic!("no code: {}", location(&r)));
        let tokens: serde_json::Value = b
            .post(format!("{base}/oauth2/token"))
            .header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{client}:{secret}"))),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let claims = claims_of(tokens["id_token"].as_str().expect("an ID token")).unwrap();
        let this = claims["sid"].as_str().unwrap().to_owned();
        assert!(sid.as_ref().is_none_or(|s| s == &this), "one session");
        sid = Some(this);
    }
    sid.unwrap()
}
