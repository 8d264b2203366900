//! `read-through` (seed 2.2): the application reads only through a cache component
//! ([`CacheComponent::get`]) that loads the database's value on a miss and fills the cache;
//! writes go to the database, then invalidate through the component.
//!
//! Known races: those of cache-aside (`db-then-delete`, seed 3.4): readers get the old value
//! until the invalidation lands; a slow fill of an old value landing after the invalidation
//! stays until the TTL; a failed invalidation leaves the old value until the TTL.

use super::cache_component::CacheComponent;
use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::session::Session;
use async_trait::async_trait;
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "read-through",
    about: "a cache component loads misses; writes invalidate through it (seed 2.2)",
    configure: typed::<Settings>,
};

/// `read-through` has no settings of its own.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

impl super::Settings for Settings {
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(ReadThrough {
            component: CacheComponent::new(env.ttl_ms, true),
        }))
    }
}

pub struct ReadThrough {
    component: CacheComponent,
}

#[async_trait]
impl Strategy for ReadThrough {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        self.component.get(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        // Committed: a failed invalidation is recorded by the component, not returned.
        let _ = self.component.invalidate(c, key).await;
        Ok(())
    }
}
