//! The run configuration: what a run is, built once before any server starts.
//!
//! Two stages, as ripgrep's low-level and high-level arguments: the workload file as written
//! ([`WorkloadFile`], see [`crate::workload`] for every field and its default) takes the
//! command line's [`Overrides`], and only then is everything validated, once, into a
//! [`RunConfig`]: every value checked, each strategy's settings parsed into its own typed
//! settings ([`StrategyRun::setup`]), each `[[nemesis]]` entry into a [`FaultSpec`]. The run
//! pipeline reads only a `RunConfig`, never the raw TOML.
//!
//! Every error names the file and the field, or the flag that set the value.

use crate::expect::Expectation;
use crate::infra::{InfraConfig, InfraKind};
use crate::nemesis::spec::FaultSpec;
use crate::strategy::Setup;
use crate::workload::{self, base_name, Distribution, FieldError, WorkloadError, WorkloadFile};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the command line changes in a workload (`cachecheck run` and the commands built on it).
/// Each is applied before validation, so a value is validated once, and an error names the
/// flag that set it.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--strategy` (repeatable): replaces the workload's strategy list when not empty.
    pub strategies: Vec<String>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--duration`: replaces `duration_s` (and clears `ops`).
    pub duration_s: Option<f64>,
    /// `--clients`.
    pub clients: Option<u32>,
    /// `--infra`.
    pub infra: Option<InfraKind>,
    /// `--redis`: replaces `[infra] redis` (e.g. the smoke workload on Sentinel).
    pub redis: Option<crate::infra::sentinel::RedisTopology>,
    /// `--keep` (Docker only): leave the stack running at the end.
    pub keep: bool,
    /// `--db-url`, `--redis-url`, `--toxiproxy-url`: any of them implies `--infra external`.
    pub db_url: Option<String>,
    pub redis_url: Option<String>,
    pub toxiproxy_url: Option<String>,
    /// Record strategies' internal steps whatever the workload says (`tune-delay` reads them).
    pub trace_steps: Option<bool>,
    /// Connect without fault proxies whatever the workload says (`bench harness`).
    pub direct: Option<bool>,
    /// `--compress`: write history.jsonl.zst whatever the workload's `compress` says.
    pub compress: bool,
}

/// A configuration error: in the workload file, or in a flag.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error("{flag}: {what}")]
    Flag { flag: String, what: String },
}

/// Settings every strategy accepts in its `[strategy.NAME]` table, besides its own.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommonSettings {
    /// Expectations, e.g. `["converges", "stale_reads == 0"]`.
    pub expect: Vec<Expectation>,
    /// Overrides the workload's `ttl_ms` for this strategy.
    pub ttl_ms: Option<u64>,
    /// Where reads after a miss go: `"primary"` (the default, role `db`) or `"replica"` (role
    /// `db-replica`; needs `[infra] db_replicas`; each client reads one replica, chosen by seed).
    pub fill_from: FillFrom,
    /// After every invalidation (a DEL, a lease/versioned/rockscache invalidation), `WAIT
    /// wait_replicas wait_timeout_ms`; fewer replicas reached is a failed delete (0: no WAIT,
    /// the default; needs `[infra] redis = "sentinel"`).
    pub wait_replicas: u32,
    /// The WAIT's timeout (ms, default 100).
    pub wait_timeout_ms: u64,
    /// Where the cache reads (role `cache-read`) go: `"primary"` (the default) or `"replica"`
    /// (role `cache-read-replica`, a Redis replica; needs `[infra] redis = "sentinel"`).
    pub cache_read_from: FillFrom,
}

/// `fill_from` of a strategy: which database serves the reads after a miss; also
/// `cache_read_from`: which Redis serves the cache reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FillFrom {
    #[default]
    Primary,
    Replica,
}

/// One strategy as it will run.
///
/// A name may carry a label after `@` (`"double-delete@50ms"`): the same strategy run again
/// with other settings, in its own result directory.
#[derive(Clone)]
pub struct StrategyRun {
    pub name: String,
    pub common: CommonSettings,
    /// The strategy's own settings, parsed and validated.
    pub setup: Arc<dyn Setup>,
    /// Its own settings as written (summary.json's `settings.strategy`).
    pub written: serde_json::Value,
}

