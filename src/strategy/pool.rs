//! A small pool of lazily connected [`CacheConn`]s or [`DbConn`]s for background work that runs
//! outside a client (delayed deletes, background refreshes): each piece of work takes a
//! connection of the role it acts for, so a fault on that role hits it too.

use crate::conn::{CacheConn, DbConn, RoleAddrs};
use crate::infra::Role;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle connections kept at most; more are opened when needed and closed when returned.
const MAX_IDLE: usize = 16;

/// A pool of connections of one kind and role.
pub struct Pool<C> {
    make: Box<dyn Fn() -> C + Send + Sync>,
    idle: Mutex<Vec<C>>,
}

impl Pool<CacheConn> {
    /// Redis connections on `role`.
    pub fn cache(addrs: &RoleAddrs, role: Role, timeout: Duration) -> anyhow::Result<Arc<Self>> {
        // Checks the URL once; `make` cannot fail afterwards.
        let first = addrs.cache_conn(role, timeout)?;
        let addrs = addrs.clone();
        let pool = Pool {
            make: Box::new(move || addrs.cache_conn(role, timeout).expect("checked URL")),
            idle: Mutex::new(vec![first]),
        };
        Ok(Arc::new(pool))
    }
}

impl Pool<DbConn> {
    /// Database connections on `role`.
    pub fn db(addrs: &RoleAddrs, role: Role, timeout: Duration) -> Arc<Self> {
        let opts = addrs.db_opts(role);
        Arc::new(Pool {
            make: Box::new(move || DbConn::new(opts.clone(), timeout)),
            idle: Mutex::new(Vec::new()),
        })
    }
}

impl<C> Pool<C> {
    /// An idle connection, or a new one; it goes back to the pool when dropped.
    pub fn take(self: &Arc<Self>) -> Pooled<C> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        Pooled {
            conn: Some(idle.unwrap_or_else(|| (self.make)())),
            pool: self.clone(),
        }
    }
}

/// A connection taken from a [`Pool`].
pub struct Pooled<C> {
    conn: Option<C>,
    pool: Arc<Pool<C>>,
}

impl<C> Deref for Pooled<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl<C> DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl<C> Drop for Pooled<C> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(c);
            }
        }
    }
}
