//! Property tests (proptest) and fuzzing of the parsers and the checker: arbitrary bytes and
//! hostile-but-well-formed histories never panic, and the checker's counts obey the invariants
//! a correct checker must (locality, round trip through the files, relabelling).
//!
//! Bounded for CI by `PROPTEST_CASES` (default below); run longer with e.g.
//! `PROPTEST_CASES=100000 cargo test --release --test properties`.

use cachecheck::checker::{check_dir, check_events, AnomalyCounts, CheckOptions, CheckReport};
use cachecheck::history::files::{write_jsonl, COMMITS_FILE, FINAL_FILE, HISTORY_FILE};
use cachecheck::history::{Commit, Event, EventType, FinalState, Source, F_READ, F_WRITE};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::io::Write;

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A simulated run: processes doing reads and writes on a few keys, writes committing inside
/// their interval (or never), reads returning a value that was current at some time up to
/// `lag` before their invoke (so some are stale), a few impossible values, some divergence.
#[derive(Debug, Clone)]
struct Sim {
    events: Vec<Event>,
    commits: Vec<Commit>,
    finals: Vec<FinalState>,
}

fn ev(time: u64, process: i64, kind: EventType, f: &str, key: i64, value: Option<i64>) -> Event {
    Event {
        time,
        process,
        kind,
        f: f.to_string(),
        key: Some(key),
        value,
        source: (f == F_READ && kind == EventType::Ok).then_some(Source::Cache),
        error: None,
        detail: None,
    }
}

fn simulate(seed: u64, processes: i64, keys: i64, ops: usize) -> Sim {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    struct W {
        key: i64,
        value: i64,
        commit_at: Option<u64>,
    }
    struct R {
        key: i64,
        inv: u64,
        comp: u64,
        p: i64,
        lag: u64,
        /// 0: a value current at some time; 1: impossible; 2: an uncommitted write's value.
        odd: u8,
    }
    let mut writes: Vec<W> = Vec::new();
    let mut reads: Vec<R> = Vec::new();
    let mut events: Vec<(u64, u64, Event)> = Vec::new(); // (time, seq, event)
    let mut seq = 0u64;
    let mut push = |events: &mut Vec<(u64, u64, Event)>, e: Event| {
        seq += 1;
        events.push((e.time, seq, e));
    };
    let mut next_value = 1000i64;
    for p in 0..processes {
        let mut t = rng.gen_range(0..1000u64);
        for _ in 0..ops / processes as usize + 1 {
            let key = rng.gen_range(0..keys);
            let dur = rng.gen_range(1..400u64);
            let (inv, comp) = (t, t + dur);
            if rng.gen_bool(0.4) {
                let value = next_value;
                next_value += 1;
                let roll: f64 = rng.gen();
                let (kind, commits) = if roll < 0.8 {
                    (EventType::Ok, true)
                } else if roll < 0.85 {
                    (EventType::Info, true)
                } else if roll < 0.9 {
                    (EventType::Info, false)
                } else {
                    (EventType::Fail, false)
                };
                let commit_at = commits.then(|| rng.gen_range(inv..=comp));
                writes.push(W {
                    key,
                    value,
                    commit_at,
                });
                push(
                    &mut events,
                    ev(inv, p, EventType::Invoke, F_WRITE, key, Some(value)),
                );
                push(&mut events, ev(comp, p, kind, F_WRITE, key, Some(value)));
            } else {
                reads.push(R {
                    key,
                    inv,
                    comp,
                    p,
                    lag: if rng.gen_bool(0.2) {
                        rng.gen_range(0..800)
                    } else {
                        0
                    },
                    odd: match rng.gen_range(0..100) {
                        0 => 1,
                        1 | 2 => 2,
                        _ => 0,
                    },
                });
            }
            t = comp + rng.gen_range(0..50u64);
        }
    }
    // Ground truth: per key, versions in commit order after the initial version 1.
    let mut commits = Vec::new();
    let mut timeline: HashMap<i64, Vec<(u64, i64)>> = HashMap::new();
    for k in 0..keys {
        commits.push(Commit {
            key: k,
            version: 1,
            value: k,
            initial: true,
        });
        let mut ws: Vec<&W> = writes
            .iter()
            .filter(|w| w.key == k && w.commit_at.is_some())
            .collect();
        ws.sort_by_key(|w| w.commit_at);
        let mut tl = vec![(0u64, k)];
        for (i, w) in ws.iter().enumerate() {
            commits.push(Commit {
                key: k,
                version: i as i64 + 2,
                value: w.value,
                initial: false,
            });
            tl.push((w.commit_at.unwrap(), w.value));
        }
        timeline.insert(k, tl);
    }
    for r in &reads {
        let at = rng.gen_range(r.inv.saturating_sub(r.lag)..=r.comp);
        let tl = &timeline[&r.key];
        let current = tl
            .iter()
            .rev()
            .find(|(t, _)| *t <= at)
            .map(|x| x.1)
            .unwrap_or(r.key);
        let uncommitted = writes
            .iter()
            .find(|w| w.key == r.key && w.commit_at.is_none())
            .map(|w| w.value);
        let value = match (r.odd, uncommitted) {
            (1, _) => -7,
            (2, Some(v)) => v,
            _ => current,
        };
        push(
            &mut events,
            ev(r.inv, r.p, EventType::Invoke, F_READ, r.key, None),
        );
        push(
            &mut events,
            ev(r.comp, r.p, EventType::Ok, F_READ, r.key, Some(value)),
        );
    }
    events.sort_by_key(|(t, s, _)| (*t, *s));
    let finals = (0..keys)
        .map(|k| {
            let db = timeline[&k].last().unwrap().1;
            let cache = match rng.gen_range(0..10) {
                0 => Some(timeline[&k][0].1),
                1..=4 => None,
                _ => Some(db),
            };
            FinalState {
                key: k,
                db: Some(db),
                cache,
                cache_ttl_ms: None,
            }
        })
        .collect();
    Sim {
        events: events.into_iter().map(|x| x.2).collect(),
        commits,
        finals,
    }
}

