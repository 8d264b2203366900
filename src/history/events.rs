//! Reading a history's events, in file order: on one thread ([`for_each_event`]), or with
//! blocks of the file parsed on worker threads while the caller consumes them in order
//! ([`for_each_event_par`]); both give the same events, line numbers, errors and
//! [`ReadStats`]. Files are opened with [`open_history`], so `.jsonl.zst` reads like `.jsonl`.

use super::canonical;
pub use super::canonical::EventRef;
use super::files::{open_history, read_full, trim_line, FileError, HistoryReader};
use super::{EventType, Source};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;

/// What reading a history found besides its events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read (events passed on).
    pub events: u64,
    /// The last line was cut short (the writer died mid-line): it is reported and skipped.
    pub torn_last_line: Option<usize>,
    /// A compressed history ended mid-stream (the writer was killed): everything up to its
    /// last flush was read.
    pub truncated_stream: bool,
}

fn not_an_event(path: &Path, idx: usize, e: &serde_json::Error) -> FileError {
    FileError::new(
        path,
        idx + 1,
        format!("not a history event ({e}); see the README's history format"),
    )
}

/// Parses one line that the fast path did not take: `Ok(None)` for an empty line.
fn parse_slow(text: &[u8]) -> Result<Option<EventRef<'_>>, serde_json::Error> {
    if text.is_empty() {
        return Ok(None);
    }
    match canonical::event(text) {
        Some(ev) => Ok(Some(ev)),
        None => serde_json::from_slice::<EventRef>(text).map(Some),
    }
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
    let mut file = open_history(path)?;
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
            if let Some((ev, used)) = canonical::event_prefix(rest) {
                if rest.get(used) == Some(&b'\n') {
                    f(idx, ev, &rest[..used]).map_err(|m| FileError::new(path, idx + 1, m))?;
                    stats.events += 1;
                    start += used + 1;
                    idx += 1;
                    continue;
                }
            }
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                break;
            };
            let text = trim_line(&rest[..nl]);
            start += nl + 1;
            match parse_slow(text) {
                Ok(Some(ev)) => {
                    f(idx, ev, text).map_err(|m| FileError::new(path, idx + 1, m))?;
                    stats.events += 1;
                }
                Ok(None) => {}
                Err(e) => return Err(not_an_event(path, idx, &e)),
            }
            idx += 1;
        }
        if eof {
            if start < filled {
                let text = trim_line(&buf[start..filled]);
                match parse_slow(text) {
                    Ok(Some(ev)) => {
                        f(idx, ev, text).map_err(|m| FileError::new(path, idx + 1, m))?;
                        stats.events += 1;
                    }
                    Ok(None) => {}
                    Err(_) => stats.torn_last_line = Some(idx + 1),
                }
            }
            stats.truncated_stream = file.truncated();
            return Ok(stats);
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// Bytes per block handed to a worker (cut at a newline).
const BLOCK: usize = 1 << 20;
/// Blocks read ahead of the consumer at most (bounds the memory: about 2 MiB each, parsed).
const IN_FLIGHT: usize = 4;

/// One event parsed by a worker; `f` is a range of its block's `names`.
#[derive(Clone, Copy)]
struct Slot {
    time: u64,
    process: i64,
    key: Option<i64>,
    value: Option<i64>,
    line: u32,
    f_start: u32,
    f_len: u32,
    kind: EventType,
    source: Option<Source>,
}

/// A block of lines, parsed.
#[derive(Default)]
struct Parsed {
    slots: Vec<Slot>,
    names: String,
    /// Lines in the block (events, empty lines, and the bad line if any).
    lines: usize,
    /// The first bad line (block-local index) and what is wrong; events after it are dropped.
    error: Option<(usize, String)>,
    /// The block's last line had no newline (the end of the file) and did not parse.
    torn: Option<usize>,
}

/// The file, cut into blocks at newlines, shared by the workers.
struct Cutter {
    reader: HistoryReader,
    carry: Vec<u8>,
    seq: u64,
    done: bool,
}

impl Cutter {
    /// The next block: its sequence number, its bytes (whole lines; the last block may end
    /// without a newline), and whether it is the last.
    fn next(&mut self) -> Option<(u64, std::io::Result<Vec<u8>>, bool)> {
        if self.done {
            return None;
        }
        let seq = self.seq;
        self.seq += 1;
        let mut buf = std::mem::take(&mut self.carry);
        loop {
            let filled = buf.len();
            // A line longer than a block grows the block.
            let target = if filled < BLOCK { BLOCK } else { filled * 2 };
            buf.resize(target, 0);
            let n = match read_full(&mut self.reader, &mut buf[filled..]) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some((seq, Err(e), true));
                }
            };
            buf.truncate(filled + n);
            if filled + n < target {
                self.done = true; // the end of the file
                return Some((seq, Ok(buf), true));
            }
            if let Some(nl) = memchr::memrchr(b'\n', &buf) {
                self.carry = buf[nl + 1..].to_vec();
                buf.truncate(nl + 1);
                return Some((seq, Ok(buf), false));
            }
        }
    }
}

