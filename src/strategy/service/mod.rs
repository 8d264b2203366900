//! `service`: a user's own HTTP service under test. cachecheck owns the database, Redis, the
//! fault proxies, the ground truth and the checker; the service (started by cachecheck with
//! `command`, or already running at `url`) connects to the proxies named in its environment
//! and serves one HTTP request per operation. The whole contract: `docs/service.md`.
//!
//! ```toml
//! [strategy.service]
//! command = ["python3", "app.py"]  # argv, run from the workload file's directory; or
//! # url = "http://127.0.0.1:8080"  # a service the user runs (not started or stopped)
//! env = { MODE = "db-then-delete" } # extra environment for the command
//! cache_key = "cc:{key}"           # the Redis key under which the service caches `{key}`
//! cache_value = "int"              # "int": the decimal value; or a JSON pointer ("/value")
//! health = "/health"               # GET answers 200 once the service is ready
//! start_timeout_s = 30             # how long to wait for health, at start and after a kill
//! delay_env = "DELAY_MS"           # optional: the variable carrying a double delete's delay
//! delay_ms = 300                   # optional (needs delay_env): its value
//! table = "accounts"               # optional: the service's own table instead of the register
//! key_column = "k"                 #   its key column (BIGINT primary key)
//! value_column = "v"               #   its value column (BIGINT)
//! ```
//!
//! Operations ([`http`]): `GET /kv/{key}` → 200 `{"value": n|null, "source": "cache"|"db"}`
//! (anything else fails the read); `PUT /kv/{key}` `{"value": n}` → 200/204 ok, 409/422 fail,
//! anything else (or a reset connection, or no answer within `op_timeout_ms`) info. One
//! keep-alive connection pool serves every client.
//!
//! The database assigns versions and logs commits itself (the register's triggers, see
//! [`crate::register`]), whatever SQL the service sends; with `table`, a logging trigger on the
//! service's own table does ([`crate::register::OwnTable`]). cachecheck reads the final cache
//! state itself through `cache_key`/`cache_value`.

pub mod app;
pub mod http;
pub mod settings;

