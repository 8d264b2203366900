//! cachecheck: a Jepsen-style consistency checker for a cache (Redis) in front of a database
//! (MySQL/MariaDB).
//!
//! # Layout
//!
//! Data flows one way, and the modules follow it: workload → config → infra → driver/session →
//! strategies → history → checker → results. A module uses only those before it in this list
//! (and the small helpers at the end).
//!
//! * [`workload`]: the TOML workload file as written (every field and its default);
//!   [`config`]: the run's one validated configuration, built from it and the command line's
//!   overrides before any server starts (each strategy's and fault's settings parsed once).
//! * [`infra`]: the servers (local processes, a docker compose project, external URLs; Redis
//!   alone or behind Sentinel), their faults (kill, restart, pause, partition) and per-role
//!   endpoints; [`register`]: the register table, its writes, and the ground truth (commit
//!   log).
//! * [`conn`]: a client's connections, one per role, reconnecting after faults; [`cache`]: the
//!   Redis primitives on the register's entries; [`injected`]: faults injected in the
//!   application (a handle per run, carried by its connections).
//! * [`run`]: the pipeline of `cachecheck run`, top to bottom (servers, then per strategy:
//!   prepare, drive, collect, judge); [`driver`]: the client loop (one task per client, every
//!   operation an invoke and one completion); [`generator`]: the operation mix;
//!   [`nemesis`]: faults on a schedule (proxy toxics, partitions, kills and pauses of servers,
//!   replicas and the app);
//!   [`resources`]: the harness's memory and file descriptors, sampled while a run goes.
//! * [`session`]: the per-client context every strategy receives; [`strategy`]: cache write
//!   strategies, one module each behind one trait and one registry; [`cdc`]: the binlog
//!   consumer that invalidates cache keys (Canal-like), for `binlog-delete`; `strategy::service`
//!   drives a user's own HTTP service (examples in `examples/`, contract in docs/service.md).
//! * [`history`]: the event model, the recorder that streams it to disk, the file readers.
//! * [`checker`]: pure functions over a run directory's files, one per property, registered
//!   by name ([`checker::registry`]); verdicts, anomalies and their evidence;
//!   [`linearizability`]: linearizability per key (the linear-time decision for cachecheck's
//!   histories, the Wing–Gong/Lowe search for foreign ones, the picture of a violation).
//! * [`formats`]: foreign histories in (Jepsen EDN, Porcupine's formats) and out (EDN).
//! * [`expect`]: expectations over summary.json; [`summary`]: summary.json; [`recheck`]: a
//!   strategy directory re-checked from its files; [`results`]: result directories.
//! * The commands over results: [`check_cmd`] (`check`; [`foreign_cmd`] on a foreign
//!   history), [`export_cmd`] (`export`), [`output`] (the terminal table),
//!   [`junit`] (JUnit XML), [`compare`], [`report`] (one self-contained HTML page),
//!   [`throughput`] (`timeline`: a run's course over time), [`tune`] (`tune-delay`), [`bench`]
//!   (`bench checker|harness`), [`proxy_server`] (the built-in fault proxy speaking
//!   Toxiproxy's REST API), [`images_cmd`] (`images build|list|remove`: the local Docker
//!   images), [`progress`] (progress on a terminal, plain lines elsewhere), [`suite`]
//!   (`suite`: workloads × strategies, repeated, as one matrix).
//! * [`cli`]: argument parsing, one function per subcommand; [`exit`]: exit codes (0 ok, 1 an
//!   expectation failed, 2 error); [`runtime`]: the async runtime and the shutdown signal.
pub mod bench;
pub mod cache;
pub mod cdc;
pub mod check_cmd;
pub mod checker;
pub mod cli;
pub mod compare;
pub mod config;
pub mod conn;
pub mod driver;
pub mod exit;
pub mod expect;
pub mod export_cmd;
pub mod foreign_cmd;
pub mod formats;
pub mod generator;
pub mod history;
pub mod images_cmd;
pub mod infra;
pub mod injected;
pub mod junit;
pub mod linearizability;
pub mod nemesis;
pub mod output;
pub mod progress;
pub mod proxy_server;
pub mod recheck;
pub mod register;
pub mod report;
pub mod resources;
pub mod results;
pub mod run;
pub mod runtime;
pub mod session;
pub mod strategy;
pub mod suite;
pub mod summary;
pub mod throughput;
pub mod tune;
pub mod workload;
