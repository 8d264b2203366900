//! Reading and writing a run directory's three files: `history.jsonl`, `commits.jsonl`,
//! `final.jsonl`. Every error names the file and the line.

use super::{Commit, EventType, FinalState, Source};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const HISTORY_FILE: &str = "history.jsonl";
pub const COMMITS_FILE: &str = "commits.jsonl";
pub const FINAL_FILE: &str = "final.jsonl";
/// Written while a run goes (the data loaded before it); replaced by `commits.jsonl` at the end.
/// Left behind only by a run that died: `check` then rebuilds the ground truth from it and the
/// history's `db-commit` events.
pub const PARTIAL_COMMITS_FILE: &str = "commits.jsonl.partial";

/// A file that cannot be read, or a line in it that is not what the format says.
#[derive(Debug, thiserror::Error)]
pub struct FileError {
    pub file: PathBuf,
    /// 1-based line number; 0 when the error is about the whole file.
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.msg)
        } else {
            write!(
                f,
                "{} line {}: {}",
                self.file.display(),
                self.line,
                self.msg
            )
        }
    }
}

impl FileError {
    fn new(file: &Path, line: usize, msg: impl Into<String>) -> Self {
        FileError {
            file: file.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }
}

/// One event as the checker needs it, borrowed from the line where possible. Fields the
/// checker does not use (`error`, `detail`, extras) are skipped.
#[derive(Debug, Deserialize)]
pub struct EventRef<'a> {
    pub time: u64,
    pub process: i64,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(borrow)]
    pub f: Cow<'a, str>,
    #[serde(default)]
    pub key: Option<i64>,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub source: Option<Source>,
}

/// What reading a history found besides its events.
#[derive(Debug, Default, Clone)]
pub struct ReadStats {
    /// Lines read (events passed on).
    pub events: u64,
    /// The last line was cut short (the writer died mid-line): it is reported and skipped.
    pub torn_last_line: Option<usize>,
}

