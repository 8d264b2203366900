//! `db-only`: no cache at all. The control: the checker must report nothing on it.

use super::{plain, Outcome, ReadValue, Registration, Strategy};
use crate::cache::CacheView;
use crate::conn::{CacheConn, StepError};
use crate::session::Session;
use async_trait::async_trait;

pub const REG: Registration = Registration {
    name: "db-only",
    about: "no cache: reads and writes go to the database (the control)",
    configure: plain::<DbOnly>,
};

#[derive(Default)]
pub struct DbOnly;

#[async_trait]
impl Strategy for DbOnly {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        // `fill_from = "replica"`: the reads go to the client's replica.
        match c.read_miss(key).await {
            Ok((value, source)) => Ok(ReadValue { value, source }),
            Err(e) => Err(e),
        }
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await.map(|_| ())
    }

    async fn cache_view(&self, _: &mut CacheConn, _: i64) -> Result<CacheView, StepError> {
        Ok(CacheView::default())
    }
}
