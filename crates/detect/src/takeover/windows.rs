//! The site-level attack-in-progress windows of the hour (and the day-long
//! drift's check, `drift.rs`), kept for operators and used as an attack's context.

use super::*;

impl Takeover {
    pub(super) fn track_window(&mut self, now: i64, unknown: bool) {
        let prior = self.site_prior();
        let bucket_z = |attempts: u32, unknown: u32| {
            let expected = prior * attempts as f32;
            (unknown as f32 - expected) / (expected + 1.0).sqrt()
        };
        if now >= self.bucket.0.saturating_add(BUCKET_MS) {
            self.last_bucket_z = if self.bucket.0 != i64::MIN && self.bucket.2 >= NOW_MIN_UNKNOWN {
                bucket_z(self.bucket.1, self.bucket.2)
            } else {
                0.0
            };
            self.bucket = (now, 0, 0);
        }
        self.bucket.1 += 1;
        self.bucket.2 += u32::from(unknown);
        if let Some(w) = self.windows.back_mut().filter(|w| w.open) {
            w.end_ms = w.end_ms.max(now);
            w.attempts += 1;
            w.unknown += u64::from(unknown);
        }
        // The excess is weighed at most once a second of event time (a square
        // root and a division per event would cost a few percent at millions of
        // events a second).
        if now < self.next_window_check_ms {
            return;
        }
        self.next_window_check_ms = now + 1000;
        self.drift.check(
            now,
            self.cfg.drift_z,
            self.cfg.drift_ratio,
            self.cfg.drift_failure_ratio,
            self.cfg.drift_outside_windows,
        );
        let z = self.site_fast_z();
        // Happening now: the running or the last ten minutes show an excess (of
        // at least a few attempts: a quiet night's two mistyped addresses are not).
        let now_z = if self.bucket.2 >= NOW_MIN_UNKNOWN {
            bucket_z(self.bucket.1, self.bucket.2)
        } else {
            0.0
        }
        .max(self.last_bucket_z);
        let open_z = self.cfg.site_z;
        // The hour's unknown share against the site's own (`site_share_ratio`):
        // a z-score grows with the square root of the volume, so a promotion's
        // crowd, with a few times the usual share of mistyped and other
        // addresses, reaches it as surely as a combo list does.
        let share_ratio = if self.site.fast[0] > 0.0 {
            self.site.fast[1] / self.site.fast[0] / prior.max(1e-4)
        } else {
            0.0
        };
        let min_ratio = self.cfg.site_share_ratio;
        if let Some(w) = self.windows.back_mut().filter(|w| w.open) {
            w.peak_site_z = w.peak_site_z.max(z);
            // Closed once the hour's excess has halved or the last ten minutes
            // showed none: the tail of a burst is not an attack in progress.
            if z < open_z / 2.0 || now_z < NOW_Z || share_ratio < min_ratio / 2.0 {
                w.open = false;
            }
        } else if z >= open_z && now_z >= NOW_Z && share_ratio >= min_ratio {
            match self.windows.back_mut() {
                Some(w) if now - w.end_ms <= WINDOW_MERGE_MS => {
                    w.open = true;
                    w.end_ms = now;
                    w.peak_site_z = w.peak_site_z.max(z);
                    w.attempts += 1;
                    w.unknown += u64::from(unknown);
                }
                _ => {
                    if self.windows.len() == ATTACK_WINDOWS_KEPT {
                        self.windows.pop_front();
                    }
                    self.windows.push_back(AttackWindow {
                        start_ms: now,
                        end_ms: now,
                        open: true,
                        peak_site_z: z,
                        unknown: u64::from(unknown),
                        attempts: 1,
                    });
                }
            }
        }
    }
}
