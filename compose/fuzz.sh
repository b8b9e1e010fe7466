#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/, then fuzz each target for SECONDS
# starting from a temporary copy of its seed corpus (tests/fuzz/corpus/<target>,
# which is never written to). Crash, leak, timeout and out-of-memory inputs are
# kept in build-fuzz/artifacts/<target>/; the script prints their paths and the
# command that reproduces each, and exits 1 when any target found one.
# Usage: compose/fuzz.sh [SECONDS]      (default 30, from anywhere in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: compose/fuzz.sh [SECONDS]   (a positive whole number, default 30)" >&2
  exit 2
fi

targets=(fuzz_span_avro fuzz_span_json fuzz_profile fuzz_profile_avro fuzz_otlp fuzz_baseline)
build="build-fuzz"
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build ($build, clang, ASan + UBSan + libFuzzer)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDAGPROF_WERROR=ON -DDAGPROF_FUZZ=ON -DDAGPROF_SANITIZE=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/dagprof-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Tokens of the JSON Lines span events (SPEC 1), so the JSON targets spend
# their time on traces rather than on rediscovering the field names.
json_dict="$work/span_event_json.dict"
{
  for field in trace_id span_id parent_span_id dag_id node_id kind name start_us end_us \
    status depends_on attempt model provider input_tokens output_tokens \
    cache_read_tokens cache_write_tokens reasoning_tokens tool_name attributes; do
    printf '"\\"%s\\":"\n' "$field"
  done
  for symbol in run node llm tool other ok error unset claude-sonnet-4-5 \
    claude-3-5-haiku-20241022 anthropic/claude-opus-4-1 gpt-4o; do
    printf '"\\"%s\\""\n' "$symbol"
  done
  for token in null true '[]' '{}' '\x0a' 9223372036854775807 -9223372036854775808 \
    1705314615000000 '\\u0000' '\\ud83d' '\\u001b'; do
    printf '"%s"\n' "$token"
  done
} >"$json_dict"

# UBSan findings abort (the build uses -fno-sanitize-recover); show where.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# libFuzzer stops itself after -max_total_time and kills an input after
# -timeout seconds; the outer timeout only catches a fuzzer that hangs anyway
# (loading the corpus, the final leak check).
per_input_timeout=30
hard_limit=$((seconds + 2 * per_input_timeout + 60))

failed=0
for target in "${targets[@]}"; do
  corpus="$work/$target/corpus"
  artifacts="$PWD/$build/artifacts/$target"
  log="$work/$target/fuzz.log"
  mkdir -p "$corpus" "$artifacts"
  cp -R "tests/fuzz/corpus/$target/." "$corpus/"
  seeds=$(find "$corpus" -type f | wc -l)

  echo "== $target: ${seconds}s from $seeds seeds"
  dict=()
  if [[ $target == fuzz_span_json || $target == fuzz_profile ]]; then
    dict=(-dict="$json_dict")
  fi
  rc=0
  timeout -k 10 "$hard_limit" "$build/fuzz/$target" \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -timeout="$per_input_timeout" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "${dict[@]}" "$corpus" >"$log" 2>&1 || rc=$?

  grown=$(find "$corpus" -type f | wc -l)
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/   /' || true
  echo "   corpus: $seeds -> $grown inputs"

  if [[ $rc -eq 0 ]]; then
    continue
  fi
  failed=1
  echo "!! $target failed (exit status $rc)"
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "!! $target did not stop within ${hard_limit}s and was killed"
  fi
  # The report from its first line (harness message, sanitizer or libFuzzer
  # error) rather than the tail, which is mostly a stack trace.
  first=$(grep -n -m 1 -E '^fuzz_[a-z_]+: |ERROR|runtime error' "$log" | cut -d: -f1 || true)
  if [[ -n $first ]]; then
    tail -n "+$first" "$log" | head -n 80 | sed 's/^/   | /'
  else
    tail -n 60 "$log" | sed 's/^/   | /'
  fi
  found=0
  while IFS= read -r unit; do
    [[ -n $unit ]] || continue
    found=1
    echo "!! crash file: $unit"
    echo "   reproduce:  $PWD/$build/fuzz/$target $unit"
  done < <(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
  if [[ $found -eq 0 ]]; then
    echo "!! no crash file was written; the full log is above"
  fi
done

if [[ $failed -ne 0 ]]; then
  echo "== fuzzing found problems (inputs kept in $build/artifacts/)"
  exit 1
fi
echo "== no crash in ${#targets[@]} targets x ${seconds}s"
