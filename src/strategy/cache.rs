//! Cache operations shared by strategies, and the cache-aside read path.

use super::{CacheView, Outcome, ReadValue};
use crate::client::Client;
use crate::conn::{CacheConn, StepError};
use crate::history::{EventType, Source};

/// The Redis key of register key `k`.
pub fn key(k: i64) -> String {
    format!("cc:{k}")
}

/// GET: `Some(value)` on a hit. A value that is not an integer is returned as an error.
pub async fn get(conn: &mut CacheConn, k: i64) -> Result<Option<i64>, StepError> {
    let v: Option<String> = conn.query(redis::cmd("GET").arg(key(k))).await?;
    match v {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| StepError::Fail(format!("cache holds a non-integer value `{s}`"))),
    }
}

/// SET with the TTL (`ttl_ms` 0: no expiry).
pub async fn set(conn: &mut CacheConn, k: i64, v: i64, ttl_ms: u64) -> Result<(), StepError> {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key(k)).arg(v);
    if ttl_ms > 0 {
        cmd.arg("PX").arg(ttl_ms);
    }
    conn.query::<()>(&cmd).await
}

/// The injected delete failure (`delete-failure` with `mode = "error"`): `Err` when this
/// invalidation must fail without reaching Redis. Every strategy's write-path invalidation
/// (a DEL, a lease invalidation, a versioned tombstone, a rockscache mark) calls it, so the
/// fault hits them all alike.
pub fn injected_delete_failure() -> Result<(), StepError> {
    if crate::nemesis::injected::delete_should_fail() {
        return Err(StepError::Fail("injected cache delete failure".into()));
    }
    Ok(())
}

/// DEL. Fails without reaching Redis while an injected delete failure is active
/// (`delete-failure` with `mode = "error"`).
pub async fn del(conn: &mut CacheConn, k: i64) -> Result<(), StepError> {
    injected_delete_failure()?;
    conn.query::<i64>(redis::cmd("DEL").arg(key(k)))
        .await
        .map(|_| ())
}

/// DEL of several keys in one command (one round trip); it succeeds or fails as a whole, and
/// like [`del`] fails while an injected delete failure is active.
pub async fn del_many(conn: &mut CacheConn, ks: &[i64]) -> Result<(), StepError> {
    if ks.is_empty() {
        return Ok(());
    }
    injected_delete_failure()?;
    let mut cmd = redis::cmd("DEL");
    for k in ks {
        cmd.arg(key(*k));
    }
    conn.query::<i64>(&cmd).await.map(|_| ())
}

/// The plain view of a key holding an integer: its value and PTTL.
pub async fn plain_view(conn: &mut CacheConn, k: i64) -> Result<CacheView, StepError> {
    let value = get(conn, k).await?;
    let ttl: i64 = conn.query(redis::cmd("PTTL").arg(key(k))).await?;
    Ok(CacheView {
        value,
        ttl_ms: value.map(|_| ttl),
    })
}

/// Records the outcome of an internal step (when tracing is on).
pub fn trace_step<T>(c: &Client, f: &str, key: i64, value: Option<i64>, r: &Result<T, StepError>) {
    match r {
        Ok(_) => c.step(f, EventType::Ok, key, value, None),
        Err(e) => c.step(
            f,
            match e {
                StepError::Fail(_) => EventType::Fail,
                StepError::Info(_) => EventType::Info,
            },
            key,
            value,
            Some(serde_json::json!({ "error": e.msg() })),
        ),
    }
}

/// Records a fill with `window_ns`: from the start of the database read to the fill's
/// acknowledgement, the window in which a writer's delete can be overtaken by this stale fill
/// (what a double delete's delay must outwait; `cachecheck tune-delay` reads it).
pub fn trace_fill(
    c: &Client,
    k: i64,
    v: i64,
    db_read_start: std::time::Instant,
    r: &Result<(), StepError>,
) {
    let window = db_read_start.elapsed().as_nanos() as u64;
    match r {
        Ok(()) => c.step(
            "cache-fill",
            EventType::Ok,
            k,
            Some(v),
            Some(serde_json::json!({ "window_ns": window })),
        ),
        Err(e) => c.step(
            "cache-fill",
            if matches!(e, StepError::Fail(_)) {
                EventType::Fail
            } else {
                EventType::Info
            },
            k,
            Some(v),
            Some(serde_json::json!({ "window_ns": window, "error": e.msg() })),
        ),
    }
}

/// GET on `cache-read`: `Some` (a read served by the cache) on a hit, `None` on a miss. A failed
/// GET is recorded as a failed `cache-get` step and counts as a miss.
pub async fn cache_hit(c: &mut Client, k: i64) -> Option<Outcome<ReadValue>> {
    match get(&mut c.conns.cache_read, k).await {
        Ok(Some(v)) => Some(Outcome::Ok(ReadValue {
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
pub async fn cache_aside_read(c: &mut Client, k: i64) -> Outcome<ReadValue> {
    if let Some(hit) = cache_hit(c, k).await {
        return hit;
    }
    let db_read_start = std::time::Instant::now();
    let v = match c.conns.db.read(k).await {
        Ok(v) => v,
        Err(e) => return e.into(),
    };
    if let Some(v) = v {
        let ttl = c.ttl_ms;
        let r = set(&mut c.conns.cache_fill, k, v, ttl).await;
        trace_fill(c, k, v, db_read_start, &r);
    }
    Outcome::Ok(ReadValue {
        value: v,
        source: Source::Db,
    })
}

/// Like [`trace_step`], with a `detail` object (the error, if any, is added to it).
pub fn trace_detail<T>(
    c: &Client,
    f: &str,
    key: i64,
    value: Option<i64>,
    detail: serde_json::Value,
    r: &Result<T, StepError>,
) {
    let (kind, detail) = super::workers::outcome_detail(detail, r);
    c.step(f, kind, key, value, Some(detail));
}
