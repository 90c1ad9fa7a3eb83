//! Times and durations in words, for the pages and notices people read.
//!
//! Pure: the current time is always passed in (the request's `App.clock.now()`),
//! never read here, so a page shows the same words in a test with a fixed
//! clock and relative times agree with the clock that decided what happened.
//!
//! - [`absolute`]: "3 Dec 2026, 08:18 UTC" — the date written out, never a
//!   numeric date a reader could take for month/day.
//! - [`relative`]: "12 minutes ago", "in 3 hours", "just now".
//! - [`duration`]: "24 hours", "2 days", "30 minutes".
//! - [`When`]: all of that as one `<time datetime="…">` element for templates;
//!   the machine-readable form (RFC 3339) stays in the attribute.

use std::fmt;
use std::time::Duration;

use gatehouse_domain::Timestamp;

/// Past this distance from now a relative time stops helping: "41 days ago"
/// makes the reader do arithmetic the absolute date already did.
const RELATIVE_LIMIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// "3 Dec 2026, 08:18 UTC".
pub fn absolute(t: Timestamp) -> String {
    let dt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    dt.format(&fmt).unwrap_or_else(|_| t.to_rfc3339())
}

/// `1` → "1 hour", `3` → "3 hours".
fn count(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// How far `t` is from `now`, in the largest whole unit: "just now" (under a
/// minute), "12 minutes ago", "3 hours ago", "2 days ago"; "in 5 minutes" for
/// a time still ahead.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let (gap, ahead) = if t > now {
        (t.since(now), true)
    } else {
        (now.since(t), false)
    };
    let secs = gap.as_secs();
    let words = match secs {
        0..60 => {
            return if ahead {
                "in under a minute"
            } else {
                "just now"
            }
            .to_owned();
        }
        60..3600 => count(secs / 60, "minute"),
        3600..86_400 => count(secs / 3600, "hour"),
        _ => count(secs / 86_400, "day"),
    };
    if ahead {
        format!("in {words}")
    } else {
        format!("{words} ago")
    }
}

/// A length of time in the largest unit that says it exactly: "2 days",
/// "24 hours", "90 minutes", "45 seconds". One day reads as "24 hours" (how
/// people speak of a code's lifetime); two or more whole days as days.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0 seconds".to_owned();
    }
    if secs.is_multiple_of(86_400) && secs >= 2 * 86_400 {
        count(secs / 86_400, "day")
    } else if secs.is_multiple_of(3600) {
        count(secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        count(secs / 60, "minute")
    } else {
        count(secs, "second")
    }
}

/// [`duration`] of a number of minutes.
pub fn minutes(m: u64) -> String {
    duration(Duration::from_secs(m.saturating_mul(60)))
}

/// A point in time as a page shows it: `<time datetime="RFC 3339">3 Dec 2026,
/// 08:18 UTC</time>`, followed by " (12 minutes ago)" when within a week of now.
/// Rendered unescaped by askama ([`askama::filters::HtmlSafe`]): every part is
/// made here from a number, never from input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct When {
    /// RFC 3339, for the `datetime` attribute.
    pub iso: String,
    /// "3 Dec 2026, 08:18 UTC".
    pub absolute: String,
    /// "12 minutes ago", if it helps.
    pub relative: Option<String>,
}

impl When {
    /// `t` as seen at `now`.
    pub fn new(t: Timestamp, now: Timestamp) -> Self {
        let gap = if t > now { t.since(now) } else { now.since(t) };
        Self {
            iso: t.to_rfc3339(),
            absolute: absolute(t),
            relative: (gap < RELATIVE_LIMIT).then(|| relative(t, now)),
        }
    }

    /// The absolute time alone (for lists where every row is old, or where
    /// "ago" would be misleading, such as a record's creation in an audit log).
    pub fn absolute_only(t: Timestamp) -> Self {
        Self {
            iso: t.to_rfc3339(),
            absolute: absolute(t),
            relative: None,
        }
    }

