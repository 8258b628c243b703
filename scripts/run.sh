#!/usr/bin/env bash
# The main job, the lecture's comparison in one run: sets up a fresh machine, builds genmodel,
# trains a PixelCNN (pixelcnn-ref) and two VAEs (vae-ref; vae-2d, whose 2-D latent space can be
# drawn) on Fashion-MNIST for a few minutes of CPU, evaluates all three on the same likelihood
# scale (bits/dim on the first 1000 test images: exact for the PixelCNN, the importance-weighted
# estimate and the ELBO bound for the VAEs), samples each while timing it, draws the VAE's
# latent manifold and interpolations, and prints the table. Run again, each model continues
# its run from its checkpoint instead of starting over.
# Usage: scripts/run.sh    (from anywhere; STEPS=N and VAE_STEPS=N train longer or shorter)
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${STEPS:-1000}
vae_steps=${VAE_STEPS:-3000}
out=out

bash scripts/setup.sh
echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target genmodel

# train MODEL STEPS: batch 32, Adam 1e-3, seed 1, into out/MODEL (continued if it exists).
train() {
  local resume=()
  if [ -f "$out/$1/checkpoint.safetensors" ]; then resume=(--resume); fi
  echo "== train $1 on Fashion-MNIST for $2 steps (batch 32, Adam 1e-3)"
  build/genmodel train --model "$1" --data fashion-mnist --steps "$2" --batch 32 --lr 1e-3 \
    --seed 1 --eval-every 0 --checkpoint-every 100 --out "$out/$1" "${resume[@]}"
}
train pixelcnn-ref "$steps"
train vae-ref "$vae_steps"
train vae-2d "$vae_steps"

# The number before " bits/dim" on the line of FILE that contains TEXT.
bits() { grep -F -e "$2" "$1" | head -n 1 | sed -n 's/.* \([0-9.]*\) bits\/dim.*/\1/p'; }
# Milliseconds per image from a `genmodel sample` report.
ms_per_image() { sed -n 's/.*, \([0-9.]*\) ms per image.*/\1/p' "$1"; }

for model in pixelcnn-ref vae-ref vae-2d; do
  ck="$out/$model/checkpoint.safetensors"
  echo "== $model: evaluate on the first 1000 test images, sample 16 images"
  build/genmodel eval --checkpoint "$ck" --eval-limit 1000 --importance-samples 100 \
    | tee "$out/$model/eval.txt"
  build/genmodel sample --checkpoint "$ck" --count 16 --seed 1 --out "$out/$model/samples.png" \
    | tee "$out/$model/sample.txt"
done
echo "== the VAEs' latent spaces"
build/genmodel latent --checkpoint "$out/vae-2d/checkpoint.safetensors" --view manifold \
  --size 15 --mean --out "$out/vae-2d/manifold.png"
build/genmodel latent --checkpoint "$out/vae-ref/checkpoint.safetensors" --view interpolate \
  --pairs 4 --steps 9 --mean --out "$out/vae-ref/interpolations.png"
build/genmodel sample --checkpoint "$out/vae-ref/checkpoint.safetensors" --count 16 --seed 1 \
  --mean --out "$out/vae-ref/samples-mean.png" > /dev/null

echo
echo "The lecture's comparison, on the first 1000 Fashion-MNIST test images (lower is better):"
printf "| %-12s | %-28s | %-18s | %-16s |\n" model "bits/dim (test)" "-ELBO bound" "sampling ms/image"
printf "|%s|%s|%s|%s|\n" "--------------" "------------------------------" "--------------------" \
  "-------------------"
printf "| %-12s | %-28s | %-18s | %-16s |\n" pixelcnn-ref \
  "$(bits "$out/pixelcnn-ref/eval.txt" "test NLL") (exact)" "-" \
  "$(ms_per_image "$out/pixelcnn-ref/sample.txt")"
for model in vae-ref vae-2d; do
  printf "| %-12s | %-28s | %-18s | %-16s |\n" "$model" \
    "$(bits "$out/$model/eval.txt" "importance-weighted") (k = 100 estimate)" \
    "$(bits "$out/$model/eval.txt" "-ELBO")" "$(ms_per_image "$out/$model/sample.txt")"
done
echo
echo "pictures in $out/:"
echo "  pixelcnn-ref/samples.png   16 PixelCNN samples"
echo "  vae-ref/samples.png        16 VAE samples (pixels drawn from p(x|z))"
echo "  vae-ref/samples-mean.png   the same z decoded to their mean images (genmodel sample --mean)"
echo "  vae-2d/samples.png         16 samples of the 2-D VAE"
echo "  vae-2d/manifold.png        vae-2d's latent manifold: decodings of a 15 x 15 grid over z"
echo "  vae-ref/interpolations.png straight lines between the codes of test images, decoded"
echo "each model's folder also holds eval.txt, log.jsonl and checkpoint.safetensors (resume"
echo "with --resume)"
