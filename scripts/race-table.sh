#!/usr/bin/env bash
# Prints docs/races.md's tables: an overview (strategies x race workloads: the anomaly kinds
# found, from each summary.json), then per workload `cachecheck compare --format markdown` of
# its strategies and the expectations each was held to.
#
#   scripts/race-table.sh                # runs every workloads/races/*.toml once, then prints
#   scripts/race-table.sh RESULTS_ROOT   # reads RESULTS_ROOT/<workload>/latest (as left by
#                                        # `OUT=RESULTS_ROOT scripts/race-repeat.sh`)
#
# CACHECHECK=path picks the binary (default: target/release/cachecheck, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CACHECHECK:-${CARGO_TARGET_DIR:-target}/release/cachecheck}
[ -x "$bin" ] || cargo build --release --quiet
if [ $# -ge 1 ]; then
  root=$1
else
  root=$(mktemp -d /tmp/race-table.XXXXXX)
  export TMPDIR="$root/tmp"
  mkdir -p "$TMPDIR"
  for f in workloads/races/*.toml; do
    name=$(basename "$f" .toml)
    "$bin" run "$f" --out "$root/$name" -q >"$root/$name.log" 2>&1 || true
  done
fi

python3 - "$root" "$bin" <<'PY'
import json, os, subprocess, sys

root, binary = sys.argv[1], sys.argv[2]
cols = [("stale_reads", "stale"), ("divergent_keys", "diverg"), ("dirty_reads", "dirty"),
        ("lost_writes", "lost"), ("monotonic_read_violations", "mono"),
        ("read_your_writes_violations", "ryw"), ("impossible_reads", "imposs")]
CLEAN = {"stale_reads == 0", "converges", "dirty_reads == 0", "lost_writes == 0",
         "monotonic_read_violations == 0", "read_your_writes_violations == 0",
         "impossible_reads == 0"}
runs = []  # (workload, run dir, strategies in order, {strategy: summary})
for wl in sorted(os.listdir(root)):
    latest = os.path.join(root, wl, "latest")
    if not os.path.isdir(latest):
        continue
    run = os.path.realpath(latest)
    order = []
    for line in open(os.path.join(run, "workload.toml")).read().splitlines():
        if line.startswith("strategies"):
            order = json.loads(line.split("=", 1)[1])
    sums = {}
    for s in order:
        p = os.path.join(run, s, "summary.json")
        if os.path.exists(p):
            sums[s] = json.load(open(p))
    runs.append((wl, run, order, sums))

# Overview: strategies x workloads, the anomaly kinds found.
strategies = []
for _, _, order, _ in runs:
    for s in order:
        if s not in strategies:
            strategies.append(s)
print("| strategy | " + " | ".join(f"`{wl}`" for wl, *_ in runs) + " |")
print("|---|" + "---|" * len(runs))
for s in strategies:
    cells = []
    for _, _, _, sums in runs:
        sm = sums.get(s)
        if sm is None:
            cells.append("")
            continue
        found = [short for k, short in cols if sm["anomalies"].get(k, 0)]
        mark = "" if sm["valid"] else " (FAIL)"
        cells.append((", ".join(found) if found else "clean") + mark)
    print(f"| `{s}` | " + " | ".join(cells) + " |")
print()

for wl, run, order, sums in runs:
    print(f"### {wl}\n")
    dirs = [os.path.join(run, s) for s in order if s in sums]
    table = subprocess.run([binary, "compare", *dirs, "--format", "markdown"],
                           check=True, capture_output=True, text=True).stdout
    print(table.strip() + "\n")
    print("Expectations:\n")
    for s in order:
        sm = sums.get(s)
        if sm is None:
            print(f"* `{s}`: did not run")
            continue
        exps = sm["expectations"]
        if {e["expr"] for e in exps} == CLEAN and all(e["held"] for e in exps):
            text = "every anomaly 0"
        else:
            text = ", ".join(f'`{e["expr"]}`' + ("" if e["held"] else " (FAILED)") for e in exps)
        verdict = "held" if sm["valid"] else "FAILED"
        print(f"* `{s}`: {text}: {verdict}")
    print()
PY
