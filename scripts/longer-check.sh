#!/usr/bin/env bash
# The longer check of docs/results.md: pixelcnn-ref and vae-ref trained 1000
# steps (batch 32, Adam 1e-3) on the CPU, evaluated on the first 1000 test images, sampled.
# Run after scripts/test.sh or scripts/run.sh has built build/genmodel. Writes runs/longer-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GENMODEL:-build/genmodel}
out=runs/longer-check
mkdir -p "$out"
for m in pixelcnn-ref vae-ref; do
  "$G" train --model "$m" --steps 1000 --batch 32 --lr 1e-3 --seed 0 --eval-every 0 \
    --eval-limit 1000 --out "$out/$m"
  "$G" sample --checkpoint "$out/$m/checkpoint.safetensors" --count 64 --seed 1 \
    --out "$out/$m-samples.png"
done
"$G" eval --checkpoint "$out/pixelcnn-ref/checkpoint.safetensors" --eval-limit 1000
"$G" eval --checkpoint "$out/vae-ref/checkpoint.safetensors" --eval-limit 1000 \
  --importance-samples 5000 --batch 10
