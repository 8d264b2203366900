//! Eventual consistency: after quiescence and settle (`final.jsonl`), a key is **divergent** when
//! its cache entry is present (not null) and differs from the database's value. An absent cache
//! entry is fine: the next read fills it from the database.
//!
//! `ttl_repairs` of a divergent key: `Some(true)` when final.jsonl gives a remaining TTL > 0,
//! `Some(false)` when it gives -1 (no TTL), otherwise [`CheckOptions::ttl_set`](crate::checker::CheckOptions).
//!
//! The database's final value is also compared with the key's last commit; a mismatch means the
//! ground truth is incomplete and gives a warning (not an anomaly).

use crate::checker::fasthash::FastSet;
use crate::checker::findings::Findings;
use crate::checker::ops::Run;
use crate::checker::property::Checker;
use crate::checker::truth::{KeyData, NO_ACK, NO_IDX, POS_NONE};
use crate::checker::Anomaly;
use crate::checker::Divergence;
use crate::checker::Input;

pub static CHECKER: Checker = Checker::property("divergent_keys", "divergent keys", check)
    .column("diverg")
    .shorthand("converges");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let Some(finals) = input.finals else {
        return Ok(out);
    };
    let run = input.run;
    let mut seen = FastSet::default();
    let (mut dup, mut dup_first) = (0u64, None);
    let (mut db_off, mut db_off_first) = (0u64, None);
    for f in finals {
        if !seen.insert(f.key) {
            dup += 1;
            dup_first.get_or_insert(f.key);
            continue;
        }
        out.judged();
        let kd = run.keys.find(f.key);
        let last = kd.and_then(|k| k.versions.last()).map(|v| v.value);
        if f.db != last {
            db_off += 1;
            db_off_first.get_or_insert((f.key, f.db, last));
        }
        let Some(cache) = f.cache.filter(|&c| Some(c) != f.db) else {
            continue;
        };
        let ttl_repairs = match f.cache_ttl_ms {
            Some(t) if t > 0 => Some(true),
            Some(-1) => Some(false),
            _ => input.opts.ttl_set,
        };
        out.divergent.push(Divergence {
            key: f.key,
            db: f.db,
            cache: f.cache,
            ttl_repairs,
        });
        let start = db_ack(kd, f.db);
        out.flag(start, || {
            explain(
                run,
                kd,
                f.key,
                cache,
                f.db,
                f.cache_ttl_ms,
                ttl_repairs,
                start,
            )
        });
    }
    if let Some(k) = dup_first {
        out.warnings.push(format!(
            "final.jsonl: {dup} line(s) repeat a key (first: key {k}); the first line of each key is used"
        ));
    }
    if let Some((k, db, last)) = db_off_first {
        out.warnings.push(format!(
            "final.jsonl: the database's final value of {db_off} key(s) is not their last commit (first: key {k} holds {} but the last commit is {}); commits.jsonl may be incomplete",
            opt(db),
            opt(last)
        ));
    }
    Ok(out)
}

fn opt(v: Option<i64>) -> String {
    v.map_or("null".to_string(), |v| v.to_string())
}

/// When the database's final value was acknowledged (0 if unknown).
fn db_ack(kd: Option<&KeyData>, db: Option<i64>) -> u64 {
    let Some(kd) = kd else { return 0 };
    let pos = kd.position_of(db);
    kd.version_at(pos)
        .map(|v| v.ack_ns)
        .filter(|&a| a != NO_ACK)
        .unwrap_or(0)
}

/// `v12 (value 1017)`, `value 1009 (never committed)` or `null`.
fn describe(kd: Option<&KeyData>, value: Option<i64>) -> String {
    let pos = kd.map_or(POS_NONE, |kd| kd.position_of(value));
    match (kd, value) {
        (_, None) => "nothing (null)".to_string(),
        (Some(kd), Some(_)) if pos != POS_NONE => kd.describe(pos),
        (_, Some(v)) => format!("value {v} (never committed)"),
    }
}

