//! `tag-deleted` and `tag-deleted-strong`: the published algorithm of dtm-labs/rockscache, which
//! claims eventual consistency (weak mode) and strong consistency (`StrongConsistency`) between
//! Redis and the database without versions. Implemented from its `client.go` as published,
//! its choices kept (see [`super::rockscache`] for the entry and its Lua):
//!
//! * Read (`Fetch`): calls for one key share one fetch inside the process (`singleflight`).
//!   The fetch runs the get script with a fresh owner token:
//!   - weak: while there is no value and another owner holds the lock, sleep `lock_sleep_ms`
//!     and retry. A plain value, or a value someone else is refreshing, is returned. With the
//!     lock taken: no value → read the database and store synchronously; a value (the entry
//!     was marked deleted) → return that old value and refresh in the background.
//!   - strong: while another owner holds the lock (value or not), sleep and retry. A plain
//!     value is returned; with the lock taken, read the database and store synchronously.
//!   - The store succeeds only if the reader still owns the lock. A failed database read gives
//!     the lock up (`UnlockForUpdate`, expiry `lock_expire_ms`). An empty result is cached as
//!     `""` for `empty_expire_ms` (0: the key is deleted). A failed store fails the read, as
//!     `Fetch` returns its error.
//! * Write: the database, then `TagAsDeleted`: `lockUntil = 0`, owner cleared, expiry
//!   `delay_ms`; the value stays.
//! * Expiry of a stored value: `ttl_ms - delay_ms - rand * random_expire_adjustment * ttl_ms`
//!   (a workload TTL of 0 stores without expiry; an expiry <= 0 deletes the entry, as the
//!   library's EXPIRE does).
//!
//! Differences from the library: times in ms (it uses whole seconds of the application's
//! clock, so its locks last up to a second longer); no `WaitReplicas` (one Redis).
//!
//! What a reader is served ([`Strategy::cache_view`]): in weak mode any stored value, also of
//! an entry marked deleted or being refreshed (the next reader gets it once and triggers a
//! refresh); in strong mode only a value without `lockUntil` (a strong reader of a marked or
//! locked entry waits for or performs a refresh).
//!
//! Known races: weak mode returns the old value to every reader until the refresh lands
//! (stale reads after the write's acknowledgement, by design); in both modes a read that
//! joins another caller's fetch (singleflight) gets a value fetched before it was invoked,
//! and a read served a plain value just before the mark lands is stale if the write already
//! returned; a failed `TagAsDeleted` leaves the old value until its TTL; a reader whose lock
//! expired (`lock_expire_ms`) while it read the database loses its store, and a reader that
//! dies holding the lock blocks (strong) or serves old values (weak) until the lock expires.
//!
//! ```toml
//! [strategy.tag-deleted]          # or [strategy.tag-deleted-strong]
//! delay_ms = 10000                # Delay: expiry of an entry marked deleted
//! lock_expire_ms = 3000           # LockExpire: lifetime of a refresh lock
//! lock_sleep_ms = 100             # LockSleep: wait before retrying a locked entry
//! empty_expire_ms = 60000         # EmptyExpire: expiry of a cached empty result
//! random_expire_adjustment = 0.1  # RandomExpireAdjustment
//! singleflight = true             # share concurrent fetches of a key inside the process
//! ```

use super::chance::{check_probability, Chance};
use super::pool::Pool;
use super::rockscache::{self as rc, decode};
use super::singleflight::{self, Group, Joined};
use super::workers::{Tasks, WorkerLog};
use super::{parse_settings, Env, Outcome, ReadValue, Registration, Setup, Strategy};
use crate::cache;
use crate::cache::CacheView;
use crate::conn::{CacheConn, DbConn, StepError};
use crate::history::{EventType, Source};
use crate::infra::Role;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const REG_WEAK: Registration = Registration {
    name: "tag-deleted",
    about: "rockscache: lock owner per key, writes mark deleted, background refresh",
    configure: |t| configure(t, false),
};

pub const REG_STRONG: Registration = Registration {
    name: "tag-deleted-strong",
    about: "rockscache with StrongConsistency: readers wait for or perform the refresh",
    configure: |t| configure(t, true),
};

/// Settings of `tag-deleted` and `tag-deleted-strong` (defaults: the library's, in the module
/// doc).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub delay_ms: u64,
    pub lock_expire_ms: u64,
    pub lock_sleep_ms: u64,
    pub empty_expire_ms: u64,
    pub random_expire_adjustment: f64,
    pub singleflight: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            delay_ms: 10_000,
            lock_expire_ms: 3_000,
            lock_sleep_ms: 100,
            empty_expire_ms: 60_000,
            random_expire_adjustment: 0.1,
            singleflight: true,
        }
    }
}

