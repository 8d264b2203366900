//! The per-client context every strategy receives: the client's process id, its connections
//! per role (which carry the run's injected faults, see [`crate::injected`]), the TTL of cache
//! entries, and the recorder for the strategy's internal steps.
//!
//! It sits below the strategies and knows nothing of the loop that drives them
//! ([`crate::driver`]).

use crate::conn::{Conns, DbConn, StepError};
use crate::history::recorder::Recorder;
use crate::history::EventType;
use crate::history::Source;

/// One client's context: its process id, its connections per role, and the recorder.
pub struct Session {
    pub process: i64,
    pub conns: Conns,
    pub ttl_ms: u64,
    rec: Recorder,
    trace: bool,
    /// The `db-replica` connection, when the strategy fills from a replica.
    replica: Option<DbConn>,
}

impl Session {
    pub fn new(process: i64, conns: Conns, rec: Recorder, ttl_ms: u64, trace: bool) -> Self {
        Session {
            process,
            conns,
            ttl_ms,
            rec,
            trace,
            replica: None,
        }
    }

    /// Reads after a miss go to this replica connection (given when the strategy's
    /// `fill_from` is `replica`).
    pub fn with_replica(mut self, replica: Option<DbConn>) -> Self {
        self.replica = replica;
        self
    }

    /// The connection for a read after a miss, and the source the read records: the primary
    /// (`db`), or the client's replica (`db-replica`) when the strategy's `fill_from` is
    /// `replica`. The one place every cache-aside read chooses its database.
    pub fn miss_conn(&mut self) -> (&mut DbConn, Source) {
        match self.replica.as_mut() {
            Some(r) => (r, Source::Replica),
            None => (&mut self.conns.db, Source::Db),
        }
    }

    /// Reads `key` for a miss (see [`Session::miss_conn`]): the value and where it came from.
    pub async fn read_miss(&mut self, key: i64) -> Result<(Option<i64>, Source), StepError> {
        let (db, source) = self.miss_conn();
        Ok((db.read(key).await?, source))
    }

    /// The primary connection always (writers, and reads that must see the latest commit).
    pub fn primary(&mut self) -> &mut DbConn {
        &mut self.conns.db
    }

    /// Whether reads after a miss go to a replica.
    pub fn fills_from_replica(&self) -> bool {
        self.replica.is_some()
    }

    pub fn recorder(&self) -> &Recorder {
        &self.rec
    }

    /// Records an internal step of the strategy (if the workload traces steps).
    pub fn step(
        &self,
        f: &str,
        kind: EventType,
        key: i64,
        value: Option<i64>,
        detail: Option<serde_json::Value>,
    ) {
        if self.trace {
            self.rec
                .internal(self.process, f, kind, Some(key), value, detail);
        }
    }

    /// Writes the register in the database (the `db` role) and records the commit with its
    /// version; returns the version.
    pub async fn write_db(&mut self, key: i64, value: i64) -> Result<i64, crate::conn::StepError> {
        let version = self.conns.db.write(key, value).await?;
        self.commit_step(key, value, version);
        Ok(version)
    }

    /// Records a database commit with its version.
    pub fn commit_step(&self, key: i64, value: i64, version: i64) {
        self.step(
            "db-commit",
            EventType::Ok,
            key,
            Some(value),
            Some(serde_json::json!({ "version": version })),
        );
    }

    /// Records the outcome of an internal step (when tracing is on): ok, or fail/info with the
    /// error in `detail.error`.
    pub fn trace<T>(&self, f: &str, key: i64, value: Option<i64>, r: &Result<T, StepError>) {
        match r {
            Ok(_) => self.step(f, EventType::Ok, key, value, None),
            Err(e) => self.step(
                f,
                e.completion().into(),
                key,
                value,
                Some(serde_json::json!({ "error": e.msg() })),
            ),
        }
    }

    /// Like [`Session::trace`], with a `detail` object (the error, if any, is added to it).
    pub fn trace_detail<T>(
        &self,
        f: &str,
        key: i64,
        value: Option<i64>,
        detail: serde_json::Value,
        r: &Result<T, StepError>,
    ) {
        let (kind, detail) = outcome_detail(detail, r);
        self.step(f, kind, key, value, Some(detail));
    }

    /// Records a fill with `window_ns`: from the start of the database read to the fill's
    /// acknowledgement, the window in which a writer's delete can be overtaken by this stale
    /// fill (what a double delete's delay must outwait; `cachecheck tune-delay` reads it).
    pub fn trace_fill(
        &self,
        k: i64,
        v: i64,
        db_read_start: std::time::Instant,
        r: &Result<(), StepError>,
    ) {
        let window = db_read_start.elapsed().as_nanos() as u64;
        self.trace_detail(
            "cache-fill",
            k,
            Some(v),
            serde_json::json!({ "window_ns": window }),
            r,
        );
    }
}

/// The event type of a step's result, and `detail` with the error added.
pub fn outcome_detail<T>(
    mut detail: serde_json::Value,
    r: &Result<T, StepError>,
) -> (EventType, serde_json::Value) {
    let kind = match r {
        Ok(_) => EventType::Ok,
        Err(e) => e.completion().into(),
    };
    if let Err(e) = r {
        if let Some(o) = detail.as_object_mut() {
            o.insert("error".into(), e.msg().into());
        } else {
            detail = serde_json::json!({ "error": e.msg() });
        }
    }
    (kind, detail)
}
