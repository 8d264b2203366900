//! `write-through` (seed 2.3): a cache component owns both paths. Writes go through it
//! synchronously in the order the seed describes, the cache first and then the database
//! ([`CacheComponent::put`]); reads go through it too (read-through on a miss).
//!
//! Known races (the seed's own caveats, not fixed here):
//! * Two writers whose cache sets and database writes land in opposite orders leave the cache
//!   on the older value (divergence until the TTL or the next write).
//! * Between the cache set and the database commit, readers get a value that is not yet
//!   committed; if the database step fails it never is (dirty reads) until the component's
//!   rollback delete lands, or until the TTL if that delete fails too.
//! * A reader's fill of the old value can land after a writer's set.
//!
//! ```toml
//! [strategy.write-through]
//! rollback_on_db_failure = true   # delete the just-set entry when the database step fails
//! ```

use super::cache_component::CacheComponent;
use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "write-through",
    about: "a cache component writes the cache, then the database, and reads through (seed 2.3)",
    configure: typed::<Settings>,
};

/// Settings of `write-through` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub rollback_on_db_failure: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rollback_on_db_failure: true,
        }
    }
}

impl super::Settings for Settings {
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(WriteThrough {
            component: CacheComponent::new(env.ttl_ms, self.rollback_on_db_failure),
        }))
    }
}

pub struct WriteThrough {
    component: CacheComponent,
}

#[async_trait]
impl Strategy for WriteThrough {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        self.component.get(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        self.component.put(c, key, value).await
    }
}
