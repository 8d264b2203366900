//! Jepsen EDN histories in: a vector or list of operation maps, or a plain sequence of them
//! (Jepsen's `history.edn`, Porcupine's kv test data), `;` comments allowed, read with the
//! `clojure-reader` crate one form at a time so that every operation and every error has its
//! line.
//!
//! An operation map: `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f`, `:value`, `:process`
//! (an integer, or `:nemesis`, whose operations are skipped), optional `:time` (ns, for
//! pictures) and `:index` (ignored: the file's order is the history's). `:f` is `:read`,
//! `:write`, `:cas` (`:value [old new]`) for the register models, `:get`, `:put`, `:append`
//! with `:key` for Porcupine's kv model. Keys: a `:key` field, or Jepsen's
//! `jepsen.independent` tuples (`:value [key value]`, used when some read or write carries a
//! two-element vector), or none: one register.

use super::{line_starts, FormatError};
use crate::linearizability::history::{Builder, Completion, History, Input, Output, Value};
use clojure_reader::edn::{self, Edn};
use std::borrow::Cow;

static NIL: Edn<'static> = Edn::Nil;

/// One op map and its line.
type Form<'a> = (u32, Edn<'a>);

/// Reads the history in `text`.
pub fn parse(text: &str) -> Result<History, FormatError> {
    let forms = read_forms(text)?;
    let independent = is_independent(&forms);
    let mut b = Builder::new();
    for (line, form) in &forms {
        op(&mut b, *line, form, independent).map_err(|msg| FormatError::at(*line, msg))?;
    }
    Ok(b.finish())
}

/// Skips whitespace, commas and `;` comments.
fn skip_blank(s: &str) -> &str {
    let mut s = s;
    loop {
        let t = s.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        match t.strip_prefix(';') {
            Some(c) => s = c.find('\n').map_or("", |i| &c[i..]),
            None => return t,
        }
    }
}

fn read_forms(text: &str) -> Result<Vec<Form<'_>>, FormatError> {
    let lines = line_starts(text);
    let line_of = |rest: &str| -> u32 {
        let at = text.len() - rest.len();
        lines.partition_point(|&s| s <= at) as u32
    };
    let mut rest = skip_blank(text);
    let closer = match rest.chars().next() {
        Some('[') => Some(']'),
        Some('(') => Some(')'),
        _ => None,
    };
    let open_line = line_of(rest);
    if closer.is_some() {
        rest = &rest[1..];
    }
    let mut forms = Vec::new();
    loop {
        rest = skip_blank(rest);
        let line = line_of(rest);
        match (rest.chars().next(), closer) {
            (None, Some(c)) => {
                return Err(FormatError::at(
                    open_line,
                    format!(
                    "the history's opening bracket is never closed (fix: end the file with {c})"
                ),
                ))
            }
            (None, None) => break,
            (Some(c), Some(want)) if c == want => {
                let after = skip_blank(&rest[1..]);
                if !after.is_empty() {
                    return Err(FormatError::at(
                        line_of(after),
                        "text after the history's closing bracket".into(),
                    ));
                }
                break;
            }
            _ => {}
        }
        let (form, remaining) = edn::read(rest).map_err(|e| {
            if e.code == clojure_reader::error::Code::UnexpectedEOF {
                return FormatError::at(
                    line,
                    "not valid EDN: the form starting here never ends (is the file cut short?)"
                        .into(),
                );
            }
            let l = line + e.line.map_or(0, |l| l as u32 - 1);
            FormatError::at(l, format!("not valid EDN: {}", describe(&e.code)))
        })?;
        forms.push((line, form));
        rest = remaining;
    }
    if forms.is_empty() {
        return Err(FormatError::at(0, "no operations (fix: give a Jepsen history: a vector of {:type :invoke, :f :read, ...} maps)".into()));
    }
    Ok(forms)
}

fn describe(code: &clojure_reader::error::Code) -> String {
    use clojure_reader::error::Code::*;
    match code {
        UnmatchedDelimiter(c) => format!("unmatched '{c}'"),
        HashMapDuplicateKey => "a map repeats a key".into(),
        InvalidNumber => "a malformed number".into(),
        InvalidKeyword => "a malformed keyword".into(),
        InvalidChar => "an invalid character".into(),
        InvalidEscape => "an invalid string escape".into(),
        other => format!("{other:?}"),
    }
}

fn kw(s: &str) -> Edn<'_> {
    Edn::Key(Cow::Borrowed(s))
}

