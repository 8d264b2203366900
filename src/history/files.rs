//! Reading and writing a run directory's three files: `history.jsonl` (or
//! `history.jsonl.zst`), `commits.jsonl`, `final.jsonl`. Every error names the file and the
//! line. [`open_history`] is the one way to open a history, plain or compressed; the events
//! themselves are read by [`super::events`], which uses these readers.

use super::{Commit, FinalState};
use serde::Deserialize;
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
    pub(crate) fn new(file: &Path, line: usize, msg: impl Into<String>) -> Self {
        FileError {
            file: file.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }
}

/// The compressed history a run writes with `compress = true` (zstd, one stream).
pub const HISTORY_ZST_FILE: &str = "history.jsonl.zst";

/// The history of a strategy directory: `history.jsonl`, else `history.jsonl.zst`; `None`
/// when there is neither. (Both exist when someone decompressed the `.zst` beside it: the plain
/// one is read.)
pub fn find_history(dir: &Path) -> Option<PathBuf> {
    [HISTORY_FILE, HISTORY_ZST_FILE]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// [`find_history`], or the plain file's path (for the error that it does not exist).
pub fn history_path(dir: &Path) -> PathBuf {
    find_history(dir).unwrap_or_else(|| dir.join(HISTORY_FILE))
}

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A history file opened for reading, plain or zstd-compressed (told by its first bytes, so a
/// misnamed file reads too). Every command that reads a history reads it through
/// [`open_history`].
///
/// A compressed stream that ends mid-frame (the writer was killed) reads up to its last
/// flushed block and then ends: [`HistoryReader::truncated`] says so. The plain file's
/// counterpart, a torn last line, is the line readers' business.
pub struct HistoryReader {
    inner: Inner,
    truncated: bool,
}

enum Inner {
    Plain(std::fs::File),
    Zstd(Box<zstd::stream::read::Decoder<'static, std::io::BufReader<std::fs::File>>>),
}

/// Opens a history (`history.jsonl` or `history.jsonl.zst`): the one reader every command uses.
pub fn open_history(path: &Path) -> Result<HistoryReader, FileError> {
    let open = || std::fs::File::open(path);
    let err = |e: std::io::Error| FileError::new(path, 0, format!("cannot open: {e}"));
    let mut file = open().map_err(err)?;
    let mut head = [0u8; 4];
    let n = read_full(&mut file, &mut head).map_err(err)?;
    let file = open().map_err(err)?;
    let inner = if n == 4 && head == ZSTD_MAGIC {
        let d = zstd::stream::read::Decoder::new(file).map_err(err)?;
        Inner::Zstd(Box::new(d))
    } else {
        Inner::Plain(file)
    };
    Ok(HistoryReader {
        inner,
        truncated: false,
    })
}

/// Reads until `buf` is full or the end: the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl HistoryReader {
    /// The compressed stream ended mid-frame (a killed writer): what was flushed was read.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether the file is compressed.
    pub fn compressed(&self) -> bool {
        matches!(self.inner, Inner::Zstd(_))
    }
}

impl Read for HistoryReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(f) => f.read(buf),
            Inner::Zstd(d) => match d.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.truncated = true;
                    Ok(0)
                }
                r => r,
            },
        }
    }
}

/// Calls `f(index, line, complete)` for every line of `r` (without its newline; `index`
/// 0-based; `complete` false only for a last line without a newline), reading in blocks.
pub(crate) fn for_each_line<F>(mut r: impl Read, path: &Path, mut f: F) -> Result<(), FileError>
where
    F: FnMut(usize, &[u8], bool) -> Result<(), FileError>,
{
    let mut buf = vec![0u8; 1 << 17];
    let mut filled = 0usize;
    let mut idx = 0usize;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the block
        }
        let n = r
            .read(&mut buf[filled..])
            .map_err(|e| FileError::new(path, idx + 1, format!("cannot read: {e}")))?;
        filled += n;
        let mut start = 0usize;
        while let Some(nl) = memchr::memchr(b'\n', &buf[start..filled]) {
            f(idx, &buf[start..start + nl], true)?;
            start += nl + 1;
            idx += 1;
        }
        if n == 0 {
            if start < filled {
                f(idx, &buf[start..filled], false)?;
            }
            return Ok(());
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// A line without trailing whitespace (`\r`, spaces, tabs).
pub(crate) fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}