/// Calls `f(index, event)` for every event of `path` in file order (`index` is 0-based, the
/// line number minus one). A malformed line is an error naming the line, except a torn last
/// line (no newline at the end of the file), which is skipped and reported in [`ReadStats`].
pub fn for_each_event<F>(path: &Path, mut f: F) -> Result<ReadStats, FileError>
where
    F: FnMut(usize, EventRef<'_>) -> Result<(), String>,
{
    for_each_event_with_line(path, |i, ev, _| f(i, ev))
}

/// [`for_each_event`], also passing each event's line (without its newline), for callers that
/// need a field the checker skips (`detail`, `error`) of a few events, in the same pass.
pub fn for_each_event_with_line<F>(path: &Path, mut f: F) -> Result<ReadStats, FileError>
where
    F: FnMut(usize, EventRef<'_>, &[u8]) -> Result<(), String>,
{
    let mut file = std::fs::File::open(path)
        .map_err(|e| FileError::new(path, 0, format!("cannot open: {e}")))?;
    // Lines are parsed in place in a large block (no copy per line); a partial line at the end
    // of a block moves to the front and the block is refilled behind it.
    let mut buf = vec![0u8; 1 << 17];
    let mut filled = 0usize;
    let mut stats = ReadStats::default();
    let mut idx = 0usize;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the block
        }
        let n = file
            .read(&mut buf[filled..])
            .map_err(|e| FileError::new(path, idx + 1, format!("cannot read: {e}")))?;
        let eof = n == 0;
        filled += n;
        let mut start = 0usize;
        loop {
            let rest = &buf[start..filled];
            // The fast path: a canonical line right up to its newline.
            if let Some((ev, used)) = parse_canonical_prefix(rest) {
                if rest.get(used) == Some(&b'\n') {
                    f(idx, ev, &rest[..used]).map_err(|m| FileError::new(path, idx + 1, m))?;
                    stats.events += 1;
                    start += used + 1;
                    idx += 1;
                    continue;
                }
            }
            let Some(nl) = memchr_newline(rest) else {
                break;
            };
            let line = &rest[..nl];
            start += nl + 1;
            take_line(path, line, true, idx, &mut f, &mut stats)?;
            idx += 1;
        }
        if eof {
            if start < filled {
                let line = &buf[start..filled];
                if !take_line(path, line, false, idx, &mut f, &mut stats)? {
                    stats.torn_last_line = Some(idx + 1);
                }
            }
            return Ok(stats);
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

fn memchr_newline(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

/// Parses one line and passes it on. Returns false for an unparsable last line without a
/// newline (torn: the caller reports it); errs on any other unparsable line.
fn take_line<F>(
    path: &Path,
    line: &[u8],
    complete: bool,
    idx: usize,
    f: &mut F,
    stats: &mut ReadStats,
) -> Result<bool, FileError>
where
    F: FnMut(usize, EventRef<'_>, &[u8]) -> Result<(), String>,
{
    let text = trim_line(line);
    if text.is_empty() {
        return Ok(true);
    }
    let parsed = match parse_canonical(text) {
        Some(ev) => Ok(ev),
        None => serde_json::from_slice::<EventRef>(text),
    };
    match parsed {
        Ok(ev) => {
            f(idx, ev, text).map_err(|m| FileError::new(path, idx + 1, m))?;
            stats.events += 1;
            Ok(true)
        }
        Err(_) if !complete => Ok(false),
        Err(e) => Err(FileError::new(
            path,
            idx + 1,
            format!("not a history event ({e}); see the README's history format"),
        )),
    }
}

/// The fast path for lines in the recorder's own layout ([`super::Event::write_json`]):
/// `{"time":N,"process":N,"type":"T","f":"F","key":N|null,"value":N|null}`, optionally with
/// `"source"` before the closing brace. Anything else (other field orders, whitespace, escapes,
/// `error` or `detail` fields, unusual numbers) returns `None` and goes to serde, so the result
/// is always what serde would give. About three times faster than serde on a typical line.
fn parse_canonical(line: &[u8]) -> Option<EventRef<'_>> {
    parse_canonical_prefix(line).and_then(|(ev, used)| (used == line.len()).then_some(ev))
}

/// [`parse_canonical`] of the start of `s`: the event and the bytes it took.
#[inline]
fn parse_canonical_prefix(s: &[u8]) -> Option<(EventRef<'_>, usize)> {
    let mut c = Cursor { s, i: 0 };
    c.eat(b"{\"time\":")?;
    let time = c.uint()?;
    c.eat(b",\"process\":")?;
    let process = c.int()?;
    c.eat(b",\"type\":\"")?;
    let kind = match c.plain_str()? {
        b"invoke" => EventType::Invoke,
        b"ok" => EventType::Ok,
        b"fail" => EventType::Fail,
        b"info" => EventType::Info,
        _ => return None,
    };
    c.eat(b",\"f\":\"")?;
    let f = std::str::from_utf8(c.plain_str()?).ok()?;
    c.eat(b",\"key\":")?;
    let key = c.opt_int()?;
    c.eat(b",\"value\":")?;
    let value = c.opt_int()?;
    let source = if c.eat(b",\"source\":\"").is_some() {
        match c.plain_str()? {
            b"cache" => Some(Source::Cache),
            b"db" => Some(Source::Db),
            _ => return None,
        }
    } else {
        None
    };
    c.eat(b"}")?;
    let ev = EventRef {
        time,
        process,
        kind,
        f: Cow::Borrowed(f),
        key,
        value,
        source,
    };
    Some((ev, c.i))
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn eat<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        if self.s[self.i..].first_chunk::<N>() == Some(lit) {
            self.i += N;
            Some(())
        } else {
            None
        }
    }

    /// Digits without a leading zero (JSON's rule), no overflow.
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let s = &self.s[self.i..];
        let mut n: u64 = 0;
        let mut k = 0;
        // 19 digits never overflow a u64; a 20th is checked.
        while k < s.len() && k < 19 {
            let d = s[k].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n * 10 + u64::from(d);
            k += 1;
        }
        if k == 19 {
            if let Some(d) = s.get(19).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9) {
                n = n.checked_mul(10)?.checked_add(u64::from(d))?;
                k = 20;
                if s.get(20).is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
        }
        if k == 0 || (k > 1 && s[0] == b'0') {
            return None;
        }
        self.i += k;
        Some(n)
    }

    fn int(&mut self) -> Option<i64> {
        let neg = self.eat(b"-").is_some();
        let n = i64::try_from(self.uint()?).ok()?;
        if neg {
            (n != 0).then_some(-n) // "-0": leave to serde
        } else {
            Some(n)
        }
    }

    fn opt_int(&mut self) -> Option<Option<i64>> {
        if self.eat(b"null").is_some() {
            Some(None)
        } else {
            self.int().map(Some)
        }
    }

    /// The rest of a string whose opening quote was eaten, if it has no escapes or control
    /// characters; eats the closing quote.
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        let rest = &self.s[self.i..];
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        self.i += len + 1;
        Some(&rest[..len])
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}

/// Reads a JSONL file of `T`, naming the line of the first bad record.
fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<Vec<T>, FileError> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| FileError::new(path, 0, format!("cannot read: {e}")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let rec = serde_json::from_str(line)
            .map_err(|e| FileError::new(path, i + 1, format!("not a {what} record ({e})")))?;
        out.push(rec);
    }
    Ok(out)
}

/// Reads `commits.jsonl`.
pub fn read_commits(path: &Path) -> Result<Vec<Commit>, FileError> {
    read_jsonl(path, "commit")
}

/// Reads `final.jsonl`.
pub fn read_final(path: &Path) -> Result<Vec<FinalState>, FileError> {
    read_jsonl(path, "final-state")
}

/// Writes records as JSON lines into a new file (it must not exist yet).
pub fn write_jsonl<T: serde::Serialize>(path: &Path, records: &[T]) -> std::io::Result<()> {
    let file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut w = std::io::BufWriter::new(file);
    for r in records {
        serde_json::to_writer(&mut w, r)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    w.get_ref().sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(HISTORY_FILE);
        std::fs::write(
            &p,
            "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null}\n{\"time\":2,\"proc",
        )
        .unwrap();
        let mut n = 0;
        let st = for_each_event(&p, |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(st.torn_last_line, Some(2));
    }

    #[test]
    fn the_fast_path_agrees_with_serde() {
        let lines: &[&str] = &[
            r#"{"time":1204000000,"process":3,"type":"ok","f":"read","key":7,"value":1017,"source":"cache"}"#,
            r#"{"time":0,"process":-1,"type":"info","f":"fault","key":null,"value":null}"#,
            r#"{"time":18446744073709551615,"process":-9223372036854775807,"type":"invoke","f":"write","key":-5,"value":9223372036854775807}"#,
            r#"{"time":5,"process":0,"type":"fail","f":"cache-del","key":1,"value":null,"source":"db"}"#,
            r#"{"time":5,"process":0,"type":"ok","f":"réad","key":1,"value":2}"#,
        ];
        for l in lines {
            let fast = parse_canonical(l.as_bytes()).unwrap_or_else(|| panic!("not fast: {l}"));
            let slow: EventRef = serde_json::from_str(l).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{l}");
        }
        // Left to serde: other layouts, extra fields, escapes, odd numbers, trailing bytes.
        let others: &[&str] = &[
            r#"{"process":3,"time":1,"type":"ok","f":"read","key":7,"value":1}"#,
            r#"{"time":1, "process":3,"type":"ok","f":"read","key":7,"value":1}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"read","key":7,"value":1,"error":"x"}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"re"ad","key":7,"value":1}"#,
            r#"{"time":01,"process":3,"type":"ok","f":"read","key":7,"value":1}"#,
            r#"{"time":1,"process":-0,"type":"ok","f":"read","key":7,"value":1}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"read","key":7,"value":1.5}"#,
            r#"{"time":18446744073709551616,"process":3,"type":"ok","f":"read","key":7,"value":1}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"read","key":7,"value":9223372036854775808}"#,
            r#"{"time":1,"process":3,"type":"OK","f":"read","key":7,"value":1}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"read","key":7,"value":1,"source":"disk"}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"read","key":7,"value":1}}"#,
            r#"{"time":1,"process":3,"type":"ok","f":"read","key":7,"value":1"#,
        ];
        for l in others {
            assert!(parse_canonical(l.as_bytes()).is_none(), "fast: {l}");
        }
    }

    #[test]
    fn bad_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(HISTORY_FILE);
        std::fs::write(&p, "{\"time\":1}\n{}\n").unwrap();
        let err = for_each_event(&p, |_, _| Ok(())).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.to_string().contains("history.jsonl line 1"), "{err}");
    }
}