/// Parses a block of whole lines; `last`: the block ends the file (its last line may lack a
/// newline and is then torn if it does not parse).
fn parse_block(bytes: &[u8], last: bool) -> Parsed {
    let mut p = Parsed {
        slots: Vec::with_capacity(bytes.len() / 80),
        ..Parsed::default()
    };
    let mut start = 0usize;
    let mut local = 0usize;
    while start < bytes.len() {
        let rest = &bytes[start..];
        let fast =
            canonical::event_prefix(rest).filter(|(_, used)| rest.get(*used) == Some(&b'\n'));
        let (ev, used) = match fast {
            Some((ev, used)) => (Some(ev), used + 1),
            None => {
                let (line, used, complete) = match memchr::memchr(b'\n', rest) {
                    Some(nl) => (&rest[..nl], nl + 1, true),
                    None => (rest, rest.len(), false),
                };
                match parse_slow(trim_line(line)) {
                    Ok(ev) => (ev, used),
                    Err(_) if !complete && last => {
                        p.torn = Some(local);
                        p.lines = local + 1;
                        return p;
                    }
                    Err(e) => {
                        p.error = Some((
                            local,
                            format!("not a history event ({e}); see the README's history format"),
                        ));
                        p.lines = local + 1;
                        return p;
                    }
                }
            }
        };
        if let Some(ev) = ev {
            let f_start = p.names.len() as u32;
            p.names.push_str(&ev.f);
            p.slots.push(Slot {
                time: ev.time,
                process: ev.process,
                key: ev.key,
                value: ev.value,
                line: local as u32,
                f_start,
                f_len: ev.f.len() as u32,
                kind: ev.kind,
                source: ev.source,
            });
        }
        start += used;
        local += 1;
    }
    p.lines = local;
    p
}

type BlockResult = (u64, Result<Parsed, std::io::Error>);

