#!/usr/bin/env bash
# The main job: sets up a fresh machine, builds genmodel, trains pixelcnn-ref on Fashion-MNIST
# for a few minutes of CPU, evaluates it on the first 1000 test images and writes a grid of
# samples. Run again, it continues the same run from its checkpoint instead of starting over.
# Usage: scripts/run.sh            (from anywhere; STEPS=N to train longer or shorter)
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${STEPS:-1000}
out=out/pixelcnn-ref

bash scripts/setup.sh
echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target genmodel

echo "== train pixelcnn-ref on Fashion-MNIST for $steps steps (batch 32, Adam 1e-3)"
resume=()
if [ -f "$out/checkpoint.safetensors" ]; then resume=(--resume); fi
build/genmodel train --model pixelcnn-ref --data fashion-mnist --steps "$steps" --batch 32 \
  --lr 1e-3 --seed 1 --eval-every 0 --checkpoint-every 100 --out "$out" "${resume[@]}"

echo "== evaluate on the first 1000 test images"
build/genmodel eval --checkpoint "$out/checkpoint.safetensors" --eval-limit 1000 | tee "$out/eval.txt"

echo "== sample"
build/genmodel sample --checkpoint "$out/checkpoint.safetensors" --count 16 --seed 1 \
  --out "$out/samples.png"

echo
echo "results in $out/:"
echo "  samples.png             16 samples (4 x 4 grid)"
echo "  eval.txt                test NLL in nats/image and bits/dim"
echo "  log.jsonl               loss and bits/dim per step"
echo "  checkpoint.safetensors  weights, optimizer and generator state (resume with --resume)"
