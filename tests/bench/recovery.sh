#!/usr/bin/env bash
# recovery.sh -- how long the group takes to recover from two kill -9 in a row,
# with dagprof's defaults, on the local stack (compose/stack.sh).
#
#   tests/bench/recovery.sh [--runs N] [--rate SPANS_PER_S] [--seed S] [--deadline S]
#
# Two `dagprof run` in one group, 6 partitions, `dagprof loadgen` streaming
# N runs (default 3000) at 8000 spans/s. A few seconds into the load one
# instance is killed with SIGKILL and a replacement started; the replacement
# is killed 3 s later and a third started. `dagprof tail` reads dag-profiles
# meanwhile. Printed: when the last run's latest revision equalled its offline
# `dagprof profile` (the recovery time, from the last kill), how many runs
# match, how many (trace, revision) came more than once, and whether the
# partitions that did not move kept being profiled. Exit status 0 only when
# every run matches offline within the deadline (default 60 s after the last
# kill) and no profile_id came twice with different figures.
#
# Extra environment (e.g. DAGPROF_KAFKA_SESSION_TIMEOUT_MS) reaches every
# instance, to measure other settings. Uses its own stack dir and ports.
set -euo pipefail

RUNS=3000
RATE=8000
SEED=2020
DEADLINE_S=60
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --deadline) DEADLINE_S="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--rate SPANS_PER_S] [--seed S] [--deadline S]" >&2; exit 2 ;;
    esac
done

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${DAGPROF_BUILD_DIR:-$REPO_DIR/build}"
unset DAGPROF_BUILD_DIR # dagprof refuses DAGPROF_* variables that name no option
DAGPROF="$BUILD_DIR/dagprof"
[ -x "$DAGPROF" ] || { echo "recovery.sh: build first ($DAGPROF missing)" >&2; exit 2; }
WORK="$(mktemp -d /tmp/dagprof-recovery.XXXXXX)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    kill -TERM "$REDIS_PID" "$BROKER_PID" 2>/dev/null || true
    wait "$REDIS_PID" "$BROKER_PID" 2>/dev/null || true
    if [ -z "${RECOVERY_KEEP:-}" ]; then rm -rf "$WORK"; else echo "recovery.sh: kept $WORK"; fi
}
REDIS_PID=""
BROKER_PID=""
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# the stack: what compose/stack.sh starts, on ports of its own
REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
"$BUILD_DIR/dagprof-mockbroker" --partitions 6 --bootstrap-file "$WORK/bootstrap" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 300); do
    [ -s "$WORK/bootstrap" ] && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done
[ -s "$WORK/bootstrap" ] || { echo "recovery.sh: the broker did not start" >&2; exit 1; }
export DAGPROF_KAFKA_BOOTSTRAP_SERVERS="$(cat "$WORK/bootstrap")"
export DAGPROF_REDIS_PORT="$REDIS_PORT"
export DAGPROF_METRICS_PORT=0

# what every run must come out as
"$DAGPROF" loadgen --loadgen.runs "$RUNS" --loadgen.seed "$SEED" --loadgen.output "$WORK/spans.jsonl" \
    >"$WORK/offline-loadgen.log" 2>&1
"$DAGPROF" profile --format json "$WORK/spans.jsonl" >"$WORK/offline.jsonl"

start_instance() { # name; sets STARTED (not in a subshell: PIDS must keep it)
    "$DAGPROF" run >"$WORK/$1.log" 2>&1 &
    STARTED=$!
    PIDS+=("$STARTED")
}
wait_log() { # file needle timeout_s
    local until=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $until ] || { echo "recovery.sh: $1 never logged $2" >&2; tail -20 "$1" >&2; exit 1; }
        sleep 0.1
    done
}
now_ms() { date +%s%3N; }

DAGPROF_TAIL_FROM_BEGINNING=true "$DAGPROF" tail --format json >"$WORK/tail.jsonl" 2>"$WORK/tail.log" &
PIDS+=($!)
start_instance run-a
A=$STARTED
start_instance run-b
wait_log "$WORK/run-a.log" "event=partitions_assigned" 90
wait_log "$WORK/run-b.log" "event=partitions_assigned" 90
# both own partitions: the group has settled on two members
until [ "$(grep -c 'event=partitions_assigned' "$WORK/run-a.log" "$WORK/run-b.log" | awk -F: '{s+=$2} END {print s}')" -ge 2 ]; do sleep 0.1; done
sleep 3
"$DAGPROF" loadgen --loadgen.runs "$RUNS" --loadgen.seed "$SEED" --loadgen.rate "$RATE" >"$WORK/loadgen.log" 2>&1 &
GEN=$!
sleep 3
kill -KILL "$A"
start_instance run-c
C=$STARTED
sleep 3
kill -KILL "$C"
LAST_KILL_MS=$(now_ms)
start_instance run-d
wait "$GEN"
LOAD_END_MS=$(now_ms)
echo "recovery.sh: $RUNS runs at $RATE spans/s; last kill at load+6 s; waiting up to ${DEADLINE_S} s"

python3 - "$WORK" "$LAST_KILL_MS" "$DEADLINE_S" "$RUNS" "$LOAD_END_MS" <<'EOF'
import json, sys, time, os
work, last_kill_ms, deadline_s, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load_end_ms = int(sys.argv[5])
def figures(p):
    p = dict(p)
    for k in ("profile_id", "revision", "profiled_at_us"):
        p.pop(k, None)
    return p
expected = {}
for line in open(os.path.join(work, "offline.jsonl")):
    p = json.loads(line)
    expected[p["trace_id"]] = figures(p)
assert len(expected) == runs, len(expected)
latest, seen, repeats, conflicts = {}, {}, 0, 0
arrival = []  # (ms, trace_id) of each profile, to see the partitions that kept going
pos = 0
done_ms = None
f = open(os.path.join(work, "tail.jsonl"))
buf = ""
while True:
    chunk = f.read()
    now = int(time.time() * 1000)
    if chunk:
        buf += chunk
        *lines, buf = buf.split("\n")
        for line in lines:
            if not line.strip():
                continue
            p = json.loads(line)
            fig = figures(p)
            pid = p["profile_id"]
            if pid in seen:
                repeats += 1
                if seen[pid] != fig:
                    conflicts += 1
            else:
                seen[pid] = fig
            t = p["trace_id"]
            if t not in latest or p["revision"] >= latest[t][0]:
                latest[t] = (p["revision"], fig)
            arrival.append(now)
    matched = sum(1 for t, want in expected.items() if t in latest and latest[t][1] == want)
    if matched == runs:
        done_ms = now
        break
    if now - last_kill_ms > deadline_s * 1000:
        break
    time.sleep(0.05)
# the longest time without any profile from the first kill to the end of the
# load (+ the 2 s grace): the partitions that did not move keep the stream going
gaps = [b - a for a, b in zip(arrival, arrival[1:]) if a >= last_kill_ms - 3000 and b <= load_end_ms + 2500]
longest_gap = max(gaps) if gaps else 0
print("recovery: %d/%d runs equal to offline; %d profiles, %d repeated (trace, revision), %d with other figures"
      % (matched, runs, len(seen) + repeats, repeats, conflicts))
print("recovery: longest pause between profiles from the first kill to the end of the load: %.1f s" % (longest_gap / 1000))
if done_ms is not None:
    print("recovery: all runs profiled %.1f s after the last kill" % ((done_ms - last_kill_ms) / 1000))
else:
    print("recovery: NOT all runs profiled within %d s of the last kill" % deadline_s)
sys.exit(0 if done_ms is not None and conflicts == 0 else 1)
EOF