use super::{typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache::CacheView;
use crate::conn::{CacheConn, RoleAddrs, StepError};
use crate::infra::Role;
use crate::session::Session;
use app::App;
use async_trait::async_trait;
pub use settings::Settings;
use std::time::Duration;
use tokio::sync::Mutex;

pub const REG: Registration = Registration {
    name: "service",
    about: "your own HTTP service (GET/PUT /kv/{key}) on cachecheck's servers and faults",
    configure: typed::<Settings>,
};

/// The strategy: the HTTP client pool and, with `command`, the started process.
pub struct Service {
    settings: Settings,
    /// `http://127.0.0.1:PORT` of the service.
    base: String,
    http: reqwest::Client,
    /// The started process (None with `url`).
    app: Option<Mutex<App>>,
    addrs: RoleAddrs,
    ttl_ms: u64,
}

impl Service {
    fn new(settings: Settings, env: &Env) -> anyhow::Result<Service> {
        let http = http::client(env.op_timeout)?;
        let (base, app) = match (&settings.command, &settings.url) {
            (Some(argv), _) => {
                let port = crate::infra::process::free_port()?;
                let mut vars = environment(&env.addrs, env.ttl_ms, port);
                table_environment(&mut vars, &settings);
                vars.extend(settings.env.iter().map(|(k, v)| (k.clone(), v.clone())));
                if let (Some(name), Some(ms)) = (&settings.delay_env, settings.delay_ms) {
                    vars.push((name.clone(), ms.to_string()));
                }
                let app = App::new(argv.clone(), vars, env.workload_dir.clone(), &env.dir);
                (format!("http://127.0.0.1:{port}"), Some(Mutex::new(app)))
            }
            (None, Some(url)) => (url.trim_end_matches('/').to_string(), None),
            (None, None) => anyhow::bail!("strategy `service`: no `command` or `url`"),
        };
        Ok(Service {
            settings,
            base,
            http,
            app,
            addrs: env.addrs.clone(),
            ttl_ms: env.ttl_ms,
        })
    }

    fn start_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.settings.start_timeout_s)
    }

    fn health_url(&self) -> String {
        format!("{}{}", self.base, self.settings.health)
    }

    fn redis_key(&self, key: i64) -> String {
        self.settings.cache_key.replace("{key}", &key.to_string())
    }

    /// Faults `kill`/`pause` with `service = "app"`.
    async fn app_fault(&self, f: super::AppFault) -> anyhow::Result<()> {
        let Some(app) = &self.app else {
            anyhow::bail!("`service = \"app\"`: the service at {} was not started by cachecheck (fix: use `command`, or remove the fault)", self.base);
        };
        let mut app = app.lock().await;
        match f {
            super::AppFault::Kill => app.kill().await,
            super::AppFault::Restart => {
                let back = match app.spawn() {
                    Ok(()) => {
                        app.wait_healthy(&self.http, &self.health_url(), self.start_timeout())
                            .await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = &back {
                    app.lost_after_kill(e);
                }
                back?;
            }
            super::AppFault::Pause => {
                anyhow::ensure!(app.pause(), "{} is not running", app.describe());
            }
            super::AppFault::Resume => {
                app.resume();
            }
        }
        Ok(())
    }
}

/// The environment of a started service: every address through its role's proxy.
pub fn environment(addrs: &RoleAddrs, ttl_ms: u64, port: u16) -> Vec<(String, String)> {
    let (db_host, db_port) = addrs.addr(Role::Db);
    let db = &addrs.db;
    let password = db.password.clone().unwrap_or_default();
    let auth = match &db.password {
        Some(p) => format!("{}:{p}", db.user),
        None => db.user.clone(),
    };
    // `redis://127.0.0.1:PORT/0`; with external servers whose Redis URL carries AUTH, TLS or
    // a database, that URL around the role's address (`rediss://user:pw@127.0.0.1:PORT/2`).
    let redis = |r: Role| {
        let (h, p) = addrs.addr(r);
        if addrs.redis_access == Default::default() {
            format!("redis://{h}:{p}/0")
        } else {
            addrs.redis_url(r)
        }
    };
    vec![
        ("CACHECHECK_HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
        (
            "CACHECHECK_DB_URL".into(),
            format!("mysql://{auth}@{db_host}:{db_port}/{}", db.database),
        ),
        ("CACHECHECK_DB_HOST".into(), db_host.to_string()),
        ("CACHECHECK_DB_PORT".into(), db_port.to_string()),
        ("CACHECHECK_DB_USER".into(), db.user.clone()),
        ("CACHECHECK_DB_PASSWORD".into(), password),
        ("CACHECHECK_DB_NAME".into(), db.database.clone()),
        ("CACHECHECK_TABLE".into(), crate::register::TABLE.into()),
        ("CACHECHECK_REDIS_URL".into(), redis(Role::Cache)),
        ("CACHECHECK_REDIS_READ_URL".into(), redis(Role::CacheRead)),
        ("CACHECHECK_REDIS_FILL_URL".into(), redis(Role::CacheFill)),
        ("CACHECHECK_REDIS_WRITE_URL".into(), redis(Role::CacheWrite)),
        ("CACHECHECK_TTL_MS".into(), ttl_ms.to_string()),
    ]
}

/// `CACHECHECK_TABLE` (the service's own `table`, if any) and its columns'
/// `CACHECHECK_KEY_COLUMN` and `CACHECHECK_VALUE_COLUMN`.
fn table_environment(vars: &mut Vec<(String, String)>, s: &Settings) {
    if let Some(t) = &s.table {
        for (k, v) in vars.iter_mut() {
            if k == "CACHECHECK_TABLE" {
                *v = t.clone();
            }
        }
    }
    vars.push(("CACHECHECK_KEY_COLUMN".into(), s.key_column.clone()));
    vars.push(("CACHECHECK_VALUE_COLUMN".into(), s.value_column.clone()));
}

#[async_trait]
impl Strategy for Service {
    async fn read(&self, _: &mut Session, key: i64) -> Outcome<ReadValue> {
        http::read(&self.http, &format!("{}/kv/{key}", self.base)).await
    }

    async fn write(&self, _: &mut Session, key: i64, value: i64) -> Outcome<()> {
        http::write(&self.http, &format!("{}/kv/{key}", self.base), value).await
    }

    async fn start(&self) -> anyhow::Result<()> {
        match &self.app {
            Some(app) => {
                let mut app = app.lock().await;
                app.spawn()?;
                app.wait_healthy(&self.http, &self.health_url(), self.start_timeout())
                    .await
            }
            None => {
                let mut vars = environment(&self.addrs, self.ttl_ms, 0);
                table_environment(&mut vars, &self.settings);
                eprintln!(
                    "cachecheck: the service at {} must use these addresses (fault proxies):",
                    self.base
                );
                for (k, v) in vars.iter().skip(1) {
                    if k == "CACHECHECK_DB_PASSWORD" {
                        continue;
                    }
                    eprintln!("  {k}={}", hide_password(v));
                }
                let r = self
                    .http
                    .get(self.health_url())
                    .timeout(self.start_timeout())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 200 => Ok(()),
                    Ok(r) => anyhow::bail!(
                        "the service at {} answered {} with {} (fix: it must answer 200 once ready)",
                        self.base,
                        self.settings.health,
                        r.status().as_u16()
                    ),
                    Err(e) => anyhow::bail!(
                        "the service at {} does not answer {}: {} (fix: start it, or check `url`)",
                        self.base,
                        self.settings.health,
                        http::one_line(&e)
                    ),
                }
            }
        }
    }

    async fn ensure_alive(&self) -> anyhow::Result<()> {
        match &self.app {
            Some(app) => app.lock().await.ensure_alive(),
            None => Ok(()),
        }
    }

    async fn quiesce(&self) {
        // The service keeps running through the settle time: its own background work (a
        // double delete's second delete) completes; it is stopped when the strategy's run
        // ends (dropped).
    }

    async fn cache_view(&self, conn: &mut CacheConn, key: i64) -> Result<CacheView, StepError> {
        let k = self.redis_key(key);
        let raw: Option<String> = conn.query(redis::cmd("GET").arg(&k)).await?;
        let value = raw
            .as_deref()
            .and_then(|s| parse_cached(&self.settings.cache_value, s));
        let ttl: i64 = conn.query(redis::cmd("PTTL").arg(&k)).await?;
        Ok(CacheView {
            value,
            ttl_ms: value.map(|_| ttl),
        })
    }

    async fn app_fault(&self, f: super::AppFault) -> anyhow::Result<()> {
        Service::app_fault(self, f).await
    }

    fn own_table(&self) -> Option<crate::register::OwnTable> {
        Some(crate::register::OwnTable {
            name: self.settings.table.clone()?,
            key: self.settings.key_column.clone(),
            value: self.settings.value_column.clone(),
        })
    }

    fn extra(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "service": {
            "command": self.settings.command,
            "url": self.settings.url,
            "log": self.app.as_ref().map(|_| app::LOG_FILE),
        }}))
    }
}

