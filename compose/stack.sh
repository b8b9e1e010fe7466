#!/usr/bin/env bash
# stack.sh -- the local dagprof stack (Redis + Kafka) without a container engine.
#
#   compose/stack.sh start [--redis-port P] [--kafka-port P] [--partitions N] [--redis-cluster]
#   compose/stack.sh stop | status | env
#
# --redis-cluster starts a Redis Cluster instead of one Redis: 3 masters and
# 3 replicas (redis-server --cluster-enabled yes, joined by redis-cli
# --cluster create) on 127.0.0.1, ports from --redis-port (default 7000) up;
# the env file then names them in DAGPROF_REDIS_NODES.
#
# Kafka is build/dagprof-mockbroker (librdkafka's mock cluster; set
# DAGPROF_BUILD_DIR when the build dir is not <repo>/build), Redis is
# redis-server from PATH, both on 127.0.0.1. Both keep their data in memory
# only: a restarted stack starts empty, so Redis never holds traces whose spans
# Kafka has forgotten. Pid files, logs and the env file live in compose/.stack/.
#
# The broker's own ports are ephemeral (librdkafka 2.0.2 cannot fix them); it
# also accepts bootstrap connections on --kafka-port (default 9092, or the next
# free port), which is listed first in DAGPROF_KAFKA_BOOTSTRAP_SERVERS. Use it:
#
#   set -a; . compose/.stack/env; set +a
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$SCRIPT_DIR")"
readonly SCRIPT_DIR REPO_DIR
readonly STACK_DIR="$SCRIPT_DIR/.stack"
readonly BUILD_DIR="${DAGPROF_BUILD_DIR:-$REPO_DIR/build}"
readonly BROKER_BIN="$BUILD_DIR/dagprof-mockbroker"
readonly ENV_FILE="$STACK_DIR/env"
readonly BOOTSTRAP_FILE="$STACK_DIR/kafka.bootstrap"
readonly READY_TIMEOUT_S=30
readonly STOP_TIMEOUT_S=10

die() {
    echo "stack.sh: $*" >&2
    exit 1
}

