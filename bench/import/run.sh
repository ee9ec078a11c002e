#!/usr/bin/env bash
# Import throughput of record: `actlog import` of a 10-million-event gzip
# NDJSON file (Segment messages archived with their own sentAt and
# receivedAt, made by bench/import/gen from the loadgen's simulated e-book
# app members) into a fresh local store, against two baselines measured in
# the same run:
#   - read+decode: the same import with --dry-run (a sink that keeps
#     nothing): the cost of reading, gunzip, splitting and decoding alone;
#   - store path: `actlog loadgen --to-store` of the same number of events
#     (the same members, decoded and enriched by the same code, written by
#     the same store writer, but generated in memory: no file, no parsing).
#
# Usage: bash bench/import/run.sh            (from the repository root)
# Env:   EVENTS=10000000  DAYS=30  DATASET=/tmp/actlog-import-<EVENTS>.ndjson.gz
#        (kept and reused when it exists)  WORK=<dir for the stores, default a
#        temporary directory under /tmp>  OUT=bench/out
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-30}
DATASET=${DATASET:-/tmp/actlog-import-$EVENTS.ndjson.gz}
OUT=${OUT:-bench/out}
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog
go build -o bin/import-gen ./bench/import/gen
source bench/lib.sh
WORK=${WORK:-$work}

# Room: the dataset (~70 bytes an event compressed) and two stores (~250
# bytes an event each).
need_mb=$(( EVENTS * (70 + 2 * 250) / 1000000 + 500 ))
free_mb=$(df -Pm "$WORK" | awk 'NR == 2 {print $4}')
if [ "$free_mb" -lt "$need_mb" ]; then
  echo "need about $need_mb MB free in $WORK, have $free_mb" >&2
  exit 1
fi

if [ ! -s "$DATASET" ]; then
  echo "generating $DATASET ($EVENTS events)…" >&2
  /usr/bin/time -f "generation: %e s" bin/import-gen -events "$EVENTS" -days "$DAYS" -out "$DATASET.tmp"
  mv "$DATASET.tmp" "$DATASET"
fi

# timed NAME CMD...: runs CMD, keeps its output in $work/NAME.out and
# "seconds peak-RSS-KB" in $work/NAME.time; prints the command and output.
timed() {
  local name=$1; shift
  echo "\$ ${*/#bin\//}"
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" || {
    echo "$name failed:" >&2; cat "$work/$name.out" "$work/$name.err" >&2; exit 1; }
  cat "$work/$name.out"
}

{
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# dataset: $DATASET, $EVENTS events, $(du -m "$DATASET" | cut -f1) MB gzip"
timed dryrun bin/actlog import --dry-run --progress 0 "$DATASET"
timed import bin/actlog import --data-dir "$WORK/import-store" --source bench --progress 30s "$DATASET"
timed loadgen bin/actlog loadgen --to-store "$WORK/loadgen-store" --events "$EVENTS" --days "$DAYS" --quiet
echo
python3 - "$EVENTS" $(cat "$work/dryrun.time" "$work/import.time" "$work/loadgen.time") <<'PY'
import sys
n = int(sys.argv[1])
d, dr, i, ir, l, lr = map(float, sys.argv[2:])
dr, ir, lr = dr / 1024, ir / 1024, lr / 1024
print("| run | events | seconds | events/s | peak RSS |")
print("|---|---|---|---|---|")
for name, s, r in (("import into the store", i, ir), ("baseline: loadgen --to-store (store path, no file)", l, lr), ("baseline: import --dry-run (read + decode, no store)", d, dr)):
    print("| %s | %d | %.1f | %.0f | %.0f MB |" % (name, n, s, n / s, r))
print()
print("throughput ratio import / loadgen --to-store: %.2f; import / dry run: %.2f" % (l / i, d / i))
PY
} | tee "$OUT/import-$(date -u +%Y%m%dT%H%M).txt"
