//! `cachecheck compare RESULT...`: strategies side by side, from any number of run or strategy
//! directories (from different runs and machines too). Reads summary.json files only.
//!
//! One column per strategy, one row per metric (on a terminal the columns do not fit, or past
//! [`ROWS_PAST`] strategies, or with `--transpose`: one row per strategy, the metric columns in
//! blocks that fit the width; JSON and Markdown are the same whatever the layout); in each
//! metric's row the best value is marked
//! (`*` in the terminal, bold in Markdown, `best` in JSON) unless every strategy ties. Columns
//! that ran different workloads (name, seed or settings) are listed under the table, never
//! hidden. An input that cannot be read is a one-line error naming the file and the fix; the
//! others are still compared, and the exit code is then 2.
//!
//! `--format json` (schema_version 1):
//!
//! ```json
//! {"schema_version": 1,
//!  "metrics": [{"name": "ops_per_s", "label": "ops/s", "better": "higher"}, "..."],
//!  "strategies": [{"label": "db-then-delete", "strategy": "db-then-delete",
//!                  "summary_file": "results/latest/db-then-delete/summary.json",
//!                  "run_id": "...", "workload": "smoke", "seed": 42, "infra": "local",
//!                  "metrics": {"ops_per_s": 4100.0, "window_p99_ms": null, "...": 0},
//!                  "divergent": [3], "verdict": "invalid", "verdicts": {"stale_reads": "invalid"},
//!                  "valid": true, "result": "PASS (anomalies)"}],
//!  "best": {"ops_per_s": ["db-only"]},
//!  "mismatches": [{"field": "seed", "values": [{"value": "42", "labels": ["a"]}, "..."]}],
//!  "errors": [{"path": "old/x/summary.json", "message": "...: missing (fix: ...)"}]}
//! ```
//!
//! Metric names are the expectation aliases ([`crate::expect::aliases`]), and the rows come
//! from the checker's registry ([`metrics`]).

use crate::checker::registry::{self, Figure};
use crate::expect;
use crate::history::files::find_history;
use crate::output::{self, verdict_name};
use crate::summary::{Summary, SUMMARY_FILE};
pub use registry::Better;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A compared metric: its name (an expectation alias), its row label, and which way is better.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Metric {
    pub name: &'static str,
    pub label: &'static str,
    pub better: Better,
    /// Reported only when the count at this summary.json path is above 0.
    #[serde(skip)]
    pub needs: Option<&'static str>,
}

/// Every compared metric, in row order, from the checker's registry: the run's figures, each
/// property's count, then the checkers' figures.
pub fn metrics() -> Vec<Metric> {
    let figure = |f: &'static Figure| {
        f.compare.map(|(label, better)| Metric {
            name: f.name,
            label,
            better,
            needs: f.needs,
        })
    };
    let run = registry::RUN_FIGURES.iter().filter_map(figure);
    let counts = registry::properties().map(|p| Metric {
        name: p.name,
        label: p.label,
        better: Better::Lower,
        needs: None,
    });
    let figures = registry::CHECKERS
        .iter()
        .flat_map(|c| c.figures.iter())
        .filter_map(figure);
    run.chain(counts).chain(figures).collect()
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Markdown,
    Json,
}

/// One compared strategy.
pub struct Column {
    pub label: String,
    pub file: PathBuf,
    pub summary: Summary,
    json: Value,
}

impl Column {
    /// The metric's value, or `None` when the run did not measure it (no ok read for a
    /// latency, no acknowledged write for a window).
    pub fn value(&self, m: &Metric) -> Option<f64> {
        let present = m
            .needs
            .is_none_or(|path| expect::metric(&self.json, path).is_some_and(|n| n > 0.0));
        present
            .then(|| expect::metric(&self.json, m.name))
            .flatten()
    }
}

