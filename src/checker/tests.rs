//! Composition, statistics, warnings and hostile input.

use super::testkit::*;
use super::*;
use crate::history::files::HISTORY_FILE;
use crate::history::{EventType, F_FAULT};
use rand::{Rng, SeedableRng};

#[test]
fn merge_is_invalid_over_unknown_over_valid() {
    use Verdict::*;
    assert_eq!(Valid.merge(Valid), Valid);
    assert_eq!(Valid.merge(Unknown), Unknown);
    assert_eq!(Unknown.merge(Invalid), Invalid);
    assert_eq!(Invalid.merge(Valid), Invalid);
    assert_eq!(serde_json::to_string(&Invalid).unwrap(), "\"invalid\"");
}

fn clean() -> (Vec<Event>, Vec<Commit>, Vec<FinalState>) {
    let h = vec![
        inv_w(10, 1, 7, 2),
        ok_w(20, 1, 7, 2),
        inv_r(30, 2, 7),
        ok_r(34, 2, 7, Some(2)),
    ];
    (
        h,
        vec![initial(7, 1, 1), commit(7, 2, 2)],
        vec![fin(7, Some(2), None, None)],
    )
}

#[test]
fn a_clean_history_is_valid_on_every_property() {
    let (h, c, f) = clean();
    let r = check_final(&h, &c, &f);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!(r.verdicts.len(), 9);
    assert!(
        r.verdicts.values().all(|&v| v == Verdict::Valid),
        "{:?}",
        r.verdicts
    );
    assert!(r.examples.is_empty() && r.warnings.is_empty(), "{r:?}");
}

fn failing(_: &Input<'_>) -> Result<findings::Findings, String> {
    Err("no can do".into())
}

fn panicking(_: &Input<'_>) -> Result<findings::Findings, String> {
    panic!("boom")
}

#[test]
fn a_failing_checker_gives_unknown_and_a_warning_never_a_crash() {
    let (h, c, f) = clean();
    let mut b = ops::Builder::new(&c);
    for (i, e) in h.iter().enumerate() {
        let v = EventView::from(e);
        b.event(i, v).unwrap();
    }
    let run = b.finish(None);
    static BROKEN: Checker = Checker::property("stale_reads", "", failing);
    static PANICS: Checker = Checker::property("lost_writes", "", panicking);
    let checkers: [&Checker; 3] = [&BROKEN, &PANICS, &dirty::CHECKER];
    let r = check_run(&run, Some(&f), &CheckOptions::default(), &checkers[..2]);
    assert_eq!(r.verdicts["stale_reads"], Verdict::Unknown);
    assert_eq!(r.verdicts["lost_writes"], Verdict::Unknown);
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.warnings[0].contains("checker stale_reads failed (no can do); unknown: stale_reads"));
    assert!(r.warnings[1].contains("checker lost_writes failed (panic: boom)"));
    let r = check_run(&run, Some(&f), &CheckOptions::default(), &checkers[2..]);
    assert_eq!(r.verdicts["dirty_reads"], Verdict::Valid);
}

#[test]
fn op_counts_latency_duration_and_throughput() {
    let h = [
        inv_w(1000, 1, 7, 2),
        ok_w(1004, 1, 7, 2),
        inv_r(1010, 2, 7),
        ok_r(1012, 2, 7, Some(2)),
        inv_r(1020, 2, 7),
        fail_r(1030, 2, 7),
        inv_w(1040, 1, 7, 3),
        info_w(1050, 1, 7, 3),
        inv_r(1500, 3, 7),
        inv_r(3000, 2, 7), // never completes: counts as info
        ok_r(3000, 3, 7, Some(2)),
    ];
    let r = check(&h, &[commit(7, 1, 2)]);
    let (rd, wr) = (&r.ops.read, &r.ops.write);
    assert_eq!((rd.invoke, rd.ok, rd.fail, rd.info), (4, 2, 1, 1));
    assert_eq!((wr.invoke, wr.ok, wr.fail, wr.info), (2, 1, 0, 1));
    assert_eq!(r.duration_s, 2.0);
    assert_eq!(r.throughput_ops_s, 2.5); // 5 completions in 2 s
    assert_eq!(r.latency_ms.write.count, 1);
    assert_eq!(r.latency_ms.write.max, 4.0);
    assert_eq!(r.latency_ms.read.count, 2);
    assert_eq!(r.latency_ms.read.max, 1500.0);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("1 operation(s) never completed")));
}

