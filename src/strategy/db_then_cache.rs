//! `db-then-cache` (seed 3.2): write the database, then set the cache to the new value. Two
//! writers whose cache sets land in the other order leave the older value cached; a failed set
//! leaves the old value until the TTL.

use super::{cache_aside_read, plain, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::session::Session;
use async_trait::async_trait;

pub const REG: Registration = Registration {
    name: "db-then-cache",
    about: "write the database, then set the cache to the new value (seed 3.2)",
    configure: plain::<DbThenCache>,
};

#[derive(Default)]
pub struct DbThenCache;

#[async_trait]
impl Strategy for DbThenCache {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        let ttl = c.ttl_ms;
        let r = cache::set(&mut c.conns.cache_write, key, value, ttl).await;
        c.trace("cache-set", key, Some(value), &r);
        Ok(())
    }
}