impl std::fmt::Debug for StrategyRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyRun")
            .field("name", &self.name)
            .field("common", &self.common)
            .field("written", &self.written)
            .finish()
    }
}

impl StrategyRun {
    /// The registered strategy this run uses (the name without its `@label`).
    pub fn base(&self) -> &str {
        base_name(&self.name)
    }
}

/// A validated run: the workload's values with the command line's overrides, its strategies
/// configured, its faults parsed. Field meanings and defaults: [`crate::workload`].
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub name: String,
    /// Where the workload was read from (for messages) and its text (copied into results).
    pub path: PathBuf,
    pub text: String,
    pub seed: u64,
    pub keys: u64,
    pub distribution: Distribution,
    pub zipf_exponent: f64,
    pub hot_keys: u64,
    pub hot_fraction: f64,
    pub read_fraction: f64,
    pub clients: u32,
    pub duration_s: f64,
    pub ops: u64,
    pub rate: f64,
    pub ttl_ms: u64,
    pub op_timeout_ms: u64,
    pub settle_ms: u64,
    pub trace_steps: bool,
    /// Write `history.jsonl.zst` instead of `history.jsonl`.
    pub compress: bool,
    pub strategies: Vec<StrategyRun>,
    /// The fault schedule (`[[nemesis]]`).
    pub faults: Vec<FaultSpec>,
    pub infra: InfraConfig,
    /// The `[strategy.NAME]` tables as written, for strategies run later by name
    /// (`tune-delay`'s sweep).
    tables: BTreeMap<String, toml::Table>,
}

impl RunConfig {
    pub fn op_timeout(&self) -> Duration {
        Duration::from_millis(self.op_timeout_ms)
    }

    pub fn settle(&self) -> Duration {
        Duration::from_millis(self.settle_ms)
    }

    /// The TTL of cache entries for `s` (its own `ttl_ms`, else the workload's).
    pub fn ttl_for(&self, s: &StrategyRun) -> u64 {
        s.common.ttl_ms.unwrap_or(self.ttl_ms)
    }

    /// The run of strategy `name` with the workload's `[strategy.NAME]` settings.
    pub fn strategy_run(&self, name: &str) -> Result<StrategyRun, String> {
        self.strategy_run_with(name, &toml::Table::new())
    }

    /// Like [`RunConfig::strategy_run`], with `extra` settings replacing the written ones.
    pub fn strategy_run_with(
        &self,
        name: &str,
        extra: &toml::Table,
    ) -> Result<StrategyRun, String> {
        let mut table = self.tables.get(name).cloned().unwrap_or_default();
        table.extend(extra.clone());
        strategy_run(name, table)
    }

    /// The settings a strategy ran with, as summary.json records them.
    pub fn settings_json(&self, s: &StrategyRun, ttl_ms: u64) -> serde_json::Value {
        serde_json::json!({
            "keys": self.keys,
            "distribution": self.distribution,
            "read_fraction": self.read_fraction,
            "clients": self.clients,
            "duration_s": self.duration_s,
            "ops": self.ops,
            "rate": self.rate,
            "ttl_ms": ttl_ms,
            "op_timeout_ms": self.op_timeout_ms,
            "settle_ms": self.settle_ms,
            "strategy": s.written,
        })
    }
}

/// Reads the workload file at `path`, applies `o`, and validates everything.
pub fn load(path: &Path, o: &Overrides) -> Result<RunConfig, ConfigError> {
    let text = workload::read(path)?;
    build(&text, path, o)
}

/// Validates workload text without overrides; `fname` names the file in errors.
pub fn parse(text: &str, fname: &str) -> Result<RunConfig, ConfigError> {
    build(text, Path::new(fname), &Overrides::default())
}

