//! The cache component of `read-through` and `write-through` (seed 2.2, 2.3): the application
//! talks only to it, and it owns the synchronisation between the cache and the database.
//!
//! * [`CacheComponent::get`] reads through: a hit is served from the cache; on a miss the
//!   component itself loads the database's value, fills the cache and returns the value (the
//!   data flow of cache-aside, owned by the component).
//! * [`CacheComponent::invalidate`] drops an entry after the application wrote the database.
//! * [`CacheComponent::put`] writes through, synchronously and in the order seed 2.3 describes:
//!   the cache first, then the database. If the database step fails the component compensates
//!   by deleting the entry it just set (`rollback_on_db_failure`), as a component that "takes
//!   over fault handling" would.
//!
//! Steps use the client's connections per role (`cache-read`, `db`, `cache-fill`,
//! `cache-write`), so faults hit the component's steps one by one.

use super::{aside, Outcome, ReadValue};
use crate::cache;
use crate::conn::StepError;
use crate::session::Session;

/// A cache component in front of the register.
pub struct CacheComponent {
    ttl_ms: u64,
    rollback_on_db_failure: bool,
}

impl CacheComponent {
    pub fn new(ttl_ms: u64, rollback_on_db_failure: bool) -> Self {
        CacheComponent {
            ttl_ms,
            rollback_on_db_failure,
        }
    }

    /// Reads `key` through the cache.
    pub async fn get(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        if let Some(hit) = aside::cache_hit(c, key).await {
            return hit;
        }
        self.load(c, key).await
    }

    /// The loader: database read, then fill. A failed fill does not fail the read.
    async fn load(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        let (v, source) = c.read_miss(key).await?;
        if let Some(v) = v {
            let r = cache::set(&mut c.conns.cache_fill, key, v, self.ttl_ms).await;
            c.trace("cache-fill", key, Some(v), &r);
        }
        Ok(ReadValue { value: v, source })
    }

    /// Drops the entry of `key`.
    pub async fn invalidate(&self, c: &mut Session, key: i64) -> Result<(), StepError> {
        let r = cache::del(&mut c.conns.cache_write, key).await;
        c.trace("cache-del", key, None, &r);
        r
    }

    /// Writes `value` through: the cache, then the database.
    pub async fn put(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let r = cache::set(&mut c.conns.cache_write, key, value, self.ttl_ms).await;
        c.trace("cache-set", key, Some(value), &r);
        if let Err(e) = r {
            return Err(StepError::Fail(format!(
                "cache set failed, write refused: {}",
                e.msg()
            )));
        }
        match c.write_db(key, value).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if self.rollback_on_db_failure {
                    // Readers may have seen the value meanwhile (dirty if it never commits).
                    let _ = self.invalidate(c, key).await;
                }
                Err(e)
            }
        }
    }
}
