//! The read replicas of a run (`[infra] db_replicas`): their proxies (`replication`: each
//! replica's connection to the primary; `db-replica`: clients' reads of the first replica),
//! their replication set up through the `replication` proxy, and the waits for every replica to
//! replicate and catch up: before the first strategy, before each strategy's clients start, and
//! at quiescence (so divergence is judged on a converged database).
//!
//! Docker infra's replicas are containers: the proxies' upstreams are service names
//! (`db-replica-1:3306`, `db:3306`) and a replica reaches the `replication` proxy at
//! `proxy:<container port>` ([`crate::infra::docker::DockerInfra::in_network`]).
//!
//! External infra's replicas (`replica_urls`) are the user's: only the `db-replica` proxy is
//! put in front of the first, replication is never set up or restarted, and catching up is
//! waited for read-only (`MASTER_GTID_WAIT`).

use crate::conn::RoleAddrs;
use crate::infra::{Endpoints, Role, Stack};
use anyhow::{Context, Result};
use std::time::Duration;

/// How long a replica may take to catch up before the run fails.
pub const CATCH_UP_LIMIT: Duration = Duration::from_secs(60);

/// The proxies the replicas add (none without replicas).
pub fn proxy_roles(stack: &Stack) -> Vec<Role> {
    if !stack.replicas().is_empty() {
        vec![Role::DbReplica, Role::Replication]
    } else if !stack.replica_endpoints().is_empty() {
        vec![Role::DbReplica]
    } else {
        Vec::new()
    }
}

/// The upstream of a replica role's proxy: the first replica for `db-replica`, the primary for
/// `replication`; None for the other roles.
pub fn upstream(stack: &Stack, r: Role) -> Option<String> {
    if let Stack::Docker(d) = stack {
        return match r {
            Role::DbReplica => d.replica_upstream(),
            Role::Replication => d.proxy_upstream(crate::infra::Service::Db),
            _ => None,
        };
    }
    let ep = stack.endpoints();
    match r {
        Role::DbReplica => stack
            .replica_endpoints()
            .first()
            .map(|x| format!("{}:{}", x.host, x.port)),
        Role::Replication => Some(format!("{}:{}", ep.db.host, ep.db.port)),
        _ => None,
    }
}

/// Sets up every replica's replication (through the `replication` proxy if there is one),
/// waits until each replicates and has caught up, and fills in where clients reach the replicas.
pub async fn connect(stack: &Stack, addrs: &mut RoleAddrs) -> Result<()> {
    let replicas = stack.replicas();
    let ep = stack.endpoints();
    if replicas.is_empty() {
        // The user's replicas (external infra): not reconfigured, only waited for.
        let users = stack.replica_endpoints();
        if users.is_empty() {
            return Ok(());
        }
        catch_up(stack, ep).await?;
        addrs.replicas = users
            .iter()
            .enumerate()
            .map(|(i, r)| match (i, addrs.addrs.get(&Role::DbReplica)) {
                (0, Some(a)) => a.clone(),
                _ => (r.host.clone(), r.port),
            })
            .collect();
        addrs.replica_logins = users;
        return Ok(());
    }
    let (mhost, mport) = addrs
        .addrs
        .get(&Role::Replication)
        .cloned()
        .unwrap_or_else(|| (ep.db.host.clone(), ep.db.port));
    // Docker: the replica containers reach the proxy (or the primary) inside the network.
    let (mhost, mport) = match stack {
        Stack::Docker(d) => d.in_network(mport),
        _ => (mhost, mport),
    };
    for r in replicas {
        r.replicate_from(&mhost, mport, &ep.db).await?;
    }
    wait_replicating(stack).await?;
    catch_up(stack, ep).await?;
    addrs.replicas = replicas
        .iter()
        .enumerate()
        .map(|(i, r)| match (i, addrs.addrs.get(&Role::DbReplica)) {
            (0, Some(a)) => a.clone(),
            _ => (r.endpoint.host.clone(), r.endpoint.port),
        })
        .collect();
    Ok(())
}

/// Waits until both replication threads of every replica run.
async fn wait_replicating(stack: &Stack) -> Result<()> {
    let deadline = std::time::Instant::now() + CATCH_UP_LIMIT;
    for r in stack.replicas() {
        loop {
            let st = r.status().await?;
            if st.io_running && st.sql_running {
                break;
            }
            if std::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "{} does not replicate (io {}, sql {}): {}",
                    r.name(),
                    st.io_running,
                    st.sql_running,
                    st.last_error
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Restarts any stopped replication thread and waits until every replica has applied what the
/// primary committed (bounded by [`CATCH_UP_LIMIT`]).
pub async fn catch_up(stack: &Stack, ep: &Endpoints) -> Result<()> {
    if stack.replicas().is_empty() {
        for (i, r) in stack.replica_endpoints().iter().enumerate() {
            if let Some(target) =
                crate::infra::replicas::wait_gtid(r, &ep.db, CATCH_UP_LIMIT).await?
            {
                anyhow::bail!(
                    "replica-{} did not reach the primary's {target} within {:.0} s",
                    i + 1,
                    CATCH_UP_LIMIT.as_secs_f64()
                );
            }
        }
        return Ok(());
    }
    for r in stack.replicas() {
        r.ensure_running()
            .await
            .with_context(|| format!("cannot restart replication on {}", r.name()))?;
        r.wait_caught_up(&ep.db, CATCH_UP_LIMIT).await?;
    }
    Ok(())
}

/// After [`catch_up`]: whether each replica holds exactly the primary's committed writes (the
/// register's log, per key in version order), as summary.json's `replicas` records it:
/// `{"replica-1": {"commits": 2104, "matches_primary": true}}`, or the error that prevented
/// the comparison.
pub async fn compare(stack: &Stack, ep: &Endpoints) -> serde_json::Value {
    let read = |db: crate::infra::DbEndpoint| async move {
        let mut c = mysql_async::Conn::new(db.opts(true)).await?;
        let rows = crate::register::commits(&mut c).await?;
        let _ = c.disconnect().await;
        anyhow::Ok(rows)
    };
    let primary = match read(ep.db.clone()).await {
        Ok(p) => p,
        Err(e) => return serde_json::json!({ "error": format!("primary: {e:#}") }),
    };
    let mut out = serde_json::Map::new();
    for (i, r) in stack.replica_endpoints().into_iter().enumerate() {
        let v = match read(r).await {
            Ok(rows) => serde_json::json!({
                "commits": rows.len(),
                "matches_primary": rows == primary,
            }),
            Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
        };
        out.insert(format!("replica-{}", i + 1), v);
    }
    serde_json::Value::Object(out)
}

/// Which replica (0-based) client `process` reads, chosen by the seed.
pub fn pick(seed: u64, process: i64, replicas: usize) -> usize {
    if replicas <= 1 {
        return 0;
    }
    // splitmix64 of seed and process: stable per (seed, client), spread over the replicas.
    let mut z = seed ^ (process as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % replicas as u64) as usize
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_spread_over_replicas_by_seed() {
        let picks: Vec<usize> = (0..64).map(|p| super::pick(7, p, 3)).collect();
        assert!((0..3).all(|i| picks.contains(&i)), "{picks:?}");
        assert_eq!(
            picks,
            (0..64).map(|p| super::pick(7, p, 3)).collect::<Vec<_>>()
        );
        assert_eq!(super::pick(7, 5, 1), 0);
    }
}
