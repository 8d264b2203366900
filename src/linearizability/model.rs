//! Sequential specifications: the models a history is linearized against, one key at a time.
//!
//! * `register` (Knossos' `register`): read and write; a read must return the current value,
//!   `nil` included (the register starts `nil`).
//! * `cas-register` (Knossos' `cas-register`): read, write and compare-and-set `[old new]`; a
//!   read of `nil` is always legal (Knossos: "we don't know what the read was"). A cas that
//!   executed and found another value (Porcupine's etcd model) is legal only when the value
//!   differs from `old`.
//! * `kv` (Porcupine's key-value model, per key): get, put and append on a string that starts
//!   empty; a get returns the whole string.
//!
//! A state is a `u32`: a register's [`Value`], or for `kv` an interned string.

use super::history::{Input, KeyHistory, Operation, Output, Value};
use crate::checker::fasthash::FastMap;

/// The models `--model` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Register,
    CasRegister,
    Kv,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
        }
    }

    /// Whether the model has this operation.
    pub fn accepts(self, input: &Input) -> bool {
        match self {
            ModelKind::Register => matches!(input, Input::Read | Input::Write(_)),
            ModelKind::CasRegister => {
                matches!(input, Input::Read | Input::Write(_) | Input::Cas(..))
            }
            ModelKind::Kv => matches!(input, Input::Get | Input::Put(_) | Input::Append(_)),
        }
    }

    /// The model that fits these operations: `kv` for get/put/append, `cas-register` when
    /// there is a cas, else `register`.
    pub fn detect<'a>(inputs: impl Iterator<Item = &'a Input>) -> ModelKind {
        let mut kind = ModelKind::Register;
        for i in inputs {
            match i {
                Input::Get | Input::Put(_) | Input::Append(_) => return ModelKind::Kv,
                Input::Cas(..) => kind = ModelKind::CasRegister,
                _ => {}
            }
        }
        kind
    }
}

/// A sequential specification over `u32` states.
pub trait Spec {
    fn init(&mut self) -> u32;
    /// The state after `op` in state `state`, or `None` if `op` cannot happen there.
    fn step(&mut self, state: u32, op: &Operation) -> Option<u32>;
    /// The state in words, for explanations.
    fn describe(&self, state: u32) -> String;
}

/// One of the [`ModelKind`]s, set up for one key.
pub struct Model<'a> {
    kind: ModelKind,
    key: &'a KeyHistory,
    kv: Option<KvStrings>,
}

impl<'a> Model<'a> {
    pub fn new(kind: ModelKind, key: &'a KeyHistory) -> Self {
        let kv = (kind == ModelKind::Kv).then(|| KvStrings::new(key));
        Model { kind, key, kv }
    }
}

impl Spec for Model<'_> {
    fn init(&mut self) -> u32 {
        0 // nil, or kv's empty string
    }

    fn step(&mut self, state: u32, op: &Operation) -> Option<u32> {
        let s = Value(state);
        match (self.kind, op.input, op.output) {
            (ModelKind::Kv, input, output) => self.kv.as_mut()?.step(state, input, output),
            (_, Input::Read, Output::Value(v)) => {
                let nil_ok = self.kind == ModelKind::CasRegister && v == Value::NIL;
                (nil_ok || v == s).then_some(state)
            }
            (_, Input::Read, _) => Some(state),
            (_, Input::Write(v), _) => Some(v.0),
            (ModelKind::CasRegister, Input::Cas(old, new), Output::Ok) => {
                (old == s).then_some(new.0)
            }
            (ModelKind::CasRegister, Input::Cas(old, _), Output::CasFailed) => {
                (old != s).then_some(state)
            }
            (ModelKind::CasRegister, Input::Cas(old, new), _) => {
                Some(if old == s { new.0 } else { state })
            }
            _ => None,
        }
    }

    fn describe(&self, state: u32) -> String {
        match &self.kv {
            Some(kv) => format!("'{}'", super::history::abridge(&kv.strings[state as usize])),
            None => self.key.text(Value(state)).to_string(),
        }
    }
}

/// Porcupine's per-key string, interned: state `i` is `strings[i]`; 0 is the empty string.
struct KvStrings {
    strings: Vec<String>,
    index: FastMap<String, u32>,
    /// The state id of each of the key's values (a put's or a get's string).
    of_value: Vec<u32>,
    appended: FastMap<(u32, u32), u32>,
}

