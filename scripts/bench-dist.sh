#!/usr/bin/env bash
# The data-parallel trainer's scaling on this machine: bench_dist_trainer under mpirun on 1 and
# 2 ranks (more with RANKS="1 2 4"), each run with its own single-process baseline, written to
# bench/results/dist-scaling.md (the figures docs/distributed.md quotes).
#   bash scripts/bench-dist.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
       OMPI_MCA_btl_vader_single_copy_mechanism=none
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target bench_dist_trainer >/dev/null
out=$(mktemp -d)
for r in ${RANKS:-1 2}; do
  mpirun -np "$r" build/release/bench/dist/bench_dist_trainer --benchmark_color=false \
    --benchmark_out="$out/np$r.json" --benchmark_out_format=json >/dev/null
done
python3 - "$out" "$(nproc)" > bench/results/dist-scaling.md <<'PY'
import json, os, sys
out, cores = sys.argv[1], sys.argv[2]
runs = {}
for f in sorted(os.listdir(out)):
    j = json.load(open(os.path.join(out, f)))
    r = int(j["context"]["ranks"])
    times = {}
    for b in j["benchmarks"]:
        if "/rep:" in b["name"]:
            times.setdefault(b["name"].split("/rep:")[0], []).append(b["real_time"])
    runs[r] = {k: sorted(v)[len(v) // 2] for k, v in times.items()}  # the median over the rounds
    ctx = j["context"]
print("# Data-parallel trainer: scaling on this machine\n")
print(f"Written by `bash scripts/bench-dist.sh` on {ctx['date']} ({cores} cores, {ctx['num_cpus']} CPUs at "
      f"{ctx['mhz_per_cpu']} MHz). One trainer step = rollout, verification, log-probs and 4 mini-batch updates of "
      "the study's model (2-layer d = 64 transformer, Z_53 walk, G = 8, NSR), one thread per rank; the median of 7 "
      "interleaved rounds of 8 steps each. Each row's baseline is the same step on rank 0 alone *in the same run* "
      "(`single_process`, the same shards), so the ratio is immune to the machine's load between runs.\n")
print("| ranks | strong: 32 prompts, S = 4 (ms) | 1-rank baseline (ms) | speedup | efficiency | fast reduction (ms) "
      "| weak: 8 prompts/rank (ms) | 1-rank, 8 prompts (ms) | weak efficiency |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in sorted(runs):
    b = runs[r]
    s = b["strong_single"] / b["strong_ranks"]
    print(f"| {r} | {b['strong_ranks']:.1f} | {b['strong_single']:.1f} | {s:.2f}x | {100 * s / r:.0f}% "
          f"| {b['strong_fast']:.1f} | {b['weak_ranks']:.1f} | {b['weak_single']:.1f} "
          f"| {100 * b['weak_single'] / b['weak_ranks']:.0f}% |")
print("\nStrong scaling: the same global batch on R ranks (speedup = baseline / R-rank time; efficiency = speedup / R). "
      "Weak scaling: R times the prompts on R ranks (efficiency = 1-rank time of one share / R-rank time). "
      "The deterministic reduction all-gathers every shard's gradient; the fast one all-reduces once per update. "
      "On a 2-core machine 2 ranks is the ceiling: MPI's waiting ranks poll, so more ranks than cores only measure contention.")
PY
python3 scripts/sync-docs.py   # docs/distributed.md quotes the table
cat bench/results/dist-scaling.md
