#!/usr/bin/env bash
# Soak: `actlog serve` (embedded) at the reference peak, 333 requests a
# second of 10 events (20,000 requests a minute), for DURATION, with the
# latency of each SAMPLE-long slice (p50/p99 from the intended send time)
# and the server's RSS and CPU after it. The hour of record:
#   bash bench/soak/run.sh
# CI runs the short form, which fails when RSS keeps growing:
#   DURATION=2m SAMPLE=20s CHECK=1 bash bench/soak/run.sh
#
# The check bounds the RSS at the end: DuckDB's buffer pool (MEMORY_LIMIT)
# plus HEADROOM_MB for the Go side plus the dedupe ids of the events sent
# (about 10 bytes an event). Two minutes cannot tell the buffer pool warming
# up from a leak (a first version compared the RSS after the first quarter
# with the end, and failed one CI run of two on warm-up alone); the hour's
# run is the one to read for growth. It also fails when a request fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-60m}
SAMPLE=${SAMPLE:-60s}
RATE=${RATE:-333.333}
CHECK=${CHECK:-0}
HEADROOM_MB=${HEADROOM_MB:-256}
MEMORY_LIMIT=${MEMORY_LIMIT:-512MB}
OUT=${OUT:-bench/out}
mkdir -p "$OUT" bin
test -x bin/actlog && [ "${REBUILD:-1}" = 0 ] || go build -o bin/actlog ./cmd/actlog
source bench/lib.sh

secs() { python3 -c "import re,sys; s=sys.argv[1]; m={'s':1,'m':60,'h':3600}; print(int(float(s[:-1])*m[s[-1]]))" "$1"; }
total=$(secs "$DURATION"); slice=$(secs "$SAMPLE"); n=$(( total / slice ))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_now_mb() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

P=$(free_port); config "$work/serve.yaml" "$P" "$work/data"
printf 'store:\n  memory_limit: %s\n' "$MEMORY_LIMIT" >> "$work/serve.yaml"
bin/actlog serve --config "$work/serve.yaml" >/dev/null 2>"$work/serve.log" & S=$!; pids+=("$S")
wait_up "http://127.0.0.1:$P/readyz"

report="$OUT/soak-$(date -u +%Y%m%dT%H%M).txt"
{
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $RATE req/s of 10 events for $DURATION in $n slices of $SAMPLE; memory_limit $MEMORY_LIMIT"
echo "# command: DURATION=$DURATION SAMPLE=$SAMPLE bash bench/soak/run.sh"
printf '%-6s %10s %10s %10s %8s %8s %8s\n' slice "req/s" "p50" "p99" errors rss_mb cores
} | tee "$report"
rss=(); errors=0
for i in $(seq 1 "$n"); do
  t0=$(date +%s.%N); c0=$(cpu_ticks "$S")
  bin/actlog loadgen --url "http://127.0.0.1:$P" --write-key bench-write-key --batch 10 --duplicates 0.01 --quiet --json \
    --rate "$RATE" --duration "$SAMPLE" --seed "$i" > "$work/slice.json"
  t1=$(date +%s.%N); c1=$(cpu_ticks "$S")
  r=$(rss_now_mb "$S"); rss+=("$r")
  line=$(python3 - "$work/slice.json" "$i" "$r" "$(python3 -c "print('%.2f' % (($c1 - $c0) / $(getconf CLK_TCK) / ($t1 - $t0)))")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("%-6s %10.1f %9.2fms %9.2fms %8d %8s %8s" % (sys.argv[2], s["RequestsPerSec"], s["P50"] / 1e6, s["P99"] / 1e6, s["Errors"], sys.argv[3], sys.argv[4]))
PY
)
  echo "$line" | tee -a "$report"
  errors=$(( errors + $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Errors"])' "$work/slice.json") ))
done
stored=$(curl -fs -H 'Authorization: Bearer bench-admin-token' -d '{"sql":"SELECT count(*) FROM events"}' "http://127.0.0.1:$P/api/v1/sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])')
peak=$(rss_mb "$S")
stop_pid "$S"
q=$(( (n + 3) / 4 )); first=${rss[$((q - 1))]}; last=${rss[$((n - 1))]}
# The dedupe's share of the growth: ~10 bytes an event over the last three quarters.
limit_mb=$(python3 -c "import re; m=re.fullmatch(r'(\d+)(MB|GB)', '$MEMORY_LIMIT'); print(int(m[1]) * (1000 if m[2] == 'GB' else 1))")
allowed=$(python3 -c "print(int($limit_mb + $HEADROOM_MB + $RATE * 10 * $n * $slice * 10 / 1e6))")
echo "events stored $stored; request errors $errors; RSS $first MB after slice $q, $last MB at the end (peak $peak MB); allowed at the end $allowed MB" | tee -a "$report"
if [ "$CHECK" = 1 ]; then
  if [ "$errors" -ne 0 ]; then echo "soak: $errors requests failed" >&2; exit 1; fi
  if [ "$last" -gt "$allowed" ]; then echo "soak: RSS $last MB at the end (allowed $allowed MB)" >&2; exit 1; fi
  echo "soak check passed"
fi