/// Reads a JSONL file of `T` line by line (fast path `fast`, else serde; unknown fields are
/// ignored), naming the line of the first bad record, also of one that is not UTF-8.
fn read_jsonl<T: for<'de> Deserialize<'de>>(
    path: &Path,
    what: &str,
    fast: fn(&[u8]) -> Option<T>,
) -> Result<Vec<T>, FileError> {
    let file = std::fs::File::open(path)
        .map_err(|e| FileError::new(path, 0, format!("cannot read: {e}")))?;
    // Room for the shortest records: capacity that is never touched costs no memory, and the
    // vector is never copied as it grows.
    let len = file.metadata().map_or(0, |m| m.len());
    let mut out = Vec::with_capacity(usize::try_from(len / 30).unwrap_or(0));
    for_each_line(file, path, |i, line, _| {
        let line = trim_line(line);
        let start = line
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let line = &line[start..];
        if line.is_empty() {
            return Ok(());
        }
        if let Some(rec) = fast(line) {
            out.push(rec);
            return Ok(());
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            FileError::new(
                path,
                i + 1,
                format!(
                    "not UTF-8 (an invalid byte at column {}); the file must be UTF-8 JSON lines",
                    e.valid_up_to() + start + 1
                ),
            )
        })?;
        let rec = serde_json::from_str(text)
            .map_err(|e| FileError::new(path, i + 1, format!("not a {what} record ({e})")))?;
        out.push(rec);
        Ok(())
    })?;
    Ok(out)
}

/// Reads `commits.jsonl`.
pub fn read_commits(path: &Path) -> Result<Vec<Commit>, FileError> {
    read_jsonl(path, "commit", super::canonical::commit)
}

