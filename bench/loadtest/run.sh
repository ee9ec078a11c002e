#!/usr/bin/env bash
# The load test of record: the reference test of the system actlog replaces
# (open loop at 2,500 and at 20,000 requests per minute, then the maximum),
# with actlog loadgen, against embedded `actlog serve` and against the Kafka
# tier (actlog ingest → actlog kafka-dev → actlog process). For each step:
# requests/s answered, p50/p99 latency (from the intended send time: no
# coordinated omission), errors, and each server process's CPU (cores used)
# and RSS (now and peak). A no-op Go server is the baseline at the maximum.
#
# Usage: bash bench/loadtest/run.sh      (from the repository root)
# Env:   RATE_DURATION=60s  MAX_DURATION=30s  CONCURRENCY=64  BATCH=10
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE_DURATION=${RATE_DURATION:-60s}
MAX_DURATION=${MAX_DURATION:-30s}
CONCURRENCY=${CONCURRENCY:-64}
BATCH=${BATCH:-10}
OUT=bench/out
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog
go build -o bin/baseline ./bench/ingest/baseline
source bench/lib.sh


# cpu_ticks pid: user+system clock ticks so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_now_mb() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# step name url rate duration pid...: one loadgen run, then the figures of
# each named server process (name=pid).
step() {
  local name=$1 url=$2 rate=$3 dur=$4; shift 4
  local -A before
  for np in "$@"; do before[$np]=$(cpu_ticks "${np#*=}"); done
  local t0; t0=$(date +%s.%N)
  bin/actlog loadgen --url "$url" --write-key bench-write-key --batch "$BATCH" --duplicates 0 --quiet --json \
    --rate "$rate" --concurrency "$CONCURRENCY" --duration "$dur" > "$OUT/loadtest-$name.json"
  local t1; t1=$(date +%s.%N)
  local procs=""
  for np in "$@"; do
    local pid=${np#*=} ticks
    ticks=$(( $(cpu_ticks "$pid") - ${before[$np]} ))
    procs+=" ${np%%=*}: cpu=$(python3 -c "print('%.2f' % ($ticks / $(getconf CLK_TCK) / ($t1 - $t0)))") rss_mb=$(rss_now_mb "$pid") peak_rss_mb=$(rss_mb "$pid");"
  done
  python3 - "$OUT/loadtest-$name.json" "$name" "$rate" "$procs" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ms = lambda ns: "%.2fms" % (ns / 1e6)
want = "max" if float(sys.argv[3]) == 0 else "%.0f req/min" % (float(sys.argv[3]) * 60)
print("%-22s %-14s req/s=%.1f (%.0f req/min) events/s=%.0f p50=%s p99=%s errors=%d |%s" % (
    sys.argv[2], want, s["RequestsPerSec"], s["RequestsPerSec"] * 60, s["EventsPerSec"], ms(s["P50"]), ms(s["P99"]), s["Errors"], sys.argv[4]))
PY
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores; batches of $BATCH events; rates for $RATE_DURATION, max for $MAX_DURATION ($CONCURRENCY connections)"

echo "== baseline: a no-op Go server"
BP=$(free_port)
bin/baseline -listen "127.0.0.1:$BP" -batch "$BATCH" & B=$!; pids+=("$B")
wait_up "http://127.0.0.1:$BP/"
step baseline-max "http://127.0.0.1:$BP" 0 "$MAX_DURATION" baseline=$B
stop_pid "$B"

echo "== embedded: actlog serve"
P=$(free_port); config "$work/serve.yaml" "$P" "$work/serve-data"
bin/actlog serve --config "$work/serve.yaml" >/dev/null 2>"$work/serve.log" & S=$!; pids+=("$S")
wait_up "http://127.0.0.1:$P/readyz"
step embedded-2500rpm "http://127.0.0.1:$P" 41.6667 "$RATE_DURATION" serve=$S
step embedded-20000rpm "http://127.0.0.1:$P" 333.333 "$RATE_DURATION" serve=$S
step embedded-max "http://127.0.0.1:$P" 0 "$MAX_DURATION" serve=$S
stop_pid "$S"

echo "== kafka tier: actlog ingest → actlog kafka-dev → actlog process"
start_kafka_dev
PP=$(free_port); config "$work/process.yaml" "$PP" "$work/process-data" "$BROKERS"
IP=$(free_port); config "$work/ingest.yaml" "$IP" "$work/ingest-data" "$BROKERS"
bin/actlog process --config "$work/process.yaml" >/dev/null 2>"$work/process.log" & PR=$!; pids+=("$PR")
bin/actlog ingest --config "$work/ingest.yaml" >/dev/null 2>"$work/ingest.log" & IN=$!; pids+=("$IN")
wait_up "http://127.0.0.1:$PP/readyz"; wait_up "http://127.0.0.1:$IP/readyz"
for s in "2500rpm 41.6667 $RATE_DURATION" "20000rpm 333.333 $RATE_DURATION" "max 0 $MAX_DURATION"; do
  set -- $s
  step "kafka-$1" "http://127.0.0.1:$IP" "$2" "$3" ingest=$IN kafka=$K process=$PR
done
stored=$(curl -fs -H 'Authorization: Bearer bench-admin-token' -d '{"sql":"SELECT count(*) FROM events"}' "http://127.0.0.1:$PP/api/v1/sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])')
echo "kafka tier: $stored events in the process store when the steps ended (it drains the rest after)"
stop_pid "$IN"; stop_pid "$PR"; stop_pid "$K"
echo "(summaries in $OUT/loadtest-*.json)"
