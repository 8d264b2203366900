//! `remote-marker` (read replicas; Facebook's memcache paper, NSDI 2013, §5 "remote markers"):
//! the writer first sets a marker key `cc:{key}:marker` with a short TTL (`marker_ttl_ms`),
//! then writes the primary, then deletes the cache entry. A reader that misses and finds the
//! marker reads the primary instead of the replica, so a miss right after a write does not
//! fill the value a lagging replica still holds. The marker is not removed: it expires, so a
//! replica that lags longer than `marker_ttl_ms` serves the old row again after it (the
//! design's limit; Facebook deletes its marker once replication has caught up). Reading the
//! marker costs one extra GET on every miss; a marker that cannot be read counts as present
//! (the primary is read). A marker that cannot be set fails the write before the database is
//! touched. Without `fill_from = "replica"` it is db-then-delete plus the marker.
//!
//! ```toml
//! [strategy.remote-marker]
//! fill_from = "replica"
//! marker_ttl_ms = 1000     # the marker's TTL: how long after a write misses read the primary
//! ```

use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::StepError;
use crate::history::Source;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "remote-marker",
    about: "writers set a short-lived marker before the write; a miss that sees it reads the primary, not the replica",
    configure: typed::<Settings>,
};

/// Settings of `remote-marker` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub marker_ttl_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            marker_ttl_ms: 1000,
        }
    }
}

impl super::Settings for Settings {
    fn check(&self) -> Result<(), String> {
        if self.marker_ttl_ms == 0 {
            return Err("`marker_ttl_ms` must be at least 1 (fix: e.g. 1000)".into());
        }
        Ok(())
    }

    fn build(&self, _: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(RemoteMarker { s: self.clone() }))
    }
}

/// The Redis key of register key `k`'s marker.
pub fn marker_key(k: i64) -> String {
    format!("{}:marker", cache::key(k))
}

pub struct RemoteMarker {
    s: Settings,
}

impl RemoteMarker {
    /// The read after a miss: the primary while the key's marker is present (or cannot be
    /// read), else the replica.
    async fn read_miss(&self, c: &mut Session, k: i64) -> Outcome<(Option<i64>, Source)> {
        if !c.fills_from_replica() {
            return c.read_miss(k).await;
        }
        let seen: Result<i64, StepError> = c
            .conns
            .cache_read
            .query(redis::cmd("EXISTS").arg(marker_key(k)))
            .await;
        let marked = !matches!(seen, Ok(0));
        c.trace_detail(
            "marker-get",
            k,
            None,
            serde_json::json!({ "marked": marked }),
            &seen,
        );
        if marked {
            Ok((c.primary().read(k).await?, Source::Db))
        } else {
            c.read_miss(k).await
        }
    }
}

#[async_trait]
impl Strategy for RemoteMarker {
    async fn read(&self, c: &mut Session, k: i64) -> Outcome<ReadValue> {
        if let Some(hit) = super::aside::cache_hit(c, k).await {
            return hit;
        }
        let db_read_start = std::time::Instant::now();
        let read = self.read_miss(c, k).await?;
        Ok(super::aside::fill_after_miss(c, k, read, db_read_start).await)
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(marker_key(key))
            .arg(1)
            .arg("PX")
            .arg(self.s.marker_ttl_ms);
        // Nothing has reached the database yet: a marker that was not set fails the write.
        let r = c
            .conns
            .cache_write
            .query::<()>(&cmd)
            .await
            .map_err(|e| StepError::Fail(e.into_msg()));
        c.trace("marker-set", key, None, &r);
        r?;
        c.write_db(key, value).await?;
        let r = cache::del(&mut c.conns.cache_write, key).await;
        c.trace("cache-del", key, None, &r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn marker_ttl_defaults_to_a_second_and_refuses_zero() {
        let t = |s: &str| super::super::configure("remote-marker", &toml::from_str(s).unwrap());
        assert!(t("").is_ok());
        assert!(t("marker_ttl_ms = 0")
            .err()
            .unwrap()
            .contains("marker_ttl_ms"));
        assert!(t("marker_ttl = 5").is_err());
        assert_eq!(super::Settings::default().marker_ttl_ms, 1000);
        assert_eq!(super::marker_key(3), "cc:3:marker");
    }
}
