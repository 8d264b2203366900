//! What the consumer asks the server outside the stream: whether it writes a row binlog, and
//! where the binlog ends now.

use super::position::Position;
use mysql_async::prelude::Queryable;

/// Why the binlog cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinlogError {
    /// The server answers but cannot serve a row binlog: a setup error.
    #[error("{0}")]
    Unusable(String),
    /// A connection or query failed: try again later.
    #[error("{0}")]
    Unreachable(String),
}

/// Checks that the server writes a row-format binlog.
pub async fn check_server(conn: &mut mysql_async::Conn) -> Result<(), BinlogError> {
    let unreachable = |e: mysql_async::Error| BinlogError::Unreachable(format!("db: {e}"));
    let on: Option<i64> = conn
        .query_first("SELECT @@GLOBAL.log_bin")
        .await
        .map_err(unreachable)?;
    if on != Some(1) {
        return Err(BinlogError::Unusable(
            "binary logging is off on the database (fix: start it with --log-bin \
             --binlog-format=ROW --server-id=1)"
                .into(),
        ));
    }
    let fmt: Option<String> = conn
        .query_first("SELECT @@GLOBAL.binlog_format")
        .await
        .map_err(unreachable)?;
    if !fmt
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("ROW"))
    {
        return Err(BinlogError::Unusable(format!(
            "the database's binlog_format is {} (fix: --binlog-format=ROW)",
            fmt.unwrap_or_default()
        )));
    }
    Ok(())
}

/// The binlog's current end: `SHOW MASTER STATUS` (MariaDB, MySQL before 8.4), or its newer
/// names `SHOW BINARY LOG STATUS` (MySQL 8.2+) and `SHOW BINLOG STATUS` (MariaDB 10.5.2+).
pub async fn binlog_end(conn: &mut mysql_async::Conn) -> Result<Position, BinlogError> {
    let mut last = String::new();
    for q in [
        "SHOW MASTER STATUS",
        "SHOW BINARY LOG STATUS",
        "SHOW BINLOG STATUS",
    ] {
        match conn.query_first::<mysql_async::Row, _>(q).await {
            Ok(Some(row)) => {
                let file: Option<String> = row.get(0);
                let pos: Option<u64> = row.get(1);
                return match (file, pos) {
                    (Some(f), Some(p)) => Ok(Position::new(f, p)),
                    _ => Err(BinlogError::Unusable(format!(
                        "`{q}` returned no file and position"
                    ))),
                };
            }
            Ok(None) => {
                return Err(BinlogError::Unusable(
                    "the database has no binary log (fix: start it with --log-bin \
                     --binlog-format=ROW --server-id=1)"
                        .into(),
                ))
            }
            Err(mysql_async::Error::Server(e)) => last = e.to_string(),
            Err(e) => return Err(BinlogError::Unreachable(format!("db: {e}"))),
        }
    }
    Err(BinlogError::Unusable(format!(
        "cannot read the binlog position: {last}"
    )))
}