    /// An RFC 3339 string from an application view; `None` if it does not parse
    /// (a page then shows nothing rather than a raw string).
    pub fn parse(rfc3339: &str, now: Timestamp) -> Option<Self> {
        Timestamp::parse_rfc3339(rfc3339)
            .ok()
            .map(|t| Self::new(t, now))
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<time datetime=\"{}\">{}</time>",
            self.iso, self.absolute
        )?;
        if let Some(r) = &self.relative {
            write!(f, " <span class=\"ago\">({r})</span>")?;
        }
        Ok(())
    }
}

impl askama::filters::HtmlSafe for When {}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn absolute_writes_the_date_out_in_utc() {
        assert_eq!(
            absolute(at("2026-12-03T08:18:28.540Z")),
            "3 Dec 2026, 08:18 UTC"
        );
        // An offset is converted, not dropped.
        assert_eq!(
            absolute(at("2026-12-03T09:18:00+01:00")),
            "3 Dec 2026, 08:18 UTC"
        );
        assert_eq!(
            absolute(at("2027-01-15T23:05:00Z")),
            "15 Jan 2027, 23:05 UTC"
        );
    }

    #[test]
    fn relative_uses_the_largest_whole_unit() {
        let now = at("2026-12-03T08:30:00Z");
        let cases = [
            ("2026-12-03T08:29:31Z", "just now"),
            ("2026-12-03T08:29:00Z", "1 minute ago"),
            ("2026-12-03T08:18:00Z", "12 minutes ago"),
            ("2026-12-03T07:30:00Z", "1 hour ago"),
            ("2026-12-03T05:00:00Z", "3 hours ago"),
            ("2026-12-02T08:30:00Z", "1 day ago"),
            ("2026-11-20T08:30:00Z", "13 days ago"),
            ("2026-12-03T08:30:20Z", "in under a minute"),
            ("2026-12-03T08:35:00Z", "in 5 minutes"),
            ("2026-12-04T08:30:00Z", "in 1 day"),
        ];
        for (t, want) in cases {
            assert_eq!(relative(at(t), now), want, "{t}");
        }
    }

    #[test]
    fn durations_read_in_hours_or_days_when_whole() {
        let cases = [
            (1440, "24 hours"),
            (2880, "2 days"),
            (10_080, "7 days"),
            (60, "1 hour"),
            (120, "2 hours"),
            (30, "30 minutes"),
            (90, "90 minutes"),
            (1, "1 minute"),
            (1500, "25 hours"),
        ];
        for (m, want) in cases {
            assert_eq!(minutes(m), want, "{m} minutes");
        }
        assert_eq!(duration(Duration::from_secs(45)), "45 seconds");
        assert_eq!(duration(Duration::ZERO), "0 seconds");
    }

    #[test]
    fn when_is_a_time_element_with_relative_time_within_a_week() {
        let now = at("2026-12-03T08:30:00Z");
        let recent = When::new(at("2026-12-03T08:18:28.540Z"), now);
        assert_eq!(
            recent.to_string(),
            "<time datetime=\"2026-12-03T08:18:28.54Z\">3 Dec 2026, 08:18 UTC</time> \
             <span class=\"ago\">(11 minutes ago)</span>"
        );
        let old = When::new(at("2026-10-01T12:00:00Z"), now);
        assert_eq!(old.relative, None);
        assert_eq!(
            old.to_string(),
            "<time datetime=\"2026-10-01T12:00:00Z\">1 Oct 2026, 12:00 UTC</time>"
        );
        assert_eq!(When::parse("yesterday", now), None);
        assert_eq!(
            When::parse("2026-12-03T06:30:00Z", now)
                .unwrap()
                .relative
                .as_deref(),
            Some("2 hours ago")
        );
        assert_eq!(
            When::absolute_only(at("2026-12-03T08:29:00Z")).relative,
            None
        );
    }
}
