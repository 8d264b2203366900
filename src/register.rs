//! The register table in the database and its ground truth.
//!
//! ```sql
//! register   (k BIGINT PRIMARY KEY, v BIGINT, version BIGINT NOT NULL)
//! commit_log (k, version, v, initial)  -- PRIMARY KEY (k, version)
//! ```
//!
//! Every write is one statement, `UPDATE register SET v = ?, version =
//! LAST_INSERT_ID(version + 1) WHERE k = ?`: row locking makes `version` the true commit order
//! of the key, the OK packet returns the new version, and a trigger appends `(k, version, v)` to
//! `commit_log` in the same transaction. The commit log is therefore exact also for writes
//! whose outcome the client never learned: it is the ground truth (`commits.jsonl`).
//!
//! A second trigger, before each update, makes the database assign the version whatever SQL
//! a writer sends (strategy `service`: a user's service writes `UPDATE register SET v = ?
//! WHERE k = ?`): `NEW.version = GREATEST(NEW.version, OLD.version + 1)`, which leaves the
//! statement above unchanged.
//!
//! A service may name its own table instead ([`OwnTable`]: strategy `service`'s `table`,
//! `key_column`, `value_column`): cachecheck loads the same keys and values into it (creating
//! it as `(key BIGINT PRIMARY KEY, value BIGINT)` if it does not exist), installs a logging
//! trigger on it that appends every committed update to `commit_log` with the next version of
//! its key (row locking orders a key's updates, so that is the true commit order), reads the
//! final values from it, and removes the trigger after the strategy's run.

use crate::history::{Commit, FinalState};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

pub const TABLE: &str = "register";
pub const LOG_TABLE: &str = "commit_log";

/// Initial value of key `k` (unique: write values start at [`first_write_value`]).
pub fn initial_value(k: i64) -> i64 {
    k
}

/// The first value writes use; values are unique over the whole run.
pub fn first_write_value(keys: u64) -> i64 {
    keys as i64
}

