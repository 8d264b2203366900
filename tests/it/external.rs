//! `--infra external` (`--db-url`, `--redis-url`) against servers this test starts itself
//! (the harness's local MariaDB and Redis): nothing is started or stopped by the run, and the
//! register's schema is dropped afterwards only if the run created it.

use crate::support::{assert_complete_history, cachecheck, run_workload};
use cachecheck::infra::external::schema_exists;
use cachecheck::infra::local::LocalInfra;
use cachecheck::infra::process::{free_port, ManagedProcess};
use cachecheck::infra::DbEndpoint;
use mysql_async::prelude::Queryable;
use std::time::{Duration, Instant};

const WORKLOAD: &str = r#"
name = "external"
keys = 4
clients = 4
duration_s = 1.0
settle_ms = 100
strategies = ["db-then-delete"]
"#;

fn schema(ep: &DbEndpoint, name: &str) -> DbEndpoint {
    DbEndpoint {
        database: name.into(),
        ..ep.clone()
    }
}

#[test]
fn external_urls_run_and_drop_only_the_schema_they_created() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let infra = rt.block_on(LocalInfra::start(None)).expect("local servers");
    let ep = infra.endpoints.clone();
    let redis = format!("redis://127.0.0.1:{}", ep.redis_port);

    // A schema the run creates is dropped afterwards.
    let fresh = schema(&ep.db, "cc_external_fresh");
    let db_url = format!("mysql://root@127.0.0.1:{}/{}", ep.db.port, fresh.database);
    let inv = run_workload(
        WORKLOAD,
        &["-q", "--db-url", &db_url, "--redis-url", &redis],
    );
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    assert_eq!(inv.summary("db-then-delete")["infra"], "external");
    assert_complete_history(&inv.strategy_dir("db-then-delete"));
    assert!(
        !rt.block_on(schema_exists(&fresh)).unwrap(),
        "schema left behind"
    );

    // A schema that existed stays, with the run's tables in it.
    let kept = schema(&ep.db, "cc_external_kept");
    rt.block_on(async {
        let mut c = mysql_async::Conn::new(ep.db.opts(false)).await.unwrap();
        c.query_drop("CREATE DATABASE cc_external_kept")
            .await
            .unwrap();
        c.disconnect().await.unwrap();
    });
    let db_url = format!("mysql://root@127.0.0.1:{}/{}", ep.db.port, kept.database);
    let inv = run_workload(
        WORKLOAD,
        &[
            "-q",
            "--infra",
            "external",
            "--db-url",
            &db_url,
            "--redis-url",
            &redis,
        ],
    );
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    assert!(
        rt.block_on(schema_exists(&kept)).unwrap(),
        "existing schema dropped"
    );

    // The servers still run: nothing was stopped.
    rt.block_on(cachecheck::infra::db_version(&ep.db))
        .expect("database still up");
    rt.block_on(infra.stop());
}

