#!/usr/bin/env bash
# Compile cost of rlvr's public headers: for each header, a translation unit that includes only
# that header is preprocessed (lines of `g++ -E` output, line markers dropped) and compiled to
# an object file (`-c`, wall-clock seconds of the best of REPEAT runs).
#
#   bash scripts/compile-time.sh                 # the headers users include most (about a minute)
#   bash scripts/compile-time.sh --all           # every public header
#   bash scripts/compile-time.sh rlvr/loss.hpp   # the headers named
#
# Environment: CXX (default g++), FLAGS (default "-std=c++20 -O3"), REPEAT (default 1),
# EIGEN_INCLUDE (default /usr/include/eigen3). Prints a Markdown table.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cxx="${CXX:-g++}"
flags="${FLAGS:--std=c++20 -O3}"
repeat="${REPEAT:-1}"
eigen="${EIGEN_INCLUDE:-/usr/include/eigen3}"
xt_inc=""
for d in /usr/include /usr/local/include; do [ -d "$d/xtensor" ] && xt_inc="-I$d"; done

headers=()
if [ "${1:-}" = "--all" ]; then
  while IFS= read -r h; do headers+=("${h#"$root/include/"}"); done < <(find "$root/include/rlvr" -name '*.hpp' -not -path '*/detail/*' | sort)
elif [ $# -gt 0 ]; then
  headers=("$@")
else
  headers=(rlvr/rlvr.hpp rlvr/config.hpp rlvr/loss.hpp rlvr/sampling/sampler.hpp rlvr/metrics/pass_at_k.hpp
           rlvr/optim/adam.hpp rlvr/policy/tabular.hpp rlvr/io/safetensors.hpp rlvr/rewards/verifiers.hpp
           rlvr/trainer/trainer.hpp rlvr/backends/eigen.hpp rlvr/policy/transformer.hpp)
  for h in rlvr/generate.hpp rlvr/evaluate.hpp rlvr/sft.hpp rlvr/fit.hpp; do
    [ -f "$root/include/$h" ] && headers+=("$h")
  done
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '| header | preprocessed lines | compile s (%s) |\n|---|---:|---:|\n' "$flags"
for h in "${headers[@]}"; do
  [ "$h" = "rlvr/backends/cuda.hpp" ] && continue # host declarations for nvcc builds
  printf '#include <%s>\nint main() { return 0; }\n' "$h" > "$tmp/tu.cpp"
  inc="-I$root/include -I$eigen $xt_inc"
  lines=$($cxx $flags $inc -E -P "$tmp/tu.cpp" 2>/dev/null | grep -cv '^[[:space:]]*$' || true)
  best=""
  for _ in $(seq "$repeat"); do
    s=$(date +%s.%N)
    $cxx $flags $inc -c "$tmp/tu.cpp" -o "$tmp/tu.o"
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '| `%s` | %s | %.2f |\n' "$h" "$lines" "$best"
done
