//! The workload file (TOML) and its validation into one config before any server starts.
//!
//! Every field, with its default:
//!
//! ```toml
//! name = "smoke"              # required: names the workload in results
//! description = ""            # free text
//! seed = 1                    # drives every random choice (op mix, keys, fault schedule)
//! keys = 16                   # number of keys in the register table (>= 1)
//! distribution = "uniform"    # "uniform" | "zipf" | "hotspot"
//! zipf_exponent = 1.0         # zipf only (> 0)
//! hot_keys = 1                # hotspot only: the first `hot_keys` keys are hot
//! hot_fraction = 0.9          # hotspot only: share of operations on hot keys
//! read_fraction = 0.8         # share of reads (0..=1); the rest are writes
//! clients = 8                 # concurrent clients (tokio tasks), 1..=10000
//! duration_s = 5.0            # run length per strategy; or:
//! ops = 0                     # total operations per strategy (0: use duration_s)
//! rate = 0                    # max ops/s over all clients (0: unlimited)
//! ttl_ms = 60000              # TTL of cache entries (0: none)
//! op_timeout_ms = 1000        # per-operation timeout: a timed-out op completes as `info`
//! settle_ms = 500             # wait after quiescence before the final state is read
//! trace_steps = true          # record strategies' internal steps (cache-del, fill...) in the history
//! compress = false            # write history.jsonl.zst (zstd, flushed every second) instead of
//!                             # history.jsonl; `cachecheck run --compress` sets it
//! strategies = ["db-only"]    # strategies to run, in order (`--strategy` replaces the list)
//!
//! [strategy.NAME]             # per-strategy settings (see each strategy) and expectations:
//! expect = ["converges", "dirty_reads == 0", "stale_p99_ms < 50"]
//!
//! [infra]                     # see `infra::InfraConfig`
//!
//! [[nemesis]]                 # see `nemesis` (faults on a schedule)
//! ```
//!
//! Unknown fields are errors; every error names the field and the file.

pub mod expect;

use crate::infra::InfraConfig;
use expect::Expectation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A workload error: names the file, the field or line, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {msg}")]
pub struct WorkloadError {
    pub file: String,
    pub msg: String,
}

/// Key distribution of operations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    #[default]
    Uniform,
    Zipf,
    Hotspot,
}

/// The workload file as written (see the module doc for every field and default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "d_seed")]
    pub seed: u64,
    #[serde(default = "d_keys")]
    pub keys: u64,
    #[serde(default)]
    pub distribution: Distribution,
    #[serde(default = "d_one")]
    pub zipf_exponent: f64,
    #[serde(default = "d_hot_keys")]
    pub hot_keys: u64,
    #[serde(default = "d_hot_fraction")]
    pub hot_fraction: f64,
    #[serde(default = "d_read_fraction")]
    pub read_fraction: f64,
    #[serde(default = "d_clients")]
    pub clients: u32,
    #[serde(default = "d_duration")]
    pub duration_s: f64,
    #[serde(default)]
    pub ops: u64,
    #[serde(default)]
    pub rate: f64,
    #[serde(default = "d_ttl")]
    pub ttl_ms: u64,
    #[serde(default = "d_op_timeout")]
    pub op_timeout_ms: u64,
    #[serde(default = "d_settle")]
    pub settle_ms: u64,
    #[serde(default = "d_true")]
    pub trace_steps: bool,
    #[serde(default)]
    pub compress: bool,
    #[serde(default = "d_strategies")]
    pub strategies: Vec<String>,
    #[serde(default)]
    pub strategy: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub infra: InfraConfig,
    #[serde(default)]
    pub nemesis: Vec<toml::Table>,
}

fn d_seed() -> u64 {
    1
}
fn d_keys() -> u64 {
    16
}
fn d_one() -> f64 {
    1.0
}
fn d_hot_keys() -> u64 {
    1
}
fn d_hot_fraction() -> f64 {
    0.9
}
fn d_read_fraction() -> f64 {
    0.8
}
fn d_clients() -> u32 {
    8
}
fn d_duration() -> f64 {
    5.0
}
fn d_ttl() -> u64 {
    60_000
}
fn d_op_timeout() -> u64 {
    1000
}
fn d_settle() -> u64 {
    500
}
fn d_true() -> bool {
    true
}
fn d_strategies() -> Vec<String> {
    vec!["db-only".into()]
}

/// Settings every strategy accepts in its `[strategy.NAME]` table, besides its own.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommonSettings {
    /// Expectations, e.g. `["converges", "stale_reads == 0"]`.
    pub expect: Vec<Expectation>,
    /// Overrides the workload's `ttl_ms` for this strategy.
    pub ttl_ms: Option<u64>,
}

