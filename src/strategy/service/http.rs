//! The HTTP side of the contract: one keep-alive pool for every client, and the mapping of
//! answers to outcomes.
//!
//! * `GET /kv/{key}` → `200` with `{"value": <int or null>, "source": "cache"|"db"}` is ok
//!   (a read without `source` counts as `db`); anything else fails the read (a read changes
//!   nothing).
//! * `PUT /kv/{key}` with `{"value": <int>}` → `200`/`204` ok; `409`/`422` fail (the service
//!   says it certainly did not apply the write); any other status, a reset connection or no
//!   answer within `op_timeout_ms`: info. A connection that could not be opened sent nothing:
//!   fail.

use super::super::{Outcome, ReadValue};
use crate::conn::StepError;
use crate::history::Source;
use std::time::Duration;

/// The client pool: keep-alive connections reused by every client, no proxy from the
/// environment, answers awaited up to `op_timeout`.
pub fn client(op_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(op_timeout)
        .timeout(op_timeout)
        .build()?)
}

/// An error on one line, with its causes.
pub fn one_line(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s.replace('\n', " ")
}

/// `GET url`.
pub async fn read(http: &reqwest::Client, url: &str) -> Outcome<ReadValue> {
    let r = http
        .get(url)
        .send()
        .await
        .map_err(|e| StepError::Fail(format!("service: {}", one_line(&e))))?;
    let status = r.status().as_u16();
    let body = r
        .bytes()
        .await
        .map_err(|e| StepError::Fail(format!("service: {}", one_line(&e))))?;
    if status != 200 {
        return Err(StepError::Fail(format!(
            "service answered the read with {status}"
        )));
    }
    parse_read(&body)
}

/// The body of a `200` read.
pub fn parse_read(body: &[u8]) -> Outcome<ReadValue> {
    let bad = || {
        StepError::Fail(format!(
            "service answered the read with `{}`, not {{\"value\": <int or null>}}",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        ))
    };
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let value = match v.get("value") {
        Some(serde_json::Value::Null) => None,
        Some(n) => Some(n.as_i64().ok_or_else(bad)?),
        None => return Err(bad()),
    };
    let source = match v.get("source").and_then(|s| s.as_str()) {
        Some("cache") => Source::Cache,
        _ => Source::Db,
    };
    Ok(ReadValue { value, source })
}

/// `PUT url` with `{"value": value}`.
pub async fn write(http: &reqwest::Client, url: &str, value: i64) -> Outcome<()> {
    let r = http
        .put(url)
        .header("content-type", "application/json")
        .body(format!("{{\"value\":{value}}}"))
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read the body so that the connection goes back to the pool.
            let _ = r.bytes().await;
            write_outcome(status)
        }
        Err(e) if e.is_connect() => Err(StepError::Fail(format!(
            "service: cannot connect: {}",
            one_line(&e)
        ))),
        Err(e) => Err(StepError::Info(format!("service: {}", one_line(&e)))),
    }
}

/// The outcome of a write answered with `status`.
pub fn write_outcome(status: u16) -> Outcome<()> {
    match status {
        200 | 204 => Ok(()),
        409 | 422 => Err(StepError::Fail(format!(
            "service refused the write ({status}): not applied"
        ))),
        s => Err(StepError::Info(format!(
            "service answered the write with {s}: outcome unknown"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_statuses_map_to_outcomes() {
        assert_eq!(write_outcome(200), Ok(()));
        assert_eq!(write_outcome(204), Ok(()));
        assert!(matches!(write_outcome(409), Err(StepError::Fail(_))));
        assert!(matches!(write_outcome(422), Err(StepError::Fail(_))));
        assert!(matches!(write_outcome(500), Err(StepError::Info(_))));
        assert!(matches!(write_outcome(201), Err(StepError::Info(_))));
    }

    #[test]
    fn read_bodies_are_parsed() {
        let r = parse_read(br#"{"value": 5, "source": "cache"}"#).unwrap();
        assert_eq!((r.value, r.source), (Some(5), Source::Cache));
        let r = parse_read(br#"{"value": null}"#).unwrap();
        assert_eq!((r.value, r.source), (None, Source::Db));
        assert!(parse_read(br#"{"v": 5}"#).is_err());
        assert!(parse_read(br#"{"value": "5"}"#).is_err());
        assert!(parse_read(b"oops").is_err());
    }
}