fn build(text: &str, path: &Path, o: &Overrides) -> Result<RunConfig, ConfigError> {
    let fname = path.display().to_string();
    let in_file = |msg: String| {
        ConfigError::Workload(WorkloadError {
            file: fname.clone(),
            msg,
        })
    };
    let mut f = workload::from_text(text, &fname)?;
    let flags = apply(&mut f, o)?;
    workload::validate(&f).map_err(|e: FieldError| match flags.get(e.field.as_str()) {
        // `--db-url: field `infra.db_url`: ...`: a URL names the field it fills.
        Some(flag) => ConfigError::Flag {
            flag: flag.to_string(),
            what: if e.field.contains('.') {
                e.to_string()
            } else {
                e.what
            },
        },
        None => in_file(e.to_string()),
    })?;
    let tables = f.strategy.clone();
    let strategies = if o.strategies.is_empty() {
        f.strategies
            .iter()
            .map(|name| strategy_run_in(&tables, name).map_err(&in_file))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let mut seen = std::collections::HashSet::new();
        o.strategies
            .iter()
            .filter(|s| seen.insert(s.as_str()))
            .map(|s| {
                strategy_run_in(&tables, s).map_err(|what| ConfigError::Flag {
                    flag: format!("--strategy {s}"),
                    what,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let faults = f
        .nemesis
        .iter()
        .enumerate()
        .map(|(i, t)| crate::nemesis::spec::parse(i, t).map_err(&in_file))
        .collect::<Result<Vec<_>, _>>()?;
    if f.infra.direct {
        if let Some(i) = faults.iter().position(|f| f.needs_proxy()) {
            return Err(in_file(format!(
                "nemesis[{i}]: a `{}` fault needs the fault proxy, but [infra] sets `direct = true` (fix: remove `direct = true`)",
                faults[i].name
            )));
        }
    }
    for name in tables.keys() {
        if !f.strategies.contains(name) {
            // Settings for a strategy that is not in the list are allowed (`--strategy` may
            // pick it), but the name must exist.
            crate::strategy::lookup(base_name(name))
                .map_err(|e| in_file(format!("[strategy.{name}]: {e}")))?;
        }
    }
    let users_replicas = !f.infra.replica_urls.is_empty();
    if users_replicas {
        // The user's replicas are never reconfigured: no fault may control their replication.
        let controls = |k: &serde_json::Value| {
            k["role"].as_str() == Some("replication")
                || k["service"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("replica"))
        };
        if let Some(i) = faults
            .iter()
            .position(|x| x.name == "replica-lag" || controls(&x.kind.fields()))
        {
            return Err(in_file(format!(
                "nemesis[{i}]: a `{}` fault controls replication, which cachecheck never does on the user's replicas (`infra.replica_urls`) (fix: remove it, or use --infra local or docker with db_replicas)",
                faults[i].name
            )));
        }
    }
    if f.infra.db_replicas == 0 && !users_replicas {
        let needs = |k: &serde_json::Value| {
            matches!(k["role"].as_str(), Some("replication" | "db-replica"))
        };
        if let Some(i) = faults
            .iter()
            .position(|x| x.name == "replica-lag" || needs(&x.kind.fields()))
        {
            return Err(in_file(format!(
                "nemesis[{i}]: a `{}` fault on replicas needs read replicas (fix: set `db_replicas = 1` in [infra])",
                faults[i].name
            )));
        }
    }
    if f.infra.redis != crate::infra::sentinel::RedisTopology::Sentinel {
        if let Some(i) = faults.iter().position(|x| {
            x.name == "failover"
                || matches!(
                    x.kind.fields()["role"].as_str(),
                    Some("redis-replication" | "cache-read-replica")
                )
        }) {
            return Err(in_file(format!(
                "nemesis[{i}]: a `{}` fault needs Redis replicas (fix: set `redis = \"sentinel\"` in [infra])",
                faults[i].name
            )));
        }
        if let Some(s) = strategies.iter().find(|s| s.common.wait_replicas > 0) {
            return Err(in_file(format!(
                "strategy.{}.wait_replicas: needs Redis replicas (fix: set `redis = \"sentinel\"` in [infra])",
                s.name
            )));
        }
        if let Some(s) = strategies
            .iter()
            .find(|s| s.common.cache_read_from == FillFrom::Replica)
        {
            return Err(in_file(format!(
                "strategy.{}.cache_read_from: \"replica\" needs Redis replicas (fix: set `redis = \"sentinel\"` in [infra], or run with --redis sentinel)",
                s.name
            )));
        }
    }
    if let Some(s) = strategies
        .iter()
        .find(|s| s.common.wait_replicas > f.infra.redis_replicas)
    {
        return Err(in_file(format!(
            "strategy.{}.wait_replicas: {} is more than the {} Redis replica(s): every WAIT would fail (fix: at most redis_replicas)",
            s.name, s.common.wait_replicas, f.infra.redis_replicas
        )));
    }
    if let Some(s) = strategies.iter().find(|s| {
        s.common.fill_from == FillFrom::Replica && f.infra.db_replicas == 0 && !users_replicas
    }) {
        return Err(in_file(format!(
            "strategy.{}.fill_from: \"replica\" needs read replicas (fix: set `db_replicas = 1` in [infra])",
            s.name
        )));
    }
    Ok(RunConfig {
        name: f.name,
        path: path.to_path_buf(),
        text: text.to_string(),
        seed: f.seed,
        keys: f.keys,
        distribution: f.distribution,
        zipf_exponent: f.zipf_exponent,
        hot_keys: f.hot_keys,
        hot_fraction: f.hot_fraction,
        read_fraction: f.read_fraction,
        clients: f.clients,
        duration_s: f.duration_s,
        ops: f.ops,
        rate: f.rate,
        ttl_ms: f.ttl_ms,
        op_timeout_ms: f.op_timeout_ms,
        settle_ms: f.settle_ms,
        trace_steps: f.trace_steps,
        compress: f.compress,
        strategies,
        faults,
        infra: f.infra,
        tables,
    })
}

/// Writes the overrides into the file as written; returns which flag set which field.
fn apply(
    f: &mut WorkloadFile,
    o: &Overrides,
) -> Result<BTreeMap<&'static str, &'static str>, ConfigError> {
    let mut flags = BTreeMap::new();
    if let Some(seed) = o.seed {
        f.seed = seed;
        flags.insert("seed", "--seed");
    }
    if let Some(d) = o.duration_s {
        f.duration_s = d;
        f.ops = 0;
        flags.insert("duration_s", "--duration");
    }
    if let Some(c) = o.clients {
        f.clients = c;
        flags.insert("clients", "--clients");
    }
    if let Some(t) = o.trace_steps {
        f.trace_steps = t;
    }
    if let Some(d) = o.direct {
        f.infra.direct = d;
    }
    if let Some(r) = o.redis {
        f.infra.redis = r;
        flags.insert("infra.redis", "--redis");
    }
    if o.compress {
        f.compress = true;
    }
    let urls = [
        ("--db-url", "infra.db_url", &o.db_url, &mut f.infra.db_url),
        (
            "--redis-url",
            "infra.redis_url",
            &o.redis_url,
            &mut f.infra.redis_url,
        ),
        (
            "--toxiproxy-url",
            "infra.toxiproxy_url",
            &o.toxiproxy_url,
            &mut f.infra.toxiproxy_url,
        ),
    ];
    let mut url_flag = None;
    for (flag, field, given, slot) in urls {
        if let Some(u) = given {
            *slot = Some(u.clone());
            url_flag = Some(flag);
            flags.insert(field, flag);
        }
    }
    let flag_error = |flag: &str, what: &str| ConfigError::Flag {
        flag: flag.into(),
        what: what.into(),
    };
    match (url_flag, o.infra) {
        (Some(flag), Some(k)) if k != InfraKind::External => {
            return Err(flag_error(
                flag,
                "only with --infra external (or without --infra)",
            ))
        }
        (Some(_), _) => f.infra.kind = InfraKind::External,
        (None, Some(k)) => f.infra.kind = k,
        (None, None) => {}
    }
    if o.keep {
        if f.infra.kind != InfraKind::Docker {
            return Err(flag_error(
                "--keep",
                "only with --infra docker (local servers end with cachecheck; external ones are never stopped)",
            ));
        }
        f.infra.keep = true;
    }
    Ok(flags)
}

fn strategy_run_in(
    tables: &BTreeMap<String, toml::Table>,
    name: &str,
) -> Result<StrategyRun, String> {
    strategy_run(name, tables.get(name).cloned().unwrap_or_default())
}

/// Configures strategy `name` from its `[strategy.NAME]` table: the common settings taken out,
/// the rest parsed by the strategy itself.
fn strategy_run(name: &str, mut table: toml::Table) -> Result<StrategyRun, String> {
    let base = base_name(name);
    crate::strategy::lookup(base).map_err(|e| format!("strategies: {e}"))?;
    if name.contains(['/', '\\']) || name.starts_with('.') || name.ends_with('@') {
        return Err(format!("strategies: `{name}` is not a usable name (use NAME or NAME@LABEL with letters, digits, - and _)"));
    }
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
    let mut count = |field: &str| -> Result<Option<u64>, String> {
        table
            .remove(field)
            .map(|v| {
                v.as_integer()
                    .filter(|n| *n >= 0)
                    .map(|n| n as u64)
                    .ok_or_else(|| {
                        format!("strategy.{name}.{field}: must be a non-negative integer")
                    })
            })
            .transpose()
    };
    common.wait_replicas = count("wait_replicas")?.unwrap_or(0) as u32;
    common.wait_timeout_ms = count("wait_timeout_ms")?.unwrap_or(100).max(1);
    let from = |table: &mut toml::Table, field: &str| match table.remove(field) {
        None => Ok(FillFrom::Primary),
        Some(v) => match v.as_str() {
            Some("primary") => Ok(FillFrom::Primary),
            Some("replica") => Ok(FillFrom::Replica),
            _ => Err(format!(
                "strategy.{name}.{field}: must be \"primary\" or \"replica\""
            )),
        },
    };
    common.fill_from = from(&mut table, "fill_from")?;
    common.cache_read_from = from(&mut table, "cache_read_from")?;
    let setup =
        crate::strategy::configure(base, &table).map_err(|e| format!("strategy.{name}: {e}"))?;
    Ok(StrategyRun {
        name: name.to_string(),
        common,
        setup,
        written: serde_json::to_value(&table).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_workload_gets_defaults() {
        let w = parse("name = \"x\"\n", "x.toml").unwrap();
        assert_eq!(w.keys, 16);
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

#[cfg(test)]
mod override_tests {
    use super::*;

    fn load_with(text: &str, o: &Overrides) -> Result<RunConfig, ConfigError> {
        build(text, Path::new("w.toml"), o)
    }

    #[test]
    fn overrides_are_validated_once_and_errors_name_the_flag() {
        let o = Overrides {
            clients: Some(0),
            ..Default::default()
        };
        let e = load_with("name = \"x\"\n", &o).unwrap_err().to_string();
        assert_eq!(e, "--clients: must be between 1 and 10000");
        let o = Overrides {
            duration_s: Some(f64::NAN),
            ..Default::default()
        };
        let e = load_with("name = \"x\"\n", &o).unwrap_err().to_string();
        assert!(e.starts_with("--duration: "), "{e}");
        // The same value in the file names the file and the field.
        let e = load_with("name = \"x\"\nclients = 0\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("w.toml: field `clients`"), "{e}");
    }

    #[test]
    fn overrides_replace_values_and_strategies() {
        let o = Overrides {
            seed: Some(9),
            duration_s: Some(2.0),
            strategies: vec!["db-then-delete".into(), "db-then-delete".into()],
            ..Default::default()
        };
        let w = load_with("name = \"x\"\nops = 100\n", &o).unwrap();
        assert_eq!((w.seed, w.duration_s, w.ops), (9, 2.0, 0));
        assert_eq!(w.strategies.len(), 1);
        assert_eq!(w.strategies[0].name, "db-then-delete");
        let o = Overrides {
            strategies: vec!["nope".into()],
            ..Default::default()
        };
        let e = load_with("name = \"x\"\n", &o).unwrap_err().to_string();
        assert!(e.starts_with("--strategy nope: "), "{e}");
    }

    #[test]
    fn a_url_implies_external_and_keep_needs_docker() {
        let o = Overrides {
            db_url: Some("mysql://root@127.0.0.1:1/x".into()),
            redis_url: Some("redis://127.0.0.1:2".into()),
            ..Default::default()
        };
        let w = load_with("name = \"x\"\n", &o).unwrap();
        assert_eq!(w.infra.kind, InfraKind::External);
        let o = Overrides {
            db_url: Some("postgres://x".into()),
            redis_url: Some("redis://127.0.0.1:2".into()),
            ..Default::default()
        };
        let e = load_with("name = \"x\"\n", &o).unwrap_err().to_string();
        assert!(e.starts_with("--db-url: field `infra.db_url`: "), "{e}");
        let o = Overrides {
            keep: true,
            ..Default::default()
        };
        let e = load_with("name = \"x\"\n", &o).unwrap_err().to_string();
        assert!(e.starts_with("--keep: "), "{e}");
    }
}
