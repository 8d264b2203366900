//! The checker's properties, registered by name in one list: [`CHECKERS`].
//!
//! Each entry is one file of this module: the property's name (its count in summary.json's
//! `anomalies`, its key in `verdicts`, the `kind` of its examples, and an expectation metric),
//! its labels (the `compare` row, the terminal table's column), its figures (expectation
//! aliases with their summary.json paths, compare rows, table columns), and the pure function
//! that judges it. `expect`, `compare`, `junit`, the terminal table, the HTML report and
//! `tune-delay` read this list instead of spelling names.
//!
//! Adding a property: a new file in [`properties`](super::properties) with a
//! `pub static CHECKER: Checker` (the types are in [`property`](super::property)) and its line
//! in [`CHECKERS`]. Nothing else changes.

pub use super::properties::CHECKERS;
pub use super::property::{Better, Checker, Figure};

/// Figures of every run that no checker owns: throughput, latency and operation counts.
pub static RUN_FIGURES: &[Figure] = &[
    Figure::named("ops_per_s", "throughput_ops_s").compared("ops/s", Better::Higher),
    Figure::named("read_p50_ms", "latency_ms.read.p50")
        .compared("read p50 ms", Better::Lower)
        .needs("latency_ms.read.count"),
    Figure::named("read_p99_ms", "latency_ms.read.p99")
        .compared("read p99 ms", Better::Lower)
        .needs("latency_ms.read.count"),
    Figure::named("write_p50_ms", "latency_ms.write.p50")
        .compared("write p50 ms", Better::Lower)
        .needs("latency_ms.write.count"),
    Figure::named("write_p99_ms", "latency_ms.write.p99")
        .compared("write p99 ms", Better::Lower)
        .needs("latency_ms.write.count"),
    Figure::named("reads_ok", "ops.read.ok"),
    Figure::named("writes_ok", "ops.write.ok"),
    Figure::named("reads_info", "ops.read.info"),
    Figure::named("writes_info", "ops.write.info"),
    Figure::named("reads_fail", "ops.read.fail"),
    Figure::named("writes_fail", "ops.write.fail"),
];

/// The judged properties, in report order.
pub fn properties() -> impl Iterator<Item = &'static Checker> {
    CHECKERS.iter().copied().filter(|c| c.verdict)
}

/// The judged property named `name`.
pub fn property(name: &str) -> Option<&'static Checker> {
    properties().find(|c| c.name == name)
}

/// The summary.json path of a property's count.
pub fn count_path(c: &Checker) -> String {
    format!("anomalies.{}", c.name)
}

/// Every figure the checker reports: the run's, then each checker's, in report order.
pub fn figures() -> impl Iterator<Item = &'static Figure> {
    RUN_FIGURES
        .iter()
        .chain(CHECKERS.iter().flat_map(|c| c.figures.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_figures_have_paths() {
        let mut names: Vec<&str> = CHECKERS.iter().map(|c| c.name).collect();
        names.extend(figures().map(|f| f.name));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is registered twice");
        for f in figures() {
            assert!(!f.path.is_empty() && !f.path.contains(' '), "{}", f.name);
            if f.column.is_some() {
                assert!(f.path.rsplit_once('.').is_some(), "{}", f.name);
            }
        }
        assert!(properties().all(|p| !p.label.is_empty()));
    }
}
