#!/usr/bin/env bash
# Runs every race workload (workloads/races/*.toml) N times (default 10) and prints, per
# workload x strategy x expectation, in how many of the N runs it held, then the false
# positives of the controls: runs in which `db-only` showed any anomaly, or in which `lease`
# or `versioned` (any instance) failed an expectation (their expectations are the races they
# fix, so a failure there is the checker flagging a fixer). Not part of CI: it takes about
# N x 3 minutes.
#
#   scripts/race-repeat.sh [N] [WORKLOAD-NAME...]
#
# CACHECHECK=path picks the binary (default: target/release/cachecheck, built when missing);
# OUT=dir keeps the result files (default: a temporary directory, printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
shift || true
bin=${CACHECHECK:-${CARGO_TARGET_DIR:-target}/release/cachecheck}
if [ ! -x "$bin" ]; then
  cargo build --release --quiet
fi
out=${OUT:-$(mktemp -d /tmp/race-repeat.XXXXXX)}
mkdir -p "$out"
# Servers' temporary directories under our own root, away from other runs' clean-ups.
export TMPDIR="$out/tmp"
mkdir -p "$TMPDIR"

files=()
if [ $# -gt 0 ]; then
  for w in "$@"; do files+=("workloads/races/${w%.toml}.toml"); done
else
  files=(workloads/races/*.toml)
fi

for f in "${files[@]}"; do
  name=$(basename "$f" .toml)
  for i in $(seq 1 "$n"); do
    set +e
    "$bin" run "$f" --out "$out/$name" -q >"$out/$name.$i.log" 2>&1
    code=$?
    set -e
    run=$(readlink -f "$out/$name/latest" || true)
    echo "$code" >"$run/exit_code" 2>/dev/null || true
    printf '%-36s run %2d/%d  exit %d\n' "$name" "$i" "$n" "$code" >&2
  done
done

python3 - "$out" "$n" <<'PY'
import json, os, sys
from collections import defaultdict, OrderedDict

out, n = sys.argv[1], int(sys.argv[2])
rows = OrderedDict()          # (workload, strategy, expr) -> held count
runs = defaultdict(int)       # (workload, strategy) -> runs seen
exits = defaultdict(lambda: defaultdict(int))
fp = defaultdict(list)        # strategy -> ["workload run: what"]
ANOM = ["stale_reads", "divergent_keys", "dirty_reads", "lost_writes",
        "monotonic_read_violations", "read_your_writes_violations", "impossible_reads"]
for wl in sorted(os.listdir(out)):
    wdir = os.path.join(out, wl)
    if not os.path.isdir(wdir) or wl == "tmp":
        continue
    for i, run in enumerate(sorted(r for r in os.listdir(wdir) if r != "latest"), 1):
        rdir = os.path.join(wdir, run)
        try:
            exits[wl][open(os.path.join(rdir, "exit_code")).read().strip()] += 1
        except OSError:
            exits[wl]["?"] += 1
        order = []
        for s in sorted(os.listdir(rdir)):
            p = os.path.join(rdir, s, "summary.json")
            if not os.path.exists(p):
                continue
            sm = json.load(open(p))
            runs[(wl, s)] += 1
            for e in sm.get("expectations", []):
                k = (wl, s, e["expr"])
                rows.setdefault(k, 0)
                rows[k] += 1 if e["held"] else 0
            base = s.split("@")[0]
            if base == "db-only":
                bad = {a: sm["anomalies"][a] for a in ANOM if sm["anomalies"].get(a, 0)}
                if bad:
                    fp[s].append(f"{wl} run {i}: {bad}")
            elif base in ("lease", "versioned"):
                bad = [f'{e["expr"]} (actual {e["actual"]})' for e in sm["expectations"] if not e["held"]]
                if bad:
                    fp[s].append(f"{wl} run {i}: {', '.join(bad)}")

print(f"agreement over N={n} runs per workload (results: {out})\n")
print(f"{'workload':<30} {'strategy':<36} {'expectation':<34} held")
last = None
for (wl, s, e), held in rows.items():
    print(f"{wl if wl != last else '':<30} {s:<36} {e:<34} {held}/{runs[(wl, s)]}")
    last = wl
print("\nexit codes per workload:")
for wl, c in exits.items():
    print(f"  {wl:<30} " + ", ".join(f"exit {k}: {v}" for k, v in sorted(c.items())))
print("\nfalse positives (db-only: any anomaly; lease/versioned: a failed expectation):")
controls = sorted({s for (_, s) in runs if s.split("@")[0] in ("db-only", "lease", "versioned")})
for s in controls:
    total = sum(v for (w, t), v in runs.items() if t == s)
    print(f"  {s:<20} {len(fp[s])} of {total} runs")
    for line in fp[s]:
        print(f"      {line}")
PY
