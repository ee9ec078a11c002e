# Shared by the benchmark scripts: sourced after `cd` to the repository root.
# Defines $work (a temporary directory removed at exit), process tracking
# and small helpers.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_up() { for _ in $(seq 1 "${2:-300}"); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
rss_mb() { awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# config file port data-dir [kafka brokers]: an actlog configuration for a
# benchmark server (source bench, its write key and the admin token fixed).
config() {
  cat > "$1" <<YAML
listen: 127.0.0.1:$2
data_dir: $3
admin_token: bench-admin-token
log: {level: warn}
sources:
  - {name: bench, write_key: bench-write-key}
YAML
  if [ -n "${4:-}" ]; then printf 'kafka:\n  brokers: [%s]\n' "$4" >> "$1"; fi
}

# start_kafka_dev: runs `actlog kafka-dev` on three free ports in $work/kafka;
# sets K (its pid) and BROKERS.
start_kafka_dev() {
  local kp
  kp=$(python3 -c '
import socket, random
for _ in range(200):
    p = random.randint(20000, 32000)  # below the ephemeral range: a client socket cannot take it
    socks = []
    try:
        for q in (p, p + 1, p + 2):
            s = socket.socket(); s.bind(("127.0.0.1", q)); socks.append(s)
        print(p); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
')
  bin/actlog kafka-dev --data "$work/kafka" --port "$kp" >"$work/kafka.out" 2>"$work/kafka.log" & K=$!; pids+=("$K")
  for _ in $(seq 1 100); do grep -q brokers "$work/kafka.out" 2>/dev/null && break; sleep 0.1; done
  BROKERS="127.0.0.1:$kp,127.0.0.1:$((kp+1)),127.0.0.1:$((kp+2))"
}
