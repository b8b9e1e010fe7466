#!/usr/bin/env bash
# The whole product on one machine, no container engine: install what is
# missing, build, start the local stack (Redis + librdkafka's mock Kafka
# cluster), run the stream processor, stream a synthetic fleet of DAG runs
# through it, show the profiles, and stop everything.
# Usage: compose/demo.sh [RUNS]        (default 200 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
STACK=compose/.stack

compose/install-deps.sh
echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

run_pid=
cleanup() {
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  compose/stack.sh stop || true
}
trap cleanup EXIT

echo "== local stack"
# a fresh stack: both servers keep their data in memory only
compose/stack.sh stop >/dev/null 2>&1 || true
DAGPROF_BUILD_DIR=build compose/stack.sh start
set -a
# shellcheck source=/dev/null
. "$STACK/env"
set +a
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DAGPROF_METRICS_PORT=$metrics_port DAGPROF_GRACE_MS=1000

echo "== dagprof run (log: $STACK/run.log)"
build/dagprof run >"$STACK/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 1 100); do
  grep -q "partitions_assigned" "$STACK/run.log" && break
  kill -0 "$run_pid" 2>/dev/null || { cat "$STACK/run.log"; exit 1; }
  sleep 0.1
done

echo "== dagprof loadgen: $RUNS runs"
# a new seed each time: new trace ids
build/dagprof loadgen --loadgen.runs "$RUNS" --loadgen.rate 20000 --loadgen.seed "$(date +%s)"

echo "== waiting for the profiles"
for _ in $(seq 1 300); do
  done_count=$(curl -s "http://127.0.0.1:$metrics_port/metrics" |
    awk '/^dagprof_traces_profiled_complete_total /{print $2}')
  [ "${done_count:-0}" -ge "$RUNS" ] && break
  sleep 0.2
done
if [ "${done_count:-0}" -lt "$RUNS" ]; then
  echo "demo: only ${done_count:-0} of $RUNS runs were profiled; dagprof run's log:" >&2
  tail -20 "$STACK/run.log" >&2
  exit 1
fi

echo "== dagprof tail: the first two profiles"
build/dagprof tail --tail.from.beginning --tail.max 2 --tail.timeout.ms 20000

echo "== dagprof tail --format json: one more, as JSON"
build/dagprof tail --tail.from.beginning --tail.max 1 --format json --tail.timeout.ms 20000 >"$STACK/one.json"
head -c 1200 "$STACK/one.json"
echo " ..."
echo "== metrics"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^dagprof_(spans_consumed|spans_stored|traces_profiled|traces_revisions|profiles_published|redis_round_trips)'
echo "== offline: the same engine on a trace file"
build/dagprof profile --format text tests/fixtures/code_review_dag.jsonl | head -25
echo "..."
echo "== done: $RUNS runs streamed and profiled; stopping the stack"
