//! Live-server integration tests: one binary, a module per area. They start real MariaDB,
//! Redis and fault-proxy processes through the harness (the `cachecheck` binary).

mod bench;
mod binlog;
mod browser;
mod docker;
mod endpoints;
mod external;
mod faults;
mod foundation;
mod linearizability;
mod proxy;
mod races;
mod reliability;
mod replicas;
mod sentinel;
mod service;
mod strategies;
mod suite;
mod support;
mod uses;
