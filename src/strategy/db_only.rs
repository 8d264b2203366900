//! `db-only`: no cache at all. The control: the checker must report nothing on it.

use super::{no_settings, CacheView, Outcome, ReadValue, Registration, Strategy};
use crate::client::Client;
use crate::conn::{CacheConn, StepError};
use crate::history::Source;
use async_trait::async_trait;
use std::sync::Arc;

pub const REG: Registration = Registration {
    name: "db-only",
    about: "no cache: reads and writes go to the database (the control)",
    validate: no_settings,
    build: |_, _| Ok(Arc::new(DbOnly)),
};

pub struct DbOnly;

#[async_trait]
impl Strategy for DbOnly {
    async fn read(&self, c: &mut Client, key: i64) -> Outcome<ReadValue> {
        match c.conns.db.read(key).await {
            Ok(value) => Outcome::Ok(ReadValue {
                value,
                source: Source::Db,
            }),
            Err(e) => e.into(),
        }
    }

    async fn write(&self, c: &mut Client, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await.map(|_| ()).into()
    }

    async fn cache_view(&self, _: &mut CacheConn, _: i64) -> Result<CacheView, StepError> {
        Ok(CacheView::default())
    }
}
