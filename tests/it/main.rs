//! Live-server integration tests: one binary, a module per area. They start real MariaDB,
//! Redis and fault-proxy processes through the harness (the `cachecheck` binary).

mod bench;
mod binlog;
mod browser;
mod docker;
mod external;
mod faults;
mod foundation;
mod linearizability;
mod proxy;
mod races;
mod reliability;
mod replicas;
mod strategies;
mod support;
mod uses;
