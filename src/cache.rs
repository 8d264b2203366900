//! Redis primitives on the register's cache entries, shared by strategies and the binlog
//! consumer: the key of a register key, GET/SET/DEL, and what a key holds after quiescence.
//!
//! Every invalidation ([`del`], [`del_many`], and strategies' own invalidating scripts through
//! [`invalidation_allowed`]) first asks the connection's [`Injected`](crate::injected::Injected)
//! handle whether an injected delete failure is active, and after it, with the strategy's
//! `wait_replicas`, waits for the Redis replicas to have it ([`replicated`]).

use crate::conn::{CacheConn, StepError};

/// The Redis key of register key `k`.
pub fn key(k: i64) -> String {
    format!("cc:{k}")
}

/// What the cache holds for a key after quiescence, as a reader would be served it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheView {
    /// The value a reader would get (None: absent, or a marker no reader is served).
    pub value: Option<i64>,
    /// Remaining TTL in ms (-1: no TTL; None: unknown or absent).
    pub ttl_ms: Option<i64>,
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

/// `Err` when this invalidation must fail without reaching Redis: an injected delete failure
/// (`delete-failure` with `mode = "error"`) is active on the connection's run. Every
/// strategy's write-path invalidation (a DEL, a lease invalidation, a versioned tombstone, a
/// rockscache mark) calls it, so the fault hits them all alike.
pub fn invalidation_allowed(conn: &CacheConn) -> Result<(), StepError> {
    if conn.injected().is_some_and(|i| i.delete_should_fail()) {
        return Err(StepError::Fail("injected cache delete failure".into()));
    }
    Ok(())
}

/// After an invalidation, with `wait_replicas = N` (the connection's setting): `WAIT N
/// timeout_ms`. Fewer than N replicas acknowledging is a failed delete, `Info` (the primary
/// has it; a failover to a replica that has not would lose it). Without the setting: nothing.
pub async fn replicated(conn: &mut CacheConn) -> Result<(), StepError> {
    let Some((n, timeout_ms)) = conn.wait_replicas else {
        return Ok(());
    };
    let reached: i64 = conn
        .query(redis::cmd("WAIT").arg(n).arg(timeout_ms))
        .await?;
    if reached < n as i64 {
        return Err(StepError::Info(format!(
            "WAIT reached {reached} of {n} replicas within {timeout_ms} ms"
        )));
    }
    Ok(())
}

/// DEL (then [`replicated`]). Fails without reaching Redis while an injected delete failure
/// is active.
pub async fn del(conn: &mut CacheConn, k: i64) -> Result<(), StepError> {
    invalidation_allowed(conn)?;
    conn.query::<i64>(redis::cmd("DEL").arg(key(k))).await?;
    replicated(conn).await
}

/// DEL of several keys in one command (one round trip); it succeeds or fails as a whole, and
/// like [`del`] fails while an injected delete failure is active.
pub async fn del_many(conn: &mut CacheConn, ks: &[i64]) -> Result<(), StepError> {
    if ks.is_empty() {
        return Ok(());
    }
    invalidation_allowed(conn)?;
    let mut cmd = redis::cmd("DEL");
    for k in ks {
        cmd.arg(key(*k));
    }
    conn.query::<i64>(&cmd).await?;
    replicated(conn).await
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
