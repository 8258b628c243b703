#!/usr/bin/env bash
# The one command for the end-to-end benchmarks (docs/sampling.md, docs/benchmarks.md):
#   1. bench_train_step: a training step of each reference configuration, on every device;
#   2. bench_sampling: sampling time of every model family against image size, CSV + SVG plot;
#   3. bench_sampling once more: 16 PixelCNN images of 28x28, naive fully measured, and fast;
#   4. benchmarks/pytorch_reference.py: the same configurations in PyTorch, timed right after
#      ours: the current PyTorch from PyPI (installed on first use into .venv-bench, which git
#      ignores; TORCH_SPEC=torch==X.Y.Z pins one) and Debian's python3-torch as a second column,
#      and the ratio tables with the steps' useful FLOP rate against the machine's peak;
#   5. the tables written into docs/benchmarks.md and docs/sampling.md.
# Outputs: docs/bench_train_step.csv, docs/sampling.csv, docs/sampling.svg (and
# docs/sampling-cuda.svg on a GPU machine), docs/sampling_compare.csv, docs/pytorch_train_step.csv
# (the PyPI PyTorch), docs/pytorch_debian_train_step.csv (Debian's).
#
# Usage: scripts/bench.sh [--quick] [--wait-quiet MINUTES] [--no-pytorch]
#   --quick         smaller sweep (N up to 28, short budgets, the PyTorch sampling comparison at
#                   16x16): a check that everything runs, not the numbers to quote
#   --wait-quiet M  first wait up to M minutes for the load average to drop below 1.5
#   --no-pytorch    skip the PyTorch comparison
# OMP_NUM_THREADS sets the thread count for both frameworks (default: all cores).
# Timings taken while other work runs on the machine are meaningless: the script prints the
# load average before and after and writes it next to the results.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
wait_minutes=0
pytorch=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --wait-quiet) wait_minutes="$2"; shift ;;
    --no-pytorch) pytorch=0 ;;
    *) echo "bench.sh: unknown option $1 (see the header of scripts/bench.sh)" >&2; exit 2 ;;
  esac
  shift
done

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
load() { cut -d' ' -f1 /proc/loadavg; }

echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target bench_sampling bench_train_step

if [ "$wait_minutes" -gt 0 ]; then
  deadline=$(( $(date +%s) + 60 * wait_minutes ))
  while awk -v l="$(load)" 'BEGIN { exit !(l >= 1.5) }' && [ "$(date +%s)" -lt "$deadline" ]; do
    echo "   load average $(load): waiting for < 1.5 ..."
    sleep 30
  done
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $OMP_NUM_THREADS threads; load average before: $load_before"

# The comparison with PyTorch samples 16 images of compare_n x compare_n (28 in a full run).
if [ "$quick" -eq 1 ]; then
  sizes=8,16,28; budget=5; steps=(--steps 3 --min-seconds 1); compare_n=16
else
  sizes=8,16,28,32,64; budget=20; steps=(); compare_n=28
fi

echo "== training step (batch 32)"
build/benchmarks/bench_train_step "${steps[@]}" --csv docs/bench_train_step.csv

echo "== sampling against image size"
build/benchmarks/bench_sampling --sizes "$sizes" --batches 1,32 --budget "$budget" \
  --csv docs/sampling.csv --svg docs/sampling.svg

echo "== sampling 16 PixelCNN images of ${compare_n}x${compare_n} (naive measured in full)"
build/benchmarks/bench_sampling --sizes "$compare_n" --batches 16 \
  --methods pixelcnn-naive,pixelcnn-fast \
  --devices cpu --budget 1e9 --csv docs/sampling_compare.csv

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
note="Measured $(date -u +%Y-%m-%d) with OMP_NUM_THREADS=$OMP_NUM_THREADS; load average before $load_before, after genmodel's runs $load_after."
python3 benchmarks/sampling_table.py docs/sampling.csv --markdown docs/sampling.md --note "$note"

if [ "$pytorch" -eq 1 ]; then
  venv=.venv-bench
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, numpy" 2> /dev/null; then
    echo "== installing ${TORCH_SPEC:-torch} from PyPI into $venv (once)"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "${TORCH_SPEC:-torch}" numpy
  fi
  second=()
  if /usr/bin/python3 -c "import torch" 2> /dev/null; then
    echo "== Debian's PyTorch (same configurations, same thread count)"
    debian_version=$(/usr/bin/python3 -c "import torch; print(torch.__version__.split('+')[0])")
    /usr/bin/python3 benchmarks/pytorch_reference.py --threads "$OMP_NUM_THREADS" \
      "${steps[@]}" --skip-sampling --csv docs/pytorch_debian_train_step.csv
    second=(--second "$debian_version=docs/pytorch_debian_train_step.csv")
  else
    echo "== Debian's PyTorch is not importable (apt-get install python3-torch): one column only"
  fi
  echo "== PyTorch from PyPI (same configurations, same thread count)"
  "$venv/bin/python" benchmarks/pytorch_reference.py --threads "$OMP_NUM_THREADS" \
    "${steps[@]}" --sample-size "$compare_n" --ours-train docs/bench_train_step.csv \
    --ours-sampling docs/sampling_compare.csv --csv docs/pytorch_train_step.csv \
    "${second[@]}" --markdown docs/benchmarks.md --note "$note"
fi
echo "== done; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
