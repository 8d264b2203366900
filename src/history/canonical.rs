//! Fast paths for the lines cachecheck writes itself: the three files' records in their
//! writers' own layout, parsed without serde. Anything else (other field orders, whitespace,
//! escapes, extra fields, unusual numbers) returns `None` and goes to serde, so the result is
//! always what serde would give. About three times faster than serde on a typical line.

use super::{Commit, EventType, FinalState, Source};
use serde::Deserialize;
use std::borrow::Cow;

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

/// An event line in the recorder's layout ([`super::Event::write_json`]):
/// `{"time":N,"process":N,"type":"T","f":"F","key":N|null,"value":N|null}`, optionally with
/// `"source"` before the closing brace; the whole line.
pub fn event(line: &[u8]) -> Option<EventRef<'_>> {
    event_prefix(line).and_then(|(ev, used)| (used == line.len()).then_some(ev))
}

/// [`event`] of the start of `s`: the event and the bytes it took.
#[inline]
pub fn event_prefix(s: &[u8]) -> Option<(EventRef<'_>, usize)> {
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
    let f = match c.plain_str()? {
        b"read" => "read",
        b"write" => "write",
        other => std::str::from_utf8(other).ok()?,
    };
    c.eat(b",\"key\":")?;
    let key = c.opt_int()?;
    c.eat(b",\"value\":")?;
    let value = c.opt_int()?;
    let source = if c.eat(b",\"source\":\"").is_some() {
        match c.plain_str()? {
            b"cache" => Some(Source::Cache),
            b"db" => Some(Source::Db),
            b"replica" => Some(Source::Replica),
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

/// A commit line as `write_jsonl` writes it: `{"key":N,"version":N,"value":N}`, optionally
/// with `,"initial":true` before the closing brace.
pub fn commit(line: &[u8]) -> Option<Commit> {
    let mut c = Cursor { s: line, i: 0 };
    c.eat(b"{\"key\":")?;
    let key = c.int()?;
    c.eat(b",\"version\":")?;
    let version = c.int()?;
    c.eat(b",\"value\":")?;
    let value = c.int()?;
    let initial = c.eat(b",\"initial\":true").is_some();
    c.eat(b"}")?;
    (c.i == line.len()).then_some(Commit {
        key,
        version,
        value,
        initial,
    })
}

/// A final-state line as `write_jsonl` writes it: `{"key":N,"db":N|null,"cache":N|null}`,
/// optionally with `,"cache_ttl_ms":N` before the closing brace.
pub fn final_state(line: &[u8]) -> Option<FinalState> {
    let mut c = Cursor { s: line, i: 0 };
    c.eat(b"{\"key\":")?;
    let key = c.int()?;
    c.eat(b",\"db\":")?;
    let db = c.opt_int()?;
    c.eat(b",\"cache\":")?;
    let cache = c.opt_int()?;
    let cache_ttl_ms = if c.eat(b",\"cache_ttl_ms\":").is_some() {
        Some(c.int()?)
    } else {
        None
    };
    c.eat(b"}")?;
    (c.i == line.len()).then_some(FinalState {
        key,
        db,
        cache,
        cache_ttl_ms,
    })
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn eat<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        if self.s[self.i..].first_chunk::<N>() == Some(lit) {
            self.i += N;
            Some(())
        } else {
            None
        }
    }

    /// Digits without a leading zero (JSON's rule), no overflow.
    #[inline(always)]
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

    #[inline(always)]
    fn int(&mut self) -> Option<i64> {
        let neg = self.eat(b"-").is_some();
        let n = i64::try_from(self.uint()?).ok()?;
        if neg {
            (n != 0).then_some(-n) // "-0": leave to serde
        } else {
            Some(n)
        }
    }

    #[inline(always)]
    fn opt_int(&mut self) -> Option<Option<i64>> {
        if self.eat(b"null").is_some() {
            Some(None)
        } else {
            self.int().map(Some)
        }
    }

    /// The rest of a string whose opening quote was eaten, if it has no escapes or control
    /// characters; eats the closing quote.
    #[inline(always)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_fast_path_agrees_with_serde() {
        let lines: &[&str] = &[
            r#"{"time":1204000000,"process":3,"type":"ok","f":"read","key":7,"value":1017,"source":"cache"}"#,
            r#"{"time":0,"process":-1,"type":"info","f":"fault","key":null,"value":null}"#,
            r#"{"time":18446744073709551615,"process":-9223372036854775807,"type":"invoke","f":"write","key":-5,"value":9223372036854775807}"#,
            r#"{"time":5,"process":0,"type":"fail","f":"cache-del","key":1,"value":null,"source":"db"}"#,
            r#"{"time":5,"process":0,"type":"ok","f":"réad","key":1,"value":2}"#,
        ];
        for l in lines {
            let fast = event(l.as_bytes()).unwrap_or_else(|| panic!("not fast: {l}"));
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
            assert!(event(l.as_bytes()).is_none(), "fast: {l}");
        }
    }

    #[test]
    fn the_commit_and_final_fast_paths_agree_with_serde() {
        for l in [
            r#"{"key":7,"version":1,"value":7,"initial":true}"#,
            r#"{"key":-7,"version":12,"value":-9223372036854775807}"#,
        ] {
            let slow: Commit = serde_json::from_str(l).unwrap();
            assert_eq!(commit(l.as_bytes()), Some(slow), "{l}");
        }
        for l in [
            r#"{"key":7,"db":1017,"cache":null}"#,
            r#"{"key":7,"db":null,"cache":1009,"cache_ttl_ms":-1}"#,
        ] {
            let slow: FinalState = serde_json::from_str(l).unwrap();
            assert_eq!(final_state(l.as_bytes()), Some(slow), "{l}");
        }
        for l in [
            r#"{"key":7,"version":1,"value":7,"initial":false}"#,
            r#"{"key":7,"version":1,"value":7,"note":"x"}"#,
            r#"{"version":1,"key":7,"value":7}"#,
            r#"{"key":7,"version":1,"value":7} "#,
        ] {
            assert!(commit(l.as_bytes()).is_none(), "fast: {l}");
        }
        for l in [
            r#"{"key":7,"db":1,"cache":2,"extra":1}"#,
            r#"{"key":7,"cache":2,"db":1}"#,
        ] {
            assert!(final_state(l.as_bytes()).is_none(), "fast: {l}");
        }
    }
}