/// The summary.json files of an input: a summary file itself, a strategy directory (holding a
/// summary or a history), or a run directory (its subdirectories that do).
pub fn summary_files(input: &Path) -> Result<Vec<PathBuf>, String> {
    if input.is_file() {
        return Ok(vec![input.to_path_buf()]);
    }
    let is_strategy = |d: &Path| d.join(SUMMARY_FILE).exists() || find_history(d).is_some();
    if is_strategy(input) {
        return Ok(vec![input.join(SUMMARY_FILE)]);
    }
    let entries = std::fs::read_dir(input).map_err(|e| {
        format!(
            "{}: cannot read: {e} (fix: give a run or strategy directory, e.g. results/latest)",
            input.display()
        )
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && is_strategy(p))
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(format!(
            "{}: no {SUMMARY_FILE} here or in its subdirectories (fix: give a run or strategy directory, e.g. results/latest)",
            input.display()
        ));
    }
    Ok(dirs.into_iter().map(|d| d.join(SUMMARY_FILE)).collect())
}

/// Reads every input; unreadable ones become error lines, the rest columns.
pub fn load(inputs: &[PathBuf]) -> (Vec<Column>, Vec<(PathBuf, String)>) {
    let mut cols = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let files = match summary_files(input) {
            Ok(f) => f,
            Err(e) => {
                errors.push((input.clone(), e));
                continue;
            }
        };
        for f in files {
            match Summary::read(&f) {
                Ok(s) => cols.push(Column {
                    label: String::new(),
                    json: serde_json::to_value(&s).unwrap_or_default(),
                    file: f,
                    summary: s,
                }),
                Err(e) => errors.push((f, e)),
            }
        }
    }
    label_columns(&mut cols);
    (cols, errors)
}

/// Column labels: the strategy's name (`double-delete@50ms` for a labelled instance), made
/// unique with the directory name, then the run id, then a number.
fn label_columns(cols: &mut [Column]) {
    let candidates = |c: &Column| -> Vec<String> {
        let dir = c
            .file
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = if dir.is_empty() || dir == c.summary.strategy {
            c.summary.strategy.clone()
        } else {
            dir
        };
        vec![
            c.summary.strategy.clone(),
            base.clone(),
            format!("{}/{base}", c.summary.run_id),
        ]
    };
    let all: Vec<Vec<String>> = cols.iter().map(candidates).collect();
    let mut level = vec![0usize; cols.len()];
    for _ in 0..3 {
        let labels: Vec<&String> = (0..cols.len()).map(|i| &all[i][level[i]]).collect();
        let dup: Vec<bool> = labels
            .iter()
            .map(|l| labels.iter().filter(|m| *m == l).count() > 1)
            .collect();
        for i in 0..cols.len() {
            if dup[i] && level[i] + 1 < all[i].len() {
                level[i] += 1;
            }
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in cols.iter_mut().enumerate() {
        let l = all[i][level[i]].clone();
        let n = seen.entry(l.clone()).or_insert(0);
        *n += 1;
        c.label = if *n == 1 { l } else { format!("{l}#{n}") };
    }
}

/// For each metric, the labels holding the best value (empty when all tie or fewer than two
/// strategies report it).
pub fn best(cols: &[Column]) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for m in metrics() {
        let vals: Vec<(usize, f64)> = cols
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.value(&m).map(|v| (i, v)))
            .collect();
        let pick = match m.better {
            Better::Higher => vals.iter().map(|v| v.1).fold(f64::MIN, f64::max),
            Better::Lower => vals.iter().map(|v| v.1).fold(f64::MAX, f64::min),
        };
        let winners: Vec<String> = vals
            .iter()
            .filter(|v| v.1 == pick)
            .map(|v| cols[v.0].label.clone())
            .collect();
        if vals.len() >= 2 && winners.len() < vals.len() {
            out.insert(m.name, winners);
        }
    }
    out
}

