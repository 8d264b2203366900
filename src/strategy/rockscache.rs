//! The Redis side of `tag-deleted`: rockscache's per-key entry and its four atomic operations,
//! written from the algorithm of dtm-labs/rockscache (`client.go`, `script.go`), in
//! milliseconds where the library works in whole seconds.
//!
//! An entry is a hash `cc:{k}` = `{value, lockUntil, lockOwner}`:
//! * [`get`] (`lua/rockscache_get.lua`): returns the value and, if the entry is empty, marked
//!   deleted (`lockUntil` in the past, 0 after [`tag_deleted`]) or its lock expired, takes the
//!   lock for the caller (`LOCKED`); otherwise returns the current `lockUntil` (another owner is
//!   refreshing) or none (a plain value).
//! * [`set`]: stores a refreshed value and clears the lock, only if the caller still owns it.
//! * [`tag_deleted`] (the library's `TagAsDeleted`): `lockUntil = 0`, owner cleared, expiry =
//!   the delay; the value stays. As in the library's current script, a missing entry is
//!   created with `lockUntil` only (earlier versions left it alone).
//! * [`unlock`]: gives the lock up after a failed database read.
//!
//! An empty value (`""`) is the library's cached empty result.

use crate::cache;
use crate::conn::{CacheConn, StepError};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

static GET: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/rockscache_get.lua")));
static SET: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/rockscache_set.lua")));
static TAG: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/rockscache_tag.lua")));
static UNLOCK: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/rockscache_unlock.lua")));

/// The library's marker of a lock just taken by the caller.
pub const LOCKED: &str = "LOCKED";

/// Unix time in ms (the library uses the application's clock, in seconds).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What [`get`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    /// The stored value (`Some("")`: a cached empty result).
    pub value: Option<String>,
    /// `LOCKED` (the caller owns the lock), another owner's `lockUntil`, or None.
    pub lock: Option<String>,
}

impl Got {
    pub fn locked(&self) -> bool {
        self.lock.as_deref() == Some(LOCKED)
    }
}

/// Decodes a stored value: `""` is the empty result (None).
pub fn decode(v: &str) -> Result<Option<i64>, StepError> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| StepError::Fail(format!("cache holds a non-integer value `{v}`")))
}

/// Reads `k`, taking the lock as `owner` for `lock_expire_ms` when it must be refreshed.
pub async fn get(
    conn: &mut CacheConn,
    k: i64,
    owner: &str,
    lock_expire_ms: u64,
) -> Result<Got, StepError> {
    let now = now_ms();
    let mut inv = GET.prepare_invoke();
    inv.key(cache::key(k))
        .arg(now)
        .arg(now + lock_expire_ms as i64)
        .arg(owner);
    let (value, lock): (Option<String>, Option<String>) = conn.script(&inv).await?;
    Ok(Got { value, lock })
}

/// Stores `value` if `owner` still owns the lock, expiring after `expire_ms` (None: never;
/// <= 0 deletes the entry, as Redis's EXPIRE does). True if stored.
pub async fn set(
    conn: &mut CacheConn,
    k: i64,
    value: &str,
    owner: &str,
    expire_ms: Option<i64>,
) -> Result<bool, StepError> {
    let mut inv = SET.prepare_invoke();
    let expire = expire_ms.map(|e| e.to_string()).unwrap_or_default();
    inv.key(cache::key(k)).arg(value).arg(owner).arg(expire);
    conn.script::<i64>(&inv).await.map(|n| n == 1)
}

/// Marks `k` deleted; the entry expires after `delay_ms`.
pub async fn tag_deleted(conn: &mut CacheConn, k: i64, delay_ms: u64) -> Result<(), StepError> {
    cache::invalidation_allowed(conn)?;
    let mut inv = TAG.prepare_invoke();
    inv.key(cache::key(k)).arg(delay_ms);
    conn.script::<i64>(&inv).await?;
    cache::replicated(conn).await
}

/// Gives the lock of `k` up if `owner` holds it; the entry expires after `expire_ms`.
pub async fn unlock(
    conn: &mut CacheConn,
    k: i64,
    owner: &str,
    expire_ms: u64,
) -> Result<(), StepError> {
    let mut inv = UNLOCK.prepare_invoke();
    inv.key(cache::key(k)).arg(owner).arg(expire_ms);
    conn.script::<i64>(&inv).await.map(|_| ())
}

/// The raw entry: `(value, lockUntil, lockOwner)`.
pub async fn entry(
    conn: &mut CacheConn,
    k: i64,
) -> Result<(Option<String>, Option<String>, Option<String>), StepError> {
    let cmd = redis::cmd("HMGET")
        .arg(cache::key(k))
        .arg("value")
        .arg("lockUntil")
        .arg("lockOwner")
        .clone();
    conn.query(&cmd).await
}
