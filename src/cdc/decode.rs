//! Decoding binlog events into what the consumer acts on: transaction marks for the position
//! tracker and, for rows events of the register table, one [`Change`] per row.
//!
//! MariaDB writes the V1 rows events, MySQL 8 the V2 ones; both decode the same way. Rows events
//! name their table only by id, so the table map event that precedes them in the transaction
//! (kept by the stream) decides whether a row belongs to the register table; rows of any other
//! table (the `commit_log` the trigger writes, anything else) only mark the transaction.
//!
//! MariaDB's own event types (GTID 162, annotate rows 160, binlog checkpoint 161, GTID list 163)
//! are unknown to `mysql_common`; they arrive raw once the consumer announces
//! `@mariadb_slave_capability=4`. A MariaDB GTID event starts a transaction; its body begins with
//! the sequence number (8 bytes, little endian), the domain id (4 bytes) and flags (1 byte).

use super::position::Mark;
use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::Value;

/// MariaDB event type numbers (not in `mysql_common`).
pub mod mariadb {
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const GTID: u8 = 162;
    pub const GTID_LIST: u8 = 163;
}
/// MySQL 8.0.26+ heartbeat (not in `mysql_common`).
const HEARTBEAT_V2: u8 = 0x29;

/// The table whose rows are decoded into changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFilter {
    pub schema: String,
    pub table: String,
}

impl TableFilter {
    pub fn matches(&self, tme: &TableMapEvent<'_>) -> bool {
        tme.database_name() == self.schema.as_str() && tme.table_name() == self.table.as_str()
    }
}

/// What a row change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Update,
    Delete,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }
}

/// One changed row of the register table: its key and the value before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub key: i64,
    /// `v` in the before image (None: no before image, or NULL).
    pub before: Option<i64>,
    /// `v` in the after image (None: a delete, or NULL).
    pub after: Option<i64>,
    /// `version` in the after image.
    pub version: Option<i64>,
}

/// A decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub mark: Mark,
    /// For transaction starts: the GTID, when the server sends one.
    pub gtid: Option<String>,
    /// Changed rows of the register table (rows events of that table only).
    pub changes: Vec<Change>,
}

impl Decoded {
    fn mark(mark: Mark) -> Self {
        Decoded {
            mark,
            gtid: None,
            changes: Vec::new(),
        }
    }
}

/// Decodes `ev`. `tme` looks up a table map by table id (the stream keeps them).
///
/// `checksummed_before_fde`: the event comes before the stream's first format description
/// event, from a server that checksums its binlog. The stream cannot know that yet, so the fake
/// rotate event that opens a stream keeps its 4 checksum bytes at the end of the file name; they
/// are cut off here.
pub fn decode<'t>(
    ev: &Event,
    tme: impl Fn(u64) -> Option<&'t TableMapEvent<'static>>,
    filter: &TableFilter,
    checksummed_before_fde: bool,
) -> Result<Decoded, String> {
    let header = ev.header();
    let raw = header.event_type_raw();
    match raw {
        mariadb::GTID => {
            let d = ev.data();
            if d.len() < 13 {
                return Err(format!("short MariaDB GTID event ({} bytes)", d.len()));
            }
            let seq = u64::from_le_bytes(d[0..8].try_into().expect("8 bytes"));
            let domain = u32::from_le_bytes(d[8..12].try_into().expect("4 bytes"));
            let mut out = Decoded::mark(Mark::Begin);
            out.gtid = Some(format!("{domain}-{}-{seq}", header.server_id()));
            return Ok(out);
        }
        HEARTBEAT_V2 => return Ok(Decoded::mark(Mark::Heartbeat)),
        _ => {}
    }
    let data = ev
        .read_data()
        .map_err(|e| format!("cannot decode event type {raw}: {e}"))?;
    let Some(data) = data else {
        return Ok(Decoded::mark(Mark::Other));
    };
    Ok(match data {
        EventData::RotateEvent(r) => Decoded::mark(Mark::Rotate {
            file: rotate_name(r.name_raw(), checksummed_before_fde),
            pos: r.position(),
        }),
        EventData::GtidEvent(g) => {
            let mut out = Decoded::mark(Mark::Begin);
            out.gtid = Some(format!("{}:{}", uuid(&g.sid()), g.gno()));
            out
        }
        EventData::AnonymousGtidEvent(_) => Decoded::mark(Mark::Begin),
        EventData::QueryEvent(q) => {
            let sql = q.query();
            if sql.trim().eq_ignore_ascii_case("BEGIN") {
                Decoded::mark(Mark::Begin)
            } else {
                // COMMIT, ROLLBACK, or a statement that is a transaction of its own (DDL).
                Decoded::mark(Mark::Commit)
            }
        }
        EventData::XidEvent(_) => Decoded::mark(Mark::Commit),
        EventData::HeartbeatEvent => Decoded::mark(Mark::Heartbeat),
        EventData::TableMapEvent(_) => Decoded::mark(Mark::Data),
        EventData::RowsEvent(re) => {
            let mut out = Decoded::mark(Mark::Data);
            let Some(t) = tme(re.table_id()) else {
                return Err(format!(
                    "rows event for table id {} without a table map",
                    re.table_id()
                ));
            };
            if filter.matches(t) {
                let kind = match &re {
                    RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                        ChangeKind::Insert
                    }
                    RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                        ChangeKind::Delete
                    }
                    _ => ChangeKind::Update,
                };
                for row in re.rows(t) {
                    let (before, after) = row.map_err(|e| format!("cannot decode a row: {e}"))?;
                    out.changes
                        .push(change(kind, before.as_ref(), after.as_ref())?);
                }
            }
            out
        }
        _ => Decoded::mark(Mark::Other),
    })
}