/// One strategy as it will run: its name, common settings and its own settings table.
///
/// A name may carry a label after `@` (`"double-delete@50ms"`): the same strategy run again
/// with other settings, in its own result directory.
#[derive(Debug, Clone)]
pub struct StrategyRun {
    pub name: String,
    pub common: CommonSettings,
    /// The strategy's own settings (validated by the strategy when it is built).
    pub settings: toml::Table,
}

/// A validated workload: what the run pipeline consumes.
#[derive(Debug, Clone)]
pub struct Workload {
    pub file: WorkloadFile,
    /// Where it was read from (for messages) and its text (copied into results).
    pub path: PathBuf,
    pub text: String,
    pub strategies: Vec<StrategyRun>,
    /// The fault schedule (`[[nemesis]]`).
    pub faults: Vec<crate::nemesis::spec::FaultSpec>,
}

impl StrategyRun {
    /// The registered strategy this run uses (the name without its `@label`).
    pub fn base(&self) -> &str {
        base_name(&self.name)
    }
}

/// The strategy part of a name (`double-delete@50ms` -> `double-delete`).
pub fn base_name(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

impl Workload {
    pub fn ttl_for(&self, s: &StrategyRun) -> u64 {
        s.common.ttl_ms.unwrap_or(self.file.ttl_ms)
    }
}

/// Reads and validates a workload file.
pub fn load(path: &Path) -> Result<Workload, WorkloadError> {
    let fname = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| WorkloadError {
        file: fname.clone(),
        msg: format!("cannot read workload file: {e} (fix: give the path of a .toml workload, e.g. workloads/smoke.toml)"),
    })?;
    parse(&text, &fname).map(|mut w| {
        w.path = path.to_path_buf();
        w
    })
}

