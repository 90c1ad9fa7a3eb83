//! `gatehouse operator list|rotate-key|revoke-key|disable|enable`: operators'
//! API keys with a life cycle (issue 18 #6). The CLI acts as `system` (whoever
//! runs it holds the database); every change is audited with `"via": "cli"`.

use std::process::ExitCode;
use std::time::Duration;

use gatehouse_domain::audit::Actor;
use gatehouse_server::app::operators::OperatorView;

/// A key's lifetime as typed: "90d", "12h", "30m".
pub fn lifetime_arg(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let unit = match s.chars().last() {
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(format!("{s:?} is not a lifetime like 90d, 12h or 30m")),
    };
    s[..s.len() - 1]
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| Duration::from_secs(n * unit))
        .ok_or_else(|| format!("{s:?} is not a lifetime like 90d, 12h or 30m"))
}

/// `operator list`: one line per operator (or JSON Lines).
pub async fn list(
    config: gatehouse_server::config::Config,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let now = app.clock.now();
    let all = app
        .operators_overview()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for o in &all {
        let v = OperatorView::new(o, now);
        if json {
            println!("{}", serde_json::to_string(&v)?);
        } else {
            println!(
                "{}  {}  {}  key {}  made {}  expires {}  last used {}",
                v.id,
                v.email,
                if v.enabled { "enabled" } else { "DISABLED" },
                v.key_state.as_str(),
                v.key_created_at.as_deref().unwrap_or("-"),
                v.key_expires_at.as_deref().unwrap_or("never"),
                v.key_last_used_at.as_deref().unwrap_or("never"),
            );
        }
    }
    if all.is_empty() && !json {
        eprintln!("no operators yet: gatehouse operator create --email E");
    }
    Ok(ExitCode::SUCCESS)
}

/// `operator rotate-key`: prints the new key once (stdout), the old one stops working.
pub async fn rotate(
    config: gatehouse_server::config::Config,
    who: &str,
    expires_in: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let r = app
        .rotate_operator_key(who, expires_in, Actor::System, "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "key rotated for operator {} ({}); the old key no longer works",
        r.operator.id, r.operator.email
    );
    match r.expires_at {
        Some(t) => eprintln!("it expires at {}", t.to_rfc3339()),
        None => eprintln!("it does not expire"),
    }
    eprintln!("API key (shown once; store it in a password manager):");
    println!("{}", r.key.expose());
    Ok(ExitCode::SUCCESS)
}

/// `operator revoke-key`.
pub async fn revoke(
    config: gatehouse_server::config::Config,
    who: &str,
) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let changed = app
        .revoke_operator_key(who, Actor::System, "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "{}",
        if changed {
            "key revoked: no key of this operator works until `operator rotate-key`"
        } else {
            "the key was revoked already; nothing changed"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `operator disable` / `operator enable`.
pub async fn set_enabled(
    config: gatehouse_server::config::Config,
    who: &str,
    enabled: bool,
) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let changed = app
        .set_operator_enabled(who, enabled, Actor::System, "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "{}",
        match (changed, enabled) {
            (true, false) => {
                "operator disabled: their key and console sign-in are refused, their console sessions ended"
            }
            (true, true) => "operator enabled again",
            (false, false) => "the operator was disabled already; nothing changed",
            (false, true) => "the operator was enabled already; nothing changed",
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::lifetime_arg;
    use std::time::Duration;

    #[test]
    fn lifetimes_read_as_typed() {
        assert_eq!(lifetime_arg("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(lifetime_arg("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(lifetime_arg("30m"), Ok(Duration::from_secs(1800)));
        assert!(lifetime_arg("0d").is_err());
        assert!(lifetime_arg("90").is_err());
        assert!(lifetime_arg("d").is_err());
    }
}