#[test]
fn malformed_histories_give_warnings() {
    let mut h = vec![
        ok_r(5, 4, 7, Some(1)), // no invoke
        inv_r(10, 2, 7),
        ok_r(11, 2, 7, Some(1)),
        ok_r(12, 2, 7, Some(1)), // duplicate completion
        inv_r(9, 2, 7),          // time went backwards
        inv_r(13, 2, 7),         // invoke while outstanding
        ok_r(14, 2, 7, Some(1)),
        inv_r(15, 3, 8),
        ok_r(16, 3, 8, None), // a key commits.jsonl never mentions
    ];
    let mut keyless = inv_w(20, 5, 7, 2);
    keyless.key = None;
    h.push(keyless);
    let mut valueless = inv_w(21, 6, 7, 2);
    valueless.value = None;
    h.push(valueless);
    let r = check(&h, &[initial(7, 1, 1)]);
    let all = r.warnings.join("\n");
    for want in [
        "1 completion(s) have no invoke by their process; they were ignored (first at line 1)",
        "1 duplicate completion(s)",
        "1 event(s) have a time earlier than an event before them (time went backwards) (first at line 5)",
        "1 invoke(s) came while the process still had an operation outstanding",
        "1 client operation(s) have no key",
        "1 write invoke(s) carry no value",
        "1 ok read(s) of 1 key(s) that commits.jsonl never mentions (first: key 8)",
    ] {
        assert!(all.contains(want), "missing {want:?} in\n{all}");
    }
    assert_eq!(r.anomalies, AnomalyCounts::default());
}

#[test]
fn examples_are_capped_but_counts_are_exact() {
    let mut h = vec![inv_w(1, 1, 7, 2), ok_w(2, 1, 7, 2)];
    for i in 0..50 {
        h.push(inv_r(10 + 2 * i, 2, 7));
        h.push(ok_r(11 + 2 * i, 2, 7, Some(1)));
    }
    let c = [initial(7, 1, 1), commit(7, 2, 2)];
    let opts = CheckOptions {
        max_examples_per_kind: 3,
        ..Default::default()
    };
    let r = check_events(&h, &c, &[], &opts);
    assert_eq!(r.anomalies["stale_reads"], 50);
    assert_eq!(r.staleness.time_ms.count, 50);
    assert_eq!(examples(&r, "stale_reads").len(), 3);
    assert_eq!(examples(&check(&h, &c), "stale_reads").len(), 20);
}

#[test]
fn fault_events_are_counted_and_internal_steps_ignored() {
    let (mut h, c, f) = clean();
    let mut fault = inv_r(0, process::NEMESIS, 0);
    fault.f = F_FAULT.into();
    fault.kind = EventType::Info;
    h.insert(0, fault);
    let mut step = inv_r(25, 1, 7);
    step.f = "cache-del".into();
    h.insert(3, step);
    let mut worker = ok_r(26, process::WORKER_BASE, 7, Some(99));
    worker.kind = EventType::Ok;
    h.insert(4, worker);
    let r = check_final(&h, &c, &f);
    assert_eq!(r.fault_events, 1);
    assert_eq!(r.verdict, Verdict::Valid);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

use crate::history::process;

#[test]
fn the_report_round_trips_through_json() {
    let (h, c, _) = clean();
    let r = check_final(&h, &c, &[fin(7, Some(2), Some(1), None)]);
    let json = serde_json::to_string(&r).unwrap();
    let back: CheckReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let old: CheckReport = serde_json::from_str("{\"verdict\":\"valid\"}").unwrap();
    assert_eq!(old.verdict, Verdict::Valid);
}

/// Random, mostly nonsensical histories: whatever they hold, the checker answers.
#[test]
fn hostile_histories_never_panic() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let kinds = [
        EventType::Invoke,
        EventType::Ok,
        EventType::Fail,
        EventType::Info,
    ];
    let fs = ["read", "write", "fault", "cache-del"];
    let pick = |rng: &mut rand_chacha::ChaCha8Rng| match rng.gen_range(0..6) {
        0 => i64::MIN,
        1 => i64::MAX,
        2 => -1,
        _ => rng.gen_range(0..4),
    };
    // CACHECHECK_FUZZ=200000 for a longer run.
    let rounds = std::env::var("CACHECHECK_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    for _ in 0..rounds {
        let n = rng.gen_range(0..40);
        let events: Vec<Event> = (0..n)
            .map(|_| Event {
                time: if rng.gen_bool(0.1) {
                    u64::MAX
                } else {
                    rng.gen_range(0..100)
                },
                process: rng.gen_range(-2..4),
                kind: kinds[rng.gen_range(0..4)],
                f: fs[rng.gen_range(0..4)].into(),
                key: rng.gen_bool(0.9).then(|| rng.gen_range(0..3)),
                value: rng.gen_bool(0.8).then(|| pick(&mut rng)),
                source: None,
                error: None,
                detail: None,
            })
            .collect();
        let commits: Vec<Commit> = (0..rng.gen_range(0..8))
            .map(|_| Commit {
                key: rng.gen_range(0..3),
                version: pick(&mut rng),
                value: pick(&mut rng),
                initial: rng.gen_bool(0.2),
            })
            .collect();
        let finals: Vec<FinalState> = (0..rng.gen_range(0..4))
            .map(|_| FinalState {
                key: rng.gen_range(0..4),
                db: rng.gen_bool(0.7).then(|| pick(&mut rng)),
                cache: rng.gen_bool(0.7).then(|| pick(&mut rng)),
                cache_ttl_ms: rng.gen_bool(0.5).then(|| pick(&mut rng)),
            })
            .collect();
        let r = check_events(&events, &commits, &finals, &CheckOptions::default());
        assert!(
            !r.warnings.iter().any(|w| w.contains("failed")),
            "{:?}\n{events:?}\n{commits:?}",
            r.warnings
        );
        serde_json::to_string(&r).unwrap();
    }
}

