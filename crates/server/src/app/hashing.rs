//! Password hashing on a bounded pool.
//!
//! Argon2id is deliberately expensive (about 17 ms and 19 MiB per call with
//! OWASP's parameters). It runs on `hash_workers` dedicated threads (default:
//! one per core), each owning one preallocated block array, so a verification
//! neither allocates nor page-faults 19 MiB and the process's memory stays flat
//! (workers × m_cost) however hard it is pushed.
//!
//! Admission: a semaphore holds one permit per worker. A request that finds
//! every worker busy may wait in a short queue (`hash_queue` places, at most
//! `hash_queue_timeout`); when the queue is full, or the wait too long, it is
//! refused at once with [`Overloaded`] (HTTP 503 + Retry-After) instead of
//! piling up and making every login slow. A permit travels with its job and is
//! released when the hash is done, even if the requester went away meanwhile.
//!
//! The block arrays are reused without zeroing between calls, as freshly
//! allocated ones were freed without zeroing before: what they hold is
//! overwritten by the next hash and never leaves the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use gatehouse_domain::credential::HashScheme;
use gatehouse_domain::{Entropy, LoginPassword, NewPassword};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::config::Argon2Config;

/// Every hash worker is busy and the queue is full.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server is busy; try again in a moment")]
pub struct Overloaded;

/// Outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matched.
    pub matched: bool,
    /// It matched a hash made with other parameters or another algorithm.
    pub needs_rehash: bool,
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// The bounded hashing pool.
pub struct Hasher {
    params: Params,
    workers: Arc<Semaphore>,
    jobs: crossbeam_channel::Sender<Job>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    /// Verified against when an account does not exist, so an unknown address
    /// costs the same time as a wrong password.
    dummy_hash: String,
}

/// Takes a place in the wait queue and gives it back however the wait ends,
/// including when the waiting request is dropped (client gone, timeout).
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hasher {
    /// Builds the pool. `workers` hashes run at once; `queue` may wait up to `max_wait`.
    pub fn new(
        cfg: Argon2Config,
        workers: usize,
        queue: usize,
        max_wait: Duration,
        entropy: &dyn Entropy,
    ) -> anyhow::Result<Self> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let workers = workers.max(1);
        let (jobs, rx) = crossbeam_channel::unbounded::<Job>();
        let blocks = params.block_count();
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("gatehouse-hash-{i}"))
                .spawn(move || {
                    let mut memory = vec![Block::default(); blocks];
                    // Ends when the Hasher (the only sender) is dropped.
                    for job in rx.iter() {
                        job(&mut memory);
                    }
                })?;
        }
        let mut h = Self {
            params,
            workers: Arc::new(Semaphore::new(workers)),
            jobs,
            waiting: AtomicUsize::new(0),
            max_waiting: queue,
            max_wait,
            dummy_hash: String::new(),
        };
        let mut dummy = [0u8; 24];
        entropy.fill(&mut dummy);
        h.dummy_hash = h.hash_now(&hex_string(&dummy), entropy)?;
        Ok(h)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes on the calling thread (for the CLI and start-up).
    pub fn hash_now(&self, password: &str, entropy: &dyn Entropy) -> anyhow::Result<String> {
        let mut salt = [0u8; 16];
        entropy.fill(&mut salt);
        let hash = self
            .argon2()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(hash.to_string())
    }

    /// Hashes a new password on the pool.
    pub async fn hash(
        &self,
        password: &NewPassword,
        entropy: &dyn Entropy,
    ) -> Result<anyhow::Result<String>, Overloaded> {
        self.hash_str(password.expose(), entropy).await
    }

    /// Hashes an already-normalised password on the pool (used to upgrade a
    /// legacy hash from a login password, which need not meet today's policy).
    pub async fn hash_str(
        &self,
        password: &str,
        entropy: &dyn Entropy,
    ) -> Result<anyhow::Result<String>, Overloaded> {
        let mut salt = [0u8; 16];
        entropy.fill(&mut salt);
        let pw = Zeroizing::new(password.to_owned());
        let argon2 = self.argon2();
        // New passwords are rare next to logins: the allocating path is fine here.
        self.run(move |_memory| {
            argon2
                .hash_password_with_salt(pw.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2: {e}"))
        })
        .await
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no account (then `matched` is always false).
    pub async fn verify(
        &self,
        password: &LoginPassword,
        stored: Option<&str>,
    ) -> Result<Verified, Overloaded> {
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let pw = Zeroizing::new(password.expose().to_owned());
        let raw = password
            .expose_raw_if_different()
            .map(|s| Zeroizing::new(s.to_owned()));
        let params = self.params.clone();
        let v = self
            .run(move |memory| {
                verify_blocking(
                    &pw,
                    raw.as_deref().map(|s| s.as_str()),
                    &hash,
                    &params,
                    memory,
                )
            })
            .await?;
        Ok(Verified {
            matched: v.matched && real,
            needs_rehash: v.needs_rehash && real,
        })
    }

    /// Refuses at once when a hash asked for now would be refused: every worker
    /// busy and the wait queue full. Callers ask before the work that precedes
    /// their hash (a throttle check, an account lookup), so that under overload
    /// a request that is going to be refused costs almost nothing and leaves
    /// the cores to the hashes already admitted. Only a shortcut: [`Self::run`]
    /// still decides admission, and a place freed in between is simply not
    /// seen (the request is refused as it would have been a moment earlier).
    /// The answer does not depend on the account, so it says nothing about it.
    pub fn refuse_if_saturated(&self) -> Result<(), Overloaded> {
        if self.workers.available_permits() == 0
            && self.waiting.load(Ordering::Acquire) >= self.max_waiting
        {
            metrics::counter!("gatehouse_hash_rejected_total").increment(1);
            return Err(Overloaded);
        }
        Ok(())
    }

    /// Requests waiting for a worker right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Runs `f` on a hash worker once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, Overloaded> {
        let permit = match self.workers.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let place = QueuePlace(&self.waiting);
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    drop(place);
                    metrics::counter!("gatehouse_hash_rejected_total").increment(1);
                    return Err(Overloaded);
                }
                let got =
                    tokio::time::timeout(self.max_wait, self.workers.clone().acquire_owned()).await;
                drop(place);
                match got {
                    Ok(Ok(p)) => p,
                    _ => {
                        metrics::counter!("gatehouse_hash_rejected_total").increment(1);
                        return Err(Overloaded);
                    }
                }
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _permit = permit;
            let _ = tx.send(f(memory));
        });
        // The workers live as long as the Hasher; a send can only fail if one panicked.
        self.jobs
            .send(job)
            .expect("password hashing workers are gone");
        Ok(rx.await.expect("password hashing worker panicked"))
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn is_current(stored: &str, params: &Params) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(0x13)
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        })
}

