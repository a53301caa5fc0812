#!/usr/bin/env bash
# Builds and runs the flagship study (rlvr-study). README's first command.
#   bash scripts/study.sh                 # default run, writes results/
#   bash scripts/study.sh --full          # the larger run behind docs/results.md
# Any argument is passed to rlvr-study (see `rlvr-study --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target rlvr-study
exec build/release/examples/study/rlvr-study --out results "$@"
