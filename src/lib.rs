//! cachecheck: a Jepsen-style consistency checker for a cache (Redis) in front of a database
//! (MySQL/MariaDB).
//!
//! # Layout
//!
//! Data flows one way, and the modules follow it:
//!
//! * [`workload`]: the TOML workload file, validated into one config before any server starts.
//! * [`infra`]: the servers (local processes, docker compose, external URLs) and per-role
//!   endpoints.
//! * [`history`]: the event model, the recorder that streams it to disk, the file readers.
//! * [`checker`]: pure functions over a run directory's files; verdicts and anomalies.
//! * [`proxy_server`]: the built-in fault proxy speaking Toxiproxy's REST API, with its toxics.
pub mod checker;
pub mod history;
pub mod proxy_server;
