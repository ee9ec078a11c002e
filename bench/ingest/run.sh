#!/usr/bin/env bash
# Ingest benchmark of record: actlog serve against a no-op Go HTTP server
# (the baseline) with the same client in the same run, then latency at the
# reference peak (20,000 req/min = 333 req/s, open loop).
#
# Usage: bash bench/ingest/run.sh            (from the repository root)
# Env:   DURATION=20s  PEAK_DURATION=60s  CONCURRENCY=64  BATCH=10  ROUNDS=2
#        LARGE_STORE=DIR: also run max throughput and the peak against the
#        store in DIR (e.g. one filled by bench/query/run.sh; events are
#        added to it), after the runs on fresh stores
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-20s}
PEAK_DURATION=${PEAK_DURATION:-60s}
CONCURRENCY=${CONCURRENCY:-64}
BATCH=${BATCH:-10}
ROUNDS=${ROUNDS:-2}
OUT=bench/out
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog
go build -o bin/baseline ./bench/ingest/baseline

source bench/lib.sh


start_baseline() {
  BPORT=$(free_port)
  bin/baseline -listen "127.0.0.1:$BPORT" -batch "$BATCH" & BPID=$!; pids+=("$BPID")
  wait_up "http://127.0.0.1:$BPORT/"
}
start_actlog() { # [data dir [keep]]
  APORT=$(free_port)
  DATA=${1:-$work/data}
  [ -n "${2:-}" ] || rm -rf "$DATA"
  cat > "$work/actlog.yaml" <<YAML
listen: 127.0.0.1:$APORT
data_dir: $DATA
admin_token: bench-admin-token
log: {level: warn}
sources:
  - name: bench
    write_key: bench-write-key
YAML
  bin/actlog serve --config "$work/actlog.yaml" >/dev/null 2>"$work/actlog.log" & APID=$!; pids+=("$APID")
  wait_up "http://127.0.0.1:$APORT/readyz" 3000 # a large store takes a while to open
}

loadgen() { # url key extra-args...
  local url=$1 key=$2; shift 2
  bin/actlog loadgen --url "$url" --write-key "$key" --batch "$BATCH" --duplicates 0 --quiet --json --seed 42 "$@"
}
summary() { # summary JSON file → "req/s events/s p50 p99 errors"
  python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ms = lambda ns: "%.2fms" % (ns / 1e6)
print("req/s=%.0f events/s=%.0f p50=%s p90=%s p99=%s errors=%d" % (s["RequestsPerSec"], s["EventsPerSec"], ms(s["P50"]), ms(s["P90"]), ms(s["P99"]), s["Errors"]))
PY
}

echo "== max throughput, $ROUNDS rounds of $DURATION each, concurrency $CONCURRENCY, batch $BATCH"
for r in $(seq 1 "$ROUNDS"); do
  start_baseline
  loadgen "http://127.0.0.1:$BPORT" none --rate 0 --concurrency "$CONCURRENCY" --duration "$DURATION" > "$OUT/base-max-$r.json"
  echo "baseline round $r: rss_mb=$(rss_mb "$BPID") $(summary "$OUT/base-max-$r.json")"
  stop_pid "$BPID"
  start_actlog
  loadgen "http://127.0.0.1:$APORT" bench-write-key --rate 0 --concurrency "$CONCURRENCY" --duration "$DURATION" > "$OUT/actlog-max-$r.json"
  rows=$(curl -fs -H 'Authorization: Bearer bench-admin-token' -d '{"sql":"SELECT count(*) FROM events"}' "http://127.0.0.1:$APORT/api/v1/sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])')
  echo "actlog   round $r: rss_mb=$(rss_mb "$APID") rows_stored=$rows $(summary "$OUT/actlog-max-$r.json")"
  stop_pid "$APID"
done

echo "== reference peak: 333 req/s open loop for $PEAK_DURATION, batch $BATCH"
start_baseline
loadgen "http://127.0.0.1:$BPORT" none --rate 333 --duration "$PEAK_DURATION" > "$OUT/base-peak.json"
echo "baseline peak: $(summary "$OUT/base-peak.json")"
stop_pid "$BPID"
start_actlog
loadgen "http://127.0.0.1:$APORT" bench-write-key --rate 333 --duration "$PEAK_DURATION" > "$OUT/actlog-peak.json"
echo "actlog   peak (disk):  rss_mb=$(rss_mb "$APID") $(summary "$OUT/actlog-peak.json")"
stop_pid "$APID"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm=$(mktemp -d /dev/shm/actlog-bench.XXXX)
  start_actlog "$shm/data"
  loadgen "http://127.0.0.1:$APORT" bench-write-key --rate 333 --duration "$PEAK_DURATION" > "$OUT/actlog-peak-tmpfs.json"
  echo "actlog   peak (tmpfs): rss_mb=$(rss_mb "$APID") $(summary "$OUT/actlog-peak-tmpfs.json")"
  stop_pid "$APID"
  rm -rf "$shm"
fi

if [ -n "${LARGE_STORE:-}" ]; then
  rows=$(du -sh "$LARGE_STORE" | cut -f1)
  echo "== against the large store $LARGE_STORE ($rows): max throughput for $DURATION, then 333 req/s for $PEAK_DURATION"
  start_actlog "$LARGE_STORE" keep
  loadgen "http://127.0.0.1:$APORT" bench-write-key --rate 0 --concurrency "$CONCURRENCY" --duration "$DURATION" > "$OUT/actlog-large-max.json"
  echo "actlog   large max:   rss_mb=$(rss_mb "$APID") $(summary "$OUT/actlog-large-max.json")"
  loadgen "http://127.0.0.1:$APORT" bench-write-key --rate 333 --duration "$PEAK_DURATION" > "$OUT/actlog-large-peak.json"
  echo "actlog   large peak:  rss_mb=$(rss_mb "$APID") $(summary "$OUT/actlog-large-peak.json")"
  stop_pid "$APID"
fi

echo "== the data disk: fdatasync of 4 KiB appends"
python3 - "$work" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync.probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
ts = []
for _ in range(500):
    os.write(fd, b"x" * 4096)
    t = time.perf_counter(); os.fdatasync(fd); ts.append(time.perf_counter() - t)
os.close(fd); os.remove(path)
ts.sort()
print("fdatasync p50=%.2fms p99=%.2fms max=%.2fms" % (ts[len(ts)//2]*1e3, ts[len(ts)*99//100]*1e3, ts[-1]*1e3))
PY
echo "(full summaries in $OUT/)"