fn opts() -> CheckOptions {
    CheckOptions {
        ttl_set: Some(true),
        max_examples_per_kind: 5,
    }
}

fn check(s: &Sim) -> CheckReport {
    check_events(&s.events, &s.commits, &s.finals, &opts())
}

fn write_dir(s: &Sim) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut h = std::fs::File::create(d.path().join(HISTORY_FILE)).unwrap();
    let mut buf = Vec::new();
    for e in &s.events {
        e.write_json(&mut buf);
        buf.push(b'\n');
    }
    h.write_all(&buf).unwrap();
    write_jsonl(&d.path().join(COMMITS_FILE), &s.commits).unwrap();
    write_jsonl(&d.path().join(FINAL_FILE), &s.finals).unwrap();
    d
}

fn counts(r: &CheckReport) -> AnomalyCounts {
    r.anomalies.clone()
}

proptest! {
    #![proptest_config(cases(64))]

    /// Checking in memory and checking after a round trip through the three files agree.
    #[test]
    fn round_trip_through_files_gives_the_same_result(seed in any::<u64>(), p in 1i64..6, k in 1i64..5, n in 1usize..80) {
        let s = simulate(seed, p, k, n);
        let mem = check(&s);
        let d = write_dir(&s);
        let disk = check_dir(d.path(), &opts()).unwrap();
        prop_assert_eq!(&mem.anomalies, &disk.anomalies);
        prop_assert_eq!(&mem.ops, &disk.ops);
        prop_assert_eq!(&mem.staleness, &disk.staleness);
        prop_assert_eq!(&mem.inconsistency_window, &disk.inconsistency_window);
        prop_assert_eq!(&mem.verdicts, &disk.verdicts);
    }

    /// Renaming processes and keys (bijections) changes no count.
    #[test]
    fn relabelling_processes_or_keys_changes_no_count(seed in any::<u64>(), p in 1i64..6, k in 1i64..5, n in 1usize..80, shift in 1i64..1000) {
        let s = simulate(seed, p, k, n);
        let before = counts(&check(&s));
        let mut r = s.clone();
        // Processes reversed and shifted; keys mapped k -> (k * 7 + shift).
        let pk = |x: i64| (p - 1 - x) + shift;
        let kk = |x: i64| x * 7 + shift;
        for e in &mut r.events {
            e.process = pk(e.process);
            e.key = e.key.map(kk);
        }
        for c in &mut r.commits {
            c.key = kk(c.key);
        }
        for f in &mut r.finals {
            f.key = kk(f.key);
        }
        prop_assert_eq!(before, counts(&check(&r)));
    }

    /// A clean operation added at the end (a read of the newest committed value by a new
    /// process, or a write on a key of its own) creates no anomaly anywhere.
    #[test]
    fn adding_a_clean_operation_creates_no_anomaly(seed in any::<u64>(), p in 1i64..6, k in 1i64..5, n in 1usize..80, which in 0i64..5) {
        let s = simulate(seed, p, k, n);
        let before = counts(&check(&s));
        let end = s.events.last().map(|e| e.time).unwrap_or(0) + 10;
        let mut a = s.clone();
        let key = which % k;
        let newest = s.commits.iter().filter(|c| c.key == key).max_by_key(|c| c.version).unwrap().value;
        a.events.push(ev(end, 99, EventType::Invoke, F_READ, key, None));
        a.events.push(ev(end + 1, 99, EventType::Ok, F_READ, key, Some(newest)));
        prop_assert_eq!(&before, &counts(&check(&a)));

        let mut b = s.clone();
        let fresh = 1_000_000;
        b.commits.push(Commit { key: fresh, version: 1, value: 5, initial: true });
        b.commits.push(Commit { key: fresh, version: 2, value: 6, initial: false });
        b.finals.push(FinalState { key: fresh, db: Some(6), cache: None, cache_ttl_ms: None });
        b.events.push(ev(end, 98, EventType::Invoke, F_WRITE, fresh, Some(6)));
        b.events.push(ev(end + 2, 98, EventType::Ok, F_WRITE, fresh, Some(6)));
        b.events.push(ev(end + 3, 98, EventType::Invoke, F_READ, fresh, None));
        b.events.push(ev(end + 4, 98, EventType::Ok, F_READ, fresh, Some(6)));
        prop_assert_eq!(&before, &counts(&check(&b)));
    }

    /// Hostile but well-formed histories: completions without invokes, duplicate completions,
    /// time going backwards, unknown keys, huge values, negative processes. Never a panic.
    #[test]
    fn hostile_histories_never_panic(raw in proptest::collection::vec((0u64..u64::MAX, -3i64..5, 0u8..4, 0u8..3, proptest::option::of(-2i64..4), proptest::option::of(any::<i64>())), 0..60),
                                     commits in proptest::collection::vec((-2i64..4, any::<i64>(), any::<i64>(), any::<bool>()), 0..20)) {
        let kinds = [EventType::Invoke, EventType::Ok, EventType::Fail, EventType::Info];
        let fs = [F_READ, F_WRITE, "cache-del"];
        let events: Vec<Event> = raw.iter().map(|(t, p, k, f, key, v)| Event {
            time: *t, process: *p, kind: kinds[*k as usize], f: fs[*f as usize].into(),
            key: *key, value: *v, source: None, error: None, detail: None,
        }).collect();
        let commits: Vec<Commit> = commits.iter().map(|(k, ver, v, i)| Commit { key: *k, version: *ver, value: *v, initial: *i }).collect();
        let finals = vec![FinalState { key: 0, db: Some(1), cache: Some(i64::MIN), cache_ttl_ms: Some(i64::MAX) }];
        let _ = check_events(&events, &commits, &finals, &opts());
        let s = Sim { events, commits, finals };
        let d = write_dir(&s);
        let _ = check_dir(d.path(), &opts());
    }

    /// Arbitrary bytes in any of the three files: a result or an error naming the file and
    /// line, never a panic.
    #[test]
    fn arbitrary_bytes_in_the_files_never_panic(h in proptest::collection::vec(any::<u8>(), 0..400),
                                                c in proptest::collection::vec(any::<u8>(), 0..200),
                                                f in proptest::collection::vec(any::<u8>(), 0..200),
                                                which in 0u8..3) {
        let s = simulate(1, 2, 2, 10);
        let d = write_dir(&s);
        let (name, bytes) = match which { 0 => (HISTORY_FILE, h), 1 => (COMMITS_FILE, c), _ => (FINAL_FILE, f) };
        std::fs::write(d.path().join(name), &bytes).unwrap();
        if let Err(e) = check_dir(d.path(), &opts()) {
            let msg = e.to_string();
            prop_assert!(msg.contains(name), "error does not name the file: {}", msg);
            prop_assert!(!msg.contains('\n'), "error is not one line: {}", msg);
        }
    }

    /// Arbitrary text as a workload: a workload or a one-line error naming the file.
    #[test]
    fn arbitrary_workload_text_never_panics(text in "\\PC{0,300}") {
        match cachecheck::config::parse(&text, "fuzz.toml") {
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("fuzz.toml"), "{}", msg);
                prop_assert!(!msg.contains('\n'), "{}", msg);
            }
        }
    }

    /// Valid workloads with one field changed to an arbitrary TOML value.
    #[test]
    fn mutated_workloads_never_panic(field in prop::sample::select(vec!["keys", "clients", "read_fraction", "duration_s", "ttl_ms", "distribution", "strategies", "rate", "zipf_exponent", "hot_keys", "op_timeout_ms"]),
                                     value in prop::sample::select(vec!["0", "-1", "1e308", "\"x\"", "[]", "[\"db-only\"]", "true", "{a = 1}", "nan", "inf", "9223372036854775807", "0.5"])) {
        let text = format!("name = \"m\"\n{field} = {value}\n");
        if let Err(e) = cachecheck::config::parse(&text, "m.toml") {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }
}

#[test]
fn simulated_histories_exercise_every_anomaly_kind() {
    // The properties above are only as good as the histories: make sure they are not all clean.
    let mut total = AnomalyCounts::default();
    for seed in 0..40 {
        let r = check(&simulate(seed, 4, 3, 80));
        total.add("stale_reads", r.anomalies["stale_reads"]);
        total.add("divergent_keys", r.anomalies["divergent_keys"]);
        total.add("dirty_reads", r.anomalies["dirty_reads"]);
        total.add(
            "monotonic_read_violations",
            r.anomalies["monotonic_read_violations"],
        );
        total.add(
            "read_your_writes_violations",
            r.anomalies["read_your_writes_violations"],
        );
        total.add("impossible_reads", r.anomalies["impossible_reads"]);
    }
    assert!(total["stale_reads"] > 0, "{total:?}");
    assert!(total["divergent_keys"] > 0, "{total:?}");
    assert!(total["dirty_reads"] > 0, "{total:?}");
    assert!(total["monotonic_read_violations"] > 0, "{total:?}");
    assert!(total["impossible_reads"] > 0, "{total:?}");
}
