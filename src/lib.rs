//! cachecheck: a Jepsen-style consistency checker for a cache (Redis) in front of a database
//! (MySQL/MariaDB).
//!
//! # Layout
//!
//! Data flows one way, and the modules follow it:
//!
//! * [`workload`]: the TOML workload file, validated into one config before any server starts;
//!   [`workload::expect`]: expectations per strategy.
//! * [`infra`]: the servers (local processes, a docker compose project, external URLs), their
//!   faults (kill, restart, pause, partition) and per-role endpoints.
//! * [`register`]: the register table, its writes, and the ground truth (commit log).
//! * [`conn`]: a client's connections, one per role, reconnecting after faults.
//! * [`strategy`]: cache write strategies, one module each behind one trait.
//! * [`cdc`]: the binlog consumer that invalidates cache keys (Canal-like), for `binlog-delete`.
//! * [`nemesis`]: faults on a schedule (proxy toxics, partitions, server kills and pauses).
//! * [`generator`], [`client`]: the operation mix and the client tasks that record every op.
//! * [`history`]: the event model, the recorder that streams it to disk, the file readers.
//! * [`checker`]: pure functions over a run directory's files; verdicts and anomalies.
//! * [`proxy_server`]: the built-in fault proxy speaking Toxiproxy's REST API, with its toxics.
//! * [`resources`]: the harness's memory and file descriptors, sampled while a run goes.
//! * [`summary`], [`output`]: summary.json and the terminal table.
//! * [`timeline`]: a run's course over time (ops/s, harness memory), for soak runs.
//! * [`run`]: the pipeline of `cachecheck run`, top to bottom; [`check_cmd`]: `cachecheck check`.
//! * [`progress`]: progress bars on a terminal, plain lines elsewhere.
//! * [`junit`]: JUnit XML of the expectations (`--junit FILE` on `run` and `check`).
//! * [`compare`]: `cachecheck compare`, strategies side by side from summary.json files.
//! * [`report`]: `cachecheck report`, one self-contained HTML page with SVG charts and timelines.
//! * [`tune`]: `cachecheck tune-delay`, measure the fill window, recommend a delay, sweep.
//! * [`bench`]: `cachecheck bench checker|harness`, performance of the checker and the harness.
//! * [`images_cmd`]: `cachecheck images build|list|remove`, the local Docker images.
//! * [`cli`]: argument parsing and exit codes (0 ok, 1 expectation failed, 2 error).
pub mod bench;
pub mod cdc;
pub mod check_cmd;
pub mod checker;
pub mod cli;
pub mod client;
pub mod compare;
pub mod conn;
pub mod generator;
pub mod history;
pub mod images_cmd;
pub mod infra;
pub mod junit;
pub mod nemesis;
pub mod output;
pub mod progress;
pub mod proxy_server;
pub mod register;
pub mod report;
pub mod resources;
pub mod run;
pub mod strategy;
pub mod summary;
pub mod timeline;
pub mod tune;
pub mod workload;
