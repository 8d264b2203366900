//! A client's connections, one per role (see [`Role`]), each to the role's address (the
//! server itself, or the role's fault proxy). Connections are opened lazily and dropped after an
//! error or a timeout, so a client survives every fault by reconnecting on its next operation.

use crate::history::Completion;
use crate::infra::redis_url::RedisAccess;
use crate::infra::{DbEndpoint, Role};
use crate::injected::Injected;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Where each role connects: `host:port` of the server or of the role's proxy; and the run's
/// injected faults, which every cache connection made here carries.
#[derive(Debug, Clone)]
pub struct RoleAddrs {
    pub db: DbEndpoint,
    pub addrs: BTreeMap<Role, (String, u16)>,
    pub injected: Arc<Injected>,
    /// Where the `db-replica` role connects, per replica (the first through the role's proxy,
    /// others directly); empty without replicas.
    pub replicas: Vec<(String, u16)>,
    /// Each replica's login (user, password, TLS; the primary's schema), as `replicas`; a
    /// replica without one is reached with the primary's.
    pub replica_logins: Vec<DbEndpoint>,
    /// The Redis URL's scheme, credentials and options, put around every cache role's address.
    pub redis_access: RedisAccess,
    /// The strategy's `wait_replicas` and WAIT timeout (ms), carried by every cache
    /// connection made here (None: no WAIT after an invalidation).
    pub wait_replicas: Option<(u32, u64)>,
}

impl RoleAddrs {
    /// Every role straight to the servers.
    pub fn direct(db: &DbEndpoint, redis_host: &str, redis_port: u16) -> RoleAddrs {
        let mut addrs = BTreeMap::new();
        for r in Role::ALL {
            let a = if r.is_db() {
                (db.host.clone(), db.port)
            } else {
                (redis_host.to_string(), redis_port)
            };
            addrs.insert(r, a);
        }
        RoleAddrs {
            db: db.clone(),
            addrs,
            injected: Arc::default(),
            replicas: Vec::new(),
            replica_logins: Vec::new(),
            redis_access: RedisAccess::default(),
            wait_replicas: None,
        }
    }

    /// The same addresses with the Redis URL's credentials and TLS.
    pub fn with_redis_access(mut self, access: RedisAccess) -> Self {
        self.redis_access = access;
        self
    }

    pub fn addr(&self, r: Role) -> (&str, u16) {
        let (h, p) = &self.addrs[&r];
        (h.as_str(), *p)
    }

    pub fn db_opts(&self, r: Role) -> mysql_async::Opts {
        let (h, p) = self.addr(r);
        self.db.opts_via(h, p, true)
    }

    /// Connection options for replica `i` (0-based) on the `db-replica` role.
    pub fn replica_opts(&self, i: usize) -> Option<mysql_async::Opts> {
        let (h, p) = self.replicas.get(i)?;
        let login = self.replica_logins.get(i).unwrap_or(&self.db);
        Some(login.opts_via(h, *p, true))
    }

    pub fn redis_url(&self, r: Role) -> String {
        let (h, p) = self.addr(r);
        self.redis_access.url(h, p)
    }

    /// A Redis connection on role `r`, carrying the run's injected faults.
    pub fn cache_conn(&self, r: Role, timeout: Duration) -> redis::RedisResult<CacheConn> {
        let mut c =
            CacheConn::new(&self.redis_url(r), timeout)?.with_injected(self.injected.clone());
        c.wait_replicas = self.wait_replicas;
        Ok(c)
    }
}

/// Why an operation or a step of one failed: `Fail` when it certainly had no effect (for
/// example the connection could not be opened), `Info` when it may have. With `Ok` these are
/// the history's three completions ([`Completion`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    Fail(String),
    Info(String),
}

impl StepError {
    pub fn msg(&self) -> &str {
        match self {
            StepError::Fail(m) | StepError::Info(m) => m,
        }
    }

    pub fn into_msg(self) -> String {
        match self {
            StepError::Fail(m) | StepError::Info(m) => m,
        }
    }

    /// The completion it records as: `fail` or `info`.
    pub fn completion(&self) -> Completion {
        match self {
            StepError::Fail(_) => Completion::Fail,
            StepError::Info(_) => Completion::Info,
        }
    }
}

/// A lazily (re)connected database connection.
pub struct DbConn {
    opts: mysql_async::Opts,
    timeout: Duration,
    conn: Option<mysql_async::Conn>,
}

impl DbConn {
    pub fn new(opts: mysql_async::Opts, timeout: Duration) -> Self {
        DbConn {
            opts,
            timeout,
            conn: None,
        }
    }

