#!/usr/bin/env bash
# Lake export benchmark: `actlog export` of every hour of a 10-million-event
# store, to a directory and to an S3-compatible server (gofakes3 on
# 127.0.0.1), against DuckDB's own COPY of the whole table to Parquet in one
# statement (one file, and DuckDB's hive-partitioned write), all on copies
# of the same store, in the same run.
#
# Usage: bash bench/lake/run.sh              (from the repository root)
# Env:   SRC=/tmp/bench10m    a store made by `actlog loadgen --to-store` (never written to)
#        COPY=/tmp/bench10m-lake  the copy the run opens (replaced at each run)
#        OUT=bench/out        where the summary goes
#        S3=1                 also export to gofakes3 (0 to skip)
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${SRC:-/tmp/bench10m}
COPY=${COPY:-/tmp/bench10m-lake}
OUT=${OUT:-bench/out}
S3=${S3:-1}
[ -f "$SRC/actlog.duckdb" ] || { echo "no store in $SRC: make one with bin/actlog loadgen --to-store $SRC --events 10000000 --days 30" >&2; exit 1; }
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog
go build -o bin/lake-baseline ./bench/lake/baseline
go build -o bin/lake-fakes3 ./bench/lake/fakes3
source bench/lib.sh

rm -rf "$COPY"
cp -r "$SRC" "$COPY"
# Open the copy once, exporting nothing: the schema migrates and the
# checkpoint settles before anything is timed.
# Every step below only reads the events table, one at a time.
bin/actlog export --data-dir "$COPY" --dir "$work/none" --since 2100-01-01 >/dev/null

mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1e6}'; }
jf() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"; }

# timed name cmd...: runs cmd under /usr/bin/time; $work/<name>.time holds "wall_s peak_rss_kb".
timed() { local name=$1; shift; /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@"; }

{
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; store $(du -sh "$COPY" | cut -f1) ($SRC copied to $COPY)"

# 1. Baseline: one COPY of the whole table into one file.
timed base1 bin/lake-baseline -db "$COPY/actlog.duckdb" -mode single -out "$work/all.parquet" > "$work/base1.json"
ROWS=$(jf "$work/base1.json" rows); B1S=$(jf "$work/base1.json" seconds); B1B=$(jf "$work/base1.json" bytes)
printf "%-38s %10d rows %8.1f s %10.0f rows/s %8s MB   (process %s s, peak RSS %s MB)\n" "duckdb COPY, one file (baseline)" "$ROWS" "$B1S" \
  "$(awk -v r="$ROWS" -v s="$B1S" 'BEGIN{print r/s}')" "$(mb "$B1B")" "$(cut -d' ' -f1 "$work/base1.time")" "$(( $(cut -d' ' -f2 "$work/base1.time") / 1024 ))"
rm -f "$work/all.parquet"

# 2. actlog export of every hour to a directory.
timed dir bin/actlog export --data-dir "$COPY" --dir "$work/lake" --json > "$work/dir.json"
DR=$(jf "$work/dir.json" rows); DE=$(jf "$work/dir.json" elapsed_ns); DB=$(jf "$work/dir.json" bytes); DW=$(jf "$work/dir.json" written)
DS=$(awk -v n="$DE" 'BEGIN{print n/1e9}')
printf "%-38s %10d rows %8.1f s %10.0f rows/s %8s MB   (process %s s, peak RSS %s MB; %d partitions)\n" "actlog export --dir" "$DR" "$DS" \
  "$(awk -v r="$DR" -v s="$DS" 'BEGIN{print r/s}')" "$(mb "$DB")" "$(cut -d' ' -f1 "$work/dir.time")" "$(( $(cut -d' ' -f2 "$work/dir.time") / 1024 ))" "$DW"
LAKE_ROWS=$(python3 - "$work/lake" <<'PY'
import json, pathlib, sys
print(sum(json.loads(p.read_text())["rows"] for p in pathlib.Path(sys.argv[1]).glob("*/*/_manifest.json")))
PY
)
echo "#   manifests count $LAKE_ROWS rows; the store holds $ROWS"

# 3. The same again: nothing new (a scheduled run's cost when idle).
timed again bin/actlog export --data-dir "$COPY" --dir "$work/lake" --json > "$work/again.json"
printf "%-38s %10d rows %8.2f s   %d written, %d unchanged   (process %s s)\n" "actlog export --dir, again" "$(jf "$work/again.json" rows)" \
  "$(awk -v n="$(jf "$work/again.json" elapsed_ns)" 'BEGIN{print n/1e9}')" "$(jf "$work/again.json" written)" "$(jf "$work/again.json" unchanged)" "$(cut -d' ' -f1 "$work/again.time")"
rm -rf "$work/lake"

# 4. Baseline: DuckDB's own hive-partitioned COPY (dt, hour).
timed base2 bin/lake-baseline -db "$COPY/actlog.duckdb" -mode partitioned -out "$work/hive" > "$work/base2.json"
B2S=$(jf "$work/base2.json" seconds); B2B=$(jf "$work/base2.json" bytes)
printf "%-38s %10d rows %8.1f s %10.0f rows/s %8s MB   (process %s s, %d files)\n" "duckdb COPY PARTITION_BY (baseline)" "$(jf "$work/base2.json" rows)" "$B2S" \
  "$(awk -v r="$ROWS" -v s="$B2S" 'BEGIN{print r/s}')" "$(mb "$B2B")" "$(cut -d' ' -f1 "$work/base2.time")" "$(jf "$work/base2.json" files)"
rm -rf "$work/hive"

# 5. actlog export to S3 (gofakes3 in memory on 127.0.0.1, sharing the cores).
if [ "$S3" = 1 ]; then
  bin/lake-fakes3 -bucket lake > "$work/fakes3.out" 2>"$work/fakes3.log" & F=$!; pids+=("$F")
  for _ in $(seq 1 50); do [ -s "$work/fakes3.out" ] && break; sleep 0.1; done
  URL=$(head -1 "$work/fakes3.out")
  timed s3 env ACTLOG_LAKE_S3_ACCESS_KEY_ID=bench ACTLOG_LAKE_S3_SECRET_ACCESS_KEY=bench AWS_CONFIG_FILE=/dev/null \
    bin/actlog export --data-dir "$COPY" --s3-bucket lake --s3-prefix actlog/events --s3-endpoint "$URL" --s3-path-style --json > "$work/s3.json"
  SR=$(jf "$work/s3.json" rows); SS=$(awk -v n="$(jf "$work/s3.json" elapsed_ns)" 'BEGIN{print n/1e9}')
  printf "%-38s %10d rows %8.1f s %10.0f rows/s %8s MB   (process %s s, fakes3 peak RSS %s MB)\n" "actlog export --s3 (gofakes3)" "$SR" "$SS" \
    "$(awk -v r="$SR" -v s="$SS" 'BEGIN{print r/s}')" "$(mb "$(jf "$work/s3.json" bytes)")" "$(cut -d' ' -f1 "$work/s3.time")" "$(rss_mb "$F")"
  stop_pid "$F"
fi

echo "# throughput ratio, actlog export --dir rows/s over the baseline's: $(awk -v r="$DR" -v s="$DS" -v R="$ROWS" -v b="$B1S" 'BEGIN{printf "%.2f", (r/s)/(R/b)}') of the one-file COPY," \
  "$(awk -v r="$DR" -v s="$DS" -v R="$ROWS" -v b="$B2S" 'BEGIN{printf "%.2f", (r/s)/(R/b)}') of the PARTITION_BY COPY"
} | tee "$OUT/lake-$(date -u +%Y%m%dT%H%M).txt"