/// The settings of one of the two modes.
struct Mode {
    s: Settings,
    strong: bool,
}

fn configure(t: &toml::Table, strong: bool) -> Result<Arc<dyn Setup>, String> {
    let s: Settings = parse_settings(t)?;
    if s.delay_ms == 0 || s.lock_expire_ms == 0 {
        // The library refuses these too.
        return Err("`delay_ms` and `lock_expire_ms` must not be 0".into());
    }
    check_probability("random_expire_adjustment", s.random_expire_adjustment)?;
    Ok(Arc::new(Mode { s, strong }))
}

impl Setup for Mode {
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        build(self.s, env, self.strong)
    }
}

fn build(s: Settings, env: &Env, strong: bool) -> anyhow::Result<Arc<dyn Strategy>> {
    let name = if strong {
        REG_STRONG.name
    } else {
        REG_WEAK.name
    };
    Ok(Arc::new(TagDeleted {
        s,
        strong,
        ttl_ms: env.ttl_ms,
        group: Group::default(),
        owners: AtomicU64::new(0),
        chance: Chance::new(env.seed, name),
        tasks: Tasks::new(env.shutdown.clone()),
        db_pool: Pool::db(&env.addrs, Role::Db, env.op_timeout),
        fill_pool: Pool::cache(&env.addrs, Role::CacheFill, env.op_timeout)?,
        log: WorkerLog::new(env, 0),
        op_timeout: env.op_timeout,
        refreshes: Arc::default(),
    }))
}

pub struct TagDeleted {
    s: Settings,
    strong: bool,
    ttl_ms: u64,
    group: Group<Outcome<ReadValue>>,
    owners: AtomicU64,
    chance: Chance,
    tasks: Tasks,
    db_pool: Arc<Pool<DbConn>>,
    fill_pool: Arc<Pool<CacheConn>>,
    log: WorkerLog,
    op_timeout: Duration,
    /// Background refreshes started (weak mode).
    refreshes: Arc<AtomicU64>,
}

/// A step to record, by a client or a worker.
struct Step {
    f: &'static str,
    kind: EventType,
    value: Option<i64>,
    detail: serde_json::Value,
}

fn step<T>(
    f: &'static str,
    value: Option<i64>,
    d: serde_json::Value,
    r: &Result<T, StepError>,
) -> Step {
    let (kind, detail) = crate::session::outcome_detail(d, r);
    Step {
        f,
        kind,
        value,
        detail,
    }
}

impl TagDeleted {
    /// The expiry of a stored value (None: never).
    fn expire_ms(&self) -> Option<i64> {
        (self.ttl_ms > 0).then(|| {
            let ttl = self.ttl_ms as f64;
            let jitter = self.chance.unit() * self.s.random_expire_adjustment * ttl;
            (ttl - self.s.delay_ms as f64 - jitter) as i64
        })
    }

    /// Whether the reader must sleep and retry.
    fn must_wait(&self, g: &rc::Got) -> bool {
        if self.strong {
            g.lock.is_some() && !g.locked()
        } else {
            g.value.is_none() && !g.locked()
        }
    }

    /// `weakFetch` / `strongFetch`.
    async fn fetch(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        let owner = format!(
            "{}-{}",
            c.process,
            self.owners.fetch_add(1, Ordering::Relaxed)
        );
        let lock_expire = self.s.lock_expire_ms;
        let mut got = match rc::get(&mut c.conns.cache_read, key, &owner, lock_expire).await {
            Ok(g) => g,
            Err(e) => return Err(e),
        };
        let mut waits = 0u64;
        while self.must_wait(&got) {
            waits += 1;
            tokio::time::sleep(Duration::from_millis(self.s.lock_sleep_ms)).await;
            got = match rc::get(&mut c.conns.cache_read, key, &owner, lock_expire).await {
                Ok(g) => g,
                Err(e) => return Err(e),
            };
        }
        if waits > 0 {
            c.step(
                "lock-wait",
                EventType::Ok,
                key,
                None,
                Some(json!({ "waits": waits })),
            );
        }
        if !got.locked() {
            return match decode(got.value.as_deref().unwrap_or("")) {
                Ok(value) => Ok(ReadValue {
                    value,
                    source: Source::Cache,
                }),
                Err(e) => Err(e),
            };
        }
        let detail = json!({ "owner": owner, "had_value": got.value.is_some() });
        c.step("lock", EventType::Ok, key, None, Some(detail));
        let expire = self.expire_ms();
        if let (false, Some(old)) = (self.strong, &got.value) {
            // Weak mode: the old value now, the refresh in the background.
            let old = decode(old)?;
            self.refresh_in_background(key, owner, expire);
            return Ok(ReadValue {
                value: old,
                source: Source::Cache,
            });
        }
        let (out, steps) = fetch_new(
            self.s,
            &mut c.conns.db,
            &mut c.conns.cache_fill,
            key,
            &owner,
            expire,
        )
        .await;
        for s in steps {
            c.step(s.f, s.kind, key, s.value, Some(s.detail));
        }
        out
    }