#[allow(clippy::too_many_arguments)]
fn explain(
    run: &Run,
    kd: Option<&KeyData>,
    key: i64,
    cache: i64,
    db: Option<i64>,
    ttl_ms: Option<i64>,
    ttl_repairs: Option<bool>,
    start: u64,
) -> Anomaly {
    let mut events = Vec::new();
    if let Some(kd) = kd {
        for value in [Some(cache), db] {
            if let Some(v) = kd.version_at(kd.position_of(value)) {
                let idx = if v.ack_idx != NO_IDX {
                    v.ack_idx
                } else {
                    v.write_inv_idx
                };
                if idx != NO_IDX {
                    events.push(idx as u64);
                }
            }
        }
    }
    events.sort_unstable();
    events.dedup();
    let repair = match (ttl_repairs, ttl_ms) {
        (Some(true), Some(t)) if t > 0 => {
            format!("its TTL ({:.3} s left) will repair it", t as f64 / 1e3)
        }
        (Some(true), _) => {
            "cache entries carry a TTL, so it will be repaired when it expires".to_string()
        }
        (Some(false), _) => {
            "the entry has no TTL, so it stays wrong until the next write of the key or an eviction"
                .to_string()
        }
        (None, _) => "whether a TTL will repair it is unknown".to_string(),
    };
    Anomaly {
        kind: String::new(),
        key,
        events,
        start_ns: start,
        end_ns: run.stats.last_ns.max(start),
        explanation: format!(
            "after quiescence the cache serves {} but the database holds {}; {repair}",
            describe(kd, Some(cache)),
            describe(kd, db),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::{check_events, CheckOptions, Verdict};

    fn history() -> Vec<crate::history::Event> {
        vec![
            inv_w(10, 1, 7, 2),
            ok_w(20, 1, 7, 2),
            inv_w(30, 1, 7, 3),
            ok_w(40, 1, 7, 3),
        ]
    }

    fn commits() -> Vec<crate::history::Commit> {
        vec![initial(7, 1, 1), commit(7, 2, 2), commit(7, 3, 3)]
    }

    #[test]
    fn a_cached_value_other_than_the_databases_is_divergent() {
        let r = check_final(
            &history(),
            &commits(),
            &[fin(7, Some(3), Some(2), Some(41200))],
        );
        assert_eq!(r.anomalies["divergent_keys"], 1);
        assert_eq!(r.verdicts["divergent_keys"], Verdict::Invalid);
        let d = &r.divergent[0];
        assert_eq!(
            (d.key, d.db, d.cache, d.ttl_repairs),
            (7, Some(3), Some(2), Some(true))
        );
        let ex = examples(&r, "divergent_keys");
        assert_eq!(ex[0].events, vec![1, 3]);
        assert_eq!(
            ex[0].explanation,
            "after quiescence the cache serves v2 (value 2) but the database holds v3 (value 3); its TTL (41.200 s left) will repair it"
        );
    }

    #[test]
    fn an_absent_or_equal_cache_entry_is_fine() {
        let finals = [fin(7, Some(3), None, None), fin(8, None, None, None)];
        let r = check_final(&history(), &commits(), &finals);
        assert_eq!(r.anomalies["divergent_keys"], 0);
        assert_eq!(r.verdicts["divergent_keys"], Verdict::Valid);
        let r = check_final(
            &history(),
            &commits(),
            &[fin(7, Some(3), Some(3), Some(-1))],
        );
        assert_eq!(r.anomalies["divergent_keys"], 0);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn ttl_repairs_comes_from_the_final_ttl_or_the_options() {
        let finals = [
            fin(7, Some(3), Some(2), Some(-1)),
            fin(8, None, Some(5), None),
        ];
        let opts = CheckOptions {
            ttl_set: Some(true),
            ..Default::default()
        };
        let r = check_events(&history(), &commits(), &finals, &opts);
        assert_eq!(r.anomalies["divergent_keys"], 2);
        assert_eq!(r.divergent[0].ttl_repairs, Some(false));
        assert_eq!(r.divergent[1].ttl_repairs, Some(true));
        let ex = examples(&r, "divergent_keys");
        let seven = ex.iter().find(|a| a.key == 7).unwrap();
        assert!(
            seven.explanation.contains("no TTL"),
            "{}",
            seven.explanation
        );
        let eight = ex.iter().find(|a| a.key == 8).unwrap();
        assert!(
            eight.explanation.contains("value 5 (never committed)"),
            "{}",
            eight.explanation
        );
        let r = check_final(&history(), &commits(), &finals);
        assert_eq!(r.divergent[1].ttl_repairs, None);
    }

    #[test]
    fn a_database_value_other_than_the_last_commit_is_a_warning() {
        let r = check_final(&history(), &commits(), &[fin(7, Some(2), None, None)]);
        assert_eq!(r.anomalies["divergent_keys"], 0);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("key 7 holds 2 but the last commit is 3"));
    }

    /// Regression: a huge `cache_ttl_ms` overflowed when the explanation converted it to ns
    /// (found by `hostile_histories_never_panic`).
    #[test]
    fn a_huge_ttl_does_not_overflow() {
        let r = check_final(
            &history(),
            &commits(),
            &[fin(7, Some(3), Some(2), Some(i64::MAX))],
        );
        assert_eq!(r.divergent[0].ttl_repairs, Some(true));
        assert_eq!(r.verdicts["divergent_keys"], Verdict::Invalid);
    }

    #[test]
    fn no_final_rows_is_unknown() {
        let r = check_final(&history(), &commits(), &[]);
        assert_eq!(r.verdicts["divergent_keys"], Verdict::Unknown);
    }
}
