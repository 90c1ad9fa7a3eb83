//! The `gatehouse` command.

mod breach_cmd;
mod campaign_cmd;
mod demo_app;
mod demo_apps;
mod demo_cmd;
mod demo_report;
mod demo_traffic;
mod events_cmd;
mod file_import;
mod oidc_cmd;
mod operator_cmd;
mod outbox_cmd;
mod rules_cmd;
mod scan_cmd;
mod sessions_cmd;
mod status_cmd;

// jemalloc rather than glibc malloc: the request path allocates small, short-lived
// objects from many threads, where glibc's arenas contend (BENCHMARKS.md, figure 3).
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use gatehouse_server::config::{Config, LogFormat};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Account protection with guarded, reversible bulk resets"
)]
struct Cli {
    /// TOML configuration file (optional; GATEHOUSE_* environment variables override it).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage end-user accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Manage operators.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// OpenID Connect: register the apps that sign people in through Gatehouse,
    /// and manage the signing keys.
    Oidc {
        #[command(subcommand)]
        command: oidc_cmd::OidcCommand,
    },
    /// Sessions: an operator ends one (its apps are told).
    Sessions {
        #[command(subcommand)]
        command: sessions_cmd::SessionsCommand,
    },
    /// Inspect notice delivery and retry failed notices.
    Outbox {
        #[command(subcommand)]
        command: outbox_cmd::OutboxCommand,
    },
    /// Login events for the compromise checks: import them from a file.
    Events {
        #[command(subcommand)]
        command: events_cmd::EventsCommand,
    },
    /// Compromise-check rules: list, show, apply a TOML file, backtest.
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
    /// Remediation campaigns: create, preview, approve, start, pause, resume,
    /// abort, undo, show, list.
    Campaign {
        #[command(subcommand)]
        command: campaign_cmd::CampaignCommand,
    },
    /// The circuit breaker: status, trip (the kill switch), reset.
    Breaker {
        #[command(subcommand)]
        command: campaign_cmd::BreakerCommand,
    },
    /// List findings (accounts the rules judged likely compromised), with why.
    Findings(rules_cmd::FindingsArgs),
    /// Check a leaked e-mail/password dump against the accounts' passwords.
    ///
    /// Each pair whose address has an account is verified on the hashing pool; a
    /// pair that opens its account becomes a finding under the leaked_credentials
    /// rules (shipped in shadow mode). Progress is saved next to the dump, so an
    /// interrupted scan (Ctrl-C: exit status 130) resumes by running it again.
    /// Exit status 1 if some lines were bad, 2 if the input cannot be used.
    Scan(scan_cmd::ScanArgs),
    /// The public status page: incidents and components.
    Status {
        #[command(subcommand)]
        command: status_cmd::StatusCommand,
    },
    /// Breached-password index: import the Pwned Passwords corpus, check, stats.
    Breach {
        #[command(subcommand)]
        command: breach_cmd::BreachCommand,
    },
    /// The 2012 incident replayed on a fresh embedded store: a population, a
    /// credential-stuffing attack reset by the stuffing rule, a broken rule
    /// stopped by the budget and the breaker, and undone; prints the figures.
    ///
    /// Uses its own directory (default ./gatehouse-demo) and the default
    /// settings; `--serve` then serves the demo's store.
    Demo(demo_cmd::DemoArgs),
    /// List the configuration keys: environment variable, default, accepted
    /// values and meaning.
    Config {
        /// text, or json (an array of {key, env, default, derived, allowed, help}).
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Measurements for BENCHMARKS.md (this binary was built with `--features bench`).
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        command: gatehouse_bench::BenchCommand,
    },
    /// Measurements for BENCHMARKS.md: not built into this binary; says how to
    /// run them (`cargo run --release -p gatehouse-bench -- …`).
    #[cfg(not(feature = "bench"))]
    Bench {
        /// The benchmark's subcommand and flags, as `gatehouse-bench` takes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Import accounts with existing password hashes from a JSON Lines file.
    ///
    /// One object per line: {"email": "...", "password_hash": "$argon2id$..." | "$2b$...",
    /// "created_at": "<RFC 3339>"} (created_at optional). Existing addresses are skipped,
    /// so an interrupted import resumes by running it again.
    Import {
        /// The .jsonl file.
        file: PathBuf,
        /// Accounts per transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch_size: u32,
        /// Check the whole file first; import nothing if any line is bad.
        #[arg(long)]
        strict: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Re-key accounts stored before addresses were normalised (NFC, the
    /// domain decoded from Punycode): dry run unless --apply.
    ///
    /// Each stored address is parsed as a new one would be. An account whose
    /// address or key changes is re-keyed (audited); accounts that would
    /// share a key are reported and left alone (never merged), as are
    /// addresses that no longer parse. Exit status 1 if any were found.
    Renormalise {
        /// Write the changes (default: only report them).
        #[arg(long)]
        apply: bool,
        /// One JSON object (the report) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator and print their API key (shown once, stored hashed).
    Create {
        /// The operator's e-mail address.
        #[arg(long)]
        email: String,
        /// The key stops working after this long: 90d, 12h, 30m (default: never).
        #[arg(long, value_parser = operator_cmd::lifetime_arg)]
        expires_in: Option<std::time::Duration>,
    },
    /// Every operator: enabled or not, their key's state, expiry and last use.
    List {
        /// JSON Lines, one operator per line.
        #[arg(long)]
        json: bool,
    },
    /// Give an operator a new API key (printed once); the old one stops working.
    RotateKey {
        /// The operator's e-mail address or id.
        #[arg(long)]
        email: String,
        /// The new key stops working after this long: 90d, 12h, 30m (default: never).
        #[arg(long, value_parser = operator_cmd::lifetime_arg)]
        expires_in: Option<std::time::Duration>,
    },
    /// Revoke an operator's API key: none works until `rotate-key`.
    RevokeKey {
        /// The operator's e-mail address or id.
        #[arg(long)]
        email: String,
    },
    /// Disable an operator: key and console refused, console sessions ended.
    /// The last enabled operator cannot be disabled.
    Disable {
        /// The operator's e-mail address or id.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled operator again.
    Enable {
        /// The operator's e-mail address or id.
        #[arg(long)]
        email: String,
    },
    /// Set or replace an operator's console password (signs out their console
    /// sessions). Reads it without echo from a terminal, or the first line of stdin.
    Password {
        /// The operator's e-mail address.
        #[arg(long)]
        email: String,
        /// Generate a strong password and print it once instead of reading one.
        #[arg(long)]
        generate: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's hash chain, and check its end against the
    /// head the appenders keep; exit 1 if it is broken.
    Verify {
        /// Also check against a checkpoint saved earlier (`audit checkpoint`):
        /// the log must still hold that entry, unchanged.
        #[arg(long)]
        against: Option<std::path::PathBuf>,
    },
    /// Print the log's head signed with the server key (one JSON line): keep it
    /// outside the database, and check the log against it later with
    /// `audit verify --against FILE`.
    Checkpoint,
}

fn init_tracing(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "bench")]
    if let Command::Bench { command } = cli.command {
        return gatehouse_bench::run(command).await;
    }
    // The production build carries no benchmark code (crates/bench); say where it is.
    #[cfg(not(feature = "bench"))]
    if let Command::Bench { args } = cli.command {
        let args = args.join(" ");
        eprintln!(
            "error: this gatehouse was built without the benchmarks. Run them with\n  \
             cargo run --release -p gatehouse-bench -- {args}\n\
             or build gatehouse with them: cargo build --release -p gatehouse --features bench"
        );
        return Ok(ExitCode::from(2));
    }
    // The demo makes its own configuration (defaults and its directory).
    if let Command::Demo(args) = cli.command {
        let quiet_logs = init_demo_tracing();
        let (code, serve_config) = demo_cmd::run(args).await?;
        return match serve_config {
            Some(config) => {
                // From here on it is `serve`: its logs, as `serve` shows them.
                if let Some(handle) = quiet_logs {
                    let _ = handle.reload(tracing_subscriber::EnvFilter::new("info"));
                }
                serve(config).await
            }
            None => Ok(code),
        };
    }
    // Listing the keys reads no configuration, so it helps when that is bad.
    if let Command::Config { format } = &cli.command {
        print!("{}", gatehouse_server::config::reference(format == "json"));
        return Ok(ExitCode::SUCCESS);
    }
    // The breach index needs no configuration or database.
    if let Command::Breach { command } = cli.command {
        return breach_cmd::run(command);
    }
    let mut config = Config::load(cli.config.as_deref())?;
    init_tracing(config.log_format);
    // Only `serve` checks passwords; other commands skip loading (and checksumming)
    // the breach index.
    if !matches!(cli.command, Command::Serve) {
        config.breach_index = gatehouse_server::config::BreachIndexSource::Off;
    }
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let app = gatehouse_server::build_app(config).await?;
            println!("database migrated ({})", app.storage_engine());
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts {
            command:
                AccountsCommand::Import {
                    file,
                    batch_size,
                    strict,
                    quiet,
                },
        } => import(config, &file, batch_size as usize, strict, quiet).await,
        Command::Accounts {
            command: AccountsCommand::Renormalise { apply, json },
        } => renormalise(config, apply, json).await,
        Command::Operator {
            command: OperatorCommand::Create { email, expires_in },
        } => {
            let app = gatehouse_server::build_app(config).await?;
            let (op, key, expires_at) = app
                .create_operator_with_expiry(&email, expires_in)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("operator {} created for {}", op.id, op.email);
            if let Some(t) = expires_at {
                eprintln!("the key expires at {}", t.to_rfc3339());
            }
            eprintln!("API key (shown once; store it in a password manager):");
            println!("{}", key.expose());
            Ok(ExitCode::SUCCESS)
        }
        Command::Operator {
            command: OperatorCommand::Password { email, generate },
        } => operator_password(config, &email, generate).await,
        Command::Operator {
            command: OperatorCommand::List { json },
        } => operator_cmd::list(config, json).await,
        Command::Operator {
            command: OperatorCommand::RotateKey { email, expires_in },
        } => operator_cmd::rotate(config, &email, expires_in).await,
        Command::Operator {
            command: OperatorCommand::RevokeKey { email },
        } => operator_cmd::revoke(config, &email).await,
        Command::Operator {
            command: OperatorCommand::Disable { email },
        } => operator_cmd::set_enabled(config, &email, false).await,
        Command::Operator {
            command: OperatorCommand::Enable { email },
        } => operator_cmd::set_enabled(config, &email, true).await,
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => {
            let app = gatehouse_server::build_app(config).await?;
            let cp = app.audit_checkpoint().await?;
            println!("{}", serde_json::to_string(&cp)?);
            eprintln!(
                "audit checkpoint at entry {}: keep this line outside the database, and check \
                 the log against it with `gatehouse audit verify --against FILE`",
                cp.seq
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { against },
        } => {
            // Read the checkpoint before touching the database: a bad file fails fast.
            let checkpoint = against
                .map(|path| -> anyhow::Result<_> {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                    serde_json::from_str::<gatehouse_server::app::AuditCheckpoint>(text.trim())
                        .map_err(|e| {
                            anyhow::anyhow!(
                                "{}: not an audit checkpoint (`gatehouse audit checkpoint` writes one): {e}",
                                path.display()
                            )
                        })
                })
                .transpose()?;
            let app = gatehouse_server::build_app(config).await?;
            let report = match &checkpoint {
                Some(cp) => app
                    .verify_audit_against(cp)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                None => app.verify_audit_chain().await?,
            };
            match report {
                gatehouse_store::ChainReport::Intact { entries } => {
                    println!("audit log intact: {entries} entries");
                    Ok(ExitCode::SUCCESS)
                }
                gatehouse_store::ChainReport::Broken { seq, reason } => {
                    println!("audit log BROKEN at entry {seq}: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Outbox { command } => outbox_cmd::run(config, command).await,
        Command::Sessions { command } => sessions_cmd::run(config, command).await,
        Command::Oidc { command } => oidc_cmd::run(config, command).await,
        Command::Events { command } => events_cmd::run(config, command).await,
        Command::Rules { command } => rules_cmd::run(config, command).await,
        Command::Findings(args) => rules_cmd::findings(config, args).await,
        Command::Campaign { command } => campaign_cmd::run(config, command).await,
        Command::Breaker { command } => campaign_cmd::breaker(config, command).await,
        Command::Scan(args) => scan_cmd::run(config, args).await,
        Command::Status { command } => status_cmd::run(config, command).await,
        Command::Config { .. } => unreachable!("handled above"),
        Command::Bench { .. } | Command::Breach { .. } | Command::Demo(_) => {
            unreachable!("handled above")
        }
    }
}

/// Logging for `gatehouse demo`: off while it plays (the report says what
/// happened; the breaker's trip would be logged as an error in the middle of
/// it), unless `RUST_LOG` asks. Returns the handle that turns `serve`'s usual
/// logs on after the report, when `RUST_LOG` did not choose.
fn init_demo_tracing() -> Option<
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>,
> {
    use tracing_subscriber::prelude::*;
    let chosen = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let quiet = chosen.is_none();
    let filter = chosen.unwrap_or_else(|| tracing_subscriber::EnvFilter::new("off"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    quiet.then_some(handle)
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let listen = config.listen;
    let public = config.public_origin();
    let db = gatehouse_store::redact_url(&config.database_url);
    let app = gatehouse_server::build_app(config).await?;
    let router = gatehouse_server::http::router(app.clone())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, %public, database = %db, engine = app.storage_engine(), "gatehouse serving");
    eprintln!(
        "Gatehouse is serving on http://{listen} (public URL {public}); open {public}/signup"
    );
    let mailer =
        gatehouse_server::mail::Mailer::from_config(&app.config)?.reporting_to(app.health.clone());
    match &app.config.smtp_url {
        Some(url) => {
            tracing::info!(server = %gatehouse_store::redact_url(url.as_str()), "notices go to SMTP")
        }
        None => eprintln!(
            "Notices are written to the maildir {} (set GATEHOUSE_SMTP_URL to send them)",
            app.config.data_dir.join("mail").display()
        ),
    }
    // Listen for SIGHUP before saying anything about the index: a SIGHUP that arrives
    // before the handler exists would end the process (the default action).
    let reloader = spawn_breach_reload_on_sighup(app.clone());
    match app.breach_status() {
        Some(info) => {
            tracing::info!(path = %info.path, keys = info.keys, source = %info.source, "breach checks on");
            eprintln!(
                "Breach checks are on: {} holds {} keys (SIGHUP or POST /api/v1/admin/breach/reload reloads it)",
                info.path, info.keys
            );
        }
        None => {
            tracing::warn!("breach checks are off: no breached-password index");
            eprintln!(
                "Breach checks are off: no breached-password index ({}; build one with `gatehouse breach import`)",
                match app.config.breach_index.path() {
                    Some(p) => format!("none at {}", p.display()),
                    None => "breach_index is empty".into(),
                }
            );
        }
    }
    app.install_rules().await?;
    let detection = app
        .config
        .detection
        .then(|| gatehouse_server::spawn_detection(app.clone()));
    if detection.is_none() {
        eprintln!(
            "Compromise checks are off (detection = false): login events are stored, no rule runs"
        );
    }
    let housekeeping = gatehouse_server::spawn_housekeeping(app.clone());
    let campaigns = gatehouse_server::spawn_campaigns(app.clone());
    let delivery = gatehouse_server::mail::spawn_delivery(app.clone(), std::sync::Arc::new(mailer));
    let logout_tokens = gatehouse_server::backchannel::spawn_backchannel(app.clone())?;
    gatehouse_server::http::serve(listener, router, shutdown_signal()).await?;
    housekeeping.abort();
    campaigns.abort();
    delivery.abort();
    logout_tokens.abort();
    if let Some(d) = detection {
        d.abort();
    }
    reloader.abort();
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Reloads the breach index on every SIGHUP (after `gatehouse breach import` wrote a
/// new one); a failed reload is logged and the old index stays in use.
/// The handler is installed before this returns.
fn spawn_breach_reload_on_sighup(
    app: std::sync::Arc<gatehouse_server::App>,
) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut hup = match hup {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; reload the breach index with the admin API");
                    return;
                }
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the breach index");
                // Success and failure are both logged and audited inside.
                let _ = app
                    .reload_breach_index(gatehouse_domain::audit::Actor::System)
                    .await;
            }
        }
        #[cfg(not(unix))]
        drop(app);
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

async fn import(
    config: Config,
    file: &std::path::Path,
    batch: usize,
    strict: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    use file_import::{bar, open, print_errors, refuse_strict};
    // Open the file before touching the database: a wrong path fails fast.
    let mut first = Some(open(file)?);
    let app = gatehouse_server::build_app(config).await?;
    if strict {
        let (reader, len) = first.take().map_or_else(|| open(file), Ok)?;
        let pb = bar(quiet, len, "checking");
        let report = app.check_import(reader, |b| pb.set_position(b))?;
        pb.finish_and_clear();
        if report.error_count > 0 {
            refuse_strict(file, &report.errors, report.error_count, report.lines);
            return Ok(ExitCode::FAILURE);
        }
    }
    let (reader, len) = first.take().map_or_else(|| open(file), Ok)?;
    let pb = bar(quiet, len, "importing");
    let started = std::time::Instant::now();
    let report = app
        .import_accounts(reader, batch, |b| pb.set_position(b))
        .await?;
    pb.finish_and_clear();
    print_errors(file, &report.errors, report.error_count);
    println!(
        "{} lines: {} accounts imported, {} already existed, {} bad lines ({:.1} s)",
        report.lines,
        report.inserted,
        report.skipped_existing,
        report.error_count,
        started.elapsed().as_secs_f64()
    );
    Ok(if report.error_count > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `operator password`: sets an operator's console password.
async fn operator_password(
    config: gatehouse_server::config::Config,
    email: &str,
    generate: bool,
) -> anyhow::Result<ExitCode> {
    use secrecy::ExposeSecret;
    let password = if generate {
        generated_password()
    } else {
        read_new_password()?
    };
    let app = gatehouse_server::build_app(config).await?;
    let op = app
        .set_operator_password(email, password.expose_secret())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("console password set for operator {} ({})", op.id, op.email);
    if generate {
        eprintln!("password (shown once; store it in a password manager):");
        println!("{}", password.expose_secret());
    }
    Ok(ExitCode::SUCCESS)
}

/// 24 characters from a 32-letter alphabet: 120 bits from the OS RNG.
fn generated_password() -> secrecy::SecretString {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";
    let mut bytes = zeroize::Zeroizing::new([0u8; 24]);
    gatehouse_domain::Entropy::fill(&gatehouse_domain::OsEntropy, bytes.as_mut());
    let text: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    secrecy::SecretString::from(text)
}

/// A new password typed twice without echo, or the first line of stdin.
fn read_new_password() -> anyhow::Result<secrecy::SecretString> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprint!("new console password: ");
        let first = zeroize::Zeroizing::new(rpassword::read_password()?);
        eprint!("again: ");
        let second = zeroize::Zeroizing::new(rpassword::read_password()?);
        anyhow::ensure!(
            *first == *second,
            "the two passwords differ; nothing changed"
        );
        return Ok(secrecy::SecretString::from(first.to_string()));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    let trimmed = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!trimmed.is_empty(), "no password on stdin; nothing changed");
    Ok(secrecy::SecretString::from(trimmed.to_owned()))
}

/// `gatehouse accounts renormalise`.
async fn renormalise(config: Config, apply: bool, json: bool) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let r = app.renormalise_accounts(apply).await?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        for k in &r.rekeyed {
            println!("re-key {} {:?} -> {:?}", k.id, k.email, k.new_email);
        }
        for c in &r.collisions {
            let who: Vec<String> = c
                .accounts
                .iter()
                .map(|(id, e)| format!("{id} {e:?}"))
                .collect();
            println!(
                "collision {:?}: {} (left alone: merge or rename by hand)",
                c.key,
                who.join(", ")
            );
        }
        for (id, email, why) in &r.unparseable {
            println!("unparseable {id} {email:?}: {why} (left alone)");
        }
        println!(
            "{} accounts: {} {}, {} collisions, {} unparseable{}",
            r.accounts,
            r.rekeyed.len(),
            if apply { "re-keyed" } else { "to re-key" },
            r.collisions.len(),
            r.unparseable.len(),
            if apply {
                ""
            } else {
                " (dry run: nothing changed; --apply writes)"
            }
        );
    }
    let clean = r.collisions.is_empty() && r.unparseable.is_empty();
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
