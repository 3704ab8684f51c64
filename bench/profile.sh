#!/usr/bin/env bash
# bench/profile.sh — perf profiles of danced under the loads of bench/compare (part 5 only):
# dnsperf -m dot (anonymous, 50 clients), dance-bench pipeline and connect with mTLS + DANE.
# Same setup as bench/compare (build, private network namespace, NSD, identities); prints the top
# symbols and does not touch bench/RESULTS.md.  Extra arguments go to bench/compare (e.g. --duration 10).
# perf on this VM has no hardware counters (`perf stat -e instructions true` says <not supported>),
# so the profiles use the cpu-clock software event.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/compare" --parts 5 --no-results --rounds 1 "$@"
section="$here/../build-bench-compare/compare-run/section.md"
sed -n '/^### 5\./,/^### Where/p' "$section" | sed '$d'
