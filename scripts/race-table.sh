#!/usr/bin/env bash
# Prints docs/races.md's tables: for each race workload, every strategy's anomalies (from its
# summary.json) and whether its expectations held.
#
#   scripts/race-table.sh                # runs every workloads/races/*.toml once, then prints
#   scripts/race-table.sh RESULTS_ROOT   # reads RESULTS_ROOT/<workload>/latest (as left by
#                                        # `OUT=RESULTS_ROOT scripts/race-repeat.sh`)
#
# CACHECHECK=path picks the binary (default: target/release/cachecheck, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
  root=$1
else
  bin=${CACHECHECK:-${CARGO_TARGET_DIR:-target}/release/cachecheck}
  [ -x "$bin" ] || cargo build --release --quiet
  root=$(mktemp -d /tmp/race-table.XXXXXX)
  export TMPDIR="$root/tmp"
  mkdir -p "$TMPDIR"
  for f in workloads/races/*.toml; do
    name=$(basename "$f" .toml)
    "$bin" run "$f" --out "$root/$name" -q >"$root/$name.log" 2>&1 || true
  done
fi

python3 - "$root" <<'PY'
import json, os, sys

root = sys.argv[1]
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
    print(f"Run `{os.path.basename(run)}`.\n")
    print("| strategy | " + " | ".join(c[1] for c in cols) + " | stale max ms | expectations |")
    print("|---|" + "---:|" * (len(cols) + 1) + "---|")
    for s in order:
        sm = sums.get(s)
        if sm is None:
            print(f"| `{s}` | " + " | ".join("-" for _ in cols) + " | - | did not run |")
            continue
        a = sm["anomalies"]
        cells = [str(a.get(k, 0)) if a.get(k, 0) == 0 else f"**{a[k]}**" for k, _ in cols]
        mx = sm["staleness"]["time_ms"]["max"]
        exps = sm["expectations"]
        if {e["expr"] for e in exps} == CLEAN and all(e["held"] for e in exps):
            exp = "every anomaly 0: held"
        else:
            exp = ", ".join(f'`{e["expr"]}`' + ("" if e["held"] else " FAILED") for e in exps)
            exp += ": held" if all(e["held"] for e in exps) else ""
        print(f"| `{s}` | " + " | ".join(cells) + f" | {mx:.0f} | {exp} |")
    print()
PY
