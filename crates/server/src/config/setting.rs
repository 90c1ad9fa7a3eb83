//! The machinery behind the key table in `config.rs`: reading one key's value
//! from the environment, the TOML file or its default (in that order), checking
//! it, and naming the key and where its value came from when it is bad.
//!
//! The table itself (each key's name, type, default, check and help) is the
//! `config_keys!` invocation in `config.rs`; nothing here knows a key by name.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("GATEHOUSE_{}", key.to_uppercase())
}

/// One key as `gatehouse config` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyDoc {
    /// The key in the TOML file.
    pub key: &'static str,
    /// Its environment variable.
    pub env: String,
    /// Its default: a value (empty: unset), or a sentence when it depends on
    /// other keys.
    pub default: String,
    /// Whether `default` is a sentence rather than a value.
    pub derived: bool,
    /// The values accepted, when the check can say so in a few words.
    pub allowed: Option<String>,
    /// What it does.
    pub help: String,
}

/// The values given for the keys: the file's table and the `GATEHOUSE_*`
/// variables, before any is parsed.
pub(super) struct Inputs<'a> {
    pub file: Option<(&'a Path, toml::Table)>,
    /// Key (lower case) → value, only for known keys.
    pub env: HashMap<String, String>,
}

impl Inputs<'_> {
    /// The error for a bad value of `key`, naming the key and where the value
    /// came from (the environment wins over the file, the file over the default).
    pub fn bad(&self, key: &str, msg: impl Display) -> ConfigError {
        let env = env_name(key);
        let place = if self.env.contains_key(key) {
            format!("env {env}")
        } else if let Some((path, _)) = self.file.as_ref().filter(|(_, t)| t.contains_key(key)) {
            format!("in config file {}", path.display())
        } else {
            // A default that another key's value made bad (e.g. argon2 memory
            // against parallelism): say how to change it.
            format!("env {env}")
        };
        ConfigError(format!("`{key}` ({place}): {msg}"))
    }

    /// `key`'s value, from the environment, else the file, else `default`,
    /// parsed as `R` and then checked (and converted) by `check`.
    pub fn value<R: Setting, O>(
        &self,
        key: &'static str,
        default: R,
        check: Check<R, O>,
    ) -> Result<O, ConfigError> {
        let raw = if let Some(s) = self.env.get(key) {
            R::from_env(s).map_err(|m| self.bad(key, m))?
        } else if let Some(v) = self.file.as_ref().and_then(|(_, t)| t.get(key)) {
            R::from_toml(v).map_err(|m| self.bad(key, m))?
        } else {
            default
        };
        (check.run)(raw).map_err(|m| self.bad(key, m))
    }
}

/// How a key's check turns its raw value into the value `Config` uses, and
/// what it accepts in words (for `gatehouse config`).
pub(super) struct Check<R, O> {
    run: Box<dyn Fn(R) -> Result<O, String>>,
    pub allowed: Option<String>,
}

impl<R, O> Check<R, O> {
    /// A check or conversion whose accepted values `allowed` describes (None
    /// when the help text already says it).
    pub fn new(allowed: Option<&str>, run: impl Fn(R) -> Result<O, String> + 'static) -> Self {
        Self {
            run: Box::new(run),
            allowed: allowed.map(str::to_owned),
        }
    }
}

/// Any value of the type.
pub(super) fn any<T: 'static>() -> Check<T, T> {
    Check::new(None, Ok)
}

/// A whole number from `lo` to `hi`.
pub(super) fn range<T: PartialOrd + Display + Copy + 'static>(lo: T, hi: T) -> Check<T, T> {
    Check {
        allowed: Some(format!("{lo} to {hi}")),
        run: Box::new(move |v| {
            if lo <= v && v <= hi {
                Ok(v)
            } else {
                Err(format!("must be between {lo} and {hi}"))
            }
        }),
    }
}

/// A finite number from `lo` to `hi`.
pub(super) fn number(lo: f64, hi: f64) -> Check<f64, f64> {
    Check {
        allowed: Some(format!("{lo} to {hi}")),
        run: Box::new(move |v| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(format!("must be a number between {lo} and {hi}"))
            }
        }),
    }
}

