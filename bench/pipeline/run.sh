#!/usr/bin/env bash
# Pipeline benchmark: HTTP → Kafka (actlog kafka-dev) → actlog process →
# DuckDB, against embedded `actlog serve` in the same run. For each: max
# throughput (events/s acknowledged, and events/s stored end to end), and
# end-to-end latency from the HTTP answer to a queryable row (probe), at max
# load and at the reference peak (333 req/s).
#
# Usage: bash bench/pipeline/run.sh      (from the repository root)
# Env:   DURATION=20s  PEAK_DURATION=20s  CONCURRENCY=64  BATCH=10
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-20s}
PEAK_DURATION=${PEAK_DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-64}
BATCH=${BATCH:-10}
OUT=bench/out
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog
go build -o bin/probe ./bench/pipeline/probe

source bench/lib.sh
rows() { curl -fs -H 'Authorization: Bearer bench-admin-token' -d '{"sql":"SELECT count(*) FROM events WHERE event <> '"'"'latency_probe'"'"'"}' "$1/api/v1/sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])'; }
accepted() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Accepted"])' "$1"; }
summary() { python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("ack_events/s=%.0f req/s=%.0f ack_p50=%.2fms ack_p99=%.2fms errors=%d" % (s["EventsPerSec"], s["RequestsPerSec"], s["P50"]/1e6, s["P99"]/1e6, s["Errors"]))' "$1"; }


measure() { # name ingest-url query-url rate duration
  local name=$1 ingest=$2 query=$3 rate=$4 dur=$5
  local start end n before
  before=$(rows "$query")
  start=$(date +%s.%N)
  bin/probe -ingest "$ingest" -query "$query" -write-key bench-write-key -admin-token bench-admin-token -duration "$dur" > "$OUT/pipeline-$name-probe.txt" &
  local probe=$!
  bin/actlog loadgen --url "$ingest" --write-key bench-write-key --batch "$BATCH" --duplicates 0 --quiet --json --seed 42 \
    --rate "$rate" --concurrency "$CONCURRENCY" --duration "$dur" > "$OUT/pipeline-$name.json"
  local want; want=$((before + $(accepted "$OUT/pipeline-$name.json")))
  for _ in $(seq 1 1200); do n=$(rows "$query"); [ "$n" -ge "$want" ] && break; sleep 0.1; done
  end=$(date +%s.%N)
  wait "$probe"
  n=$((n - before))
  local stored_rate; stored_rate=$(python3 -c "print('%.0f' % ($n / ($end - $start)))")
  echo "$name: $(summary "$OUT/pipeline-$name.json") stored=$n end_to_end_events/s=$stored_rate $(cat "$OUT/pipeline-$name-probe.txt")"
}

echo "== embedded: actlog serve"
P=$(free_port); config "$work/serve.yaml" "$P" "$work/serve-data"
bin/actlog serve --config "$work/serve.yaml" >/dev/null 2>"$work/serve.log" & S=$!; pids+=("$S")
wait_up "http://127.0.0.1:$P/readyz"
measure embedded-max "http://127.0.0.1:$P" "http://127.0.0.1:$P" 0 "$DURATION"
measure embedded-peak "http://127.0.0.1:$P" "http://127.0.0.1:$P" 333 "$PEAK_DURATION"
stop_pid "$S"

echo "== kafka: actlog ingest → kafka-dev → actlog process"
start_kafka_dev
PP=$(free_port); config "$work/process.yaml" "$PP" "$work/process-data" "$BROKERS"
IP=$(free_port); config "$work/ingest.yaml" "$IP" "$work/ingest-data" "$BROKERS"
bin/actlog process --config "$work/process.yaml" >/dev/null 2>"$work/process.log" & PR=$!; pids+=("$PR")
bin/actlog ingest --config "$work/ingest.yaml" >/dev/null 2>"$work/ingest.log" & IN=$!; pids+=("$IN")
wait_up "http://127.0.0.1:$PP/readyz"; wait_up "http://127.0.0.1:$IP/readyz"
measure kafka-max "http://127.0.0.1:$IP" "http://127.0.0.1:$PP" 0 "$DURATION"
measure kafka-peak "http://127.0.0.1:$IP" "http://127.0.0.1:$PP" 333 "$PEAK_DURATION"
stop_pid "$IN"; stop_pid "$PR"; stop_pid "$K"
echo "(summaries in $OUT/pipeline-*)"
