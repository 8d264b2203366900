//! `lease` (Facebook's memcache leases, "Scaling Memcache at Facebook", NSDI 2013, 3.2.1): a
//! reader that misses takes a lease token, stored next to the key; a write's delete removes
//! the key and the token together; a fill is accepted only with the current token, so a fill
//! of a value read before a write (the slow-fill race of seed 3.4) is refused. Both checks are
//! atomic in Redis (Lua: `lua/lease_get.lua`, `lua/lease_fill.lua`).
//!
//! Readers that find another reader's lease wait `wait_ms` and retry, up to `max_waits` times,
//! then read the database without filling (the thundering-herd protection of the paper).
//!
//! Layout: `cc:{k}` holds the value (as in cache-aside), `cc:{k}:lease` the current token with
//! a lifetime of `lease_ttl_ms`.
//!
//! Known races: readers get the old value until the write's delete lands; a failed delete
//! leaves the old value until the TTL (and the stale lease, so fills are refused until it
//! expires); a reader that read the database before a write and fills before the write's
//! delete is accepted, which is harmless because the delete follows.
//!
//! ```toml
//! [strategy.lease]
//! lease_ttl_ms = 10000   # a lease's lifetime (a crashed filler blocks fills this long)
//! wait_ms = 10           # wait before retrying when another reader holds the lease
//! max_waits = 10         # retries before reading the database without filling
//! ```

use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::{CacheConn, StepError};
use crate::history::{EventType, Source};
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

pub const REG: Registration = Registration {
    name: "lease",
    about: "memcache leases: a miss takes a token; a delete invalidates it; stale fills refused",
    configure: typed::<Settings>,
};

/// Settings of `lease` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub lease_ttl_ms: u64,
    pub wait_ms: u64,
    pub max_waits: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease_ttl_ms: 10_000,
            wait_ms: 10,
            max_waits: 10,
        }
    }
}

impl super::Settings for Settings {
    fn build(&self, _: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(Lease {
            s: self.clone(),
            tokens: AtomicU64::new(0),
        }))
    }
}

static GET: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/lease_get.lua")));
static FILL: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/lease_fill.lua")));

/// The Redis key of `k`'s lease token.
pub fn lease_key(k: i64) -> String {
    format!("{}:lease", cache::key(k))
}

/// What a lease read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseGet {
    Hit(i64),
    /// The caller holds the lease with this token and must fill.
    Lease(String),
    /// Another reader holds the lease.
    Wait,
}

/// Reads `k`, taking the lease with `token` on a miss.
pub async fn get(
    conn: &mut CacheConn,
    k: i64,
    token: &str,
    ttl_ms: u64,
) -> Result<LeaseGet, StepError> {
    let mut inv = GET.prepare_invoke();
    inv.key(cache::key(k))
        .key(lease_key(k))
        .arg(token)
        .arg(ttl_ms.max(1));
    let (kind, payload): (String, String) = conn.script(&inv).await?;
    match kind.as_str() {
        "hit" => payload
            .parse()
            .map(LeaseGet::Hit)
            .map_err(|_| StepError::Fail(format!("cache holds a non-integer value `{payload}`"))),
        "lease" => Ok(LeaseGet::Lease(payload)),
        _ => Ok(LeaseGet::Wait),
    }
}

/// Fills `k` with `v` if `token` is still its lease; true if it was.
pub async fn fill(
    conn: &mut CacheConn,
    k: i64,
    token: &str,
    v: i64,
    ttl_ms: u64,
) -> Result<bool, StepError> {
    let mut inv = FILL.prepare_invoke();
    inv.key(cache::key(k))
        .key(lease_key(k))
        .arg(token)
        .arg(v)
        .arg(ttl_ms);
    conn.script::<i64>(&inv).await.map(|n| n == 1)
}

/// A write's delete: the value and the lease token, in one command.
pub async fn invalidate(conn: &mut CacheConn, k: i64) -> Result<(), StepError> {
    cache::invalidation_allowed(conn)?;
    let cmd = redis::cmd("DEL")
        .arg(cache::key(k))
        .arg(lease_key(k))
        .clone();
    conn.query::<i64>(&cmd).await?;
    cache::replicated(conn).await
}

pub struct Lease {
    s: Settings,
    tokens: AtomicU64,
}

impl Lease {
    /// Reads the database; fills only with the lease `token`.
    async fn load(&self, c: &mut Session, key: i64, token: Option<String>) -> Outcome<ReadValue> {
        let (v, source) = c.read_miss(key).await?;
        if let (Some(v), Some(token)) = (v, token) {
            let ttl = c.ttl_ms;
            let r = fill(&mut c.conns.cache_fill, key, &token, v, ttl).await;
            let detail = json!({ "token": token, "accepted": r.as_ref().ok() });
            c.trace_detail("cache-fill", key, Some(v), detail, &r);
        }
        Ok(ReadValue { value: v, source })
    }
}

#[async_trait]
impl Strategy for Lease {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        let token = format!(
            "{}-{}",
            c.process,
            self.tokens.fetch_add(1, Ordering::Relaxed)
        );
        for waited in 0..=self.s.max_waits {
            match get(&mut c.conns.cache_read, key, &token, self.s.lease_ttl_ms).await {
                Ok(LeaseGet::Hit(v)) => {
                    return Ok(ReadValue {
                        value: Some(v),
                        source: Source::Cache,
                    })
                }
                Ok(LeaseGet::Lease(t)) => {
                    c.step(
                        "lease",
                        EventType::Ok,
                        key,
                        None,
                        Some(json!({ "token": t })),
                    );
                    return self.load(c, key, Some(t)).await;
                }
                Ok(LeaseGet::Wait) if waited < self.s.max_waits => {
                    tokio::time::sleep(Duration::from_millis(self.s.wait_ms)).await;
                }
                Ok(LeaseGet::Wait) => {
                    let detail = json!({ "waits": waited });
                    c.step("lease-gave-up", EventType::Info, key, None, Some(detail));
                }
                Err(e) => {
                    // As cache-aside: a cache error counts as a miss, here without a lease.
                    let detail = json!({ "error": e.msg() });
                    c.step("cache-get", EventType::Fail, key, None, Some(detail));
                    break;
                }
            }
        }
        self.load(c, key, None).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        let r = invalidate(&mut c.conns.cache_write, key).await;
        c.trace("cache-del", key, None, &r);
        Ok(())
    }
}