mod files {
    use super::*;
    use crate::history::files::write_jsonl;

    fn write_dir(h: &[Event], c: &[Commit], f: Option<&[FinalState]>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_jsonl(&dir.path().join(HISTORY_FILE), h).unwrap();
        write_jsonl(&dir.path().join(COMMITS_FILE), c).unwrap();
        if let Some(f) = f {
            write_jsonl(&dir.path().join(FINAL_FILE), f).unwrap();
        }
        dir
    }

    #[test]
    fn files_and_memory_give_the_same_report() {
        let (mut h, c, f) = clean();
        h.push(inv_r(40, 3, 7));
        h.push(ok_r(41, 3, 7, Some(1)));
        let dir = write_dir(&h, &c, Some(&f));
        let from_files = check_dir(dir.path(), &CheckOptions::default()).unwrap();
        assert_eq!(from_files, check_final(&h, &c, &f));
        assert_eq!(from_files.anomalies["stale_reads"], 1);
    }

    #[test]
    fn a_missing_final_file_makes_divergence_unknown() {
        let (h, c, _) = clean();
        let dir = write_dir(&h, &c, None);
        let r = check_dir(dir.path(), &CheckOptions::default()).unwrap();
        assert_eq!(r.verdicts["divergent_keys"], Verdict::Unknown);
        assert!(r.warnings[0].contains("final.jsonl does not exist"));
    }

    #[test]
    fn a_torn_last_line_is_a_warning() {
        let (h, c, f) = clean();
        let dir = write_dir(&h, &c, Some(&f));
        let p = dir.path().join(HISTORY_FILE);
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("{\"time\":50,\"proc");
        std::fs::write(&p, text).unwrap();
        let r = check_dir(dir.path(), &CheckOptions::default()).unwrap();
        assert!(
            r.warnings[0].contains("history.jsonl line 5 is cut short"),
            "{:?}",
            r.warnings
        );
        assert_eq!(r.verdict, Verdict::Valid);
    }

    #[test]
    fn a_bad_line_is_an_error_naming_file_and_line() {
        let (h, c, f) = clean();
        let dir = write_dir(&h, &c, Some(&f));
        std::fs::write(
            dir.path().join(COMMITS_FILE),
            "{\"key\":7,\"version\":1,\"value\":1}\n{\"key\":\"x\"}\n",
        )
        .unwrap();
        let err = check_dir(dir.path(), &CheckOptions::default()).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("commits.jsonl line 2"), "{err}");
        std::fs::remove_file(dir.path().join(HISTORY_FILE)).unwrap();
        std::fs::write(dir.path().join(COMMITS_FILE), "").unwrap();
        let err = check_dir(dir.path(), &CheckOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("history.jsonl: cannot open"),
            "{err}"
        );
    }
}

#[test]
fn counts_list_every_property_and_keep_unknown_names() {
    let json = serde_json::to_value(AnomalyCounts::default()).unwrap();
    for p in registry::properties() {
        assert_eq!(json.get(p.name), Some(&serde_json::json!(0)), "{}", p.name);
    }
    let read: AnomalyCounts =
        serde_json::from_str(r#"{"stale_reads": 3, "from_the_future": 2}"#).unwrap();
    assert_eq!((read["stale_reads"], read["dirty_reads"]), (3, 0));
    assert_eq!(read.get("from_the_future"), 2);
    assert_eq!(read.total(), 5);
}