/// The value a reader would be served from a cache entry: `int` (the decimal string) or the
/// integer at a JSON pointer; None for anything else (a marker, a tombstone, a lease).
pub fn parse_cached(format: &str, raw: &str) -> Option<i64> {
    if format == "int" {
        return raw.trim().parse().ok();
    }
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    v.pointer(format)?.as_i64()
}

/// `mysql://user:***@host` for printing.
fn hide_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if url[s + 3..at].contains(':') => {
            let user_end = s + 3 + url[s + 3..at].find(':').unwrap_or(0);
            format!("{}:***{}", &url[..user_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_values_are_read_as_configured() {
        assert_eq!(parse_cached("int", "42"), Some(42));
        assert_eq!(parse_cached("int", "x"), None);
        assert_eq!(
            parse_cached("/value", r#"{"value": 7, "version": 3}"#),
            Some(7)
        );
        assert_eq!(
            parse_cached("/value", r#"{"tomb": true, "version": 3}"#),
            None
        );
        assert_eq!(parse_cached("/value", "7"), None);
    }

    #[test]
    fn redis_urls_carry_the_external_urls_access() {
        let db = crate::infra::DbEndpoint::parse("mysql://root@127.0.0.1:3306/cc").unwrap();
        let url = |addrs: &RoleAddrs| {
            let vars = environment(addrs, 1000, 8080);
            let get = |k: &str| vars.iter().find(|(n, _)| n == k).unwrap().1.clone();
            (
                get("CACHECHECK_REDIS_URL"),
                get("CACHECHECK_REDIS_WRITE_URL"),
            )
        };
        let plain = RoleAddrs::direct(&db, "127.0.0.1", 6379);
        assert_eq!(url(&plain).0, "redis://127.0.0.1:6379/0");
        let (_, _, access) = crate::infra::redis_url::parse("rediss://:pw@h:1/2").unwrap();
        let auth = RoleAddrs::direct(&db, "127.0.0.1", 7000).with_redis_access(access);
        assert_eq!(url(&auth).0, "rediss://:pw@127.0.0.1:7000/2");
        assert_eq!(url(&auth).1, "rediss://:pw@127.0.0.1:7000/2");
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            hide_password("mysql://root:secret@127.0.0.1:1/x"),
            "mysql://root:***@127.0.0.1:1/x"
        );
        assert_eq!(hide_password("mysql://root@h/x"), "mysql://root@h/x");
    }

    #[test]
    fn settings_name_the_problem() {
        let t = |s: &str| {
            super::super::typed::<Settings>(&toml::from_str(s).unwrap())
                .err()
                .unwrap_or_default()
        };
        assert!(t("").contains("`command`"));
        assert!(t("command = []").contains("`command`"));
        assert!(t("url = \"http://h:1\"\ncommand = [\"x\"]").contains("exclude"));
        assert!(t("command = [\"x\"]\ncache_key = \"k\"").contains("{key}"));
        assert!(t("command = [\"x\"]\ncache_value = \"json\"").contains("pointer"));
        assert!(t("command = [\"x\"]\ndelay_ms = 5").contains("delay_env"));
        assert!(t("command = [\"x\"]\ntable = \"a b\"").contains("`table`"));
        assert!(t("command = [\"x\"]\ntable = \"commit_log\"").contains("own table"));
        assert!(t("command = [\"x\"]\nkey_column = \"v\"").contains("differ"));
        assert!(t("command = [\"x\"]\ntable = \"accounts\"\nkey_column = \"id\"").is_empty());
        assert!(t("command = [\"x\"]").is_empty());
    }
}