#[test]
fn url_flags_and_keep_are_checked_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("w.toml");
    std::fs::write(&wl, WORKLOAD).unwrap();
    let wl = wl.to_str().unwrap();
    let out = dir.path().join("results");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--infra", "local", "--db-url", "mysql://root@127.0.0.1/x"],
            "--db-url: only with --infra external",
        ),
        (vec!["--keep"], "--keep: only with --infra docker"),
        (
            vec![
                "--db-url",
                "postgres://x",
                "--redis-url",
                "redis://127.0.0.1",
            ],
            "field `infra.db_url`: must start with mysql://",
        ),
        (
            vec!["--db-url", "mysql://root@127.0.0.1/x"],
            "field `infra.redis_url`: required",
        ),
    ] {
        let mut a = vec!["run", wl, "--out", out];
        a.extend(args.iter().copied());
        let (code, _, stderr) = cachecheck(&a, None);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

/// The user's own primary and replica (started here the way a user runs them: the replica
/// replicates straight from the primary, set up by the test, not by cachecheck), a password
/// user, and a 2-second run filling from the replica through `replica_urls`: misses read the
/// replica, lag is sampled, the replica is never reconfigured, and the password appears
/// nowhere in the output or the results.
#[test]
fn replica_urls_fill_from_the_users_replica_without_reconfiguring_it() {
    const PASS: &str = "Sekret-pw-4711";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut infra = rt.block_on(LocalInfra::start(None)).expect("local servers");
    rt.block_on(infra.start_replicas(1)).expect("replica");
    let ep = infra.endpoints.clone();
    let replica_port = infra.replicas[0].endpoint.port;
    rt.block_on(async {
        let r = &infra.replicas[0];
        r.replicate_from(&ep.db.host, ep.db.port, &ep.db)
            .await
            .unwrap();
        // Created on the primary after replication runs: the replica has the user too.
        let mut c = mysql_async::Conn::new(ep.db.opts(false)).await.unwrap();
        c.query_drop(format!("CREATE USER 'ccuser'@'%' IDENTIFIED BY '{PASS}'"))
            .await
            .unwrap();
        c.query_drop("GRANT ALL ON *.* TO 'ccuser'@'%'")
            .await
            .unwrap();
        c.disconnect().await.unwrap();
        r.wait_caught_up(&ep.db, std::time::Duration::from_secs(30))
            .await
            .unwrap();
    });
    let before = rt.block_on(infra.replicas[0].status()).unwrap();
    let wl = format!(
        r#"
name = "external-replica"
keys = 8
clients = 4
duration_s = 2.0
settle_ms = 200
strategies = ["db-then-delete"]
[infra]
replica_urls = ["mysql://ccuser:{PASS}@127.0.0.1:{replica_port}/cc_ext_replica"]
[strategy.db-then-delete]
fill_from = "replica"
"#
    );
    let db_url = format!(
        "mysql://ccuser:{PASS}@127.0.0.1:{}/cc_ext_replica",
        ep.db.port
    );
    let redis = format!("redis://127.0.0.1:{}", ep.redis_port);
    let inv = run_workload(&wl, &["-q", "--db-url", &db_url, "--redis-url", &redis]);
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    let s = inv.summary("db-then-delete");
    assert_eq!(s["infra"], "external");
    assert!(
        s["replica_lag_ms"]["max"].is_number(),
        "lag not sampled: {}",
        s["replica_lag_ms"]
    );
    assert_eq!(
        s["replicas"]["replica-1"]["matches_primary"], true,
        "{}",
        s["replicas"]
    );
    let hist =
        std::fs::read_to_string(inv.strategy_dir("db-then-delete").join("history.jsonl")).unwrap();
    assert!(
        hist.contains(r#""source":"replica""#),
        "no read served by the replica"
    );
    assert_complete_history(&inv.strategy_dir("db-then-delete"));
    // Never in the output or any result file.
    assert!(!inv.stdout.contains(PASS) && !inv.stderr.contains(PASS));
    for f in walk(inv.run_dir.as_ref().expect("run dir")) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(!text.contains(PASS), "password in {}", f.display());
    }
    // Not reconfigured: the same source, replicating, nothing stopped.
    let after = rt.block_on(infra.replicas[0].status()).unwrap();
    assert!(after.io_running && after.sql_running, "{after:?}");
    assert_eq!(before.last_error, after.last_error);
    rt.block_on(infra.stop());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn faults_that_control_replication_are_refused_on_the_users_replicas() {
    let dir = tempfile::tempdir().unwrap();
    for fault in [
        "fault = \"replica-lag\"\nmode = \"stop-sql\"",
        "fault = \"kill\"\nservice = \"replica\"",
        "fault = \"latency\"\nrole = \"replication\"\nlatency_ms = 10",
    ] {
        let wl = dir.path().join("w.toml");
        std::fs::write(
            &wl,
            format!(
                "{WORKLOAD}[infra]\nkind = \"external\"\ndb_url = \"mysql://u:Pw-123@127.0.0.1:1/x\"\nredis_url = \"redis://127.0.0.1:1\"\nreplica_urls = [\"mysql://u:Pw-123@127.0.0.1:2/x\"]\n[[nemesis]]\n{fault}\nat_s = 0.5\nduration_s = 0.2\n"
            ),
        )
        .unwrap();
        let out = dir.path().join("results");
        let (code, _, stderr) = cachecheck(
            &["run", wl.to_str().unwrap(), "--out", out.to_str().unwrap()],
            None,
        );
        assert_eq!(code, 2, "{fault}: {stderr}");
        assert!(stderr.contains("controls replication"), "{fault}: {stderr}");
        assert!(!stderr.contains("Pw-123"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

/// Strategy `service` against external servers this test starts (MariaDB, a Redis behind
/// AUTH and the built-in fault proxy, given by `--db-url`, `--redis-url`, `--toxiproxy-url`):
/// the service
/// reaches the per-role proxies, a latency fault on `cache-write` and a `kill` of the service
/// act as on local infra ([`crate::service::assert_ran_elsewhere`]); the servers stay up.
#[test]
fn external_service_reaches_the_role_proxies_and_is_killed_and_judged() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let infra = rt.block_on(LocalInfra::start(None)).expect("local servers");
    let ep = infra.endpoints.clone();
    let tmp = tempfile::tempdir().unwrap();
    let _in_rt = rt.enter();
    let api_port = free_port().unwrap();
    let mut proxy = ManagedProcess::new(
        "fault proxy",
        std::path::PathBuf::from(crate::support::bin()),
        vec![
            "proxy-server".into(),
            "--listen".into(),
            format!("127.0.0.1:{api_port}"),
        ],
        tmp.path().join("proxy.log"),
    );
    proxy.spawn().expect("proxy-server starts");
    let api = format!("http://127.0.0.1:{api_port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.block_on(cachecheck::infra::proxy_version(&api)).is_err() {
        assert!(Instant::now() < deadline, "proxy: {}", proxy.log_tail(20));
        std::thread::sleep(Duration::from_millis(50));
    }
    // A Redis behind AUTH: the service's URLs must carry the password (NOAUTH before).
    let redis_port = free_port().unwrap();
    let mut auth_redis = ManagedProcess::new(
        "redis (requirepass)",
        std::path::PathBuf::from("redis-server"),
        [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            "svc-pw-9",
            "--port",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([redis_port.to_string(), "--dir".into()])
        .chain([tmp.path().to_str().unwrap().to_string()])
        .collect(),
        tmp.path().join("redis.log"),
    );
    auth_redis.spawn().expect("redis-server starts");
    let redis = format!("redis://:svc-pw-9@127.0.0.1:{redis_port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt
        .block_on(cachecheck::infra::redis_version(&redis))
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "redis: {}",
            auth_redis.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let db_url = format!("mysql://root@127.0.0.1:{}/cc_external_service", ep.db.port);
    let mark = "external-service";
    let inv = run_workload(
        &crate::service::elsewhere_workload(mark),
        &[
            "-q",
            "--db-url",
            &db_url,
            "--redis-url",
            &redis,
            "--toxiproxy-url",
            &api,
        ],
    );
    assert_eq!(inv.summary("service")["infra"], "external");
    crate::service::assert_ran_elsewhere(&inv, mark);
    rt.block_on(cachecheck::infra::db_version(&ep.db))
        .expect("database still up");
    assert!(!inv.stderr.contains("svc-pw-9") && !inv.stdout.contains("svc-pw-9"));
    drop((proxy, auth_redis));
    rt.block_on(infra.stop());
}
