#!/usr/bin/env bash
# Install the Debian packages dagprof needs to build, test and run locally.
# Only what is missing is installed; run as root (or with sudo) on Debian 12+.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  gcc libc6-dev make cmake pkg-config  # toolchain
  librdkafka-dev libavro-dev         # Kafka client (with its mock cluster), Avro
  libhiredis-dev libjansson-dev      # Redis client, JSON
  libmicrohttpd-dev                  # /metrics and /healthz
  check                              # unit test framework
  redis-server                       # trace store for the local stack and tests
  python3 python3-avro python3-yaml  # independent Avro reader and compose checks in tests
  python3-scipy                      # independent rank test for the fleet comparison (test_baseline)
  curl                               # the demo reads /metrics
  clang libclang-rt-14-dev           # libFuzzer targets (compose/fuzz.sh)
  libprotobuf-c-dev protobuf-c-compiler  # OTLP protobuf input
  chromium                           # the HTML report is tested in a real browser
  nodejs npm                         # test-only clients: OpenTelemetry JS SDK, kafkajs, avsc
  libcurl4-openssl-dev               # Schema Registry client (output.schema.registry.url)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# node may come from another packaging than Debian's: accept any node and npm on PATH.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  kept=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in nodejs|npm) ;; *) kept+=("$pkg") ;; esac
  done
  missing=("${kept[@]}")
fi

js_deps() {
  # Test-only npm clients, pinned by tests/js/package-lock.json.
  [ "${DAGPROF_SKIP_JS:-0}" = 1 ] && return 0
  if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
    echo "install-deps: npm ci in tests/js"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  js_deps
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system redis on 6379; dagprof starts its own servers.
if [ -x /usr/bin/redis-server ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
js_deps
echo "install-deps: done"