/// `inner`'s check on a value that may be unset (its default is derived).
pub(super) fn optional<R: 'static, O: 'static>(inner: Check<R, O>) -> Check<Option<R>, Option<O>> {
    let Check { run, allowed } = inner;
    Check {
        allowed,
        run: Box::new(move |v| v.map(&run).transpose()),
    }
}

/// A value type a key can have: read from an environment string or a TOML
/// value, and shown as a default.
pub(super) trait Setting: Sized {
    fn from_env(s: &str) -> Result<Self, String>;
    fn from_toml(v: &toml::Value) -> Result<Self, String>;
    fn show(&self) -> String;
}

macro_rules! whole_number {
    ($($t:ty),*) => {$(
        impl Setting for $t {
            fn from_env(s: &str) -> Result<Self, String> {
                s.trim()
                    .parse()
                    .map_err(|e| format!("{s:?} is not a whole number ({e})"))
            }
            fn from_toml(v: &toml::Value) -> Result<Self, String> {
                match v {
                    toml::Value::Integer(i) => <$t>::try_from(*i)
                        .map_err(|_| format!("{i} is out of range")),
                    toml::Value::String(s) => Self::from_env(s),
                    other => Err(format!("expected a whole number, found {}", other.type_str())),
                }
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
whole_number!(u32, u64, usize, i64);

impl Setting for f64 {
    fn from_env(s: &str) -> Result<Self, String> {
        s.trim()
            .parse()
            .map_err(|e| format!("{s:?} is not a number ({e})"))
    }
    fn from_toml(v: &toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Float(f) => Ok(*f),
            toml::Value::Integer(i) => Ok(*i as f64),
            toml::Value::String(s) => Self::from_env(s),
            other => Err(format!("expected a number, found {}", other.type_str())),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Setting for bool {
    /// The spellings the `config` crate accepted before this table replaced it.
    fn from_env(s: &str) -> Result<Self, String> {
        match s.trim().to_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(true),
            "false" | "off" | "no" | "0" => Ok(false),
            _ => Err(format!("{s:?} is neither true nor false")),
        }
    }
    fn from_toml(v: &toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) => Self::from_env(s),
            other => Err(format!(
                "expected true or false, found {}",
                other.type_str()
            )),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Setting for String {
    fn from_env(s: &str) -> Result<Self, String> {
        Ok(s.to_owned())
    }
    fn from_toml(v: &toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            // `site_name = 2026` means the text "2026".
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                Ok(v.to_string())
            }
            other => Err(format!("expected a string, found {}", other.type_str())),
        }
    }
    fn show(&self) -> String {
        self.clone()
    }
}

impl Setting for PathBuf {
    fn from_env(s: &str) -> Result<Self, String> {
        Ok(s.into())
    }
    fn from_toml(v: &toml::Value) -> Result<Self, String> {
        String::from_toml(v).map(Into::into)
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// A list: comma-separated in the environment, an array (or the same
/// comma-separated string) in the file.
impl Setting for Vec<String> {
    fn from_env(s: &str) -> Result<Self, String> {
        Ok(s.split(',').map(str::to_owned).collect())
    }
    fn from_toml(v: &toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Array(items) => items.iter().map(String::from_toml).collect(),
            toml::Value::String(s) => Self::from_env(s),
            other => Err(format!("expected a list, found {}", other.type_str())),
        }
    }
    fn show(&self) -> String {
        self.join(",")
    }
}

/// A key whose default depends on other keys: unset unless given.
impl<T: Setting> Setting for Option<T> {
    fn from_env(s: &str) -> Result<Self, String> {
        T::from_env(s).map(Some)
    }
    fn from_toml(v: &toml::Value) -> Result<Self, String> {
        T::from_toml(v).map(Some)
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(String::new, T::show)
    }
}

/// A key's default as `gatehouse config` shows it: `shown` when the table
/// gives one (a default derived from other keys), else the value.
pub(super) fn default_text<T: Setting>(default: T, shown: Option<&str>) -> String {
    shown.map_or_else(|| default.show(), str::to_owned)
}

/// Doc comment lines joined into one paragraph.
pub(super) fn help_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
