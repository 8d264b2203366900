//! Linearizability on real runs: a run's history exported as a Jepsen EDN history round-trips
//! through `check --format edn` with the linear path's verdict, and the report draws the
//! violation.

use super::support::{cachecheck, run_workload};
use cachecheck::checker::Verdict;
use cachecheck::linearizability::files::check_dir;

/// db-only (linearizable) beside db-then-delete under slow fills (its stale reads are not).
pub const SLOW_FILL: &str = r#"
name = "lin-slow-fill"
seed = 16
keys = 2
clients = 8
read_fraction = 0.8
duration_s = 2.0
op_timeout_ms = 1000
settle_ms = 200
strategies = ["db-only", "db-then-delete"]

[[nemesis]]
fault = "latency"
role = "cache-fill"
stream = "upstream"
latency_ms = 100
at_s = 0.3
duration_s = 10
"#;

fn edn_verdict(edn: &std::path::Path) -> (Verdict, serde_json::Value) {
    let (code, out, err) = cachecheck(
        &["check", edn.to_str().unwrap(), "--format", "edn", "--json"],
        None,
    );
    assert!(code == 0 || code == 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        serde_json::from_value(v["linearizable"].clone()).unwrap(),
        v,
    )
}

#[test]
fn a_real_run_exports_to_edn_that_round_trips_with_the_same_verdict() {
    let inv = run_workload(SLOW_FILL, &["-q"]);
    assert!(inv.code == 0 || inv.code == 1, "{}", inv.stderr);
    for (strategy, want) in [
        ("db-only", Verdict::Valid),
        ("db-then-delete", Verdict::Invalid),
    ] {
        let dir = inv.strategy_dir(strategy);
        let linear = check_dir(&dir).unwrap();
        assert_eq!(
            linear.verdict,
            want,
            "{strategy}: {:?}",
            linear.keys.first()
        );
        let (code, _, err) =
            cachecheck(&["export", dir.to_str().unwrap(), "--format", "edn"], None);
        assert_eq!(code, 0, "{err}");
        let edn = dir.join("history.edn");
        assert!(err.contains("nemesis events"), "{err}");
        let text = std::fs::read_to_string(&edn).unwrap();
        assert!(text.contains(":process :nemesis, :f :start, :value \"latency cache-fill\""));
        let (verdict, v) = edn_verdict(&edn);
        assert_eq!(verdict, want, "{strategy}: {v}");
        let ops = v["operations"].as_u64().unwrap();
        assert!(ops > 1000, "{strategy}: {ops} operations");
    }
}