usage() {
    cat <<'EOF'
usage: compose/stack.sh start [--redis-port P] [--kafka-port P] [--partitions N] [--redis-cluster]
       compose/stack.sh stop | status | env

  start    start redis-server and dagprof-mockbroker on 127.0.0.1 (no-op if running)
  stop     stop both (SIGTERM, then SIGKILL after 10 s)
  status   say what runs (exit status 1 unless both run)
  env      print the env file: DAGPROF_KAFKA_BOOTSTRAP_SERVERS, DAGPROF_REDIS_HOST/PORT

  --redis-port P   Redis port (default 6379, or the next free one)
  --kafka-port P   fixed Kafka bootstrap port (default 9092, or the next free one)
  --partitions N   partitions per topic (default 6)
  --redis-cluster  a 3-master 3-replica Redis Cluster on ports P..P+5 (default 7000)
                   instead of one Redis; prints the seeds (DAGPROF_REDIS_NODES)
EOF
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The wanted port when free, else the next free one within 100.
pick_port() {
    local port="$1"
    local last=$(($1 + 100))
    while ((port <= last)); do
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    return 1
}

# Pid from a pid file when that process still runs the expected program.
running_pid() {
    local pid_file="$STACK_DIR/$1.pid"
    local program="$2"
    local pid
    [[ -f "$pid_file" ]] || return 1
    pid="$(cat "$pid_file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A recycled pid belongs to someone else: never signal it.
    grep -qa -- "$program" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

redis_answers() {
    local port="$1"
    local reply=""
    # The braces keep bash's "connection refused" off the terminal.
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    read -r -t 2 reply <&3 || true
    exec 3>&-
    [[ "$reply" == "+PONG"* ]]
}

kafka_answers() {
    local servers entry
    local -a entries
    [[ -s "$BOOTSTRAP_FILE" ]] || return 1
    servers="$(cat "$BOOTSTRAP_FILE")"
    IFS=',' read -r -a entries <<<"$servers"
    for entry in "${entries[@]}"; do
        port_in_use "${entry##*:}" || return 1
    done
}

log_tail() {
    echo "--- last lines of $1:" >&2
    tail -n 5 "$1" >&2 || true
}

# Wait until the command after the first three arguments succeeds, giving up
# when the service (name, pid, log) dies or the deadline passes.
wait_ready() {
    local name="$1" pid="$2" log="$3"
    local waited=0
    shift 3
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "stack.sh: $name exited during start" >&2
            log_tail "$log"
            return 1
        fi
        if ((waited >= READY_TIMEOUT_S * 10)); then
            echo "stack.sh: $name did not answer within ${READY_TIMEOUT_S} s" >&2
            log_tail "$log"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

stop_one() {
    local name="$1" program="$2"
    local pid waited=0
    if ! pid="$(running_pid "$name" "$program")"; then
        rm -f "$STACK_DIR/$name.pid"
        echo "$name: not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT_S * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "stack.sh: $name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S} s, killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STACK_DIR/$name.pid"
    echo "$name: stopped"
}

# Start redis-server on port $1; returns 1 (with the reason on stderr) on failure.
start_redis() {
    local port="$1" pid
    mkdir -p "$STACK_DIR/redis"
    : >"$STACK_DIR/redis.log"
    nohup redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$STACK_DIR/redis" --daemonize no \
        </dev/null >>"$STACK_DIR/redis.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STACK_DIR/redis.pid"
    echo "$port" >"$STACK_DIR/redis.port"
    if ! wait_ready redis "$pid" "$STACK_DIR/redis.log" redis_answers "$port"; then
        stop_one redis redis-server >/dev/null
        return 1
    fi
    echo "redis: started (pid $pid, port $port)"
}

# Start the mock broker with bootstrap port $1 and $2 partitions per topic.
start_kafka() {
    local port="$1" partitions="$2" pid
    rm -f "$BOOTSTRAP_FILE"
    : >"$STACK_DIR/kafka.log"
    nohup "$BROKER_BIN" --partitions "$partitions" --port "$port" \
        --bootstrap-file "$BOOTSTRAP_FILE" \
        </dev/null >>"$STACK_DIR/kafka.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STACK_DIR/kafka.pid"
    if ! wait_ready kafka "$pid" "$STACK_DIR/kafka.log" kafka_answers; then
        stop_one kafka dagprof-mockbroker >/dev/null
        return 1
    fi
    echo "kafka: started (pid $pid, bootstrap $(cat "$BOOTSTRAP_FILE"))"
}

# The port to use: the one asked for (which must be free), else the default
# or the next free one after it.
choose_port() {
    local wanted="$1" default="$2" option="$3"
    if [[ -n "$wanted" ]]; then
        if port_in_use "$wanted"; then
            echo "stack.sh: port $wanted is already in use ($option)" >&2
            return 1
        fi
        echo "$wanted"
        return 0
    fi
    if ! pick_port "$default"; then
        echo "stack.sh: no free port in $default..$((default + 100)) ($option)" >&2
        return 1
    fi
}

# ---- Redis Cluster (--redis-cluster) ----
readonly CLUSTER_NODES=6

# The first port from $1 with six consecutive free ports whose bus ports
# (+10000) are free too.
cluster_ports() {
    local base="$1" i ok
    while ((base + CLUSTER_NODES - 1 + 10000 <= 65535)); do
        ok=1
        for ((i = 0; i < CLUSTER_NODES; i++)); do
            if port_in_use $((base + i)) || port_in_use $((base + i + 10000)); then
                ok=0
                break
            fi
        done
        if ((ok)); then
            echo "$base"
            return 0
        fi
        base=$((base + CLUSTER_NODES))
    done
    return 1
}

cluster_running() {
    local i
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        running_pid "redis-c$i" redis-server >/dev/null || return 1
    done
}

cluster_ok() {
    local i base="$1"
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        redis-cli -p $((base + i)) cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
}

stop_cluster() {
    local i
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        [[ -f "$STACK_DIR/redis-c$i.pid" ]] && stop_one "redis-c$i" redis-server
    done
    rm -f "$STACK_DIR/redis.nodes"
    rm -rf "$STACK_DIR/redis-cluster"
}

start_cluster() {
    local base="$1" i pid port seeds="" addrs=()
    command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found on PATH (Debian: apt-get install redis-tools)"
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        port=$((base + i))
        mkdir -p "$STACK_DIR/redis-cluster/$i"
        : >"$STACK_DIR/redis-c$i.log"
        nohup redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$STACK_DIR/redis-cluster/$i" --daemonize no --cluster-enabled yes \
            --cluster-config-file "$STACK_DIR/redis-cluster/$i/nodes.conf" --cluster-node-timeout 5000 \
            </dev/null >>"$STACK_DIR/redis-c$i.log" 2>&1 &
        pid=$!
        echo "$pid" >"$STACK_DIR/redis-c$i.pid"
        wait_ready "redis-c$i" "$pid" "$STACK_DIR/redis-c$i.log" redis_answers "$port" || {
            stop_cluster >/dev/null
            return 1
        }
        addrs+=("127.0.0.1:$port")
        seeds+="${seeds:+,}127.0.0.1:$port"
    done
    if ! redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
        >"$STACK_DIR/redis-cluster/create.log" 2>&1; then
        log_tail "$STACK_DIR/redis-cluster/create.log"
        stop_cluster >/dev/null
        return 1
    fi
    if ! wait_ready "redis-c0" "$pid" "$STACK_DIR/redis-c0.log" cluster_ok "$base"; then
        stop_cluster >/dev/null
        return 1
    fi
    echo "$seeds" >"$STACK_DIR/redis.nodes"
    echo "$base" >"$STACK_DIR/redis.port"
    echo "redis cluster: started (3 masters, 3 replicas), seeds $seeds"
}

write_env() {
    local tmp="$ENV_FILE.tmp.$$"
    {
        echo "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=$(cat "$BOOTSTRAP_FILE")"
        echo "DAGPROF_REDIS_HOST=127.0.0.1"
        echo "DAGPROF_REDIS_PORT=$(cat "$STACK_DIR/redis.port")"
        [[ -s "$STACK_DIR/redis.nodes" ]] && echo "DAGPROF_REDIS_NODES=$(cat "$STACK_DIR/redis.nodes")"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

cmd_start() {
    local redis_port="" kafka_port="" partitions=6 redis_cluster=0
    while (($# > 0)); do
        case "$1" in
        --redis-cluster)
            redis_cluster=1
            shift
            ;;
        --redis-port | --kafka-port | --partitions)
            (($# >= 2)) || die "$1 needs a value"
            if ! [[ "$2" =~ ^[0-9]{1,5}$ ]] || (($2 < 1 || $2 > 65535)); then
                die "$1 wants a number from 1 to 65535, not '$2'"
            fi
            case "$1" in
            --redis-port) redis_port="$2" ;;
            --kafka-port) kafka_port="$2" ;;
            --partitions) partitions="$2" ;;
            esac
            shift 2
            ;;
        -h | --help)
            usage
            return 0
            ;;
        *)
            usage >&2
            die "unknown option '$1'"
            ;;
        esac
    done
    mkdir -p "$STACK_DIR"
    if ((redis_cluster)); then
        start_with_cluster "$redis_port" "$kafka_port" "$partitions"
        return
    fi

    local redis_pid="" kafka_pid=""
    redis_pid="$(running_pid redis redis-server)" || redis_pid=""
    kafka_pid="$(running_pid kafka dagprof-mockbroker)" || kafka_pid=""
    if [[ -n "$redis_pid" && -n "$kafka_pid" ]]; then
        echo "stack already running (redis pid $redis_pid, kafka pid $kafka_pid)"
        write_env
        return 0
    fi
    # Check everything before starting anything, so a failure leaves no
    # half-started stack behind.
    local redis_port_chosen="" kafka_port_chosen=""
    if [[ -z "$redis_pid" ]]; then
        command -v redis-server >/dev/null 2>&1 ||
            die "redis-server not found on PATH (Debian: apt-get install redis-server)"
        redis_port_chosen="$(choose_port "$redis_port" 6379 --redis-port)" || exit 1
    fi
    if [[ -z "$kafka_pid" ]]; then
        [[ -x "$BROKER_BIN" ]] ||
            die "$BROKER_BIN not found: build it (cmake --build build --target dagprof-mockbroker) or set DAGPROF_BUILD_DIR to the build dir"
        kafka_port_chosen="$(choose_port "$kafka_port" 9092 --kafka-port)" || exit 1
    fi

    if [[ -n "$redis_pid" ]]; then
        echo "redis: already running (pid $redis_pid, port $(cat "$STACK_DIR/redis.port"))"
    else
        start_redis "$redis_port_chosen" || die "Redis did not start"
    fi
    if [[ -n "$kafka_pid" ]]; then
        echo "kafka: already running (pid $kafka_pid)"
    elif ! start_kafka "$kafka_port_chosen" "$partitions"; then
        [[ -n "$redis_pid" ]] || stop_one redis redis-server >/dev/null
        die "the mock Kafka broker did not start"
    fi
    write_env
    echo "env: $ENV_FILE (set -a; . $ENV_FILE; set +a)"
}

# start --redis-cluster: the cluster in place of the one Redis, then Kafka.
start_with_cluster() {
    local redis_port="$1" kafka_port="$2" partitions="$3" base kafka_pid kafka_port_chosen=""
    command -v redis-server >/dev/null 2>&1 ||
        die "redis-server not found on PATH (Debian: apt-get install redis-server)"
    running_pid redis redis-server >/dev/null && die "one Redis runs already: compose/stack.sh stop first"
    kafka_pid="$(running_pid kafka dagprof-mockbroker)" || kafka_pid=""
    if [[ -z "$kafka_pid" ]]; then
        [[ -x "$BROKER_BIN" ]] ||
            die "$BROKER_BIN not found: build it (cmake --build build --target dagprof-mockbroker) or set DAGPROF_BUILD_DIR to the build dir"
        kafka_port_chosen="$(choose_port "$kafka_port" 9092 --kafka-port)" || exit 1
    fi
    if cluster_running; then
        echo "redis cluster: already running, seeds $(cat "$STACK_DIR/redis.nodes")"
    else
        base="$(cluster_ports "${redis_port:-7000}")" || die "no six free ports (and bus ports) from ${redis_port:-7000}"
        start_cluster "$base" || die "the Redis Cluster did not start"
    fi
    if [[ -n "$kafka_pid" ]]; then
        echo "kafka: already running (pid $kafka_pid)"
    elif ! start_kafka "$kafka_port_chosen" "$partitions"; then
        stop_cluster >/dev/null
        die "the mock Kafka broker did not start"
    fi
    write_env
    echo "seeds: $(cat "$STACK_DIR/redis.nodes")"
    echo "env: $ENV_FILE (set -a; . $ENV_FILE; set +a)"
}

cmd_stop() {
    [[ -d "$STACK_DIR" ]] || {
        echo "stack not running"
        return 0
    }
    stop_one kafka dagprof-mockbroker
    stop_one redis redis-server
    stop_cluster
    rm -f "$ENV_FILE" "$BOOTSTRAP_FILE" "$STACK_DIR/redis.port"
}

cmd_status() {
    local pid down=0
    if cluster_running; then
        echo "redis cluster: running, seeds $(cat "$STACK_DIR/redis.nodes" 2>/dev/null)"
    elif pid="$(running_pid redis redis-server)"; then
        echo "redis: running (pid $pid, port $(cat "$STACK_DIR/redis.port"))"
    else
        echo "redis: stopped"
        down=1
    fi
    if pid="$(running_pid kafka dagprof-mockbroker)"; then
        echo "kafka: running (pid $pid, bootstrap $(cat "$BOOTSTRAP_FILE" 2>/dev/null))"
    else
        echo "kafka: stopped"
        down=1
    fi
    return "$down"
}

cmd_env() {
    [[ -f "$ENV_FILE" ]] || die "no env file: run compose/stack.sh start"
    cat "$ENV_FILE"
}

main() {
    local command="${1:-}"
    (($# > 0)) && shift
    case "$command" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
