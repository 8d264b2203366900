//! Binlog positions (file + offset), the transaction-boundary tracker that says where the
//! consumer may safely resume, and the saved position that survives a consumer kill.
//!
//! A position is only worth saving between transactions: resuming in the middle of one would
//! skip its table map events, and the rows events after them could not be decoded. The
//! [`Tracker`] follows the stream's events and moves its boundary only when a transaction ends
//! (XID, `COMMIT`, a DDL statement) or when an event outside any transaction passes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, Mutex};

/// A position in the server's binary log: the file name and the byte offset of the next event.
/// Orders by file name, then offset (binlog files are numbered with a fixed width).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub file: String,
    pub pos: u64,
}

impl Position {
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        Position {
            file: file.into(),
            pos,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// The consumer's saved position: where a restarted consumer resumes (`resume = "saved"`).
///
/// It lives outside the consumer task, so it survives a kill of the task, as Canal's position
/// store (a file or ZooKeeper) survives a crash of the Canal process. It never runs ahead of an
/// invalidation that has not succeeded: while a failed delete waits in the retry queue, the saved
/// position stays at the start of that delete's transaction.
#[derive(Debug, Clone, Default)]
pub struct SavedPosition(Arc<Mutex<Option<Position>>>);

impl SavedPosition {
    pub fn get(&self) -> Option<Position> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, p: Position) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(p);
    }
}

/// What an event means for transaction boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The binlog moved to `file` at `pos` (a rotate event, real or the fake one that opens a
    /// stream).
    Rotate { file: String, pos: u64 },
    /// A transaction starts (a GTID event, `BEGIN`).
    Begin,
    /// Part of a transaction (table map, rows events).
    Data,
    /// A transaction ends (XID, `COMMIT`, a DDL statement).
    Commit,
    /// A heartbeat: says nothing about the stream's position here.
    Heartbeat,
    /// Anything else (format description, checkpoints, GTID lists, unknown types).
    Other,
}

/// Follows a stream's events and keeps the end of the last complete transaction.
#[derive(Debug, Clone)]
pub struct Tracker {
    file: String,
    /// End of the last event read in `file`.
    cur: u64,
    in_txn: bool,
    boundary: Position,
}

impl Tracker {
    /// A tracker for a stream requested at `start` (a transaction boundary).
    pub fn new(start: Position) -> Self {
        Tracker {
            file: start.file.clone(),
            cur: start.pos,
            in_txn: false,
            boundary: start,
        }
    }

    /// Feeds one event: its header's `log_pos` (end of the event in the server's file; 0 for
    /// artificial events) and its mark. Returns true when the boundary moved.
    pub fn observe(&mut self, log_pos: u64, mark: &Mark) -> bool {
        match mark {
            Mark::Rotate { file, pos } => {
                self.file = file.clone();
                self.cur = *pos;
                return self.settle();
            }
            Mark::Heartbeat => return false,
            _ => {}
        }
        // Events inside a compressed transaction payload (MySQL) carry no usable position:
        // positions never go backwards within a file.
        self.cur = self.cur.max(log_pos);
        match mark {
            Mark::Begin | Mark::Data => {
                self.in_txn = true;
                false
            }
            Mark::Commit => {
                self.in_txn = false;
                self.settle()
            }
            _ => self.settle(),
        }
    }

    fn settle(&mut self) -> bool {
        if self.in_txn {
            return false;
        }
        let p = Position::new(self.file.as_str(), self.cur);
        if p == self.boundary {
            return false;
        }
        self.boundary = p;
        true
    }

    /// The end of the last complete transaction: a safe place to resume.
    pub fn boundary(&self) -> &Position {
        &self.boundary
    }

    pub fn in_transaction(&self) -> bool {
        self.in_txn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(f: &str, pos: u64) -> Position {
        Position::new(f, pos)
    }

    #[test]
    fn boundary_moves_only_at_transaction_ends() {
        let mut t = Tracker::new(p("binlog.000001", 400));
        // MariaDB: GTID, table maps, rows, XID.
        assert!(!t.observe(450, &Mark::Begin));
        assert!(!t.observe(500, &Mark::Data));
        assert!(!t.observe(560, &Mark::Data));
        assert!(!t.observe(560, &Mark::Other)); // an annotate event inside the transaction
        assert_eq!(t.boundary(), &p("binlog.000001", 400));
        assert!(t.observe(600, &Mark::Commit));
        assert_eq!(t.boundary(), &p("binlog.000001", 600));
        // A checkpoint outside a transaction moves it too.
        assert!(t.observe(640, &Mark::Other));
        assert_eq!(t.boundary(), &p("binlog.000001", 640));
        // Heartbeats never do.
        assert!(!t.observe(9999, &Mark::Heartbeat));
        assert_eq!(t.boundary(), &p("binlog.000001", 640));
    }

    #[test]
    fn rotate_moves_to_the_next_file_and_ignores_payload_positions() {
        let mut t = Tracker::new(p("binlog.000001", 400));
        assert!(t.observe(
            0,
            &Mark::Rotate {
                file: "binlog.000002".into(),
                pos: 4
            }
        ));
        assert_eq!(t.boundary(), &p("binlog.000002", 4));
        assert!(!t.observe(0, &Mark::Other)); // artificial format description: no position
        assert_eq!(t.boundary(), &p("binlog.000002", 4));
        t.observe(300, &Mark::Begin);
        t.observe(900, &Mark::Other); // a compressed payload event
        t.observe(12, &Mark::Data); // events inside the payload
        assert!(t.observe(0, &Mark::Commit));
        assert_eq!(t.boundary(), &p("binlog.000002", 900));
        assert!(p("binlog.000002", 4) > p("binlog.000001", 99999));
    }
}
