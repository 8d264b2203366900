//! The settings of strategy `service` and their checks (the settings and their defaults:
//! the module doc of [`super`]).

use crate::strategy::{Env, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Settings of `service` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default = "default_cache_key")]
    pub cache_key: String,
    #[serde(default = "default_cache_value")]
    pub cache_value: String,
    #[serde(default = "default_health")]
    pub health: String,
    #[serde(default = "default_start_timeout_s")]
    pub start_timeout_s: f64,
    #[serde(default)]
    pub delay_env: Option<String>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default = "default_key_column")]
    pub key_column: String,
    #[serde(default = "default_value_column")]
    pub value_column: String,
}

fn default_cache_key() -> String {
    "cc:{key}".into()
}
fn default_cache_value() -> String {
    "int".into()
}
fn default_health() -> String {
    "/health".into()
}
fn default_start_timeout_s() -> f64 {
    30.0
}
fn default_key_column() -> String {
    "k".into()
}
fn default_value_column() -> String {
    "v".into()
}

/// A plain SQL identifier (letters, digits, `_`; not starting with a digit).
fn identifier(field: &str, s: &str) -> Result<(), String> {
    let ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 48;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{field}` = \"{s}\": must be a plain SQL name (letters, digits and _, up to 48)"
        ))
    }
}

impl super::super::Settings for Settings {
    fn check(&self) -> Result<(), String> {
        match (&self.command, &self.url) {
            (None, None) => {
                return Err("one of `command` (argv of the service to start) or `url` (a running service) is required (fix: e.g. command = [\"python3\", \"app.py\"])".into())
            }
            (Some(_), Some(_)) => {
                return Err("`command` and `url` exclude each other (fix: keep one)".into())
            }
            (Some(c), None) if c.is_empty() || c[0].trim().is_empty() => {
                return Err("`command` must name a program (e.g. [\"python3\", \"app.py\"])".into())
            }
            (None, Some(u)) => {
                crate::infra::parse_http_url(u).map_err(|e| format!("`url`: {e}"))?;
            }
            _ => {}
        }
        if !self.cache_key.contains("{key}") {
            return Err(format!(
                "`cache_key` = \"{}\" must contain `{{key}}` (e.g. \"cc:{{key}}\")",
                self.cache_key
            ));
        }
        if self.cache_value != "int" && !self.cache_value.starts_with('/') {
            return Err(format!(
                "`cache_value` = \"{}\": \"int\" or a JSON pointer such as \"/value\"",
                self.cache_value
            ));
        }
        if !self.health.starts_with('/') {
            return Err(format!(
                "`health` = \"{}\" must be a path starting with `/`",
                self.health
            ));
        }
        if !(self.start_timeout_s > 0.0 && self.start_timeout_s.is_finite()) {
            return Err("`start_timeout_s` must be a positive number of seconds".into());
        }
        if self.delay_ms.is_some() && self.delay_env.is_none() {
            return Err(
                "`delay_ms` needs `delay_env` (the variable the service reads it from)".into(),
            );
        }
        if let Some(t) = &self.table {
            identifier("table", t)?;
            if t == crate::register::TABLE || t == crate::register::LOG_TABLE {
                return Err(format!("`table` = \"{t}\" is cachecheck's own table (fix: leave `table` out to use the register)"));
            }
        }
        identifier("key_column", &self.key_column)?;
        identifier("value_column", &self.value_column)?;
        if self.key_column == self.value_column {
            return Err("`key_column` and `value_column` must differ".into());
        }
        if self.url.is_some() && (self.delay_ms.is_some() || !self.env.is_empty()) {
            return Err("`env` and `delay_ms` need `command` (a service cachecheck starts)".into());
        }
        Ok(())
    }

    fn build(&self, env: &Env) -> anyhow::Result<std::sync::Arc<dyn Strategy>> {
        Ok(std::sync::Arc::new(super::Service::new(self.clone(), env)?))
    }
}
