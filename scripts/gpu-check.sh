#!/usr/bin/env bash
# scripts/gpu-check.sh — builds and runs rlvr's GPU checks on a machine with an NVIDIA GPU, in one
# go, in well under 6 minutes:
#   1. records the device, driver and toolchain                      -> $OUT/device.txt
#   2. compiles, with nvcc alone (no CMake, Catch2 or Eigen needed), every GPU test
#      (tests/gpu/test_*.cu), the CUDA conformance suite (tests/conformance/conformance_cuda.cu)
#      and bench_cuda (Google Benchmark if installed, else bench/cuda/mini_benchmark.hpp), in
#      parallel                                                      -> $OUT/build.log
#   3. runs the tests and the conformance suite (exit 77 = no device) -> $OUT/tests.log
#   4. runs bench_cuda (CUDA events, manual time)                    -> $OUT/bench.txt
#   5. runs the PyTorch baselines, if torch is there                 -> $OUT/torch.txt
#   and a one-line-per-step summary                                  -> $OUT/summary.txt
# The compile commands are the ones CI's `cuda` preset uses (-std=c++20 --expt-relaxed-constexpr,
# sm_XX SASS + compute_XX PTX for the device found, 90 by default), minus -Werror: a different
# host compiler on the GPU machine must not turn a new warning into a lost run.
#
# Usage: OUT=/some/dir bash scripts/gpu-check.sh      (OUT defaults to ./gpu-out)
# Env:   NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc), BUILD (default
#        /tmp/rlvr-gpu-check), JOBS (parallel compiles, default: nproc), SKIP_TORCH=1.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/gpu-out}
BUILD=${BUILD:-/tmp/rlvr-gpu-check}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
mkdir -p "$OUT" "$BUILD"
: > "$OUT/summary.txt"
START=$(date +%s)
log() { echo "[gpu-check +$(( $(date +%s) - START ))s] $*" | tee -a "$OUT/summary.txt"; }

NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$NVCC" ]; then log "FATAL: nvcc not found (set NVCC)"; exit 2; fi

# ---- 1. device -----------------------------------------------------------------------------------
{
  echo "== nvidia-smi"; nvidia-smi 2>&1
  echo "== query"; nvidia-smi --query-gpu=name,compute_cap,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv 2>&1
  echo "== nvcc"; "$NVCC" --version 2>&1
  echo "== host compiler"; g++ --version 2>&1 | head -1
  echo "== python"; python3 -c "import torch; print('torch', torch.__version__)" 2>&1
} > "$OUT/device.txt"
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
case "$CC" in ''|*[!0-9]*) CC=90 ;; esac
log "device: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1) (sm_$CC); nvcc: $NVCC"

# ---- 2. build --------------------------------------------------------------------------------------
ARCH="-gencode arch=compute_${CC},code=sm_${CC} -gencode arch=compute_${CC},code=compute_${CC}"
FLAGS="-std=c++20 -O3 -DNDEBUG --expt-relaxed-constexpr -lineinfo -Xcompiler=-Wall,-Wextra -Iinclude -Itests -Ibench $ARCH"
BENCH_FLAGS="-DRLVR_MINI_BENCHMARK"
BENCH_LIBS=""
if printf '#include <benchmark/benchmark.h>\nint main(){}\n' > "$BUILD/probe.cpp" &&
   g++ -std=c++17 "$BUILD/probe.cpp" -o "$BUILD/probe" -lbenchmark -lpthread >/dev/null 2>&1; then
  BENCH_FLAGS=""
  BENCH_LIBS="-lbenchmark -lpthread"
  log "Google Benchmark found: bench_cuda uses it"
else
  log "Google Benchmark not found: bench_cuda uses bench/cuda/mini_benchmark.hpp"
fi

declare -A SRC
for f in tests/gpu/test_*.cu; do SRC[gpu_$(basename "$f" .cu)]=$f; done
[ -f tests/conformance/conformance_cuda.cu ] && SRC[conformance_cuda]=tests/conformance/conformance_cuda.cu
SRC[bench_cuda]=bench/cuda/bench_cuda.cu

: > "$OUT/build.log"
pids=()
names=()
for name in "${!SRC[@]}"; do
  extra=""
  [ "$name" = bench_cuda ] && extra="$BENCH_FLAGS"
  libs=""
  [ "$name" = bench_cuda ] && libs="$BENCH_LIBS"
  ( "$NVCC" $FLAGS $extra "${SRC[$name]}" -o "$BUILD/$name" $libs > "$BUILD/$name.log" 2>&1 ) &
  pids+=($!)
  names+=("$name")
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.2; done
done
built=()
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    built+=("${names[$i]}")
    echo "== ${names[$i]}: built" >> "$OUT/build.log"
  else
    echo "== ${names[$i]}: FAILED" >> "$OUT/build.log"
    log "build FAILED: ${names[$i]} (see build.log)"
  fi
  cat "$BUILD/${names[$i]}.log" >> "$OUT/build.log"
done
log "built ${#built[@]} of ${#pids[@]} targets"

# ---- 3. tests and conformance -----------------------------------------------------------------------
: > "$OUT/tests.log"
fails=0
for name in $(printf '%s\n' "${built[@]}" | sort); do
  [ "$name" = bench_cuda ] && continue
  echo "==== $name" >> "$OUT/tests.log"
  timeout 150 "$BUILD/$name" >> "$OUT/tests.log" 2>&1
  rc=$?
  case $rc in
    0) log "PASS $name" ;;
    77) log "SKIP $name (no usable device)" ;;
    *) log "FAIL $name (exit $rc)"; fails=$((fails + 1)) ;;
  esac
done
grep -h '^\[report\]' "$OUT/tests.log" >> "$OUT/summary.txt" 2>/dev/null

# ---- 4. bench_cuda ---------------------------------------------------------------------------------
if [ -x "$BUILD/bench_cuda" ]; then
  timeout 200 "$BUILD/bench_cuda" > "$OUT/bench.txt" 2>&1
  log "bench_cuda exit $? (bench.txt)"
fi

# ---- 5. PyTorch baselines ---------------------------------------------------------------------------
if [ "${SKIP_TORCH:-0}" != 1 ] && command -v python3 >/dev/null; then
  PYTHONUNBUFFERED=1 timeout 200 python3 bench/cuda/torch_reference.py > "$OUT/torch.txt" 2>&1
  log "torch_reference exit $? (torch.txt)"
fi

log "done: $fails failing test binaries"
exit $(( fails > 0 ? 1 : 0 ))
