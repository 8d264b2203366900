//! The cache write strategies against real servers: every strategy runs through the binary and
//! leaves a complete history and a readable final state; strategy-specific behaviour is checked
//! from the history and result files (not from the checker's counts); the Lua scripts and the
//! workers' crash behaviour are checked in-process against a private MariaDB and Redis.

use crate::support::*;
use cachecheck::conn::{CacheConn, Conns, RoleAddrs};
use cachecheck::history::recorder::{Clock, HistoryWriter, Recorder};
use cachecheck::infra::local::LocalInfra;
use cachecheck::infra::Role;
use cachecheck::register;
use cachecheck::session::Session;
use cachecheck::strategy::{self, lease, rockscache, versioned, Env, Outcome, Strategy};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn jsonl(dir: &Path, file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Events of the history with `f == f` and `type == ok`.
fn ok_steps<'a>(h: &'a [Value], f: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    h.iter().filter(move |e| e["f"] == f && e["type"] == "ok")
}

/// `(key, value)` of the ok writes.
fn ok_writes(h: &[Value]) -> Vec<(i64, i64, i64)> {
    h.iter()
        .filter(|e| e["f"] == "write" && e["type"] == "ok" && e["process"].as_i64() >= Some(0))
        .map(|e| {
            let g = |f: &str| e[f].as_i64().unwrap();
            (g("process"), g("key"), g("value"))
        })
        .collect()
}

fn committed(dir: &Path) -> HashSet<(i64, i64)> {
    jsonl(dir, "commits.jsonl")
        .iter()
        .map(|c| (c["key"].as_i64().unwrap(), c["value"].as_i64().unwrap()))
        .collect()
}

/// The final state is readable, covers every key, and every cached value was committed.
fn assert_final_state(dir: &Path, keys: usize) {
    let finals = jsonl(dir, "final.jsonl");
    assert_eq!(finals.len(), keys, "{}", dir.display());
    let commits = committed(dir);
    for f in &finals {
        let k = f["key"].as_i64().unwrap();
        if let Some(v) = f["cache"].as_i64() {
            assert!(commits.contains(&(k, v)), "{}: cached {f}", dir.display());
        }
    }
}

/// The cache holds nothing or the database's value for every key.
fn assert_converged(dir: &Path) {
    for f in jsonl(dir, "final.jsonl") {
        assert!(
            f["cache"].is_null() || f["cache"] == f["db"],
            "{}: {f}",
            dir.display()
        );
    }
}

