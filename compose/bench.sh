#!/usr/bin/env bash
# bench.sh -- build Release and run every benchmark, printing its figures.
#
#   compose/bench.sh [bench_e2e options]      e.g. compose/bench.sh --runs 5000
#
# Builds dagprof, the mock broker and every tests/bench/bench_*.c into
# build-release/ (DAGPROF_BENCH_BUILD_DIR to change it), then runs each
# benchmark in turn: bench_engine (the profiling engine alone) and bench_e2e
# (`dagprof run` end to end against its own redis-server and mock broker; the
# options given here go to it, see `bench_e2e --help`). Each one stops by
# itself. The figures are only as steady as the machine: run it on an idle one.
# Exits non-zero when the build or a benchmark fails.
set -euo pipefail
cd "$(dirname "$0")/.."

compose/install-deps.sh

build_dir="${DAGPROF_BENCH_BUILD_DIR:-build-release}"
# dagprof refuses DAGPROF_* variables it does not know, and the benchmarks'
# processes inherit this environment
unset DAGPROF_BENCH_BUILD_DIR
case "$build_dir" in
  /*) ;;
  *) build_dir="$PWD/$build_dir" ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)

benches=()
for source in tests/bench/bench_*.c; do
  [ -e "$source" ] || continue
  name=$(basename "$source" .c)
  benches+=("$name")
done
if [ ${#benches[@]} -eq 0 ]; then
  echo "bench.sh: no tests/bench/bench_*.c" >&2
  exit 1
fi

echo "== build (Release) in $build_dir"
# Warnings stay warnings here: -O3 inlining brings -Wmaybe-uninitialized
# reports the RelWithDebInfo CI build (warnings as errors) does not have.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DDAGPROF_WERROR=OFF >/dev/null
cmake --build "$build_dir" -j "$jobs" --target dagprof dagprof-mockbroker "${benches[@]}"

status=0
for name in "${benches[@]}"; do
  echo
  echo "== $name"
  if [ "$name" = bench_e2e ]; then
    "$build_dir/bench/$name" --build-dir "$build_dir" "$@" || status=1
  else
    "$build_dir/bench/$name" || status=1
  fi
done
exit "$status"
