#!/usr/bin/env bash
# Builds danced and runs every test: unit (cmocka), fuzz corpus replays and
# integration (pytest against the real daemon, NSD, kdig, dig) — once in a
# normal build with warnings as errors, once under AddressSanitizer +
# UndefinedBehaviorSanitizer — then runs each libFuzzer harness briefly.
#
#   scripts/test.sh            everything (what CI runs)
#   FUZZ_SECONDS=0 scripts/test.sh   skip the fuzzing runs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

scripts/deps.sh

run_suite() {
  local dir=$1; shift
  echo "=== configure $dir ($*)"
  cmake -S "$ROOT" -B "$ROOT/$dir" -DDANCED_WERROR=ON "$@" >/dev/null
  cmake --build "$ROOT/$dir" -j"$JOBS" >/dev/null
  echo "=== ctest $dir: unit tests and fuzz-corpus replays"
  (cd "$ROOT/$dir" && ctest --output-on-failure --timeout 600 -LE integration)
  echo "=== ctest $dir: integration (pytest against the real daemon; its summary follows)"
  (cd "$ROOT/$dir" && ctest --timeout 1500 -L integration -V)
}

run_suite build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-ci-asan -DCMAKE_BUILD_TYPE=Debug -DDANCED_SANITIZE=ON

if [ "$FUZZ_SECONDS" != "0" ] && command -v clang >/dev/null; then
  echo "=== fuzz (clang, ${FUZZ_SECONDS}s each)"
  cmake -S "$ROOT" -B "$ROOT/build-ci-fuzz" -DCMAKE_C_COMPILER=clang -DDANCED_FUZZ=ON -DDANCED_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$ROOT/build-ci-fuzz" -j"$JOBS" >/dev/null
  passed=0; failed=0
  for f in "$ROOT"/build-ci-fuzz/fuzz/fuzz_*; do
    name=$(basename "$f"); short=${name#fuzz_}
    work=$(mktemp -d)
    cp -r "$ROOT/fuzz/corpus/$short/." "$work/" 2>/dev/null || true
    if "$f" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
      echo "fuzz $name: ok"
      passed=$((passed + 1))
    else
      echo "fuzz $name: FAILED"; tail -40 "$work.log"; failed=$((failed + 1))
    fi
    rm -rf "$work" "$work.log"
  done
  echo "fuzz: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
fi
