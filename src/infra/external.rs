//! External infrastructure: servers the user already runs, given by URL (`[infra] db_url`,
//! `redis_url`, `toxiproxy_url`, or `--db-url`, `--redis-url`, `--toxiproxy-url`; with AUTH
//! and TLS, see [`redis_url`] and [`DbEndpoint::parse`]). Nothing is
//! started or stopped. The register lives in the URL's own schema (default `cachecheck`); the
//! schema is dropped at the end only if cachecheck created it.

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
        let schema_existed = schema_exists(&ep.db).await?;
        Ok(ExternalInfra {
            endpoints,
            db_version,
            redis_version,
            schema_existed,
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
