//! The cache-aside read path: the read of every cache strategy unless the strategy says
//! otherwise.

use super::{Outcome, ReadValue};
use crate::cache;
use crate::history::{EventType, Source};
use crate::session::Session;

/// GET on `cache-read`: `Some` (a read served by the cache) on a hit, `None` on a miss. A failed
/// GET is recorded as a failed `cache-get` step and counts as a miss.
pub async fn cache_hit(c: &mut Session, k: i64) -> Option<Outcome<ReadValue>> {
    match cache::get(&mut c.conns.cache_read, k).await {
        Ok(Some(v)) => Some(Ok(ReadValue {
            value: Some(v),
            source: Source::Cache,
        })),
        Ok(None) => None,
        Err(e) => {
            c.step(
                "cache-get",
                EventType::Fail,
                k,
                None,
                Some(serde_json::json!({ "error": e.msg() })),
            );
            None
        }
    }
}

/// The cache-aside read: GET on `cache-read`; on a hit return it; on a miss read the database
/// (`db`), fill the cache on `cache-fill` with the TTL, return the database's value. A cache
/// read error counts as a miss; a failed fill is recorded and does not fail the read.
pub async fn cache_aside_read(c: &mut Session, k: i64) -> Outcome<ReadValue> {
    if let Some(hit) = cache_hit(c, k).await {
        return hit;
    }
    let db_read_start = std::time::Instant::now();
    let read = c.read_miss(k).await?;
    Ok(fill_after_miss(c, k, read, db_read_start).await)
}

/// The end of a cache-aside miss: the value read from a database (`read`: value and source,
/// the read begun at `db_read_start`) is set on `cache-fill` with the TTL, when there is one; a
/// failed fill is recorded and does not fail the read. For strategies that choose their own
/// database read after a miss (gtid-wait, remote-marker).
pub async fn fill_after_miss(
    c: &mut Session,
    k: i64,
    read: (Option<i64>, Source),
    db_read_start: std::time::Instant,
) -> ReadValue {
    let (v, source) = read;
    if let Some(v) = v {
        let ttl = c.ttl_ms;
        let r = cache::set(&mut c.conns.cache_fill, k, v, ttl).await;
        c.trace_fill(k, v, db_read_start, &r);
    }
    ReadValue { value: v, source }
}
