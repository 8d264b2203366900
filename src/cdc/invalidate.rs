//! The consumer's cache deletes: changed keys are collected while binlog events keep arriving
//! and deleted with one multi-key `DEL` (one round trip for a burst of commits); a failed delete
//! goes to the retry queue with backoff, and due retries are deleted the same way.

use super::position::Position;
use super::queue::{Pending, RetryQueue};
use super::{bump, ConsumerConfig, Shared};
use crate::cache;
use crate::conn::{CacheConn, StepError};
use crate::history::recorder::Recorder;
use crate::history::EventType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// Keys per `DEL` at most.
pub const MAX_BATCH: usize = 512;

pub(super) struct Invalidator {
    cfg: Arc<ConsumerConfig>,
    rec: Recorder,
    shared: Arc<Shared>,
    cache: CacheConn,
    rng: ChaCha8Rng,
    queue: RetryQueue,
    /// Deletes to send with the next flush (attempt numbers and holds as in the queue).
    batch: Vec<Pending>,
}

impl Invalidator {
    pub(super) fn new(
        cfg: Arc<ConsumerConfig>,
        rec: Recorder,
        shared: Arc<Shared>,
    ) -> anyhow::Result<Self> {
        Ok(Invalidator {
            cache: CacheConn::new(&cfg.redis_url, cfg.op_timeout)?
                .with_injected(cfg.injected.clone()),
            rng: ChaCha8Rng::seed_from_u64(cfg.fail_seed),
            cfg,
            rec,
            shared,
            queue: RetryQueue::default(),
            batch: Vec::new(),
        })
    }

    /// Adds the first delete of `key` for the write of `value`; `hold` is the start of its
    /// transaction.
    pub(super) fn add(&mut self, key: i64, value: Option<i64>, hold: Position) {
        self.batch.push(Pending {
            key,
            value,
            attempt: 1,
            hold,
            due: Instant::now(),
        });
    }

    pub(super) fn batch_full(&self) -> bool {
        self.batch.len() >= MAX_BATCH
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.queue.next_due()
    }

    /// The smallest transaction start a queued delete holds the saved position at.
    pub(super) fn min_hold(&self) -> Option<&Position> {
        self.queue.min_hold()
    }

    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Moves the due retries into the batch and flushes it.
    pub(super) async fn retry_due(&mut self) {
        let now = Instant::now();
        while self.batch.len() < MAX_BATCH {
            match self.queue.pop_due(now) {
                Some(p) => self.batch.push(p),
                None => break,
            }
        }
        self.flush().await;
    }

    /// Sends the batch: one `DEL` of every key whose attempt is not failed by the test hook.
    pub(super) async fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let p = self.cfg.fail_delete_probability;
        let (send, injected): (Vec<Pending>, Vec<Pending>) = batch
            .into_iter()
            .partition(|_| !(p > 0.0 && self.rng.gen_bool(p)));
        let keys: Vec<i64> = send.iter().map(|d| d.key).collect();
        let r = cache::del_many(&mut self.cache, &keys).await;
        let t = self.rec.now();
        let n = keys.len();
        for d in send {
            match &r {
                Ok(()) => self.done(d, t, n),
                Err(e) => self.failed(d, e.clone()),
            }
        }
        for d in injected {
            let e = StepError::Fail("injected failure (fail_delete_probability)".into());
            self.failed(d, e);
        }
    }

    fn done(&mut self, d: Pending, t: u64, batch: usize) {
        bump(&self.shared.counters.deletes_ok);
        let lag = d.value.and_then(|v| self.shared.lag.deleted(d.key, v, t));
        if self.cfg.trace {
            let lag_ms = lag.map(|ns| ns as f64 / 1e6);
            let detail = json!({"attempt": d.attempt, "lag_ms": lag_ms, "batch": batch});
            self.event("binlog-del", EventType::Ok, &d, None, detail);
        }
    }

    fn failed(&mut self, d: Pending, e: StepError) {
        let c = &self.shared.counters;
        bump(&c.deletes_failed);
        let kind = match e {
            StepError::Fail(_) => EventType::Fail,
            StepError::Info(_) => EventType::Info,
        };
        let attempt = d.attempt;
        self.event(
            "binlog-del",
            kind,
            &d,
            Some(e.msg().to_string()),
            json!({"attempt": attempt}),
        );
        if self.cfg.retry.retries_after(attempt) {
            let delay = self.cfg.retry.delay(attempt);
            bump(&c.retries);
            let next = Pending {
                attempt: attempt + 1,
                due: Instant::now() + delay,
                ..d
            };
            let detail = json!({"attempt": attempt + 1, "delay_ms": delay.as_millis() as u64});
            self.event("binlog-retry", EventType::Info, &next, None, detail);
            self.queue.push(next);
        } else {
            bump(&c.gave_up);
            let why = format!("gave up after {attempt} attempts");
            self.event(
                "binlog-retry",
                EventType::Fail,
                &d,
                Some(why),
                json!({"attempts": attempt}),
            );
        }
    }

    fn event(
        &self,
        f: &str,
        kind: EventType,
        d: &Pending,
        error: Option<String>,
        detail: serde_json::Value,
    ) {
        self.rec.internal_with_error(
            self.cfg.process,
            f,
            kind,
            Some(d.key),
            d.value,
            error,
            Some(detail),
        );
    }
}
