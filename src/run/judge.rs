//! Stage 4 of a strategy's run: the checker over the strategy's files, and its `summary.json`
//! (built the one way every summary is, [`Summary::with_check`]).

use super::collect::Collected;
use super::drive::Driven;
use super::prepare::Prepared;
use super::RunCtx;
use crate::checker::{CheckOptions, CheckReport};
use crate::config::StrategyRun;
use crate::recheck::check_or_recover;
use crate::summary::Summary;
use anyhow::Result;

pub(super) fn judge(
    cx: &RunCtx<'_>,
    s: &StrategyRun,
    p: &Prepared,
    d: &Driven,
    c: Collected,
) -> Result<Summary> {
    let cfg = cx.cfg;
    let (mut report, recovered) = if cx.no_history {
        let nothing = "the history was not recorded (no_history): nothing was checked";
        (
            CheckReport {
                warnings: vec![nothing.into()],
                ..Default::default()
            },
            false,
        )
    } else {
        let opts = CheckOptions {
            ttl_set: Some(p.ttl_ms > 0),
            max_examples_per_kind: 20,
        };
        let (r, recovered, _) = check_or_recover(&p.dir, &opts, crate::checker::default_threads())?;
        (r, recovered)
    };
    report.warnings.extend(c.warnings);
    let base = Summary {
        run_id: cx
            .run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        workload: cfg.name.clone(),
        workload_file: cfg.path.display().to_string(),
        seed: cfg.seed,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        infra: cfg.infra.kind_name().into(),
        proxy: cx.proxy.as_ref().map(|p| p.identity.clone()),
        settings: cfg.settings_json(s, p.ttl_ms),
        faults: d
            .faults
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect(),
        extra: p.strategy.extra(),
        binlog_lag_ms: p.strategy.lag_ms(),
        replica_lag_ms: d.replica_lag.clone(),
        replicas: d.replicas.clone(),
        harness: Some(d.harness.clone()),
        ..Summary::unnamed(s.name.clone())
    };
    let incomplete = cx.shutdown.is_cancelled() || recovered;
    let summary = base.with_check(report, incomplete, &s.common.expect);
    summary.write(&p.dir)?;
    Ok(summary)
}
