#!/usr/bin/env bash
# Chaos suite: crash safety of the embedded store and of the Kafka tier.
# Builds bin/actlog and bin/chaos, then runs the scenarios (default: all):
#   embedded      actlog serve killed with SIGKILL at random moments under load
#   kafka-kills   actlog ingest and actlog process killed the same way
#                 (actlog kafka-dev as its own process)
#   brokers-down  kafka-dev killed for OUTAGE under load, then restarted on
#                 its data dir and ports
#   scale         processors scaled 1 → 3 → 1 under load
# Each prints requests, events acknowledged and stored, lost and duplicated
# (both must be 0) and its figures; the summary also goes to
# bench/out/chaos-<time>.txt. Exit status 1 when an event was lost or
# doubled, or a process died by itself.
#
# Usage: bash bench/chaos/run.sh [flags] [scenario…]   (from anywhere)
#        bash bench/chaos/run.sh -short all            (CI: 3 kills, 10 s outage)
# Flags (see bin/chaos -h) or env: KILLS=20 RATE=100 WORKERS=8 DURATION=20s
#        OUTAGE=30s KILL_EVERY=3s SEED=… SHORT=1
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bin bench/out
go build -o bin/actlog ./cmd/actlog
go build -o bin/chaos ./bench/chaos
CHAOS_COMMAND="bash bench/chaos/run.sh $*" exec bin/chaos "$@"
