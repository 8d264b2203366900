//! What the linear path reports: a verdict per key, the evidence of a key's first violation,
//! and the verdicts of a whole run.

use crate::checker::{Anomaly, Verdict};
use serde::Serialize;

/// The property name a violation is reported under.
pub const PROPERTY: &str = "linearizable";

/// The first violation of one key, with its evidence, in the style of the checker's anomalies:
/// `events` are 0-based history line indexes (ascending), `start_ns..end_ns` the window (for a
/// misordered pair: from when version `version` must already have taken effect to when it
/// still had not), `explanation` one sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearViolation {
    pub events: Vec<u64>,
    pub start_ns: u64,
    pub end_ns: u64,
    pub explanation: String,
    /// The position of the version that no point fits (0: a lost write or an unknown value).
    pub version: u32,
    /// The operations involved, as indexes into the key's `KeyData::ops`.
    pub ops: Vec<u32>,
}

impl LinearViolation {
    /// As a checker anomaly of kind `linearizable` on `key`.
    pub fn to_anomaly(&self, key: i64) -> Anomaly {
        Anomaly {
            kind: PROPERTY.to_string(),
            key,
            events: self.events.clone(),
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            explanation: self.explanation.clone(),
        }
    }
}

/// One key's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyVerdict {
    pub key: i64,
    pub verdict: Verdict,
    /// Why the verdict is unknown.
    pub why_unknown: Option<String>,
    pub violation: Option<LinearViolation>,
}

impl KeyVerdict {
    pub fn unknown(key: i64, why: &str) -> Self {
        KeyVerdict {
            key,
            verdict: Verdict::Unknown,
            why_unknown: Some(why.to_string()),
            violation: None,
        }
    }

    pub fn invalid(key: i64, v: LinearViolation) -> Self {
        KeyVerdict {
            key,
            verdict: Verdict::Invalid,
            why_unknown: None,
            violation: Some(v),
        }
    }
}

/// A run's verdicts: counts per verdict, and every key that is not valid (in key order of the
/// run). `verdict`: invalid if a key is, else valid if a key is, else unknown (nothing judged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunVerdict {
    pub verdict: Verdict,
    pub valid: u64,
    pub invalid: u64,
    pub unknown: u64,
    pub keys: Vec<KeyVerdict>,
}

impl RunVerdict {
    pub fn add(&mut self, k: KeyVerdict) {
        match k.verdict {
            Verdict::Valid => self.valid += 1,
            Verdict::Invalid => self.invalid += 1,
            Verdict::Unknown => self.unknown += 1,
        }
        if k.verdict != Verdict::Valid {
            self.keys.push(k);
        }
        self.verdict = if self.invalid > 0 {
            Verdict::Invalid
        } else if self.valid > 0 {
            Verdict::Valid
        } else {
            Verdict::Unknown
        };
    }

    /// The violations as checker anomalies, earliest first.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        let mut a: Vec<Anomaly> = self
            .keys
            .iter()
            .filter_map(|k| k.violation.as_ref().map(|v| v.to_anomaly(k.key)))
            .collect();
        a.sort_by_key(|a| (a.start_ns, a.key));
        a
    }
}
