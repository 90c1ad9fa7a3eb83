//! `gatehouse bench …`: measurements behind BENCHMARKS.md.

use std::process::ExitCode;

use clap::Subcommand;

/// Benchmark subcommands.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Raw argon2id verify rate with the default parameters.
    Argon2 {
        /// Threads verifying at once.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

/// Runs one benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Argon2 { threads, seconds } => {
            let rate = tokio::task::spawn_blocking(move || argon2_rate(threads, seconds)).await??;
            println!("{{\"bench\":\"argon2\",\"threads\":{threads},\"verifies_per_second\":{rate:.1}}}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn argon2_rate(threads: usize, seconds: u64) -> anyhow::Result<f64> {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    let a = argon2::Argon2::default();
    let hash = a.hash_password_with_salt(b"correct horse battery staple", b"0123456789abcdef").map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while std::time::Instant::now() < deadline {
                        let _ = argon2::Argon2::default().verify_password(b"correct horse battery staple", &hash);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    Ok(total as f64 / seconds.max(1) as f64)
}