/// Verifies an argon2id PHC string using the worker's block array when it is
/// large enough (it is for every hash made with the current parameters).
fn verify_argon2(candidate: &[u8], stored: &str, memory: &mut [Block]) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected), Ok(params)) = (&h.salt, &h.hash, Params::try_from(&h)) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > memory.len() {
        // Made with more memory than ours (e.g. imported): the allocating path.
        return Argon2::default().verify_password(candidate, &h).is_ok();
    }
    let Ok(version) = Version::try_from(h.version.unwrap_or(0x13)) else {
        return false;
    };
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    if argon2
        .hash_password_into_with_memory(candidate, salt.as_ref(), &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    subtle::ConstantTimeEq::ct_eq(out.as_slice(), expected.as_bytes()).into()
}

fn verify_blocking(
    pw: &str,
    raw: Option<&str>,
    stored: &str,
    params: &Params,
    memory: &mut [Block],
) -> Verified {
    let scheme = HashScheme::detect(stored);
    let mut matches = |candidate: &str| match scheme {
        Some(HashScheme::Argon2id) => verify_argon2(candidate.as_bytes(), stored, memory),
        Some(HashScheme::Bcrypt) => bcrypt::verify(candidate, stored).unwrap_or(false),
        None => false,
    };
    let matched =
        matches(pw) || raw.is_some_and(|r| scheme == Some(HashScheme::Bcrypt) && matches(r));
    // A legacy hash that matched only the un-normalised input is rehashed from
    // the normalised form, so later logins need one verification.
    Verified {
        matched,
        needs_rehash: matched && !is_current(stored, params),
    }
}