impl KvStrings {
    fn new(key: &KeyHistory) -> Self {
        let mut kv = KvStrings {
            strings: Vec::new(),
            index: FastMap::default(),
            of_value: Vec::new(),
            appended: FastMap::default(),
        };
        kv.intern(String::new());
        for (i, text) in key.values.iter().enumerate() {
            let s = if i == 0 { String::new() } else { text.clone() };
            let id = kv.intern(s);
            kv.of_value.push(id);
        }
        kv
    }

    fn intern(&mut self, s: String) -> u32 {
        if let Some(&i) = self.index.get(&s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.index.insert(s.clone(), i);
        self.strings.push(s);
        i
    }

    fn step(&mut self, state: u32, input: Input, output: Output) -> Option<u32> {
        match (input, output) {
            (Input::Get, Output::Value(v)) => {
                (self.of_value[v.0 as usize] == state).then_some(state)
            }
            (Input::Get, _) => Some(state),
            (Input::Put(v), _) => Some(self.of_value[v.0 as usize]),
            (Input::Append(v), _) => {
                if let Some(&s) = self.appended.get(&(state, v.0)) {
                    return Some(s);
                }
                let add = &self.strings[self.of_value[v.0 as usize] as usize];
                let s = format!("{}{add}", self.strings[state as usize]);
                let id = self.intern(s);
                self.appended.insert((state, v.0), id);
                Some(id)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::history::OPEN;

    fn op(input: Input, output: Output) -> Operation {
        Operation::new(0, 1, OPEN, input, output)
    }

    #[test]
    fn register_reads_nil_only_when_nil_but_cas_register_always() {
        let mut k = KeyHistory::new("");
        let one = k.intern("1");
        let read_nil = op(Input::Read, Output::Value(Value::NIL));
        let mut reg = Model::new(ModelKind::Register, &k);
        assert_eq!(reg.step(one.0, &read_nil), None);
        assert_eq!(reg.step(0, &read_nil), Some(0));
        let mut cas = Model::new(ModelKind::CasRegister, &k);
        assert_eq!(cas.step(one.0, &read_nil), Some(one.0));
        let read_one = op(Input::Read, Output::Value(one));
        assert_eq!(cas.step(0, &read_one), None);
    }

    #[test]
    fn cas_ok_failed_and_unknown() {
        let mut k = KeyHistory::new("");
        let (a, b) = (k.intern("1"), k.intern("2"));
        let mut m = Model::new(ModelKind::CasRegister, &k);
        assert_eq!(m.step(a.0, &op(Input::Cas(a, b), Output::Ok)), Some(b.0));
        assert_eq!(m.step(b.0, &op(Input::Cas(a, b), Output::Ok)), None);
        assert_eq!(
            m.step(b.0, &op(Input::Cas(a, b), Output::CasFailed)),
            Some(b.0)
        );
        assert_eq!(m.step(a.0, &op(Input::Cas(a, b), Output::CasFailed)), None);
        assert_eq!(
            m.step(a.0, &op(Input::Cas(a, b), Output::Unknown)),
            Some(b.0)
        );
        assert_eq!(
            m.step(b.0, &op(Input::Cas(a, b), Output::Unknown)),
            Some(b.0)
        );
    }

    #[test]
    fn kv_appends_and_gets() {
        let mut k = KeyHistory::new("k");
        let (x, y, xy) = (k.intern("x"), k.intern("y"), k.intern("xy"));
        let mut m = Model::new(ModelKind::Kv, &k);
        let s0 = m.init();
        assert_eq!(
            m.step(s0, &op(Input::Get, Output::Value(Value::NIL))),
            Some(s0)
        );
        let s1 = m.step(s0, &op(Input::Append(x), Output::Ok)).unwrap();
        let s2 = m.step(s1, &op(Input::Append(y), Output::Ok)).unwrap();
        assert_eq!(m.step(s2, &op(Input::Get, Output::Value(xy))), Some(s2));
        assert_eq!(m.step(s1, &op(Input::Get, Output::Value(xy))), None);
        assert_eq!(m.describe(s2), "'xy'");
        assert_eq!(
            m.step(s2, &op(Input::Put(y), Output::Ok)),
            m.step(s0, &op(Input::Append(y), Output::Ok))
        );
    }

    #[test]
    fn detect_picks_the_smallest_model_that_fits() {
        let w = Input::Write(Value(1));
        assert_eq!(
            ModelKind::detect([Input::Read, w].iter()),
            ModelKind::Register
        );
        let c = Input::Cas(Value(1), Value(2));
        assert_eq!(
            ModelKind::detect([Input::Read, c].iter()),
            ModelKind::CasRegister
        );
        assert_eq!(ModelKind::detect([Input::Get].iter()), ModelKind::Kv);
    }
}
