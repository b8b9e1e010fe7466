#!/usr/bin/env bash
# Install what is missing, build, and run every test: the Check suites
# (unit, Redis store, end-to-end stream and fault tests against a real
# redis-server and the mock Kafka broker), then the unit suites again under
# AddressSanitizer and UndefinedBehaviorSanitizer, then short fuzzing runs.
# Usage: compose/test.sh            (from anywhere in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

compose/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDAGPROF_WERROR=ON >/dev/null
cmake --build build -j "$jobs"

echo "== tests"
(cd build && ctest --output-on-failure --timeout 900)

echo "== fuzzing: each libFuzzer target for a short run (compose/fuzz.sh SECONDS for longer)"
# A fixed seed makes the verdict repeatable; fresh seeds are for long campaigns.
DAGPROF_FUZZ_SEED="${DAGPROF_FUZZ_SEED:-1}" compose/fuzz.sh "${DAGPROF_FUZZ_SECONDS:-20}"

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDAGPROF_WERROR=ON -DDAGPROF_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
# The end-to-end suites spawn the regular binaries; here the in-process suites matter.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure --timeout 900 -E 'test_stream|test_faults')

echo "== all tests passed"