const ALL_STRATEGIES: &str = concat!(
    r#"
name = "strategies"
seed = 3
keys = 4
read_fraction = 0.7
clients = 8
duration_s = 1.0
settle_ms = 100
strategies = ["db-only", "db-then-delete", "db-then-cache", "delete-then-db", "cache-then-db",
              "double-delete", "delete-retry", "binlog-delete", "read-through", "write-through",
              "write-behind", "lease", "versioned", "tag-deleted", "tag-deleted-strong", "service",
              "gtid-wait", "remote-marker"]
[strategy.double-delete]
delay_ms = 100
[strategy.delete-retry]
queue = "outbox"
inline_retries = 1
retry_backoff_ms = 1
delete_failure_probability = 0.5
[strategy.write-behind]
flush_interval_ms = 20
batch_size = 7
[strategy.tag-deleted]
lock_expire_ms = 500
[strategy.service]
command = ["/usr/bin/python3", ""#,
    env!("CARGO_MANIFEST_DIR"),
    r#"/examples/python/app.py"]
"#
);

#[test]
fn every_strategy_runs_and_shows_its_own_behaviour() {
    let inv = run_workload(ALL_STRATEGIES, &["-q"]);
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    for r in strategy::REGISTRY {
        let dir = inv.strategy_dir(r.name);
        assert_complete_history(&dir);
        assert_final_state(&dir, 4);
        assert_eq!(inv.summary(r.name)["strategy"], r.name);
    }
    // Strategies that must converge on a clean run.
    for s in ["lease", "versioned", "tag-deleted-strong", "delete-retry"] {
        assert_converged(&inv.strategy_dir(s));
    }
    double_delete_deletes_twice(&inv.strategy_dir("double-delete"), 100);
    write_behind_commits_every_acknowledged_write(&inv);
    delete_retry_outbox_drains(&inv);
    versioned_never_replaces_a_newer_version(&inv.strategy_dir("versioned"));
    // remote-marker filling from the primary: markers set, never read (db-then-delete).
    let h = jsonl(&inv.strategy_dir("remote-marker"), "history.jsonl");
    assert!(ok_steps(&h, "marker-set").count() > 5);
    assert_eq!(h.iter().filter(|e| e["f"] == "marker-get").count(), 0);
}

/// Every ok write has a first delete by its client and a second one, by a worker, at least
/// `delay_ms` later.
fn double_delete_deletes_twice(dir: &Path, delay_ms: u64) {
    let h = jsonl(dir, "history.jsonl");
    let mut dels: HashMap<(i64, i64), Vec<&Value>> = HashMap::new();
    for e in ok_steps(&h, "cache-del") {
        let v = e["detail"]["write_value"].as_i64().unwrap();
        dels.entry((e["key"].as_i64().unwrap(), v))
            .or_default()
            .push(e);
    }
    let writes = ok_writes(&h);
    assert!(writes.len() > 20, "only {} writes", writes.len());
    for (p, k, v) in writes {
        let d = &dels[&(k, v)];
        assert_eq!(d.len(), 2, "write {v} of key {k}: {d:?}");
        let (first, second) = (d[0], d[1]);
        assert_eq!(first["detail"]["delete"], 1);
        assert_eq!(first["process"], p);
        assert_eq!(second["detail"]["delete"], 2);
        assert_eq!(second["detail"]["writer"], p);
        assert!(second["process"].as_i64().unwrap() < 0, "{second}");
        let gap = second["time"].as_u64().unwrap() - first["time"].as_u64().unwrap();
        assert!(
            gap >= delay_ms * 1_000_000,
            "second delete {gap} ns after the first"
        );
    }
}

/// After quiescence every acknowledged write is in the database's commit log, in batches.
fn write_behind_commits_every_acknowledged_write(inv: &Invocation) {
    let dir = inv.strategy_dir("write-behind");
    let h = jsonl(&dir, "history.jsonl");
    let commits = committed(&dir);
    let writes = ok_writes(&h);
    assert!(writes.len() > 20);
    for (_, k, v) in &writes {
        assert!(
            commits.contains(&(*k, *v)),
            "acknowledged write {v} of key {k} lost"
        );
    }
    let extra = &inv.summary("write-behind")["extra"];
    // Writes that timed out after their set were buffered too: at least every ok write.
    assert!(extra["flushed_writes"].as_u64() >= Some(writes.len() as u64));
    assert_eq!(extra["unflushed_after_quiesce"], 0);
    assert!(ok_steps(&h, "flush").all(|e| e["detail"]["writes"].as_u64() <= Some(7)));
}

/// Deletes refused in the write path went to the outbox, and the worker drained all of them.
fn delete_retry_outbox_drains(inv: &Invocation) {
    let extra = &inv.summary("delete-retry")["extra"];
    let queued = extra["queued"].as_u64().unwrap();
    assert!(queued > 5, "{extra}");
    assert_eq!(extra["queued_deletes_ok"].as_u64(), Some(queued), "{extra}");
    assert_eq!(extra["pending_after_quiesce"], 0, "{extra}");
    assert_eq!(extra["needs_human"], 0, "{extra}");
    let h = jsonl(&inv.strategy_dir("delete-retry"), "history.jsonl");
    let by_worker = ok_steps(&h, "cache-del")
        .filter(|e| e["detail"]["queue"] == "outbox")
        .count();
    assert_eq!(by_worker as u64, queued);
}

/// Every cache write that was applied replaced an older version (or, at the same version, a
/// fill replaced its own tombstone); the final cache holds no version the database passed.
fn versioned_never_replaces_a_newer_version(dir: &Path) {
    let h = jsonl(dir, "history.jsonl");
    let (mut applied, mut refused) = (0, 0);
    for e in h
        .iter()
        .filter(|e| e["f"] == "cache-fill" || e["f"] == "cache-tombstone")
        .filter(|e| e["type"] == "ok")
    {
        let d = &e["detail"];
        let version = d["version"].as_i64().unwrap();
        let previous = d["previous"].as_i64();
        if d["applied"] == true {
            applied += 1;
            match previous {
                None => {}
                Some(p) if p < version => {}
                Some(p) => assert!(p == version && e["f"] == "cache-fill", "{e}"),
            }
        } else {
            refused += 1;
            assert!(previous >= Some(version), "{e}");
        }
    }
    assert!(applied > 10, "{applied} applied");
    eprintln!("versioned: {applied} cache writes applied, {refused} refused");
}

const SPECIAL_SETTINGS: &str = r#"
name = "special"
seed = 5
keys = 2
read_fraction = 0.6
clients = 6
duration_s = 1.0
settle_ms = 100
strategies = ["cache-then-db", "double-delete", "delete-retry"]
[strategy.cache-then-db]
db_failure_probability = 1.0
[strategy.double-delete]
inline = true
delay_ms = 50
[strategy.delete-retry]
queue = "memory"
delete_failure_probability = 1.0
inline_retries = 2
retry_backoff_ms = 1
"#;

#[test]
fn fault_knobs_and_inline_modes() {
    let inv = run_workload(SPECIAL_SETTINGS, &["-q"]);
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    for s in ["cache-then-db", "double-delete", "delete-retry"] {
        assert_complete_history(&inv.strategy_dir(s));
        assert_final_state_readable(&inv.strategy_dir(s));
    }

    // cache-then-db with every DB step refused: every write fails, nothing commits, and reads
    // are served values from the cache that the database never had (seed 3.1's dirty data).
    let dir = inv.strategy_dir("cache-then-db");
    let h = jsonl(&dir, "history.jsonl");
    assert!(ok_writes(&h).is_empty());
    let commits = committed(&dir);
    assert_eq!(commits.len(), 2, "only the initial rows");
    let dirty = h
        .iter()
        .filter(|e| e["f"] == "read" && e["type"] == "ok" && e["source"] == "cache")
        .filter(|e| {
            let (k, v) = (e["key"].as_i64().unwrap(), e["value"].as_i64());
            v.is_some_and(|v| !commits.contains(&(k, v)))
        })
        .count();
    assert!(dirty > 0, "no read served an uncommitted value");

    // double-delete inline: both deletes by the writer itself, `delay_ms` apart.
    let h = jsonl(&inv.strategy_dir("double-delete"), "history.jsonl");
    let writes = ok_writes(&h);
    assert!(!writes.is_empty());
    for (p, k, v) in writes {
        let d: Vec<&Value> = ok_steps(&h, "cache-del")
            .filter(|e| e["key"] == k && e["detail"]["write_value"] == v)
            .collect();
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().all(|e| e["process"] == p));
        let gap = d[1]["time"].as_u64().unwrap() - d[0]["time"].as_u64().unwrap();
        assert!(gap >= 50_000_000, "{gap} ns");
    }

    // delete-retry: every write path delete refused -> each write retried in line, then
    // queued in memory, and the worker's deletes succeeded.
    let h = jsonl(&inv.strategy_dir("delete-retry"), "history.jsonl");
    let writes = ok_writes(&h).len();
    assert!(writes > 0);
    // (Writes that timed out mid-way may add retries and queued deletes of their own.)
    let retries = h.iter().filter(|e| e["f"] == "retry").count();
    assert!(
        retries >= 2 * writes,
        "{retries} retries for {writes} writes"
    );
    let extra = &inv.summary("delete-retry")["extra"];
    assert_eq!(extra["queue"], "memory");
    let queued = extra["queued"].as_u64().unwrap();
    assert!(queued >= writes as u64, "{extra}");
    assert_eq!(extra["queued_deletes_ok"].as_u64(), Some(queued), "{extra}");
    assert_converged(&inv.strategy_dir("delete-retry"));
}

