//! External infrastructure: servers the user already runs, given by URL (`[infra] db_url`,
//! `redis_url`, `toxiproxy_url`, or `--db-url`, `--redis-url`, `--toxiproxy-url`; with AUTH
//! and TLS, see [`redis_url`] and [`DbEndpoint::parse`]). Nothing is
//! started or stopped. The register lives in the URL's own schema (default `cachecheck`); the
//! schema is dropped at the end only if cachecheck created it.
//!
//! `replica_urls = ["mysql://user:pass@host:port/db", ...]` (default none) names the user's own
//! read replicas of that database: misses of a strategy with `fill_from = "replica"` read them
//! through role `db-replica` (the first through the fault proxy if there is one), and their lag
//! is sampled read-only from `@@gtid_slave_pos` as for local replicas. cachecheck never
//! reconfigures them (no `CHANGE MASTER`, no `STOP`/`START SLAVE`): faults that control
//! replication (`replica-lag`, role `replication`, `kill`/`pause` of a replica) are refused
//! when the workload is loaded. At quiescence each replica is waited for (`MASTER_GTID_WAIT`,
//! read-only) until it applied the primary's position. Each replica is reached with its URL's
//! user, password and TLS options; the schema read is the primary's (the register, replicated).

use super::{db_version, redis_url, redis_version, DbEndpoint, Endpoints, InfraConfig};
use super::{proxy_version, InfraError};
use anyhow::Result;
use mysql_async::prelude::Queryable;
use std::time::Duration;

/// The user's servers, checked reachable.
pub struct ExternalInfra {
    pub endpoints: Endpoints,
    pub db_version: String,
    pub redis_version: String,
    /// Whether the register's schema existed before the run (then it is left in place).
    pub schema_existed: bool,
    /// The user's read replicas (`replica_urls`), checked reachable.
    pub replicas: Vec<DbEndpoint>,
}

impl ExternalInfra {
    /// Checks that every URL answers and notes whether the schema exists.
    pub async fn start(cfg: &InfraConfig) -> Result<ExternalInfra> {
        let db = DbEndpoint::parse(cfg.db_url.as_deref().unwrap_or_default())
            .map_err(|e| InfraError::Unreachable(format!("infra.db_url: {e}")))?;
        let url = cfg.redis_url.clone().unwrap_or_default();
        let (host, port, redis_access) = redis_url::parse(&url)
            .map_err(|e| InfraError::Unreachable(format!("infra.redis_url: {e}")))?;
        let endpoints = Endpoints {
            db,
            redis_host: host,
            redis_port: port,
            toxiproxy_api: cfg.toxiproxy_url.clone(),
            redis_access,
        };
        let ep = &endpoints;
        let db_version = db_version(&ep.db).await.map_err(|e| {
            InfraError::Unreachable(format!(
                "cannot reach the database at {}:{}: {e} (fix: check --db-url or infra.db_url)",
                ep.db.host, ep.db.port
            ))
        })?;
        let redis_version = redis_version(&ep.redis_url()).await.map_err(|e| {
            InfraError::Unreachable(format!(
                "cannot reach redis at {}: {} (fix: check --redis-url or infra.redis_url)",
                ep.redis_shown(),
                redis_url::redact(&format!("{e:#}"))
            ))
        })?;
        if let Some(api) = &ep.toxiproxy_api {
            proxy_version(api).await.map_err(|e| {
                InfraError::Unreachable(format!(
                    "cannot reach toxiproxy at {api}: {e:#} (fix: check --toxiproxy-url or infra.toxiproxy_url)"
                ))
            })?;
        }
        let mut replicas = Vec::new();
        for (i, u) in cfg.replica_urls.iter().enumerate() {
            let r = DbEndpoint::parse(u)
                .map_err(|e| InfraError::Unreachable(format!("infra.replica_urls[{i}]: {e}")))?;
            // The register is the primary's schema, replicated: the URL's login, that schema.
            let r = DbEndpoint {
                database: endpoints.db.database.clone(),
                ..r
            };
            super::db_version(&r).await.map_err(|e| {
                InfraError::Unreachable(format!(
                    "cannot reach replica {} at {}:{}: {} (fix: check infra.replica_urls)",
                    i + 1,
                    r.host,
                    r.port,
                    redact_db(&format!("{e:#}"), &r)
                ))
            })?;
            replicas.push(r);
        }
        let schema_existed = schema_exists(&ep.db).await?;
        Ok(ExternalInfra {
            endpoints,
            db_version,
            redis_version,
            schema_existed,
            replicas,
        })
    }

    /// Drops the register's schema if this run created it; leaves the servers running.
    pub async fn stop(self) {
        if self.schema_existed {
            return;
        }
        let db = &self.endpoints.db;
        let dropped = async {
            let mut c = mysql_async::Conn::new(db.opts(false)).await?;
            c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", db.database))
                .await?;
            c.disconnect().await
        };
        match tokio::time::timeout(Duration::from_secs(30), dropped).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cannot drop schema {}: {e}", db.database),
            Err(_) => tracing::warn!("dropping schema {} timed out", db.database),
        }
    }
}

/// Whether the endpoint's schema exists.
pub async fn schema_exists(db: &DbEndpoint) -> Result<bool> {
    let mut c = tokio::time::timeout(
        Duration::from_secs(5),
        mysql_async::Conn::new(db.opts(false)),
    )
    .await??;
    let n: Option<i64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db.database.clone(),),
        )
        .await?;
    let _ = c.disconnect().await;
    Ok(n.unwrap_or(0) > 0)
}

/// The workload's text as the result directory keeps it (`workload.toml`): every URL of
/// `cfg` (`db_url`, `redis_url`, `replica_urls`) written in it has its password replaced by
/// `***`.
pub fn without_passwords(text: &str, cfg: &InfraConfig) -> String {
    let mut out = text.to_string();
    for u in cfg
        .db_url
        .iter()
        .chain(&cfg.redis_url)
        .chain(&cfg.replica_urls)
    {
        out = out.replace(u.as_str(), &redis_url::redact(u));
    }
    out
}

/// `msg` without the endpoint's password (a driver error may quote what it was given).
fn redact_db(msg: &str, ep: &DbEndpoint) -> String {
    match ep.password.as_deref() {
        Some(p) if !p.is_empty() => msg.replace(p, "***"),
        _ => msg.to_string(),
    }
}