/// Creates the schema (if needed) and the tables, dropping earlier ones, and loads `keys` rows
/// at version 1.
pub async fn reset(conn: &mut Conn, database: &str, keys: u64) -> mysql_async::Result<()> {
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{database}`"))
        .await?;
    conn.query_drop(format!("USE `{database}`")).await?;
    for stmt in [
        format!("DROP TABLE IF EXISTS {TABLE}"),
        format!("DROP TABLE IF EXISTS {LOG_TABLE}"),
        "DROP TABLE IF EXISTS outbox".to_string(),
        format!(
            "CREATE TABLE {TABLE} (k BIGINT NOT NULL PRIMARY KEY, v BIGINT NULL, \
             version BIGINT NOT NULL) ENGINE=InnoDB"
        ),
        format!(
            "CREATE TABLE {LOG_TABLE} (k BIGINT NOT NULL, version BIGINT NOT NULL, v BIGINT NULL, \
             initial TINYINT NOT NULL DEFAULT 0, PRIMARY KEY (k, version)) ENGINE=InnoDB"
        ),
        format!(
            "CREATE TRIGGER {TABLE}_version BEFORE UPDATE ON {TABLE} FOR EACH ROW \
             SET NEW.version = GREATEST(NEW.version, OLD.version + 1)"
        ),
        format!(
            "CREATE TRIGGER {TABLE}_log AFTER UPDATE ON {TABLE} FOR EACH ROW \
             INSERT INTO {LOG_TABLE} (k, version, v) VALUES (NEW.k, NEW.version, NEW.v)"
        ),
    ] {
        conn.query_drop(stmt).await?;
    }
    let keys = keys as i64;
    let mut start = 0i64;
    while start < keys {
        let end = (start + 1000).min(keys);
        let rows: Vec<String> = (start..end)
            .map(|k| format!("({k},{},1)", initial_value(k)))
            .collect();
        let logs: Vec<String> = (start..end)
            .map(|k| format!("({k},1,{},1)", initial_value(k)))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO {TABLE} (k, v, version) VALUES {}",
            rows.join(",")
        ))
        .await?;
        conn.query_drop(format!(
            "INSERT INTO {LOG_TABLE} (k, version, v, initial) VALUES {}",
            logs.join(",")
        ))
        .await?;
        start = end;
    }
    Ok(())
}

/// Writes `value` to key `k`; returns the new version (None: no such key).
pub async fn write(conn: &mut Conn, k: i64, value: i64) -> mysql_async::Result<Option<i64>> {
    // The OK packet's insert id is reset by the trigger's INSERT, so the new version is read
    // back in the same round trip (a multi-statement; both run on this session).
    let mut result = conn
        .query_iter(format!(
            "UPDATE {TABLE} SET v={value}, version=LAST_INSERT_ID(version+1) WHERE k={k}; \
             SELECT ROW_COUNT(), LAST_INSERT_ID()"
        ))
        .await?;
    let _: Vec<mysql_async::Row> = result.collect().await?;
    let rows: Vec<(i64, Option<i64>)> = result.collect().await?;
    result.drop_result().await?;
    let row = rows.into_iter().next();
    Ok(match row {
        Some((1, Some(version))) => Some(version),
        _ => None,
    })
}

/// Reads key `k`: `Some(value)` or `None` if absent.
pub async fn read(conn: &mut Conn, k: i64) -> mysql_async::Result<Option<i64>> {
    let row: Option<Option<i64>> = conn
        .query_first(format!("SELECT v FROM {TABLE} WHERE k={k}"))
        .await?;
    Ok(row.flatten())
}

/// Reads key `k` with its version.
pub async fn read_versioned(
    conn: &mut Conn,
    k: i64,
) -> mysql_async::Result<Option<(Option<i64>, i64)>> {
    conn.query_first(format!("SELECT v, version FROM {TABLE} WHERE k={k}"))
        .await
}

/// The ground truth: every committed write, per key in version order.
pub async fn commits(conn: &mut Conn) -> mysql_async::Result<Vec<Commit>> {
    let rows: Vec<(i64, i64, Option<i64>, i8)> = conn
        .query(format!(
            "SELECT k, version, v, initial FROM {LOG_TABLE} ORDER BY k, version"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, version, v, initial)| {
            v.map(|value| Commit {
                key,
                version,
                value,
                initial: initial != 0,
            })
        })
        .collect())
}

/// The database's value of every key.
pub async fn db_values(conn: &mut Conn) -> mysql_async::Result<Vec<(i64, Option<i64>)>> {
    conn.query(format!("SELECT k, v FROM {TABLE} ORDER BY k"))
        .await
}

/// Pairs database values with the cache's view into final-state records.
pub fn final_states(
    db: &[(i64, Option<i64>)],
    cache: impl Fn(i64) -> (Option<i64>, Option<i64>),
) -> Vec<FinalState> {
    db.iter()
        .map(|&(key, v)| {
            let (c, ttl) = cache(key);
            FinalState {
                key,
                db: v,
                cache: c,
                cache_ttl_ms: ttl,
            }
        })
        .collect()
}

/// A service's own table in place of the register (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnTable {
    pub name: String,
    pub key: String,
    pub value: String,
}

impl OwnTable {
    fn trigger(&self) -> String {
        format!("`{}_cachecheck_log`", self.name)
    }

    /// Loads `keys` rows (the register's initial values) and installs the logging trigger
    /// (replacing one a killed run left behind).
    pub async fn install(&self, conn: &mut Conn, keys: u64) -> mysql_async::Result<()> {
        let (t, k, v) = (&self.name, &self.key, &self.value);
        for stmt in [
            format!("DROP TRIGGER IF EXISTS {}", self.trigger()),
            format!(
                "CREATE TABLE IF NOT EXISTS `{t}` (`{k}` BIGINT NOT NULL PRIMARY KEY, \
                 `{v}` BIGINT NULL) ENGINE=InnoDB"
            ),
            format!("DELETE FROM `{t}` WHERE `{k}` >= 0 AND `{k}` < {keys}"),
        ] {
            conn.query_drop(stmt).await?;
        }
        let keys = keys as i64;
        let mut start = 0i64;
        while start < keys {
            let end = (start + 1000).min(keys);
            let rows: Vec<String> = (start..end)
                .map(|k| format!("({k},{})", initial_value(k)))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO `{t}` (`{k}`, `{v}`) VALUES {}",
                rows.join(",")
            ))
            .await?;
            start = end;
        }
        conn.query_drop(format!(
            "CREATE TRIGGER {} AFTER UPDATE ON `{t}` FOR EACH ROW \
             INSERT INTO {LOG_TABLE} (k, version, v) \
             SELECT NEW.`{k}`, COALESCE(MAX(version), 0) + 1, NEW.`{v}` FROM {LOG_TABLE} \
             WHERE k = NEW.`{k}`",
            self.trigger()
        ))
        .await
    }

    /// Removes the logging trigger.
    pub async fn remove(&self, conn: &mut Conn) -> mysql_async::Result<()> {
        conn.query_drop(format!("DROP TRIGGER IF EXISTS {}", self.trigger()))
            .await
    }

    /// The table's value of every loaded key (as [`db_values`]).
    pub async fn db_values(
        &self,
        conn: &mut Conn,
        keys: u64,
    ) -> mysql_async::Result<Vec<(i64, Option<i64>)>> {
        let (t, k, v) = (&self.name, &self.key, &self.value);
        conn.query(format!(
            "SELECT `{k}`, `{v}` FROM `{t}` WHERE `{k}` >= 0 AND `{k}` < {keys} ORDER BY `{k}`"
        ))
        .await
    }
}
