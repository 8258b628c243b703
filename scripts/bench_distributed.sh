#!/usr/bin/env bash
# Data-parallel throughput on one machine (docs/distributed.md, "Measured"): each model trained
# for a few steps by 1 process and by `mpirun -np 2`, one OpenMP thread per process, both with
# the same global batch. Prints images/s, the scaling efficiency (images/s on 2 processes over
# twice the images/s of 1) and the time per step that rank 0 spent waiting for gradient
# all-reduces that backward did not hide. The first step (allocation, warm-up) is left out.
# Usage: scripts/bench_distributed.sh [STEPS] [BATCH]    (from the repository root, after a build)
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${1:-12}
batch=${2:-32}
bin=build/genmodel
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Open MPI refuses to run as root unless told (containers, CI).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

# images/s and all-reduce wait per step from a run's log (steps 2..N).
summarise() {
  python3 - "$1" "$batch" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
batch = int(sys.argv[2])
first, last = recs[0], recs[-1]
steps = len(recs) - 1
seconds = last["seconds"] - first["seconds"]
wait = last.get("allreduce_wait_seconds", 0.0) - first.get("allreduce_wait_seconds", 0.0)
print(f"{steps * batch / seconds:.1f} {1000 * seconds / steps:.1f} {1000 * wait / steps:.2f}")
PY
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %-11s %10s %10s %12s %11s\n' model processes images/s ms/step "wait ms/step" efficiency
for model in pixelcnn-ref vae-ref; do
  args="train --model $model --batch $batch --train-limit 2048 --steps $steps --eval-every 0 --eval-limit 64"
  $bin $args --out "$out/$model-1" 2>/dev/null
  mpirun -np 2 $bin $args --out "$out/$model-2" 2>/dev/null
  read -r ips1 ms1 w1 < <(summarise "$out/$model-1/log.jsonl")
  read -r ips2 ms2 w2 < <(summarise "$out/$model-2/log.jsonl")
  eff=$(python3 -c "print(f'{$ips2 / (2 * $ips1):.2f}')")
  printf '%-14s %-11s %10s %10s %12s %11s\n' "$model" 1 "$ips1" "$ms1" - -
  printf '%-14s %-11s %10s %10s %12s %11s\n' "$model" 2 "$ips2" "$ms2" "$w2" "$eff"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