fn assert_final_state_readable(dir: &Path) {
    assert_eq!(jsonl(dir, "final.jsonl").len(), 2);
}

#[test]
fn unknown_strategy_settings_are_refused() {
    let inv = run_workload(
        "name = \"x\"\nstrategies = [\"double-delete\"]\n[strategy.double-delete]\ndelay = 5\n",
        &[],
    );
    assert_eq!(inv.code, 2, "{}", inv.stderr);
    assert!(inv.stderr.contains("delay"), "{}", inv.stderr);
    let inv = run_workload(
        "name = \"x\"\nstrategies = [\"cache-then-db\"]\n[strategy.cache-then-db]\ndb_failure_probability = 2.0\n",
        &[],
    );
    assert_eq!(inv.code, 2, "{}", inv.stderr);
    assert!(
        inv.stderr.contains("db_failure_probability"),
        "{}",
        inv.stderr
    );
    // The temporary directory holds the workload the binary was given.
    assert!(inv.tmp.path().join("workload.toml").exists());
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn lua_scripts_against_a_real_redis() {
    rt().block_on(async {
        let infra = LocalInfra::start(None).await.unwrap();
        let url = infra.endpoints.redis_url();
        let mut c = CacheConn::new(&url, Duration::from_secs(5)).unwrap();

        // Leases: a write's delete invalidates the token; the stale fill is refused.
        use lease::LeaseGet;
        let t1 = lease::get(&mut c, 1, "t1", 10_000).await.unwrap();
        assert_eq!(t1, LeaseGet::Lease("t1".into()));
        assert_eq!(
            lease::get(&mut c, 1, "t2", 10_000).await,
            Ok(LeaseGet::Wait)
        );
        lease::invalidate(&mut c, 1).await.unwrap();
        assert_eq!(lease::fill(&mut c, 1, "t1", 5, 0).await, Ok(false));
        let t3 = lease::get(&mut c, 1, "t3", 10_000).await.unwrap();
        assert_eq!(t3, LeaseGet::Lease("t3".into()));
        assert_eq!(
            lease::fill(&mut c, 1, "t1", 5, 0).await,
            Ok(false),
            "foreign token"
        );
        assert_eq!(lease::fill(&mut c, 1, "t3", 7, 60_000).await, Ok(true));
        assert_eq!(
            lease::get(&mut c, 1, "t4", 10_000).await,
            Ok(LeaseGet::Hit(7))
        );

        // Versions: never replaced by an older one; a tombstone blocks older fills.
        let cas = |v: i64, val: Option<i64>| {
            let url = url.clone();
            async move {
                let mut c = CacheConn::new(&url, Duration::from_secs(5)).unwrap();
                versioned::cas(&mut c, 2, v, val, 60_000).await.unwrap()
            }
        };
        assert!(cas(5, Some(50)).await.applied);
        let r = cas(3, Some(30)).await;
        assert!(!r.applied && r.previous == Some(5));
        assert!(cas(6, None).await.applied, "tombstone of a newer version");
        assert_eq!(versioned::entry(&mut c, 2).await, Ok(Some((6, None))));
        assert!(
            !cas(5, Some(50)).await.applied,
            "older fill after the tombstone"
        );
        assert!(
            cas(6, Some(60)).await.applied,
            "the fill of the tombstone's version"
        );
        assert!(
            !cas(6, None).await.applied,
            "a tombstone never hides its own value"
        );
        assert_eq!(versioned::entry(&mut c, 2).await, Ok(Some((6, Some(60)))));

        // rockscache: lock on a miss; a marked entry keeps its value and is locked by the next
        // reader; marking again clears the owner, so that reader's store is refused.
        let k = 3;
        let g = rockscache::get(&mut c, k, "a", 3000).await.unwrap();
        assert!(g.locked() && g.value.is_none());
        let g = rockscache::get(&mut c, k, "b", 3000).await.unwrap();
        assert!(
            !g.locked() && g.lock.is_some() && g.value.is_none(),
            "{g:?}"
        );
        assert_eq!(rockscache::set(&mut c, k, "10", "b", None).await, Ok(false));
        assert_eq!(rockscache::set(&mut c, k, "10", "a", None).await, Ok(true));
        let g = rockscache::get(&mut c, k, "c", 3000).await.unwrap();
        assert_eq!((g.value.as_deref(), g.lock), (Some("10"), None));
        rockscache::tag_deleted(&mut c, k, 10_000).await.unwrap();
        let g = rockscache::get(&mut c, k, "d", 3000).await.unwrap();
        assert!(g.locked() && g.value.as_deref() == Some("10"), "{g:?}");
        rockscache::tag_deleted(&mut c, k, 10_000).await.unwrap();
        assert_eq!(rockscache::set(&mut c, k, "11", "d", None).await, Ok(false));
        let g = rockscache::get(&mut c, k, "e", 3000).await.unwrap();
        assert!(g.locked());
        assert_eq!(
            rockscache::set(&mut c, k, "12", "e", Some(60_000)).await,
            Ok(true)
        );
        let e = rockscache::entry(&mut c, k).await.unwrap();
        assert_eq!(e, (Some("12".into()), None, None));
        // An expired lock is taken over; the first owner's store is then refused.
        let g = rockscache::get(&mut c, 4, "x", 1).await.unwrap();
        assert!(g.locked());
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(rockscache::get(&mut c, 4, "y", 3000)
            .await
            .unwrap()
            .locked());
        assert_eq!(rockscache::set(&mut c, 4, "1", "x", None).await, Ok(false));
        infra.stop().await;
    });
}

/// A strategy built in-process on local servers, with one client.
struct Rig {
    env: Env,
    admin: mysql_async::Conn,
    dir: tempfile::TempDir,
    /// Keeps the history writer thread going (it writes every few ms).
    _writer: HistoryWriter,
}

impl Rig {
    async fn new(infra: &LocalInfra, cache_write_down: bool) -> Rig {
        let ep = &infra.endpoints;
        let mut admin = mysql_async::Conn::new(ep.db.opts(false)).await.unwrap();
        register::reset(&mut admin, &ep.db.database, 4)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (rec, writer) = Recorder::to_file(&dir.path().join("h.jsonl"), Clock::start()).unwrap();
        let mut addrs = RoleAddrs::direct(&ep.db, &ep.redis_host, ep.redis_port);
        if cache_write_down {
            // A port nothing listens on: every cache-write connection is refused.
            let port = cachecheck::infra::process::free_port().unwrap();
            addrs
                .addrs
                .insert(Role::CacheWrite, ("127.0.0.1".into(), port));
        }
        let env = Env {
            rec,
            addrs,
            ttl_ms: 60_000,
            op_timeout: Duration::from_millis(500),
            keys: 4,
            trace: true,
            seed: 1,
            shutdown: Default::default(),
            dir: dir.path().to_path_buf(),
            workload_dir: dir.path().to_path_buf(),
        };
        Rig {
            env,
            admin,
            dir,
            _writer: writer,
        }
    }

    fn build(&self, name: &str, settings: &str) -> Arc<dyn Strategy> {
        let t: toml::Table = toml::from_str(settings).unwrap();
        let setup = (strategy::lookup(name).unwrap().configure)(&t).unwrap();
        setup.build(&self.env).unwrap()
    }

    fn client(&self) -> Session {
        let conns = Conns::new(&self.env.addrs, self.env.op_timeout).unwrap();
        Session::new(0, conns, self.env.rec.clone(), self.env.ttl_ms, true)
    }

    async fn history(&self) -> Vec<Value> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        jsonl(self.dir.path(), "h.jsonl")
    }

    async fn committed(&mut self, k: i64, v: i64) -> bool {
        let n: Option<u64> = self
            .admin
            .query_first(format!(
                "SELECT COUNT(*) FROM commit_log WHERE k={k} AND v={v}"
            ))
            .await
            .unwrap();
        n == Some(1)
    }

    async fn outbox_rows(&mut self) -> u64 {
        let n: Option<u64> = self
            .admin
            .query_first("SELECT COUNT(*) FROM outbox WHERE needs_human = 0")
            .await
            .unwrap();
        n.unwrap()
    }
}