/// Checks the shape of an imported hash: a parseable argon2id PHC string or a bcrypt hash.
pub fn validate_imported_hash(hash: &str) -> Result<(), String> {
    match HashScheme::detect(hash) {
        Some(HashScheme::Argon2id) => {
            let parsed = PasswordHash::new(hash)
                .map_err(|e| format!("not a valid argon2id PHC string: {e}"))?;
            Params::try_from(&parsed)
                .map_err(|e| format!("argon2id parameters not usable: {e}"))?;
            if parsed.salt.is_none() || parsed.hash.is_none() {
                return Err("argon2id PHC string lacks a salt or hash".into());
            }
            Ok(())
        }
        Some(HashScheme::Bcrypt) if gatehouse_domain::credential::is_wellformed_bcrypt(hash) => {
            Ok(())
        }
        Some(HashScheme::Bcrypt) => {
            Err("not a well-formed bcrypt hash ($2b$NN$ + 53 characters)".into())
        }
        None => Err("unsupported hash: expected $argon2id$… or $2a$/$2b$/$2y$ bcrypt".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::{OsEntropy, PasswordPolicy};

    fn cheap() -> Argon2Config {
        Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn hash_verify_and_rehash_detection() {
        let h = Hasher::new(cheap(), 2, 4, Duration::from_millis(100), &OsEntropy).unwrap();
        let pw =
            NewPassword::parse("correct horse battery staple", &PasswordPolicy::default()).unwrap();
        let stored = h.hash(&pw, &OsEntropy).await.unwrap().unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let good = LoginPassword::parse("correct horse battery staple").unwrap();
        let bad = LoginPassword::parse("correct horse battery stapler").unwrap();
        assert_eq!(
            h.verify(&good, Some(&stored)).await.unwrap(),
            Verified {
                matched: true,
                needs_rehash: false
            }
        );
        assert!(!h.verify(&bad, Some(&stored)).await.unwrap().matched);
        assert!(
            !h.verify(&good, None).await.unwrap().matched,
            "the dummy never matches"
        );
        // Stronger parameters make the old hash stale.
        let h2 = Hasher::new(
            Argon2Config {
                memory_kib: 128,
                ..cheap()
            },
            2,
            4,
            Duration::from_millis(100),
            &OsEntropy,
        )
        .unwrap();
        assert_eq!(
            h2.verify(&good, Some(&stored)).await.unwrap(),
            Verified {
                matched: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn bcrypt_imports_verify_and_want_rehash() {
        let h = Hasher::new(cheap(), 1, 1, Duration::from_millis(100), &OsEntropy).unwrap();
        let stored = bcrypt::hash("legacy password", 4).unwrap();
        assert!(validate_imported_hash(&stored).is_ok());
        let v = h
            .verify(
                &LoginPassword::parse("legacy password").unwrap(),
                Some(&stored),
            )
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                matched: true,
                needs_rehash: true
            }
        );
        // A legacy system that never normalised: the raw form still works.
        let raw = "ｆullwidth legacy";
        let stored = bcrypt::hash(raw, 4).unwrap();
        let v = h
            .verify(&LoginPassword::parse(raw).unwrap(), Some(&stored))
            .await
            .unwrap();
        assert!(v.matched && v.needs_rehash);
    }

    #[test]
    fn imported_hash_shapes() {
        assert!(
            validate_imported_hash(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            )
            .is_ok()
        );
        assert!(validate_imported_hash("$argon2id$v=19$m=19456").is_err());
        assert!(
            validate_imported_hash("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA").is_err()
        );
        assert!(validate_imported_hash("$2b$12$short").is_err());
        assert!(validate_imported_hash("5f4dcc3b5aa765d61d8327deb882cf99").is_err());
    }

    #[tokio::test]
    async fn an_abandoned_wait_gives_its_queue_place_back() {
        let slow = Argon2Config {
            memory_kib: 19456,
            iterations: 8,
            parallelism: 1,
        };
        let h = Arc::new(Hasher::new(slow, 1, 1, Duration::from_secs(30), &OsEntropy).unwrap());
        let busy = {
            let h = h.clone();
            tokio::spawn(async move {
                h.verify(&LoginPassword::parse("first in line").unwrap(), None)
                    .await
            })
        };
        while h.workers.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let waiter = {
            let h = h.clone();
            tokio::spawn(async move {
                h.verify(&LoginPassword::parse("second in line").unwrap(), None)
                    .await
            })
        };
        while h.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // The client goes away while queued: its place must come back.
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(h.waiting(), 0);
        assert!(busy.await.unwrap().is_ok());
        // And the queue still admits.
        assert!(
            h.verify(&LoginPassword::parse("third").unwrap(), None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn saturated_pool_refuses_fast() {
        // One worker, no queue: while a slow hash runs, the next caller is refused.
        let slow = Argon2Config {
            memory_kib: 19456,
            iterations: 8,
            parallelism: 1,
        };
        let h = Arc::new(Hasher::new(slow, 1, 0, Duration::from_millis(10), &OsEntropy).unwrap());
        let pw = LoginPassword::parse("whatever it is").unwrap();
        let h2 = h.clone();
        let busy = tokio::spawn(async move {
            let pw = LoginPassword::parse("whatever it is").unwrap();
            h2.verify(&pw, None).await
        });
        // Wait until the first call holds the only permit.
        while h.workers.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(h.verify(&pw, None).await.is_err());
        assert!(busy.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn the_early_refusal_follows_the_pool() {
        // One worker, one place in the queue: free, then busy with room to
        // wait, then busy with the queue full; and free again afterwards.
        let slow = Argon2Config {
            memory_kib: 19456,
            iterations: 8,
            parallelism: 1,
        };
        let h = Arc::new(Hasher::new(slow, 1, 1, Duration::from_secs(30), &OsEntropy).unwrap());
        assert!(h.refuse_if_saturated().is_ok(), "an idle pool admits");
        let spawn_verify = |h: Arc<Hasher>| {
            tokio::spawn(async move {
                h.verify(&LoginPassword::parse("someone's password").unwrap(), None)
                    .await
            })
        };
        let busy = spawn_verify(h.clone());
        while h.workers.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(
            h.refuse_if_saturated().is_ok(),
            "a busy worker with a free queue place still admits"
        );
        let queued = spawn_verify(h.clone());
        while h.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(
            h.refuse_if_saturated().is_err(),
            "every worker busy and the queue full: refused before any other work"
        );
        assert!(busy.await.unwrap().is_ok());
        assert!(queued.await.unwrap().is_ok());
        assert!(h.refuse_if_saturated().is_ok(), "admits again once drained");
    }
}