/// A field on which the columns' workloads differ: `(field, [(value, labels)])`.
pub type Mismatch = (String, Vec<(String, Vec<String>)>);

/// Fields on which the columns' workloads differ.
pub fn mismatches(cols: &[Column]) -> Vec<Mismatch> {
    let mut fields: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (i, c) in cols.iter().enumerate() {
        let s = &c.summary;
        let mut put = |k: &str, v: String| fields.entry(k.to_string()).or_default().push((i, v));
        put("workload", s.workload.clone());
        put("seed", s.seed.to_string());
        if let Some(obj) = s.settings.as_object() {
            for (k, v) in obj.iter().filter(|(k, _)| *k != "strategy") {
                put(&format!("settings.{k}"), v.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for (field, vals) in fields {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (i, v) in vals {
            match groups.iter_mut().find(|g| g.0 == v) {
                Some(g) => g.1.push(cols[i].label.clone()),
                None => groups.push((v, vec![cols[i].label.clone()])),
            }
        }
        let covered: usize = groups.iter().map(|g| g.1.len()).sum();
        if groups.len() > 1 || (covered < cols.len() && covered > 0) {
            out.push((field, groups));
        }
    }
    out
}

fn fmt_value(name: &str, v: f64) -> String {
    if name.starts_with("nines") {
        let pct = v * 100.0;
        return if pct == 100.0 {
            "100%".into()
        } else {
            format!("{pct:.2}%")
        };
    }
    if name.ends_with("_ms") {
        return if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        };
    }
    format!("{v:.0}")
}

/// The rows (header first) of the comparison; `mark` decorates a best cell.
fn rows(cols: &[Column], mark: &dyn Fn(&str) -> String) -> Vec<Vec<String>> {
    let best = best(cols);
    let mut rows = vec![std::iter::once("metric".to_string())
        .chain(cols.iter().map(|c| c.label.clone()))
        .collect::<Vec<_>>()];
    let mut info = |label: &str, f: &dyn Fn(&Summary) -> String| {
        rows.push(
            std::iter::once(label.to_string())
                .chain(cols.iter().map(|c| f(&c.summary)))
                .collect(),
        );
    };
    info("workload", &|s| s.workload.clone());
    info("seed", &|s| s.seed.to_string());
    info("run", &|s| s.run_id.clone());
    for m in metrics() {
        let winners = best.get(m.name);
        rows.push(
            std::iter::once(m.label.to_string())
                .chain(cols.iter().map(|c| match c.value(&m) {
                    None => "-".to_string(),
                    Some(v) => {
                        let cell = fmt_value(m.name, v);
                        if winners.is_some_and(|w| w.contains(&c.label)) {
                            mark(&cell)
                        } else {
                            cell
                        }
                    }
                }))
                .collect(),
        );
    }
    let mut info = |label: &str, f: &dyn Fn(&Summary) -> String| {
        rows.push(
            std::iter::once(label.to_string())
                .chain(cols.iter().map(|c| f(&c.summary)))
                .collect(),
        );
    };
    info("divergent keys (first 5)", &|s| {
        let keys: Vec<String> = s
            .check
            .divergent
            .iter()
            .take(5)
            .map(|d| d.key.to_string())
            .collect();
        if keys.is_empty() {
            "-".into()
        } else {
            keys.join(",")
        }
    });
    info("verdict", &|s| verdict_name(s.check.verdict).to_string());
    info("expectations", &output::result_cell);
    rows
}

fn mismatch_lines(cols: &[Column]) -> String {
    let mut out = String::new();
    for (field, groups) in mismatches(cols) {
        let parts: Vec<String> = groups
            .iter()
            .map(|(v, ls)| format!("{v} ({})", ls.join(", ")))
            .collect();
        out.push_str(&format!(
            "workloads differ: {field}: {}\n",
            parts.join(" vs ")
        ));
    }
    out
}

/// The comparison as text in `format`.
pub fn render(cols: &[Column], errors: &[(PathBuf, String)], format: Format) -> String {
    match format {
        Format::Table => {
            let mut out = output::grid(&rows(cols, &|c| format!("{c} *")), &[0]);
            out.push_str("* best value of the row\n");
            out.push_str(&mismatch_lines(cols));
            out
        }
        Format::Markdown => {
            let mut out = output::markdown(&rows(cols, &|c| format!("**{c}**")), &[0]);
            out.push_str("\nBest value of each row in **bold**.\n");
            let mm = mismatch_lines(cols);
            if !mm.is_empty() {
                out.push('\n');
                for l in mm.lines() {
                    out.push_str(&format!("- {l}\n"));
                }
            }
            out
        }
        Format::Json => {
            let strategies: Vec<Value> = cols
                .iter()
                .map(|c| {
                    let s = &c.summary;
                    let metrics: serde_json::Map<String, Value> = metrics()
                        .iter()
                        .map(|m| (m.name.to_string(), json!(c.value(m))))
                        .collect();
                    json!({
                        "label": c.label, "strategy": s.strategy,
                        "summary_file": c.file.display().to_string(),
                        "run_id": s.run_id, "workload": s.workload, "seed": s.seed,
                        "infra": s.infra, "tool_version": s.tool_version,
                        "settings": s.settings, "metrics": metrics,
                        "divergent": s.check.divergent.iter().map(|d| d.key).collect::<Vec<_>>(),
                        "verdict": s.check.verdict, "verdicts": s.check.verdicts,
                        "valid": s.valid, "result": output::result_cell(s),
                    })
                })
                .collect();
            let mismatches: Vec<Value> = mismatches(cols)
                .into_iter()
                .map(|(field, groups)| {
                    let values: Vec<Value> = groups
                        .into_iter()
                        .map(|(v, ls)| json!({"value": v, "labels": ls}))
                        .collect();
                    json!({"field": field, "values": values})
                })
                .collect();
            let errors: Vec<Value> = errors
                .iter()
                .map(|(p, e)| json!({"path": p.display().to_string(), "message": e}))
                .collect();
            let doc = json!({
                "schema_version": 1,
                "metrics": metrics(),
                "strategies": strategies,
                "best": best(cols),
                "mismatches": mismatches,
                "errors": errors,
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    }
}

/// How `compare --format table` lays strategies out (`--transpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Layout {
    /// Strategies as rows on a terminal the column table does not fit (or with more than
    /// [`ROWS_PAST`] strategies); as columns elsewhere (pipes, files: unchanged).
    #[default]
    Auto,
    /// Strategies as rows (`--transpose`, `--transpose always`).
    Always,
    /// Strategies as columns, whatever the width.
    Never,
}

/// Past this many strategies a terminal gets them as rows.
pub const ROWS_PAST: usize = 6;

/// The width of the terminal on stdout (`COLUMNS` when set), `None` when stdout is not one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|v| v.parse().ok()) {
        return Some(w);
    }
    // SAFETY: TIOCGWINSZ fills the winsize it is given.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// Whether the table puts strategies in rows: `layout`, the terminal's `width` (`None`: not a
/// terminal) and the column table's widest line.
pub fn transposed(
    layout: Layout,
    width: Option<usize>,
    strategies: usize,
    table_width: usize,
) -> bool {
    match (layout, width) {
        (Layout::Always, _) => true,
        (Layout::Never, _) | (Layout::Auto, None) => false,
        (Layout::Auto, Some(w)) => table_width > w || strategies > ROWS_PAST,
    }
}

/// The table with one row per strategy, its metric columns in as many blocks as `width` needs
/// (each block repeating the strategy column); the workload, seed and run shared by every
/// strategy are said once above.
pub fn rows_table(cols: &[Column], width: usize) -> String {
    let grid_rows = rows(cols, &|c| format!("{c} *"));
    // Transpose: one line per strategy, one column per metric (the first: the label).
    let ncols = grid_rows[0].len();
    let mut fields: Vec<Vec<String>> = (0..ncols)
        .map(|j| {
            grid_rows
                .iter()
                .map(|r| r.get(j).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    fields[0][0] = "strategy".into();
    let mut out = String::new();
    // Rows 1..=3 of the column table are workload, seed, run: shared ones go above.
    let mut keep: Vec<usize> = vec![0];
    let mut shared = Vec::new();
    for (i, row) in grid_rows.iter().enumerate().skip(1) {
        let name = &row[0];
        let values: Vec<&String> = fields.iter().skip(1).map(|f| &f[i]).collect();
        if i <= 3 && values.windows(2).all(|w| w[0] == w[1]) {
            shared.push(format!(
                "{name}: {}",
                values.first().map_or("", |v| v.as_str())
            ));
        } else {
            keep.push(i);
        }
    }
    if !shared.is_empty() {
        out.push_str(&shared.join(" · "));
        out.push('\n');
    }
    let cell_w = |i: usize| {
        fields
            .iter()
            .map(|f| f[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let first_w = cell_w(0);
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut used = first_w;
    for &i in keep.iter().skip(1) {
        let w = cell_w(i) + 2;
        match blocks.last_mut() {
            Some(b) if used + w <= width => b.push(i),
            _ => {
                blocks.push(vec![i]);
                used = first_w;
            }
        }
        used += w;
    }
    for (n, b) in blocks.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let block: Vec<Vec<String>> = fields
            .iter()
            .map(|f| {
                std::iter::once(f[0].clone())
                    .chain(b.iter().map(|&i| f[i].clone()))
                    .collect()
            })
            .collect();
        let text = |i: usize| {
            ["workload", "run", "verdict", "expectations"].contains(&grid_rows[i][0].as_str())
        };
        let left: Vec<usize> = std::iter::once(0)
            .chain((1..=b.len()).filter(|k| text(b[k - 1])))
            .collect();
        out.push_str(&output::grid(&block, &left));
    }
    out.push_str("* best value of the column\n");
    out.push_str(&mismatch_lines(cols));
    out
}

/// The table in the layout `layout` chooses for a terminal `width` wide (`None`: not a
/// terminal; 100 columns when rows are forced).
pub fn table(cols: &[Column], layout: Layout, width: Option<usize>) -> String {
    let columns = render(cols, &[], Format::Table);
    let widest = columns
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    if transposed(layout, width, cols.len(), widest) {
        rows_table(cols, width.unwrap_or(100))
    } else {
        columns
    }
}

/// Runs `cachecheck compare`: prints the comparison, each unreadable input as one line on
/// stderr; exit 2 when any input could not be read.
pub fn run(inputs: &[PathBuf], format: Format) -> anyhow::Result<u8> {
    run_with(inputs, format, Layout::Auto)
}

/// [`run`] with the table's layout chosen (`--transpose`).
pub fn run_with(inputs: &[PathBuf], format: Format, layout: Layout) -> anyhow::Result<u8> {
    let (cols, errors) = load(inputs);
    for (_, e) in &errors {
        eprintln!("cachecheck: error: {}", e.replace('\n', " "));
    }
    if format == Format::Table && !cols.is_empty() {
        print!("{}", table(&cols, layout, terminal_width()));
    } else if !cols.is_empty() || format == Format::Json {
        print!("{}", render(&cols, &errors, format));
    }
    Ok(if errors.is_empty() {
        crate::exit::EXIT_OK
    } else {
        crate::exit::EXIT_ERROR
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(strategy: &str, dir: &str, seed: u64, stale: u64, ops: f64) -> Column {
        let mut s = Summary {
            strategy: strategy.into(),
            run_id: format!("run{seed}"),
            workload: "w".into(),
            seed,
            ..Default::default()
        };
        s.check.anomalies.set("stale_reads", stale);
        s.check.throughput_ops_s = ops;
        Column {
            label: String::new(),
            file: PathBuf::from(format!("r/{dir}/summary.json")),
            json: serde_json::to_value(&s).unwrap(),
            summary: s,
        }
    }

    #[test]
    fn labels_are_unique_and_best_is_marked_unless_all_tie() {
        let mut cols = vec![
            col("db-only", "db-only", 1, 0, 100.0),
            col("db-only", "db-only", 2, 0, 90.0),
            col("db-then-cache", "db-then-cache", 1, 5, 100.0),
        ];
        label_columns(&mut cols);
        let labels: Vec<&str> = cols.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["run1/db-only", "run2/db-only", "db-then-cache"]);
        let b = best(&cols);
        assert_eq!(b["stale_reads"], ["run1/db-only", "run2/db-only"]);
        assert_eq!(b["ops_per_s"], ["run1/db-only", "db-then-cache"]);
        assert!(!b.contains_key("dirty_reads"), "all tie: nothing marked");
        // No read latency measured: not a value, not a winner.
        let read_p50 = metrics().into_iter().find(|m| m.name == "read_p50_ms");
        assert_eq!(cols[0].value(&read_p50.unwrap()), None);
        let mm = mismatches(&cols);
        assert_eq!(mm.len(), 1);
        assert_eq!(mm[0].0, "seed");
        let table = render(&cols, &[], Format::Table);
        assert!(
            table.contains(
                "workloads differ: seed: 1 (run1/db-only, db-then-cache) vs 2 (run2/db-only)"
            ),
            "{table}"
        );
    }

    #[test]
    fn many_strategies_fit_the_terminal_as_rows() {
        let mut cols: Vec<Column> = (0..15)
            .map(|i| {
                let name = format!("strategy-number-{i}");
                col(&name, &name, 1, i, 1000.0 + i as f64)
            })
            .collect();
        label_columns(&mut cols);
        let wide = render(&cols, &[], Format::Table);
        let widest = wide.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest > 300, "the column table is {widest} wide");
        assert!(transposed(Layout::Auto, Some(100), cols.len(), widest));
        assert!(
            !transposed(Layout::Auto, None, cols.len(), widest),
            "pipes keep columns"
        );
        assert!(!transposed(Layout::Never, Some(100), cols.len(), widest));
        assert!(transposed(Layout::Always, None, 2, 50));
        assert!(
            !transposed(Layout::Auto, Some(200), 2, 150),
            "fits: columns"
        );
        let t = table(&cols, Layout::Auto, Some(100));
        for l in t.lines() {
            assert!(l.chars().count() <= 100, "{l}");
        }
        assert!(t.starts_with("workload: w · seed: 1 · run: run1\n"), "{t}");
        // Every strategy in a row of every block; the best marks kept.
        let blocks = t.matches("\nstrategy ").count();
        assert!(blocks >= 2, "{t}");
        for c in &cols {
            assert_eq!(
                t.matches(&format!("{} ", c.label)).count(),
                blocks,
                "{}: {t}",
                c.label
            );
        }
        assert!(t.contains("1014 *"), "highest ops/s marked: {t}");
        assert!(t.contains("0 *"), "fewest stale reads marked: {t}");
        // JSON and Markdown do not depend on the layout.
        assert_eq!(table(&cols, Layout::Never, Some(100)), wide);
    }

    #[test]
    fn nines_and_ms_format() {
        assert_eq!(fmt_value("nines_1s", 1.0), "100%");
        assert_eq!(fmt_value("nines_100ms", 0.9994), "99.94%");
        assert_eq!(fmt_value("read_p99_ms", 1.234), "1.23");
        assert_eq!(fmt_value("read_p99_ms", 123.4), "123");
        assert_eq!(fmt_value("stale_reads", 3.0), "3");
    }
}
