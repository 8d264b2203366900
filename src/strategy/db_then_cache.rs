//! `db-then-cache` (seed 3.2): write the database, then set the cache to the new value. Two
//! writers whose cache sets land in the other order leave the older value cached; a failed set
//! leaves the old value until the TTL.

use super::{cache, cache_aside_read, no_settings, Outcome, ReadValue, Registration, Strategy};
use crate::client::Client;
use async_trait::async_trait;
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "db-then-cache",
    about: "write the database, then set the cache to the new value (seed 3.2)",
    validate: no_settings,
    build: |_, _| Ok(Arc::new(DbThenCache)),
};

pub struct DbThenCache;

#[async_trait]
impl Strategy for DbThenCache {
    async fn read(&self, c: &mut Client, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Client, key: i64, value: i64) -> Outcome<()> {
        if let Err(e) = c.write_db(key, value).await {
            return e.into();
        }
        let ttl = c.ttl_ms;
        let r = cache::set(&mut c.conns.cache_write, key, value, ttl).await;
        cache::trace_step(c, "cache-set", key, Some(value), &r);
        Outcome::Ok(())
    }
}
