#!/usr/bin/env bash
# Analyses benchmark: every analysis of /api/v1 over a store filled with the
# loadgen's simulated members (actlog loadgen --to-store), against the naive
# self-join funnel in SQL as the baseline, timed the same way in the same run.
#
# Usage: bash bench/query/run.sh            (from the repository root)
# Env:   EVENTS=10000000  DAYS=30  RUNS=5  MEMORY_LIMIT=""
#        DATA=~/.cache/actlog-bench/query-$EVENTS (kept: generation takes minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-30}
RUNS=${RUNS:-5}
MEMORY_LIMIT=${MEMORY_LIMIT:-}
DATA=${DATA:-$HOME/.cache/actlog-bench/query-$EVENTS}
OUT=bench/out
mkdir -p "$OUT" bin
go build -o bin/actlog ./cmd/actlog

source bench/lib.sh
TOKEN=bench-admin-token

if [ ! -f "$DATA/.complete" ]; then
  rm -rf "$DATA"
  echo "generating $EVENTS events over $DAYS days into $DATA"
  /usr/bin/time -f "generation: %e s, peak RSS %M KB" bin/actlog loadgen --to-store "$DATA" --events "$EVENTS" --days "$DAYS" --quiet ${MEMORY_LIMIT:+--memory-limit "$MEMORY_LIMIT"}
  touch "$DATA/.complete"
fi

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
bin/actlog serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --admin-token "$TOKEN" --log-level warn \
  ${MEMORY_LIMIT:+--set store.memory_limit=$MEMORY_LIMIT} --set sql.timeout=10m >/dev/null & SPID=$!; pids+=("$SPID")
wait_up "$BASE/readyz"

