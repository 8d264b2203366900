//! `delete-then-db` (seed 3.3): delete the cache entry, then write the database. A read between
//! the two re-caches the old value, which then stays until the TTL or the next write.

use super::{cache_aside_read, plain, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::StepError;
use crate::session::Session;
use async_trait::async_trait;

pub const REG: Registration = Registration {
    name: "delete-then-db",
    about: "delete the cache entry, then write the database (seed 3.3)",
    configure: plain::<DeleteThenDb>,
};

#[derive(Default)]
pub struct DeleteThenDb;

#[async_trait]
impl Strategy for DeleteThenDb {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let r = cache::del(&mut c.conns.cache_write, key).await;
        c.trace("cache-del", key, None, &r);
        if let Err(e) = r {
            // The first step failed: the write is refused before the database is touched.
            return Err(StepError::Fail(format!(
                "cache delete failed, write refused: {}",
                e.msg()
            )));
        }
        c.write_db(key, value).await.map(|_| ())
    }
}
