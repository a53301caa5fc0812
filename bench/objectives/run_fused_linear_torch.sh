#!/usr/bin/env bash
# bench_fused_linear against PyTorch eager (issue 13, item 4), in one invocation:
#   1. builds bench_fused_linear and fused_linear_dump (build/release, the `release` preset),
#   2. runs bench_fused_linear (rlvr fused and unfused, time and extra heap bytes),
#   3. checks that PyTorch's loss and gradients equal rlvr's at two small shapes
#      (fused_linear_torch.py check; exits non-zero on a mismatch),
#   4. runs the PyTorch path at the bench's shapes, one fresh process per V (fused_linear_torch.py bench),
#   5. writes bench/objectives/results/fused_linear_torch.md (table, check, raw outputs of both).
#
#   bench/objectives/run_fused_linear_torch.sh [--reps 5] [--threads 2] [--out FILE]
#
# PyTorch is Debian's python3-torch under /usr/bin/python3. It calls BLAS through libblas.so.3,
# which on a machine without OpenBLAS is the netlib reference BLAS (single-threaded, ~2 GFLOP/s
# here): not what PyTorch users run. This script therefore fetches Debian's libopenblas0-pthread
# with `apt-get download` into build/openblas (nothing is installed system-wide) and runs PyTorch
# with LD_LIBRARY_PATH pointing at it and OPENBLAS_NUM_THREADS = --threads; the output names the
# BLAS library that was mapped, and the GEMM rate of both BLAS libraries.
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=5 threads=2 out=bench/objectives/results/fused_linear_torch.md
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--threads T] [--out FILE]" >&2; exit 2 ;;
  esac
done
if [ "$threads" != 2 ]; then
  echo "run_fused_linear_torch.sh: bench_fused_linear is built for 2 threads (constexpr threads); use --threads 2" >&2
  exit 2
fi
PY=/usr/bin/python3
bin=build/release/bench/objectives
cmake --build build/release --target bench_fused_linear fused_linear_dump >/dev/null

blas_dir=$PWD/build/openblas/openblas-pthread
if [ ! -e "$blas_dir/libblas.so.3" ]; then
  mkdir -p build/openblas
  (cd build/openblas && apt-get download libopenblas0-pthread >/dev/null 2>&1 && dpkg -x libopenblas0-pthread_*.deb root)
  cp -r build/openblas/root/usr/lib/x86_64-linux-gnu/openblas-pthread build/openblas/
fi
deb=$(ls build/openblas/libopenblas0-pthread_*.deb 2>/dev/null | head -n1 || true)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- include bench || echo "+uncommitted changes")
ci="not running (/work/ci.log has RC=, or no /work/ci.log)"
if [ -f /work/ci.log ] && ! grep -q '^RC=' /work/ci.log; then ci="RUNNING (no RC= line in /work/ci.log): the cores were shared"; fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
compilers_before=$(pgrep -c -x cc1plus || true)
echo "== bench_fused_linear" >&2
"$bin/bench_fused_linear" | tee "$tmp/cpp.txt" >&2
echo "== numerical check" >&2
$PY bench/objectives/fused_linear_torch.py check --dump-exe "$bin/fused_linear_dump" --tmp "$tmp" --out "$tmp/check.txt" >&2
echo "== PyTorch" >&2
export LD_LIBRARY_PATH="$blas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_NUM_THREADS=$threads
$PY bench/objectives/fused_linear_torch.py bench --vocab 32000,151936 --threads "$threads" --reps "$reps" --out "$tmp/torch.json"
rate_ob=$($PY bench/objectives/fused_linear_torch.py gemm-rate --threads "$threads")
rate_netlib=$(env -u LD_LIBRARY_PATH -u OPENBLAS_NUM_THREADS $PY bench/objectives/fused_linear_torch.py gemm-rate --threads "$threads")
load=$(cut -d' ' -f1-3 /proc/loadavg)
ci="$ci; other builds: ${compilers_before} cc1plus processes at the start, $(pgrep -c -x cc1plus || true) at the end"
$PY bench/objectives/fused_linear_torch.py report --cpp "$tmp/cpp.txt" --torch "$tmp/torch.json" \
  --check-log "$tmp/check.txt" --out "$out" --date "$date_utc" --commit "$commit" --nproc "$(nproc)" \
  --load "load average (1, 5, 15 min) before the run: $load_before, after: $load" --ci "$ci" \
  --blas-note "OpenBLAS from $(basename "${deb:-libopenblas0-pthread}") (apt-get download, not installed; LD_LIBRARY_PATH). GEMM rate with it: $rate_ob; with the system's default libblas.so.3: $rate_netlib."
echo "wrote $out" >&2