call() { # method path body → prints seconds; answer in $work/answer.json
  local code
  code=$(curl -s -o "$work/answer.json" -w '%{http_code} %{time_total}' -X "$1" -H "Authorization: Bearer $TOKEN" \
    ${3:+-d "$3"} "$BASE$2")
  if [ "${code%% *}" != 200 ]; then echo "$2 answered ${code%% *}: $(head -c 300 "$work/answer.json")" >&2; exit 1; fi
  echo "${code##* }"
}
# measure name method path body: one warm-up, then RUNS timed calls; prints
# "name median min" and keeps the last answer in $OUT/query-answer-<name>.json.
measure() {
  local name=$1 times=()
  call "$2" "$3" "${4:-}" >/dev/null
  for _ in $(seq 1 "$RUNS"); do times+=("$(call "$2" "$3" "${4:-}")"); done
  cp "$work/answer.json" "$OUT/query-answer-$name.json"
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" '{a[NR]=$1} END {printf "%-22s median %7.3f s   min %7.3f s\n", n, a[int((NR+1)/2)], a[1]}'
}
sql() { python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$1"; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(eval(sys.argv[1], {"d": d})) if not isinstance(eval(sys.argv[1], {"d": d}), str) else eval(sys.argv[1], {"d": d}))' "$1"; }

RANGE=$(curl -s -H "Authorization: Bearer $TOKEN" -d '{"sql":"SELECT min(ts), max(ts) + INTERVAL 1 SECOND FROM events"}' "$BASE/api/v1/sql")
FROM=$(echo "$RANGE" | jget 'd["rows"][0][0]'); TO=$(echo "$RANGE" | jget 'd["rows"][0][1]')
R="\"from\":\"$FROM\",\"to\":\"$TO\""
MEMBER=$(curl -s -H "Authorization: Bearer $TOKEN" -d '{"sql":"SELECT user_id FROM events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"}' "$BASE/api/v1/sql" | jget 'd["rows"][0][0]')

STEPS='[{"event":"page_view","where":[{"field":"page_path","op":"eq","value":"/event/summer"}]},{"event":"subscribe_click"},{"event":"payment_method_selected"},{"event":"payment_success"}]'
# The baseline: the same 4-step funnel (by member, one-hour window, steps
# strictly after one another in (ts, seq)) as self-joins, the way it is
# usually written by hand.
NAIVE="WITH ids AS (SELECT anonymous_id AS aid, arg_min(user_id, ts) AS uid FROM events WHERE type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY 1),
ev AS (SELECT coalesce(e.user_id, ids.uid, e.anonymous_id) AS actor, e.ts, coalesce(e.seq, -1) AS seq, e.event, e.page_path
  FROM events e LEFT JOIN ids ON ids.aid = e.anonymous_id
  WHERE e.ts >= '$FROM' AND e.ts < '$TO' AND e.event IN ('page_view', 'subscribe_click', 'payment_method_selected', 'payment_success')),
s1 AS (SELECT actor, ts AS t1, seq AS q1 FROM ev WHERE event = 'page_view' AND page_path = '/event/summer'),
s2 AS (SELECT s1.actor, t1, e.ts AS t2, e.seq AS q2 FROM s1 JOIN ev e ON e.actor = s1.actor AND e.event = 'subscribe_click'
  AND (e.ts > t1 OR (e.ts = t1 AND e.seq > q1)) AND e.ts <= t1 + INTERVAL 1 HOUR),
s3 AS (SELECT s2.actor, t1, e.ts AS t3, e.seq AS q3 FROM s2 JOIN ev e ON e.actor = s2.actor AND e.event = 'payment_method_selected'
  AND (e.ts > t2 OR (e.ts = t2 AND e.seq > q2)) AND e.ts <= t1 + INTERVAL 1 HOUR),
s4 AS (SELECT s3.actor FROM s3 JOIN ev e ON e.actor = s3.actor AND e.event = 'payment_success'
  AND (e.ts > t3 OR (e.ts = t3 AND e.seq > q3)) AND e.ts <= t1 + INTERVAL 1 HOUR)
SELECT (SELECT count(DISTINCT actor) FROM s1), (SELECT count(DISTINCT actor) FROM s2),
  (SELECT count(DISTINCT actor) FROM s3), (SELECT count(DISTINCT actor) FROM s4)"

{
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $EVENTS events over $DAYS days; $RUNS runs each"
echo "# store: $(du -sh "$DATA" | cut -f1); member for the journey: $MEMBER"
measure funnel-naive-sql POST /api/v1/sql "$(sql "$NAIVE")"
NAIVE_COUNTS=$(jget 'd["rows"][0]' < "$OUT/query-answer-funnel-naive-sql.json")
measure funnel-4-steps POST /api/v1/funnel "{$R,\"window_seconds\":3600,\"by\":\"user\",\"steps\":$STEPS}"
FUNNEL_COUNTS=$(jget '[s["actors"] for s in d["steps"]]' < "$OUT/query-answer-funnel-4-steps.json")
echo "# funnel actors per step: actlog $FUNNEL_COUNTS, naive SQL $NAIVE_COUNTS"
measure funnel-breakdown POST /api/v1/funnel "{$R,\"window_seconds\":3600,\"breakdown\":\"banner\",\"steps\":$STEPS}"
measure funnel-by-session POST /api/v1/funnel "{$R,\"window_seconds\":3600,\"by\":\"session\",\"steps\":$STEPS}"
measure journey GET "/api/v1/users/$MEMBER/journey?from=$FROM&to=$TO"
measure paths POST /api/v1/paths "{$R,\"by\":\"page_path\",\"depth\":5,\"start\":{\"event\":\"banner_click\"}}"
measure dwell POST /api/v1/dwell "{$R,\"by\":\"page_path\"}"
measure attribution POST /api/v1/attribution "{$R,\"conversion\":{\"event\":\"payment_success\"},\"touch\":\"banner\",\"model\":\"last\"}"
measure dropoff POST /api/v1/dropoff "{$R,\"page\":{\"event\":\"page_view\",\"where\":[{\"field\":\"page_path\",\"op\":\"eq\",\"value\":\"/payment\"}]},\"conversion\":{\"event\":\"payment_success\"}}"
measure retention POST /api/v1/retention "{$R,\"start_event\":\"identify\",\"return_event\":\"read_progress\",\"period\":\"week\",\"periods\":5}"
measure events-page GET "/api/v1/events?from=$FROM&to=$TO&limit=100"
echo "# server peak RSS: $(rss_mb "$SPID") MB"
} | tee "$OUT/query-$(date -u +%Y%m%dT%H%M).txt"
