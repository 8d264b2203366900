//! The outbox backend: queued deletes are rows of an `outbox` table in the database, written by
//! the write path after its delete failed, and drained by a worker; a row that failed
//! `max_queue_retries` times stays with `needs_human = 1`.
//!
//! ```sql
//! outbox (id BIGINT AUTO_INCREMENT PRIMARY KEY, k BIGINT, attempts INT,
//!         due_ms BIGINT,          -- Unix ms before which the row is not retried
//!         needs_human TINYINT, created_at TIMESTAMP(6))
//! ```
//!
//! `register::reset` drops the table between runs; [`create`] makes it in `start()`.

use super::Inner;
use crate::conn::{DbConn, RoleAddrs, StepError};
use crate::history::EventType;
use crate::infra::Role;
use anyhow::Context;
use mysql_async::prelude::Queryable;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const TABLE: &str = "outbox";

/// Rows taken per poll.
const BATCH: u32 = 100;

/// Creates the outbox table if it does not exist.
pub async fn create(addrs: &RoleAddrs) -> anyhow::Result<()> {
    let mut conn = mysql_async::Conn::new(addrs.db_opts(Role::Db))
        .await
        .context("outbox: cannot connect to the database")?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         k BIGINT NOT NULL, attempts INT NOT NULL DEFAULT 0, due_ms BIGINT NOT NULL DEFAULT 0, \
         needs_human TINYINT NOT NULL DEFAULT 0, \
         created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"
    ))
    .await
    .context("cannot create the outbox table")?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Appends a delete of `key` (due now).
pub async fn insert(db: &mut DbConn, key: i64) -> Result<(), StepError> {
    let sql = format!("INSERT INTO {TABLE} (k) VALUES ({key})");
    db.run(move |c| c.query_drop(sql)).await
}

/// Rows still to be drained (not given up on).
pub async fn pending(db: &mut DbConn) -> Result<u64, StepError> {
    let sql = format!("SELECT COUNT(*) FROM {TABLE} WHERE needs_human = 0");
    let n: Option<u64> = db.run(move |c| c.query_first(sql)).await?;
    Ok(n.unwrap_or(0))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Drains due rows in id order, polling every `backoff` (or when the write path notifies).
pub(super) async fn worker(q: Arc<Inner>) {
    let mut db = DbConn::new(q.addrs.db_opts(Role::Db), q.op_timeout);
    let Ok(mut cache) = q.addrs.cache_conn(Role::CacheWrite, q.op_timeout) else {
        return;
    };
    loop {
        let sql = format!(
            "SELECT id, k, attempts FROM {TABLE} WHERE needs_human = 0 AND due_ms <= {} \
             ORDER BY id LIMIT {BATCH}",
            now_ms()
        );
        let rows: Vec<(i64, i64, u32)> = match db.run(move |c| c.query(sql)).await {
            Ok(rows) => rows,
            Err(e) => {
                let detail = json!({ "error": e.msg() });
                q.log
                    .step("outbox-poll", EventType::Fail, None, None, Some(detail));
                tokio::time::sleep(q.backoff).await;
                continue;
            }
        };
        if rows.is_empty() {
            tokio::select! {
                _ = q.notify.notified() => {}
                _ = tokio::time::sleep(q.backoff) => {}
            }
            continue;
        }
        for (id, key, attempts) in rows {
            let attempt = attempts + 1;
            let sql = if q.attempt(&mut cache, key, attempt, Some(id)).await {
                format!("DELETE FROM {TABLE} WHERE id = {id}")
            } else if attempt >= q.max_retries {
                q.needs_human(key, attempt);
                format!("UPDATE {TABLE} SET attempts = {attempt}, needs_human = 1 WHERE id = {id}")
            } else {
                let due = now_ms() + q.backoff.as_millis() as i64;
                format!("UPDATE {TABLE} SET attempts = {attempt}, due_ms = {due} WHERE id = {id}")
            };
            // If this fails the row is attempted again later: deletes are idempotent.
            let r = db.run(move |c| c.query_drop(sql)).await;
            if let Err(e) = r {
                let detail = json!({ "id": id, "error": e.msg() });
                q.log.step(
                    "outbox-update",
                    EventType::Fail,
                    Some(key),
                    None,
                    Some(detail),
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
