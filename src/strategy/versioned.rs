//! `versioned`: the cache stores the database's version next to the value, and no cache write
//! ever replaces a newer version (compare-and-set in Lua, `lua/versioned_set.lua`).
//!
//! * Read: a hit is an entry with a value. A miss (absent, or a tombstone) reads
//!   `SELECT v, version` and fills `{version, value}` unless the cache already holds a newer
//!   version, or a tombstone of a newer version.
//! * Write: after the database write returns the new version, the write leaves a tombstone
//!   carrying that version instead of deleting (`write_mode = "tombstone"`), so any fill of an
//!   older value that lands later is refused; with `write_mode = "update"` it stores the new
//!   value with its version instead (a versioned `db-then-cache`).
//!
//! A tombstone reads as a miss, and `cache_view` reports it as absent. At equal versions only a
//! value replaces its own tombstone (the first fill after a write).
//!
//! Layout: `cc:{k}` is a hash `{ver, val}` (no `val`: a tombstone) with the TTL.
//!
//! Known races: readers get the old value until the tombstone lands; a failed tombstone leaves
//! the old value until the TTL; a tombstone that expires before a slow fill of an older value
//! lands lets that fill in (tombstones live `ttl_ms`).
//!
//! ```toml
//! [strategy.versioned]
//! write_mode = "tombstone"   # "tombstone" | "update"
//! ```

use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::cache::CacheView;
use crate::conn::{CacheConn, StepError};
use crate::history::{EventType, Source};
use crate::register;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, LazyLock};

pub const REG: Registration = Registration {
    name: "versioned",
    about: "the cache stores versions; writes leave versioned tombstones; no older value wins",
    configure: typed::<Settings>,
};

/// What a write leaves in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    #[default]
    Tombstone,
    Update,
}

/// Settings of `versioned` (defaults in the module doc).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub write_mode: WriteMode,
}

impl super::Settings for Settings {
    fn build(&self, _: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(Versioned { s: self.clone() }))
    }
}

static SET: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/versioned_set.lua")));

/// What a compare-and-set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CasResult {
    pub applied: bool,
    /// The version the cache held before (None: nothing).
    pub previous: Option<i64>,
}

/// Stores `{version, value}` (`value` None: a tombstone) unless a newer version is cached.
pub async fn cas(
    conn: &mut CacheConn,
    k: i64,
    version: i64,
    value: Option<i64>,
    ttl_ms: u64,
) -> Result<CasResult, StepError> {
    let mut inv = SET.prepare_invoke();
    let v = value.map(|v| v.to_string()).unwrap_or_default();
    inv.key(cache::key(k)).arg(version).arg(v).arg(ttl_ms);
    let (applied, previous): (i64, i64) = conn.script(&inv).await?;
    Ok(CasResult {
        applied: applied == 1,
        previous: (previous >= 0).then_some(previous),
    })
}

/// The cached entry: `(version, value)`; value None is a tombstone; None if absent.
pub async fn entry(conn: &mut CacheConn, k: i64) -> Result<Option<(i64, Option<i64>)>, StepError> {
    let cmd = redis::cmd("HMGET")
        .arg(cache::key(k))
        .arg("ver")
        .arg("val")
        .clone();
    let (ver, val): (Option<i64>, Option<i64>) = conn.query(&cmd).await?;
    Ok(ver.map(|ver| (ver, val)))
}

fn cas_detail(version: i64, r: &Result<CasResult, StepError>) -> serde_json::Value {
    match r {
        Ok(c) => json!({ "version": version, "applied": c.applied, "previous": c.previous }),
        Err(_) => json!({ "version": version }),
    }
}

pub struct Versioned {
    s: Settings,
}

#[async_trait]
impl Strategy for Versioned {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        match entry(&mut c.conns.cache_read, key).await {
            Ok(Some((_, Some(v)))) => {
                return Ok(ReadValue {
                    value: Some(v),
                    source: Source::Cache,
                })
            }
            Ok(_) => {}
            Err(e) => {
                let detail = json!({ "error": e.msg() });
                c.step("cache-get", EventType::Fail, key, None, Some(detail));
            }
        }
        let (db, source) = c.miss_conn();
        let row = match db
            .run(|conn| Box::pin(register::read_versioned(conn, key)))
            .await
        {
            Ok(row) => row,
            Err(e) => return Err(e),
        };
        let value = row.and_then(|(v, _)| v);
        if let Some((Some(v), version)) = row {
            let ttl = c.ttl_ms;
            let r = cas(&mut c.conns.cache_fill, key, version, Some(v), ttl).await;
            c.trace_detail("cache-fill", key, Some(v), cas_detail(version, &r), &r);
        }
        Ok(ReadValue { value, source })
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let version = c.write_db(key, value).await?;
        let ttl = c.ttl_ms;
        let (f, cached) = match self.s.write_mode {
            WriteMode::Tombstone => ("cache-tombstone", None),
            WriteMode::Update => ("cache-set", Some(value)),
        };
        // A tombstone is the write's invalidation: the injected delete failure hits it as it
        // hits a DEL.
        let injected = match self.s.write_mode {
            WriteMode::Tombstone => cache::invalidation_allowed(&c.conns.cache_write),
            WriteMode::Update => Ok(()),
        };
        let r = match injected {
            Ok(()) => match cas(&mut c.conns.cache_write, key, version, cached, ttl).await {
                Ok(x) => cache::replicated(&mut c.conns.cache_write).await.map(|_| x),
                e => e,
            },
            Err(e) => Err(e),
        };
        c.trace_detail(f, key, cached, cas_detail(version, &r), &r);
        Ok(())
    }

    async fn cache_view(&self, conn: &mut CacheConn, key: i64) -> Result<CacheView, StepError> {
        let value = entry(conn, key).await?.and_then(|(_, v)| v);
        let ttl: i64 = conn.query(redis::cmd("PTTL").arg(cache::key(key))).await?;
        Ok(CacheView {
            value,
            ttl_ms: value.map(|_| ttl),
        })
    }
}
