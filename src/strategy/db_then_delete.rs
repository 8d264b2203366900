//! `db-then-delete` (cache-aside, seed 3.4, the recommended one): write the database, then
//! delete the cache entry. Stale while the delete is pending; the rare read-fill race (a slow
//! fill of an old value landing after the delete); a failed delete leaves the old value until
//! the TTL expires.

use super::{cache, cache_aside_read, no_settings, Outcome, ReadValue, Registration, Strategy};
use crate::client::Client;
use async_trait::async_trait;
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "db-then-delete",
    about: "cache-aside: write the database, then delete the cache entry (seed 3.4)",
    validate: no_settings,
    build: |_, _| Ok(Arc::new(DbThenDelete)),
};

pub struct DbThenDelete;

#[async_trait]
impl Strategy for DbThenDelete {
    async fn read(&self, c: &mut Client, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Client, key: i64, value: i64) -> Outcome<()> {
        if let Err(e) = c.write_db(key, value).await {
            return e.into();
        }
        // The write is committed whatever happens to the delete: a failed delete is recorded
        // and leaves the old value cached until its TTL.
        let r = cache::del(&mut c.conns.cache_write, key).await;
        cache::trace_step(c, "cache-del", key, None, &r);
        Outcome::Ok(())
    }
}
