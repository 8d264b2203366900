//! `gtid-wait` (read replicas): write the database, then delete the cache entry, as
//! db-then-delete; a miss with `fill_from = "replica"` first reads the primary's current GTID
//! position (`@@gtid_binlog_pos`), waits on the replica until it has applied that position
//! (`MASTER_GTID_WAIT`, at most `wait_ms`), then reads the replica; on a timeout it reads the
//! primary instead. The fill then never carries a value older than what the primary had
//! committed when the miss began. The cost: one round trip to the primary and the wait, on
//! every miss. Without `fill_from = "replica"` it is db-then-delete.
//!
//! ```toml
//! [strategy.gtid-wait]
//! fill_from = "replica"
//! wait_ms = 100            # bound of MASTER_GTID_WAIT; then the primary is read
//! ```

use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::StepError;
use crate::history::Source;
use crate::session::Session;
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "gtid-wait",
    about: "replica fills wait (MASTER_GTID_WAIT, bounded) for the primary's position, else read the primary",
    configure: typed::<Settings>,
};

/// Settings of `gtid-wait` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub wait_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { wait_ms: 100 }
    }
}

impl super::Settings for Settings {
    fn build(&self, _: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(GtidWait { s: self.clone() }))
    }
}

pub struct GtidWait {
    s: Settings,
}

impl GtidWait {
    /// The read after a miss: the replica once it has caught up with the primary's position,
    /// else the primary.
    async fn read_miss(&self, c: &mut Session, k: i64) -> Outcome<(Option<i64>, Source)> {
        if !c.fills_from_replica() {
            return c.read_miss(k).await;
        }
        let pos: Option<String> = c
            .primary()
            .run(|conn| Box::pin(conn.query_first("SELECT @@gtid_binlog_pos")))
            .await?;
        let pos = pos.unwrap_or_default().replace('\'', "");
        let wait_s = self.s.wait_ms as f64 / 1000.0;
        let (db, _) = c.miss_conn();
        let waited: Result<Option<i64>, StepError> = db
            .run(move |conn| {
                Box::pin(conn.query_first(format!("SELECT MASTER_GTID_WAIT('{pos}', {wait_s})")))
            })
            .await;
        let caught_up = matches!(waited, Ok(Some(0)));
        c.trace_detail(
            "gtid-wait",
            k,
            None,
            serde_json::json!({ "caught_up": caught_up }),
            &waited,
        );
        if caught_up {
            c.read_miss(k).await
        } else {
            Ok((c.primary().read(k).await?, Source::Db))
        }
    }
}

#[async_trait]
impl Strategy for GtidWait {
    async fn read(&self, c: &mut Session, k: i64) -> Outcome<ReadValue> {
        if let Some(hit) = super::aside::cache_hit(c, k).await {
            return hit;
        }
        let db_read_start = std::time::Instant::now();
        let read = self.read_miss(c, k).await?;
        Ok(super::aside::fill_after_miss(c, k, read, db_read_start).await)
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        let r = cache::del(&mut c.conns.cache_write, key).await;
        c.trace("cache-del", key, None, &r);
        Ok(())
    }
}
