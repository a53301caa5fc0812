#!/usr/bin/env bash
# Builds rlvr's libFuzzer targets with the `fuzz` preset (clang, ASan + UBSan) and runs each for a
# bounded time. Exits non-zero if a target fails to build, crashes, trips a sanitizer or an
# invariant, or takes longer than 10 s on one input. CI calls `bash fuzz/run.sh 20`.
#
#   bash fuzz/run.sh [seconds per target, default 30]
#
# The seed corpora in fuzz/corpus/<target>/ are copied to a scratch directory, so a run never
# writes into the source tree; a crashing input is saved as build/fuzz/<target>-crash-<sha1>.
set -euo pipefail
secs="${1:-30}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [[ "$secs" -lt 1 ]]; then
  echo "fuzz/run.sh: seconds per target must be a positive integer (got '$secs')" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
targets=(fuzz_extract fuzz_normalize fuzz_safetensors fuzz_math_core)
cmake --preset fuzz >/dev/null
cmake --build build/fuzz --target "${targets[@]}" -j"${RLVR_FUZZ_JOBS:-2}"
status=0
for t in "${targets[@]}"; do
  bin="$(find build/fuzz -type f -name "$t" -perm -u+x | head -n 1)"
  if [[ -z "$bin" ]]; then
    echo "fuzz/run.sh: $t was not built" >&2
    status=1
    continue
  fi
  work="$(mktemp -d)"
  if [[ -d "fuzz/corpus/$t" ]]; then cp -R "fuzz/corpus/$t/." "$work/"; fi
  echo "== $t: ${secs} s"
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/$t-" "$work" 2>&1 | tail -n 25; then
    echo "== $t: ok"
  else
    echo "== $t: FAILED (reproducer: build/fuzz/$t-*)" >&2
    status=1
  fi
  rm -rf "$work"
done
exit "$status"
