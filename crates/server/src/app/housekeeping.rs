//! Housekeeping, run every ten minutes by `serve`: stale throttle counters,
//! long-dead sessions, codes in notices that will never be sent, and login
//! events past their retention, and logout tokens apps took a month ago, go.

use gatehouse_domain::throttle::ThrottlePolicy;

use crate::app::{App, AppError};

impl App {
    /// Deletes stale throttle counters and long-dead sessions. Run periodically by `serve`.
    pub async fn housekeeping(&self) -> Result<(u64, u64), AppError> {
        let now = self.clock.now();
        let counters = self
            .store
            .purge_throttle(now.minus(ThrottlePolicy::LONGEST_WINDOW), now)
            .await?;
        // Ended sessions stay listed in the database for a month (the audit log keeps them for good).
        let month_ago = now.minus(std::time::Duration::from_secs(30 * 24 * 3600));
        let sessions = self.store.purge_sessions(month_ago).await?;
        // Codes in notices that will never be sent go after a week.
        self.store
            .purge_notice_payloads(now.minus(std::time::Duration::from_secs(7 * 24 * 3600)))
            .await?;
        // OIDC (issue 16): codes after a day (they live a minute); grants a
        // month after they were revoked or their session was purged.
        self.store
            .purge_oidc(
                now.minus(std::time::Duration::from_secs(24 * 3600)),
                month_ago,
            )
            .await?;
        // Back-channel logout tokens the apps took, after a month.
        self.store.purge_app_deliveries(month_ago).await?;
        let events = self.purge_login_events(now).await?;
        if events > 0 {
            tracing::info!(events, "deleted login events past event_retention_days");
        }
        Ok((counters, sessions))
    }
}
