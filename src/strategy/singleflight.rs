//! Per-key call sharing inside the process (Go's `singleflight.Group`, which rockscache's
//! `Fetch` uses): while one caller (the leader) fetches a key, callers of the same key wait for
//! its result instead of fetching themselves. A follower therefore gets a result whose fetch may
//! have started before the follower was invoked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::watch;

/// A call in flight: its id and the channel its result arrives on.
type Call<T> = (u64, watch::Receiver<Option<T>>);

/// The calls in flight, per key.
pub struct Group<T> {
    calls: Mutex<HashMap<i64, Call<T>>>,
    ids: AtomicU64,
}

impl<T> Default for Group<T> {
    fn default() -> Self {
        Group {
            calls: Mutex::default(),
            ids: AtomicU64::new(0),
        }
    }
}

/// What [`Group::join`] made the caller.
pub enum Joined<'a, T> {
    /// Do the work, then [`Leader::finish`].
    Leader(Leader<'a, T>),
    /// Wait for the leader's result with [`wait`].
    Follower(watch::Receiver<Option<T>>),
}

/// The caller doing the work. Dropping it without finishing (the leader was cancelled) wakes
/// the followers with nothing.
pub struct Leader<'a, T> {
    group: &'a Group<T>,
    key: i64,
    id: u64,
    tx: watch::Sender<Option<T>>,
}

impl<T: Clone> Group<T> {
    /// Joins the call in flight for `key`, or starts one.
    pub fn join(&self, key: i64) -> Joined<'_, T> {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, rx)) = calls.get(&key) {
            return Joined::Follower(rx.clone());
        }
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        calls.insert(key, (id, rx));
        Joined::Leader(Leader {
            group: self,
            key,
            id,
            tx,
        })
    }
}

impl<T> Leader<'_, T> {
    /// Hands the result to the followers; later callers start a new call.
    pub fn finish(self, result: T) {
        self.forget();
        let _ = self.tx.send(Some(result));
    }

    fn forget(&self) {
        let mut calls = self.group.calls.lock().unwrap_or_else(|p| p.into_inner());
        if calls.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            calls.remove(&self.key);
        }
    }
}

impl<T> Drop for Leader<'_, T> {
    fn drop(&mut self) {
        self.forget();
    }
}

/// Waits for the leader's result (None: the leader was cancelled).
pub async fn wait<T: Clone>(mut rx: watch::Receiver<Option<T>>) -> Option<T> {
    loop {
        if let Some(v) = rx.borrow_and_update().clone() {
            return Some(v);
        }
        if rx.changed().await.is_err() {
            return rx.borrow().clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_result() {
        let g = Group::<i32>::default();
        let Joined::Leader(leader) = g.join(1) else {
            panic!("first caller leads")
        };
        let Joined::Follower(rx) = g.join(1) else {
            panic!("second caller follows")
        };
        assert!(
            matches!(g.join(2), Joined::Leader(_)),
            "keys are independent"
        );
        leader.finish(7);
        assert_eq!(wait(rx).await, Some(7));
        assert!(
            matches!(g.join(1), Joined::Leader(_)),
            "a finished call is forgotten"
        );
    }

    #[tokio::test]
    async fn an_abandoned_leader_wakes_its_followers_with_nothing() {
        let g = Group::<i32>::default();
        let leader = g.join(1);
        let Joined::Follower(rx) = g.join(1) else {
            panic!("second caller follows")
        };
        drop(leader);
        assert_eq!(wait(rx).await, None);
        assert!(matches!(g.join(1), Joined::Leader(_)));
    }
}
