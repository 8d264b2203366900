//! `cache-then-db` (seed 3.1): set the cache to the new value, then write the database.
//!
//! Known races:
//! * A database failure after the set leaves a value in the cache that the database never
//!   committed: every reader until the TTL or the next write gets dirty data. The setting
//!   `db_failure_probability` makes this reproducible without a fault proxy: with that
//!   probability the application refuses the write's database step after the cache set (the
//!   write completes `fail`, nothing is committed, the cache keeps the value).
//! * Two writers whose cache sets and database writes land in opposite orders leave the cache
//!   and the database on different values (divergence until the TTL).
//! * A failed set refuses the write (`fail`); if the set failed with an unknown outcome it may
//!   still have landed, which is again dirty data.
//!
//! ```toml
//! [strategy.cache-then-db]
//! db_failure_probability = 0.0   # 0..=1: share of writes whose DB step is refused after the set
//! ```

use super::chance::{check_probability, Chance};
use super::{cache_aside_read, typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::StepError;
use crate::history::EventType;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const NAME: &str = "cache-then-db";

pub const REG: Registration = Registration {
    name: NAME,
    about: "set the cache, then write the database; a DB failure leaves dirty data (seed 3.1)",
    configure: typed::<Settings>,
};

/// Settings of `cache-then-db` (defaults in the module doc).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub db_failure_probability: f64,
}

impl super::Settings for Settings {
    fn check(&self) -> Result<(), String> {
        check_probability("db_failure_probability", self.db_failure_probability)
    }

    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(CacheThenDb {
            chance: Chance::new(env.seed, NAME),
            s: self.clone(),
        }))
    }
}

pub struct CacheThenDb {
    s: Settings,
    chance: Chance,
}

#[async_trait]
impl Strategy for CacheThenDb {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let ttl = c.ttl_ms;
        let r = cache::set(&mut c.conns.cache_write, key, value, ttl).await;
        c.trace("cache-set", key, Some(value), &r);
        if let Err(e) = r {
            // The first step failed: the database is not touched.
            return Err(StepError::Fail(format!(
                "cache set failed, write refused: {}",
                e.msg()
            )));
        }
        if self.chance.hit(self.s.db_failure_probability) {
            c.step("db-refused", EventType::Fail, key, Some(value), None);
            return Err(StepError::Fail(
                "database write refused by the application after the cache set \
                 (db_failure_probability)"
                    .into(),
            ));
        }
        c.write_db(key, value).await.map(|_| ())
    }
}