/// Parses and validates workload text; `fname` is used in messages.
pub fn parse(text: &str, fname: &str) -> Result<Workload, WorkloadError> {
    let err = |msg: String| WorkloadError {
        file: fname.to_string(),
        msg,
    };
    let file: WorkloadFile = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
    validate(&file).map_err(err)?;
    let strategies = file
        .strategies
        .iter()
        .map(|name| strategy_run(&file, name).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    let faults = file
        .nemesis
        .iter()
        .enumerate()
        .map(|(i, t)| crate::nemesis::spec::parse(i, t).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    if file.infra.direct {
        if let Some(i) = faults.iter().position(|f| f.kind.needs_proxy()) {
            return Err(err(format!(
                "nemesis[{i}]: a `{}` fault needs the fault proxy, but [infra] sets `direct = true` (fix: remove `direct = true`)",
                faults[i].kind.name()
            )));
        }
    }
    for name in file.strategy.keys() {
        if !file.strategies.contains(name) {
            // Settings for a strategy that is not in the list are allowed (`--strategy` may
            // pick it), but the name must exist.
            crate::strategy::lookup(base_name(name))
                .map_err(|e| err(format!("[strategy.{name}]: {e}")))?;
        }
    }
    Ok(Workload {
        file,
        path: PathBuf::from(fname),
        text: text.to_string(),
        strategies,
        faults,
    })
}

/// Builds the run of strategy `name` from the workload's `[strategy.NAME]` table (or defaults).
pub fn strategy_run(file: &WorkloadFile, name: &str) -> Result<StrategyRun, String> {
    let base = base_name(name);
    crate::strategy::lookup(base).map_err(|e| format!("strategies: {e}"))?;
    if name.contains(['/', '\\']) || name.starts_with('.') || name.ends_with('@') {
        return Err(format!("strategies: `{name}` is not a usable name (use NAME or NAME@LABEL with letters, digits, - and _)"));
    }
    let mut table = file.strategy.get(name).cloned().unwrap_or_default();
    let mut common = CommonSettings::default();
    if let Some(v) = table.remove("expect") {
        let list = v
            .as_array()
            .ok_or_else(|| format!("strategy.{name}.expect: must be a list of strings, e.g. [\"converges\", \"dirty_reads == 0\"]"))?;
        for item in list {
            let s = item
                .as_str()
                .ok_or_else(|| format!("strategy.{name}.expect: every item must be a string"))?;
            common
                .expect
                .push(Expectation::parse(s).map_err(|e| format!("strategy.{name}.expect: {e}"))?);
        }
    }
    if let Some(v) = table.remove("ttl_ms") {
        let n = v.as_integer().filter(|n| *n >= 0).ok_or_else(|| {
            format!("strategy.{name}.ttl_ms: must be a non-negative integer (ms)")
        })?;
        common.ttl_ms = Some(n as u64);
    }
    // Let the strategy validate its own settings now, before any server starts.
    crate::strategy::validate_settings(base, &table)
        .map_err(|e| format!("strategy.{name}: {e}"))?;
    Ok(StrategyRun {
        name: name.to_string(),
        common,
        settings: table,
    })
}

fn validate(f: &WorkloadFile) -> Result<(), String> {
    fn check(ok: bool, field: &str, what: &str) -> Result<(), String> {
        if ok {
            Ok(())
        } else {
            Err(format!("field `{field}`: {what}"))
        }
    }
    check(!f.name.trim().is_empty(), "name", "must not be empty")?;
    check(f.keys >= 1, "keys", "must be at least 1")?;
    check(f.keys <= 100_000_000, "keys", "must be at most 100000000")?;
    check(
        f.zipf_exponent > 0.0 && f.zipf_exponent.is_finite(),
        "zipf_exponent",
        "must be a positive number",
    )?;
    check(
        f.hot_keys >= 1 && f.hot_keys <= f.keys,
        "hot_keys",
        "must be between 1 and `keys`",
    )?;
    check(
        (0.0..=1.0).contains(&f.hot_fraction),
        "hot_fraction",
        "must be between 0 and 1",
    )?;
    check(
        (0.0..=1.0).contains(&f.read_fraction),
        "read_fraction",
        "must be between 0 and 1",
    )?;
    check(
        (1..=10_000).contains(&f.clients),
        "clients",
        "must be between 1 and 10000",
    )?;
    check(
        f.duration_s.is_finite() && f.duration_s > 0.0 && f.duration_s <= 86_400.0,
        "duration_s",
        "must be a number of seconds between 0 and 86400",
    )?;
    check(
        f.rate.is_finite() && f.rate >= 0.0,
        "rate",
        "must be a non-negative number of ops/s (0: unlimited)",
    )?;
    check(f.op_timeout_ms >= 1, "op_timeout_ms", "must be at least 1")?;
    check(
        f.settle_ms <= 3_600_000,
        "settle_ms",
        "must be at most 3600000",
    )?;
    check(
        !f.strategies.is_empty(),
        "strategies",
        "must name at least one strategy",
    )?;
    let mut seen = std::collections::HashSet::new();
    for s in &f.strategies {
        check(seen.insert(s), "strategies", &format!("lists `{s}` twice"))?;
    }
    f.infra.validate()?;
    Ok(())
}

/// Formats a TOML error as one line: `line L: message`.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_workload_gets_defaults() {
        let w = parse("name = \"x\"\n", "x.toml").unwrap();
        assert_eq!(w.file.keys, 16);
        assert_eq!(w.strategies.len(), 1);
        assert_eq!(w.strategies[0].name, "db-only");
    }

    #[test]
    fn unknown_field_names_field_and_file() {
        let e = parse("name = \"x\"\nclientz = 3\n", "w.toml").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("w.toml: line 2"), "{s}");
        assert!(s.contains("clientz"), "{s}");
        assert!(!s.contains('\n'), "one line: {s}");
    }

    #[test]
    fn bad_value_names_field() {
        let e = parse("name = \"x\"\nread_fraction = 1.5\n", "w.toml").unwrap_err();
        assert!(e.to_string().contains("read_fraction"), "{e}");
        let e = parse("name = \"x\"\nclients = \"many\"\n", "w.toml").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn unknown_strategy_is_an_error() {
        let e = parse("name = \"x\"\nstrategies = [\"nope\"]\n", "w.toml").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn labelled_strategies_run_the_base_strategy() {
        let w = parse(
            "name = \"x\"\nstrategies = [\"db-only\", \"db-only@again\"]\n[strategy.\"db-only@again\"]\nexpect = [\"converges\"]\n",
            "w.toml",
        )
        .unwrap();
        assert_eq!(w.strategies[1].name, "db-only@again");
        assert_eq!(w.strategies[1].base(), "db-only");
        assert_eq!(w.strategies[1].common.expect.len(), 1);
        assert!(parse("name = \"x\"\nstrategies = [\"nope@x\"]\n", "w.toml").is_err());
    }

    #[test]
    fn proxy_faults_need_the_proxy() {
        let e = parse(
            "name = \"x\"\n[infra]\ndirect = true\n[[nemesis]]\nfault = \"latency\"\nrole = \"db\"\nlatency_ms = 5\nat_s = 0\nduration_s = 1\n",
            "w.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("nemesis[0]"), "{e}");
        let w = parse(
            "name = \"x\"\n[[nemesis]]\nfault = \"kill\"\nservice = \"redis\"\nat_s = 0\nduration_s = 1\n",
            "w.toml",
        )
        .unwrap();
        assert_eq!(w.faults.len(), 1);
    }

    #[test]
    fn bad_expectation_is_an_error() {
        let e = parse(
            "name = \"x\"\n[strategy.db-only]\nexpect = [\"stale_readz == 0\"]\n",
            "w.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("strategy.db-only.expect"), "{e}");
    }
}