/// A rotate event's file name, without the checksum bytes that precede the first format
/// description event.
pub fn rotate_name(raw: &[u8], checksummed_before_fde: bool) -> String {
    let name = if checksummed_before_fde && raw.len() > 4 {
        &raw[..raw.len() - 4]
    } else {
        raw
    };
    String::from_utf8_lossy(name).into_owned()
}

/// Builds a change from a row's images: the key from the after image or, when that lacks it
/// (`binlog_row_image=MINIMAL`), the before image.
pub fn change(
    kind: ChangeKind,
    before: Option<&BinlogRow>,
    after: Option<&BinlogRow>,
) -> Result<Change, String> {
    let get = |row: Option<&BinlogRow>, name: &str, idx: usize| -> Result<Option<i64>, String> {
        match row {
            Some(r) => column(r, name, idx).map(Option::flatten),
            None => Ok(None),
        }
    };
    let key = match get(after, "k", 0)? {
        Some(k) => k,
        None => get(before, "k", 0)?.ok_or("a register row without its key")?,
    };
    Ok(Change {
        kind,
        key,
        before: get(before, "v", 1)?,
        after: get(after, "v", 1)?,
        version: get(after, "version", 2)?,
    })
}

/// The integer value of column `name` (table position `idx`) in `row`: `Ok(None)` when the image
/// lacks the column, `Ok(Some(None))` for NULL. Columns are named when the server sends full
/// row metadata, else `@<position>`.
fn column(row: &BinlogRow, name: &str, idx: usize) -> Result<Option<Option<i64>>, String> {
    let positional = format!("@{idx}");
    let Some(j) = row
        .columns_ref()
        .iter()
        .position(|c| c.name_str() == name || c.name_str() == positional.as_str())
    else {
        return Ok(None);
    };
    match row.as_ref(j) {
        None | Some(BinlogValue::Value(Value::NULL)) => Ok(Some(None)),
        Some(BinlogValue::Value(Value::Int(i))) => Ok(Some(Some(*i))),
        Some(BinlogValue::Value(Value::UInt(u))) => Ok(Some(Some(*u as i64))),
        Some(v) => Err(format!("column `{name}` is not an integer: {v:?}")),
    }
}

/// A MySQL server UUID in its usual text form.
fn uuid(sid: &[u8; 16]) -> String {
    let h: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::consts::ColumnType;
    use mysql_async::Column;

    fn row(names: &[&str], vals: &[Option<i64>]) -> BinlogRow {
        let cols: Vec<Column> = names
            .iter()
            .map(|n| Column::new(ColumnType::MYSQL_TYPE_LONGLONG).with_name(n.as_bytes()))
            .collect();
        let values = vals
            .iter()
            .map(|v| {
                Some(BinlogValue::Value(match v {
                    Some(i) => Value::Int(*i),
                    None => Value::NULL,
                }))
            })
            .collect();
        BinlogRow::new(values, cols.into())
    }

    #[test]
    fn update_with_positional_columns() {
        let b = row(&["@0", "@1", "@2"], &[Some(7), Some(1003), Some(4)]);
        let a = row(&["@0", "@1", "@2"], &[Some(7), Some(1017), Some(5)]);
        let c = change(ChangeKind::Update, Some(&b), Some(&a)).unwrap();
        assert_eq!(
            c,
            Change {
                kind: ChangeKind::Update,
                key: 7,
                before: Some(1003),
                after: Some(1017),
                version: Some(5)
            }
        );
    }

    #[test]
    fn minimal_after_image_and_named_columns() {
        // binlog_row_image=MINIMAL: the before image has the key only, the after image the
        // changed columns; full metadata names them.
        let b = row(&["k"], &[Some(3)]);
        let a = row(&["v", "version"], &[Some(40), Some(9)]);
        let c = change(ChangeKind::Update, Some(&b), Some(&a)).unwrap();
        assert_eq!(
            (c.key, c.before, c.after, c.version),
            (3, None, Some(40), Some(9))
        );
        let d = change(
            ChangeKind::Delete,
            Some(&row(&["@0", "@1"], &[Some(2), None])),
            None,
        )
        .unwrap();
        assert_eq!((d.key, d.before, d.after), (2, None, None));
        assert!(change(ChangeKind::Delete, Some(&row(&["@1"], &[Some(2)])), None).is_err());
    }

    #[test]
    fn rotate_name_drops_checksum_before_the_format_description() {
        let raw = b"binlog.000001i$~J";
        assert_eq!(rotate_name(raw, true), "binlog.000001");
        assert_eq!(rotate_name(b"binlog.000002", false), "binlog.000002");
    }

    #[test]
    fn uuid_text() {
        let sid = [
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
            0x95, 0x62,
        ];
        assert_eq!(uuid(&sid), "3e11fa47-71ca-11e1-9e33-c80aa9429562");
    }
}