    fn refresh_in_background(&self, key: i64, owner: String, expire: Option<i64>) {
        let (s, dbs, fills, log) = (
            self.s,
            self.db_pool.clone(),
            self.fill_pool.clone(),
            self.log.clone(),
        );
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.tasks.spawn(async move {
            let (mut db, mut fill) = (dbs.take(), fills.take());
            let (_, steps) = fetch_new(s, &mut db, &mut fill, key, &owner, expire).await;
            for st in steps {
                let mut detail = st.detail;
                detail["background"] = true.into();
                log.step(st.f, st.kind, Some(key), st.value, Some(detail));
            }
        });
    }
}

/// `fetchNew`: read the database; store the result if still the lock's owner.
async fn fetch_new(
    s: Settings,
    db: &mut DbConn,
    fill: &mut CacheConn,
    key: i64,
    owner: &str,
    expire: Option<i64>,
) -> (Outcome<ReadValue>, Vec<Step>) {
    let v = match db.read(key).await {
        Ok(v) => v,
        Err(e) => {
            let r = rc::unlock(fill, key, owner, s.lock_expire_ms).await;
            return (
                Err(e),
                vec![step("unlock", None, json!({ "owner": owner }), &r)],
            );
        }
    };
    let r = match v {
        Some(v) => rc::set(fill, key, &v.to_string(), owner, expire).await,
        None if s.empty_expire_ms == 0 => cache::del(fill, key).await.map(|_| true),
        None => rc::set(fill, key, "", owner, Some(s.empty_expire_ms as i64)).await,
    };
    let detail = json!({ "owner": owner, "stored": r.as_ref().ok() });
    let steps = vec![step("cache-fill", v, detail, &r)];
    let out = match r {
        Ok(_) => Ok(ReadValue {
            value: v,
            source: Source::Db,
        }),
        Err(e) => Err(e),
    };
    (out, steps)
}

#[async_trait]
impl Strategy for TagDeleted {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        if !self.s.singleflight {
            return self.fetch(c, key).await;
        }
        match self.group.join(key) {
            Joined::Leader(leader) => {
                let out = self.fetch(c, key).await;
                leader.finish(out.clone());
                out
            }
            Joined::Follower(rx) => {
                c.step("singleflight", EventType::Ok, key, None, None);
                singleflight::wait(rx).await.unwrap_or_else(|| {
                    Err(StepError::Info("the shared fetch was abandoned".into()))
                })
            }
        }
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        let r = rc::tag_deleted(&mut c.conns.cache_write, key, self.s.delay_ms).await;
        c.trace("tag-deleted", key, None, &r);
        Ok(())
    }

    async fn quiesce(&self) {
        let limit = 2 * self.op_timeout + Duration::from_secs(1);
        if !self.tasks.wait(limit).await {
            let detail = json!({ "pending_refreshes": self.tasks.running() });
            self.log
                .always("quiesce", EventType::Info, None, None, Some(detail));
        }
    }

    async fn kill_workers(&self) -> bool {
        let lost = self.tasks.running();
        self.tasks.kill();
        let detail = json!({ "lost_refreshes": lost });
        self.log
            .always("workers-killed", EventType::Info, None, None, Some(detail));
        true
    }

    async fn cache_view(&self, conn: &mut CacheConn, key: i64) -> Result<CacheView, StepError> {
        let (value, lock_until, _) = rc::entry(conn, key).await?;
        let value = match value {
            Some(v) if !self.strong || lock_until.is_none() => decode(&v)?,
            _ => None,
        };
        let ttl: i64 = conn.query(redis::cmd("PTTL").arg(cache::key(key))).await?;
        Ok(CacheView {
            value,
            ttl_ms: value.map(|_| ttl),
        })
    }

    fn extra(&self) -> Option<serde_json::Value> {
        (!self.strong)
            .then(|| json!({ "background_refreshes": self.refreshes.load(Ordering::Relaxed) }))
    }
}