/// [`for_each_event`] with `workers` threads reading and parsing blocks of the file while the
/// calling thread runs `f` on their events in file order (and parses a block itself whenever
/// the next one is not ready). The same events, indexes, errors and stats as
/// [`for_each_event`]; `workers` 0 is [`for_each_event`] itself.
pub fn for_each_event_par<F>(path: &Path, workers: usize, mut f: F) -> Result<ReadStats, FileError>
where
    F: FnMut(usize, EventRef<'_>) -> Result<(), String>,
{
    if workers == 0 {
        return for_each_event(path, f);
    }
    let cutter = Mutex::new(Cutter {
        reader: open_history(path)?,
        carry: Vec::new(),
        seq: 0,
        done: false,
    });
    let (tokens_tx, tokens_rx) = mpsc::sync_channel::<()>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = tokens_tx.send(());
    }
    let tokens_rx = Mutex::new(tokens_rx);
    let (tx, rx) = mpsc::channel::<BlockResult>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (cutter, tokens_rx) = (&cutter, &tokens_rx);
            scope.spawn(move || loop {
                // A token per block in flight; the consumer returns it when done with one.
                if tokens_rx.lock().map(|t| t.recv().is_err()).unwrap_or(true) {
                    return;
                }
                let next = match cutter.lock() {
                    Ok(mut c) => c.next(),
                    Err(_) => return,
                };
                let Some((seq, bytes, last)) = next else {
                    return;
                };
                let parsed = bytes.map(|b| parse_block(&b, last));
                if tx.send((seq, parsed)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let result = consume(path, &rx, &tokens_tx, &cutter, &mut f);
        drop(tokens_tx); // wakes workers waiting for a token: they stop
        drop(rx);
        let truncated = cutter.lock().map(|c| c.reader.truncated()).unwrap_or(false);
        result.map(|mut stats| {
            stats.truncated_stream = truncated;
            stats
        })
    })
}

/// Takes the workers' blocks in order and runs `f` on their events.
fn consume<F>(
    path: &Path,
    rx: &mpsc::Receiver<BlockResult>,
    tokens: &mpsc::SyncSender<()>,
    cutter: &Mutex<Cutter>,
    f: &mut F,
) -> Result<ReadStats, FileError>
where
    F: FnMut(usize, EventRef<'_>) -> Result<(), String>,
{
    let mut stats = ReadStats::default();
    let mut waiting: BTreeMap<u64, Result<Parsed, std::io::Error>> = BTreeMap::new();
    let mut next = 0u64;
    let mut base = 0usize;
    loop {
        // The next block: from the workers, else parsed here, else waited for.
        if !waiting.contains_key(&next) {
            while let Ok((seq, block)) = rx.try_recv() {
                waiting.insert(seq, block);
            }
        }
        if !waiting.contains_key(&next) {
            let own = cutter.lock().ok().and_then(|mut c| c.next());
            match own {
                Some((seq, bytes, last)) => {
                    waiting.insert(seq, bytes.map(|b| parse_block(&b, last)));
                }
                None => match rx.recv() {
                    Ok((seq, block)) => {
                        waiting.insert(seq, block);
                    }
                    Err(_) => return Ok(stats), // every block was taken and consumed
                },
            }
            continue;
        }
        while let Some(block) = waiting.remove(&next) {
            next += 1;
            let p =
                block.map_err(|e| FileError::new(path, base + 1, format!("cannot read: {e}")))?;
            for s in &p.slots {
                let idx = base + s.line as usize;
                let name = &p.names[s.f_start as usize..(s.f_start + s.f_len) as usize];
                let ev = EventRef {
                    time: s.time,
                    process: s.process,
                    kind: s.kind,
                    f: Cow::Borrowed(name),
                    key: s.key,
                    value: s.value,
                    source: s.source,
                };
                f(idx, ev).map_err(|m| FileError::new(path, idx + 1, m))?;
                stats.events += 1;
            }
            if let Some((line, msg)) = p.error {
                return Err(FileError::new(path, base + line + 1, msg));
            }
            if let Some(line) = p.torn {
                stats.torn_last_line = Some(base + line + 1);
            }
            base += p.lines;
            let _ = tokens.try_send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event as `(index, Debug)`, the stats, or the error, read with `workers`.
    fn read(path: &Path, workers: usize) -> Result<(Vec<(usize, String)>, ReadStats), String> {
        let mut seen = Vec::new();
        for_each_event_par(path, workers, |i, ev| {
            seen.push((i, format!("{ev:?}")));
            Ok(())
        })
        .map(|st| (seen, st))
        .map_err(|e| e.to_string())
    }

    fn history(lines: usize, tail: &str) -> String {
        let mut s = String::new();
        for i in 0..lines {
            match i % 7 {
                0 => s.push_str(&format!("{{\"time\":{i},\"process\":{},\"type\":\"invoke\",\"f\":\"write\",\"key\":{},\"value\":{i}}}\n", i % 5, i % 11)),
                1 => s.push_str(&format!("{{\"process\":3, \"time\":{i},\"type\":\"ok\",\"f\":\"read\",\"key\":1,\"value\":null,\"error\":\"x\"}}\n")),
                2 => s.push('\n'),
                3 => s.push_str(&format!("{{\"time\":{i},\"process\":-1,\"type\":\"info\",\"f\":\"fault\",\"key\":null,\"value\":null,\"detail\":{{\"phase\":\"start\"}}}}\n")),
                4 if i % 1000 == 4 => s.push_str(&format!("{{\"time\":{i},\"process\":-2,\"type\":\"ok\",\"f\":\"long\",\"key\":null,\"value\":null,\"detail\":\"{}\"}}\n", "y".repeat(BLOCK + 10))),
                _ => s.push_str(&format!("{{\"time\":{i},\"process\":{},\"type\":\"ok\",\"f\":\"cache-del\",\"key\":{},\"value\":7,\"source\":\"db\"}}\n", i % 5, i % 3)),
            }
        }
        s.push_str(tail);
        s
    }

    #[test]
    fn parallel_reading_gives_what_sequential_reading_gives() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("whole", ""),
            ("torn", "{\"time\":1,\"proc"),
            ("last-no-newline", "{\"time\":9,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":1,\"value\":2}"),
            ("bad", "{\"time\":1}\n{\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":1,\"value\":2}\n"),
        ];
        for (name, tail) in cases {
            let p = dir.path().join(format!("{name}.jsonl"));
            std::fs::write(&p, history(30_000, tail)).unwrap();
            let want = read(&p, 0);
            if name == "bad" {
                assert!(
                    want.as_ref().unwrap_err().contains("line 30001"),
                    "{want:?}"
                );
            } else {
                assert!(want.as_ref().unwrap().0.len() > 20_000, "{name}");
            }
            for workers in [1, 2, 3] {
                assert!(read(&p, workers) == want, "{name} with {workers} workers");
            }
            let z = dir.path().join(format!("{name}.jsonl.zst"));
            std::fs::write(
                &z,
                zstd::encode_all(&std::fs::read(&p).unwrap()[..], 1).unwrap(),
            )
            .unwrap();
            let mut got = read(&z, 2);
            if let Err(e) = &mut got {
                *e = e.replace(".jsonl.zst", ".jsonl");
            }
            assert!(got == want, "{name} compressed");
        }
    }

    #[test]
    fn an_error_from_the_consumer_stops_the_workers_and_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        std::fs::write(&p, history(50_000, "")).unwrap();
        for workers in [0, 2] {
            let err = for_each_event_par(&p, workers, |i, _| {
                if i >= 40_000 {
                    Err("too much".into())
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
            assert_eq!(err.line, 40_002); // line 40001 is empty
            assert!(err.to_string().ends_with("line 40002: too much"), "{err}");
        }
    }
}
