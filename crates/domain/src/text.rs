//! Text that operators and apps write and people later read — campaign names
//! and reasons, breaker reasons, incident titles, user agents — checked once at
//! the edge, the same on both engines.
//!
//! PostgreSQL refuses a NUL in text (a 500 if it got that far); SQLite stores
//! it, and a terminal that prints it back runs its escape sequences. So text
//! from outside either is refused with a clear error (operator text: the
//! operator can fix it) or has its control characters replaced (what an app
//! relays from a browser, such as a User-Agent: refusing it would make the app
//! retry the same batch forever).

/// One line: trimmed, non-empty, at most `max` characters, no control
/// characters at all (no line breaks: it goes into mail subjects, feed titles
/// and terminal tables). The error says what is wrong, for "the title …".
pub fn one_line(s: &str, max: usize) -> Result<String, String> {
    checked(s, max, |c| c.is_control() || is_invisible_format(c))
}

/// Several lines: as [`one_line`], but line breaks and tabs are allowed.
pub fn multi_line(s: &str, max: usize) -> Result<String, String> {
    checked(s, max, |c| {
        (c.is_control() && c != '\n' && c != '\t' && c != '\r') || is_invisible_format(c)
    })
}

/// Whether `s` holds a character [`one_line`] refuses (for query parameters:
/// such a value names nothing).
pub fn has_controls(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || is_invisible_format(c))
}

/// `s` with every control character replaced by U+FFFD: for text relayed from
/// elsewhere that is kept for what it says (a User-Agent), not refused.
pub fn lossy_one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || is_invisible_format(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// Bidirectional overrides and isolates: they reorder what a reader sees
/// (a reason that reads one way and says another).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn checked(s: &str, max: usize, bad: impl Fn(char) -> bool) -> Result<String, String> {
    // Length and characters are judged on the text as sent, before trimming:
    // `/openapi.json` states these rules as a pattern and a `maxLength`, which
    // see the whole string, and a request is accepted exactly when it meets them.
    let t = s.trim();
    if t.is_empty() {
        return Err("is empty".into());
    }
    let n = s.chars().count();
    if n > max {
        return Err(format!("is {n} characters long; at most {max}"));
    }
    if let Some(c) = s.chars().find(|&c| bad(c)) {
        return Err(format!(
            "holds a control character (U+{:04X}); use plain text",
            c as u32
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_refuses_what_breaks_mail_terminals_and_postgresql() {
        assert_eq!(one_line("  Spring reset  ", 50).unwrap(), "Spring reset");
        assert_eq!(one_line("", 5).unwrap_err(), "is empty");
        assert!(one_line("abcdef", 5).unwrap_err().contains("at most 5"));
        for bad in [
            "a\0b",
            "a\nb",
            "title\r\nBcc: x",
            "\u{1b}[31mred",
            "a\u{202E}b",
        ] {
            assert!(
                one_line(bad, 50).unwrap_err().contains("control character"),
                "{bad:?}"
            );
        }
        assert_eq!(one_line("Zürich café ✓", 50).unwrap(), "Zürich café ✓");
    }

    #[test]
    fn multi_line_allows_line_breaks_only() {
        assert!(multi_line("line one\nline two\tend", 100).is_ok());
        assert!(multi_line("nul\0", 100).is_err());
        assert!(multi_line("esc\u{1b}", 100).is_err());
    }

    #[test]
    fn lossy_keeps_the_rest() {
        assert_eq!(lossy_one_line("Agent\0/1\n"), "Agent\u{FFFD}/1\u{FFFD}");
        assert!(has_controls("x\0") && !has_controls("plain"));
    }
}
