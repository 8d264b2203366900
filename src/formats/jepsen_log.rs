//! The Jepsen etcd log lines of Porcupine's `test_data/jepsen` (from Jepsen's 2014 etcd
//! test, as collected by ahorn/linearizability-checker): one register, one event per line,
//!
//! ```text
//! INFO  jepsen.util - 3 :invoke :cas [3 0]
//! INFO  jepsen.util - 3 :fail :cas [3 0]
//! INFO  jepsen.util - 1 :info :write :timed-out
//! ```
//!
//! Process, type, `:f` (`:read`, `:write`, `:cas`) and value (EDN: `nil`, an integer,
//! `[old new]`, `:timed-out`), separated by whitespace. Lines without `jepsen.util - ` and a
//! process are other log output and skipped. As Porcupine's etcd model reads them: an `:ok
//! :read nil` found the key absent; a `:fail :cas` executed and found another value (etcd
//! answered "compare failed"); a `:fail :read :timed-out` never happened; `:info ...
//! :timed-out` is Jepsen's info, open to the end.

use super::FormatError;
use crate::linearizability::history::{Builder, Completion, History, Input, Output, Value};
use clojure_reader::edn::{self, Edn};

/// Reads the log in `text`.
pub fn parse(text: &str) -> Result<History, FormatError> {
    let mut b = Builder::new();
    let key = b.key("");
    let mut ops = 0usize;
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let Some((_, rest)) = line.split_once("jepsen.util - ") else {
            continue;
        };
        let mut tok = rest.split_whitespace();
        let process = match tok.next() {
            Some(":nemesis") => continue,
            Some(p) => match p.parse::<i64>() {
                Ok(p) => p,
                Err(_) => continue,
            },
            None => continue,
        };
        let (Some(kind), Some(f)) = (tok.next(), tok.next()) else {
            return Err(FormatError::at(
                n,
                "expected 'PROCESS :TYPE :F VALUE' after the process".into(),
            ));
        };
        let value_text = tok.collect::<Vec<_>>().join(" ");
        let value = edn::read_string(&value_text)
            .map_err(|_| FormatError::at(n, format!("the value '{value_text}' is not EDN")))?;
        let int = |e: &Edn<'_>, b: &mut Builder| -> Result<Value, FormatError> {
            match e {
                Edn::Int(v) => Ok(b.value(key, &v.to_string())),
                Edn::Nil => Ok(Value::NIL),
                other => Err(FormatError::at(
                    n,
                    format!("expected an integer or nil, found {other}"),
                )),
            }
        };
        ops += 1;
        match (kind, f) {
            (":invoke", ":read") => b.invoke(process, key, Input::Read, n, None),
            (":invoke", ":write") => {
                let v = int(&value, &mut b)?;
                b.invoke(process, key, Input::Write(v), n, None)
            }
            (":invoke", ":cas") => {
                let Edn::Vector(pair) = &value else {
                    return Err(FormatError::at(
                        n,
                        format!("a :cas needs [old new], found {value}"),
                    ));
                };
                let [old, new] = pair.as_slice() else {
                    return Err(FormatError::at(
                        n,
                        format!("a :cas needs [old new], found {value}"),
                    ));
                };
                let (old, new) = (int(old, &mut b)?, int(new, &mut b)?);
                b.invoke(process, key, Input::Cas(old, new), n, None)
            }
            (":ok", ":read") => {
                let v = int(&value, &mut b)?;
                b.complete(process, Completion::Ok(Output::Value(v)), n, None)
            }
            (":ok", ":write" | ":cas") => b.complete(process, Completion::Ok(Output::Ok), n, None),
            (":fail", ":cas") => b.complete(process, Completion::Ok(Output::CasFailed), n, None),
            (":fail", ":read" | ":write") => b.complete(process, Completion::Fail, n, None),
            (":info", ":read" | ":write" | ":cas") => {
                b.complete(process, Completion::Info, n, None)
            }
            (k, f) if !matches!(k, ":invoke" | ":ok" | ":fail" | ":info") => {
                return Err(FormatError::at(
                    n,
                    format!("unknown type {k} for {f} (fix: :invoke, :ok, :fail or :info)"),
                ))
            }
            (_, f) => {
                return Err(FormatError::at(
                    n,
                    format!("unknown operation {f} (fix: :read, :write or :cas)"),
                ))
            }
        }
    }
    if ops == 0 {
        return Err(FormatError::at(0, "no 'jepsen.util - PROCESS :TYPE :F VALUE' lines (fix: --format edn for an EDN history)".into()));
    }
    Ok(b.finish())
}
