//! `db-then-delete` (cache-aside, seed 3.4, the recommended one): write the database, then
//! delete the cache entry. Stale while the delete is pending; the rare read-fill race (a slow
//! fill of an old value landing after the delete); a failed delete leaves the old value until
//! the TTL expires.

use super::{cache_aside_read, plain, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::session::Session;
use async_trait::async_trait;

pub const REG: Registration = Registration {
    name: "db-then-delete",
    about: "cache-aside: write the database, then delete the cache entry (seed 3.4)",
    configure: plain::<DbThenDelete>,
};

#[derive(Default)]
pub struct DbThenDelete;

#[async_trait]
impl Strategy for DbThenDelete {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        // The write is committed whatever happens to the delete: a failed delete is recorded
        // and leaves the old value cached until its TTL.
        let r = cache::del(&mut c.conns.cache_write, key).await;
        c.trace("cache-del", key, None, &r);
        Ok(())
    }
}