/// Reads `final.jsonl`.
pub fn read_final(path: &Path) -> Result<Vec<FinalState>, FileError> {
    read_jsonl(path, "final-state", super::canonical::final_state)
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
    use crate::history::events::for_each_event;

    const LINE: &str =
        "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null}";

    #[test]
    fn torn_last_line_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(HISTORY_FILE);
        std::fs::write(&p, format!("{LINE}\n{{\"time\":2,\"proc")).unwrap();
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
    fn bad_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(HISTORY_FILE);
        std::fs::write(&p, "{\"time\":1}\n{}\n").unwrap();
        let err = for_each_event(&p, |_, _| Ok(())).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.to_string().contains("history.jsonl line 1"), "{err}");
    }

    /// Issue 12: commits.jsonl refused unknown fields while the other two files ignored them.
    #[test]
    fn unknown_fields_are_ignored_in_all_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join(COMMITS_FILE);
        std::fs::write(
            &c,
            "{\"key\":7,\"version\":1,\"value\":7,\"initial\":true,\"note\":\"loaded\"}\n\
             {\"key\":7,\"version\":2,\"value\":9,\"txn\":{\"id\":3}}\n",
        )
        .unwrap();
        let commits = read_commits(&c).unwrap();
        assert_eq!(commits.len(), 2);
        assert_eq!((commits[1].version, commits[1].value), (2, 9));
        assert!(commits[0].initial);
        let f = dir.path().join(FINAL_FILE);
        std::fs::write(&f, "{\"key\":7,\"db\":9,\"cache\":null,\"host\":\"x\"}\n").unwrap();
        assert_eq!(read_final(&f).unwrap()[0].db, Some(9));
        let h = dir.path().join(HISTORY_FILE);
        std::fs::write(
            &h,
            "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null,\"trace\":[1]}\n",
        )
        .unwrap();
        assert_eq!(for_each_event(&h, |_, _| Ok(())).unwrap().events, 1);
    }

    /// Issue 12: non-UTF-8 bytes in commits.jsonl or final.jsonl gave an error without a line.
    #[test]
    fn non_utf8_bytes_name_the_line_in_commits_and_final() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join(COMMITS_FILE);
        let mut bytes = b"{\"key\":7,\"version\":1,\"value\":7}\n\n".to_vec();
        bytes.extend_from_slice(b"{\"key\":7,\"version\":2,\"value\":9,\"note\":\"\xff\xfe\"}\n");
        std::fs::write(&c, &bytes).unwrap();
        let err = read_commits(&c).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("commits.jsonl line 3: not UTF-8"), "{msg}");
        assert!(msg.contains("column 40"), "{msg}");
        let f = dir.path().join(FINAL_FILE);
        std::fs::write(&f, b"{\"key\":1,\"db\":1,\"cache\":null}\n{\"key\":\xc3(\n").unwrap();
        let err = read_final(&f).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(
            err.to_string().contains("final.jsonl line 2: not UTF-8"),
            "{err}"
        );
        // A bad record that is UTF-8 still names its line.
        std::fs::write(&f, "{\"key\":1,\"db\":1,\"cache\":null}\n{\"key\":\"x\"}\n").unwrap();
        let err = read_final(&f).unwrap_err();
        assert!(
            err.to_string()
                .contains("final.jsonl line 2: not a final-state record"),
            "{err}"
        );
    }

    fn zst(plain: &[u8]) -> Vec<u8> {
        zstd::encode_all(plain, 3).unwrap()
    }

    #[test]
    fn a_compressed_history_reads_like_the_plain_one() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..5000)
            .map(|i| LINE.replace("\"time\":1", &format!("\"time\":{i}")) + "\n")
            .collect();
        let p = dir.path().join(HISTORY_ZST_FILE);
        std::fs::write(&p, zst(text.as_bytes())).unwrap();
        assert_eq!(find_history(dir.path()), Some(p.clone()));
        let mut times = Vec::new();
        let st = for_each_event(&p, |_, ev| {
            times.push(ev.time);
            Ok(())
        })
        .unwrap();
        assert_eq!(times, (0..5000).collect::<Vec<u64>>());
        assert!(!st.truncated_stream);
        assert!(open_history(&p).unwrap().compressed());
        // A bad line names the compressed file and the line.
        std::fs::write(&p, zst(format!("{LINE}\n{{}}\n").as_bytes())).unwrap();
        let err = for_each_event(&p, |_, _| Ok(())).unwrap_err();
        assert!(
            err.to_string().contains("history.jsonl.zst line 2"),
            "{err}"
        );
    }

    #[test]
    fn a_compressed_history_cut_mid_stream_reads_to_its_last_flush() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(HISTORY_ZST_FILE);
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        for i in 0..100 {
            writeln!(
                enc,
                "{}",
                LINE.replace("\"time\":1", &format!("\"time\":{i}"))
            )
            .unwrap();
        }
        enc.flush().unwrap(); // what a killed writer leaves: flushed blocks, no frame end
        write!(enc, "{{\"time\":100,\"pro").unwrap();
        enc.flush().unwrap();
        std::fs::write(&p, enc.get_ref()).unwrap();
        let mut n = 0;
        let st = for_each_event(&p, |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            (n, st.torn_last_line, st.truncated_stream),
            (100, Some(101), true)
        );
        // Garbage after the magic number is an error, not a silent end.
        let mut bad = zst(b"x\n")[..4].to_vec();
        bad.extend_from_slice(&[0xff; 64]);
        std::fs::write(&p, bad).unwrap();
        assert!(for_each_event(&p, |_, _| Ok(())).is_err());
    }
}