#[test]
fn workers_under_crashes_and_unreachable_roles() {
    rt().block_on(async {
        let infra = LocalInfra::start(None).await.unwrap();

        // delete-retry, cache-write unreachable: the write commits, its deletes fail in line
        // and in the queue, and the key is logged as needing a person.
        let rig = Rig::new(&infra, true).await;
        let s = rig.build(
            "delete-retry",
            "inline_retries = 1\nretry_backoff_ms = 1\nqueue_backoff_ms = 5\nmax_queue_retries = 3",
        );
        s.start().await.unwrap();
        let mut c = rig.client();
        assert_eq!(s.write(&mut c, 1, 100).await, Outcome::Ok(()));
        s.quiesce().await;
        assert_eq!(s.extra().unwrap()["needs_human"], 1);
        let h = rig.history().await;
        let alert: Vec<_> = h.iter().filter(|e| e["f"] == "needs-human").collect();
        assert_eq!(alert.len(), 1);
        assert_eq!(alert[0]["key"], 1);
        assert_eq!(alert[0]["detail"]["attempts"], 3);

        // delete-retry, memory queue: a crash loses the queued delete.
        let s = rig.build(
            "delete-retry",
            "inline_retries = 0\nqueue_backoff_ms = 60000\nmax_queue_retries = 5",
        );
        s.start().await.unwrap();
        assert_eq!(s.write(&mut c, 2, 101).await, Outcome::Ok(()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(s.kill_workers().await);
        assert_eq!(s.extra().unwrap()["lost_on_kill"], 1);
        s.restart_workers().await.unwrap();
        s.quiesce().await;

        // delete-retry, outbox: rows written while the worker is dead survive and are drained
        // after the restart; the stale cache entry is then gone.
        let mut rig = Rig::new(&infra, false).await;
        let s = rig.build(
            "delete-retry",
            "queue = \"outbox\"\ninline_retries = 0\ndelete_failure_probability = 1.0",
        );
        s.start().await.unwrap();
        assert!(s.kill_workers().await);
        let mut c = rig.client();
        let mut redis =
            CacheConn::new(&infra.endpoints.redis_url(), Duration::from_secs(5)).unwrap();
        let set = redis::cmd("SET").arg("cc:3").arg(3).clone();
        redis.query::<()>(&set).await.unwrap();
        assert_eq!(s.write(&mut c, 3, 102).await, Outcome::Ok(()));
        assert_eq!(rig.outbox_rows().await, 1);
        s.restart_workers().await.unwrap();
        s.quiesce().await;
        assert_eq!(rig.outbox_rows().await, 0);
        let cached: Option<i64> = redis
            .query(&redis::cmd("GET").arg("cc:3").clone())
            .await
            .unwrap();
        assert_eq!(cached, None);
        assert_eq!(s.extra().unwrap()["queued_deletes_ok"], 1);

        // write-behind: acknowledged writes still buffered die with the process (lost
        // writes); after a restart, later writes are flushed at quiescence.
        let s = rig.build("write-behind", "flush_interval_ms = 60000");
        s.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await; // the flusher's first tick
        for (k, v) in [(0, 200), (1, 201), (0, 202)] {
            assert_eq!(s.write(&mut c, k, v).await, Outcome::Ok(()));
        }
        assert!(s.kill_workers().await);
        assert_eq!(s.extra().unwrap()["lost_on_kill"], 3);
        s.restart_workers().await.unwrap();
        for (k, v) in [(2, 203), (2, 204)] {
            assert_eq!(s.write(&mut c, k, v).await, Outcome::Ok(()));
        }
        s.quiesce().await;
        for (k, v) in [(0, 200), (1, 201), (0, 202)] {
            assert!(!rig.committed(k, v).await, "{v} was never flushed");
        }
        for (k, v) in [(2, 203), (2, 204)] {
            assert!(rig.committed(k, v).await, "{v} acknowledged and flushed");
        }
        infra.stop().await;
    });
}