fn get<'a>(m: &'a Edn<'a>, k: &'a str) -> Option<&'a Edn<'a>> {
    match m {
        Edn::Map(map) => map.get(&kw(k)),
        _ => None,
    }
}

fn keyword<'a>(e: Option<&'a Edn<'a>>) -> Option<&'a str> {
    match e {
        Some(Edn::Key(k)) => Some(k),
        _ => None,
    }
}

fn pair<'a>(e: Option<&'a Edn<'a>>) -> Option<(&'a Edn<'a>, &'a Edn<'a>)> {
    match e {
        Some(Edn::Vector(v)) | Some(Edn::List(v)) if v.len() == 2 => Some((&v[0], &v[1])),
        _ => None,
    }
}

/// Jepsen's independent tuples: no `:key`, and some read or write with a `[k v]` value.
fn is_independent(forms: &[Form<'_>]) -> bool {
    let mut tuples = false;
    for (_, f) in forms {
        if get(f, "key").is_some() {
            return false;
        }
        let rw = matches!(keyword(get(f, "f")), Some("read" | "write"));
        tuples |= rw && pair(get(f, "value")).is_some();
    }
    tuples
}

/// A key's or a value's text: a string's content, else the EDN as printed.
fn text(e: &Edn<'_>) -> String {
    match e {
        Edn::Str(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn op(b: &mut Builder, line: u32, form: &Edn<'_>, independent: bool) -> Result<(), String> {
    if !matches!(form, Edn::Map(_)) {
        return Err(format!(
            "expected an operation map like {{:type :invoke, :f :read, :process 0}}, found {form}"
        ));
    }
    let process = match get(form, "process") {
        Some(Edn::Int(p)) => *p,
        Some(Edn::Key(k)) if k == "nemesis" => return Ok(()),
        Some(other) => {
            return Err(format!(
                ":process must be an integer or :nemesis, found {other}"
            ))
        }
        None => return Err("the operation has no :process".into()),
    };
    let kind = keyword(get(form, "type")).ok_or("the operation has no :type keyword")?;
    let time = match get(form, "time") {
        Some(Edn::Int(t)) if *t >= 0 => Some(*t as u64),
        _ => None,
    };
    let f = keyword(get(form, "f")).ok_or("the operation has no :f keyword")?;
    let kv = matches!(f, "get" | "put" | "append");
    let mut value = get(form, "value").unwrap_or(&NIL);
    let key_name = if independent {
        match pair(Some(value)) {
            Some((k, v)) => {
                value = v;
                text(k)
            }
            None => {
                return Err(format!(
                    "expected a [key value] tuple as :value (jepsen.independent), found {value}"
                ))
            }
        }
    } else {
        get(form, "key").map(text).unwrap_or_default()
    };
    if kind != "invoke" {
        let how = match kind {
            "ok" => match b.outstanding_key(process) {
                Some(k) if matches!(f, "read" | "get") => {
                    Completion::Ok(Output::Value(val(b, k, value, kv)))
                }
                _ => Completion::Ok(Output::Ok),
            },
            "fail" => Completion::Fail,
            "info" => Completion::Info,
            other => {
                return Err(format!(
                    ":type must be :invoke, :ok, :fail or :info, found :{other}"
                ))
            }
        };
        b.complete(process, how, line, time);
        return Ok(());
    }
    let key = b.key(&key_name);
    let input = match f {
        "read" => Input::Read,
        "get" => Input::Get,
        "write" => Input::Write(val(b, key, value, false)),
        "put" => Input::Put(val(b, key, value, true)),
        "append" => Input::Append(val(b, key, value, true)),
        "cas" => match pair(Some(value)) {
            Some((old, new)) => Input::Cas(val(b, key, old, false), val(b, key, new, false)),
            None => return Err(format!("a :cas needs :value [old new], found {value}")),
        },
        other => {
            return Err(format!(
                ":f :{other} is not a register or kv operation (fix: use :read, :write, :cas, or :get, :put, :append)"
            ))
        }
    };
    b.invoke(process, key, input, line, time);
    Ok(())
}

/// The value `e` of `key`: `nil` is [`Value::NIL`]; kv values are the strings' contents.
fn val(b: &mut Builder, key: usize, e: &Edn<'_>, kv: bool) -> Value {
    match e {
        Edn::Nil => Value::NIL,
        Edn::Str(s) if kv => b.value(key, s),
        other => b.value(key, &other.to_string()),
    }
}