    /// The open connection, connecting first if needed. A failure to connect is a `Fail`:
    /// nothing was sent.
    pub async fn get(&mut self) -> Result<&mut mysql_async::Conn, StepError> {
        if self.conn.is_none() {
            let c = tokio::time::timeout(self.timeout, mysql_async::Conn::new(self.opts.clone()))
                .await
                .map_err(|_| StepError::Fail("db connect timed out".into()))?
                .map_err(|e| StepError::Fail(format!("db connect: {e}")))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// Runs `f` on the connection under the timeout; any error drops the connection.
    /// Errors after connecting are `Info` unless the server answered with an error
    /// (a server error means the statement did not take effect: `Fail`).
    pub async fn run<T, F>(&mut self, f: F) -> Result<T, StepError>
    where
        F: for<'c> FnOnce(
            &'c mut mysql_async::Conn,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = mysql_async::Result<T>> + Send + 'c>,
        >,
    {
        let timeout = self.timeout;
        self.get().await?;
        // The connection is owned by this future while the statement runs: when the caller
        // drops the future mid-statement (the driver's operation timeout), the connection goes
        // with it. Left in place, its next statement would read this one's late result (a
        // paused replica answered every read of a client with the previous read's value).
        let mut conn = self.conn.take().expect("just connected");
        match tokio::time::timeout(timeout, f(&mut conn)).await {
            Ok(Ok(v)) => {
                self.conn = Some(conn);
                Ok(v)
            }
            Ok(Err(mysql_async::Error::Server(e))) => {
                self.reset();
                Err(StepError::Fail(format!("db: {e}")))
            }
            Ok(Err(e)) => {
                self.reset();
                Err(StepError::Info(format!("db: {e}")))
            }
            Err(_) => {
                self.reset();
                Err(StepError::Info("db timed out".into()))
            }
        }
    }

    /// Writes the register (see [`crate::register::write`]); returns the new version.
    pub async fn write(&mut self, k: i64, v: i64) -> Result<i64, StepError> {
        match self
            .run(|c| Box::pin(crate::register::write(c, k, v)))
            .await?
        {
            Some(version) => Ok(version),
            None => Err(StepError::Fail(format!("db: key {k} does not exist"))),
        }
    }

    /// Reads the register's value of `k`.
    pub async fn read(&mut self, k: i64) -> Result<Option<i64>, StepError> {
        self.run(|c| Box::pin(crate::register::read(c, k))).await
    }

    pub fn reset(&mut self) {
        // Dropping a mysql_async Conn without disconnect is fine: the socket closes.
        self.conn = None;
    }
}

/// A lazily (re)connected Redis connection.
pub struct CacheConn {
    client: redis::Client,
    cfg: redis::AsyncConnectionConfig,
    conn: Option<redis::aio::MultiplexedConnection>,
    timeout: Duration,
    /// The run's injected faults (none on the harness's own connections).
    injected: Option<Arc<Injected>>,
    /// `WAIT` after an invalidation: replicas and timeout (ms); see [`crate::cache::replicated`].
    pub wait_replicas: Option<(u32, u64)>,
}

impl CacheConn {
    pub fn new(url: &str, timeout: Duration) -> redis::RedisResult<Self> {
        Ok(CacheConn {
            client: crate::infra::redis_url::client(url)?,
            cfg: redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout)),
            conn: None,
            timeout,
            injected: None,
            wait_replicas: None,
        })
    }

    /// The connection with a run's injected faults attached.
    pub fn with_injected(mut self, injected: Arc<Injected>) -> Self {
        self.injected = Some(injected);
        self
    }

    /// The run's injected faults, on a strategy's connections.
    pub fn injected(&self) -> Option<&Injected> {
        self.injected.as_deref()
    }

    pub async fn get(&mut self) -> Result<&mut redis::aio::MultiplexedConnection, StepError> {
        if self.conn.is_none() {
            let c = tokio::time::timeout(
                self.timeout,
                self.client
                    .get_multiplexed_async_connection_with_config(&self.cfg),
            )
            .await
            .map_err(|_| StepError::Fail("redis connect timed out".into()))?
            .map_err(|e| StepError::Fail(format!("redis connect: {e}")))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// Runs a command; errors drop the connection. A Redis error reply (`ResponseError`,
    /// script errors) means the command was executed and refused: `Fail`; I/O errors and
    /// timeouts are `Info`.
    pub async fn query<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
    ) -> Result<T, StepError> {
        let timeout = self.timeout;
        let conn = self.get().await?;
        let r = tokio::time::timeout(timeout, cmd.query_async::<T>(conn)).await;
        self.classify(r)
    }

    /// Runs a Lua script invocation.
    pub async fn script<T: redis::FromRedisValue>(
        &mut self,
        inv: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StepError> {
        let timeout = self.timeout;
        let conn = self.get().await?;
        let r = tokio::time::timeout(timeout, inv.invoke_async::<T>(conn)).await;
        self.classify(r)
    }

    fn classify<T>(
        &mut self,
        r: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, StepError> {
        match r {
            Ok(Ok(v)) => Ok(v),
            // A reply from the server refusing the command (an error code redis-rs knows, or
            // one it does not, such as NOREPLICAS under `min-replicas-to-write`): not applied.
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
                ) =>
            {
                Err(StepError::Fail(format!("redis: {e}")))
            }
            Ok(Err(e)) => {
                self.conn = None;
                Err(StepError::Info(format!("redis: {e}")))
            }
            Err(_) => {
                self.conn = None;
                Err(StepError::Info("redis timed out".into()))
            }
        }
    }

    pub fn reset(&mut self) {
        self.conn = None;
    }
}

/// A client's connections, one per role.
pub struct Conns {
    pub db: DbConn,
    pub cache_read: CacheConn,
    pub cache_fill: CacheConn,
    pub cache_write: CacheConn,
}

impl Conns {
    pub fn new(addrs: &RoleAddrs, timeout: Duration) -> redis::RedisResult<Conns> {
        Ok(Conns {
            db: DbConn::new(addrs.db_opts(Role::Db), timeout),
            cache_read: addrs.cache_conn(Role::CacheRead, timeout)?,
            cache_fill: addrs.cache_conn(Role::CacheFill, timeout)?,
            cache_write: addrs.cache_conn(Role::CacheWrite, timeout)?,
        })
    }

    /// Drops every connection (after an operation timed out mid-way).
    pub fn reset_all(&mut self) {
        self.db.reset();
        self.cache_read.reset();
        self.cache_fill.reset();
        self.cache_write.reset();
    }
}
