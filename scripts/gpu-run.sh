#!/usr/bin/env bash
# Runs a bundle of scripts/gpu-bundle.sh on a machine with an NVIDIA GPU, in at most eight
# minutes, every stage under its own time cap, everything written to OUTDIR (one log per stage,
# CSVs, SUMMARY). A stage that fails or runs out of time is recorded and the run goes on.
#   0 facts      nvidia-smi, CPU, driver; which of cuBLAS, cuDNN and NCCL load
#   1 gpu        the [gpu] test: the GPU is present and works
#   2 ops        op and conformance tests on the GPU alone, with our GEMM and with cuBLAS, and
#                replayed CUDA graph steps against eager ones with each
#   3 sanitizer  compute-sanitizer memcheck and racecheck on a subset of the conformance tests
#   4 lab        kernel lab, few repetitions, beside cuBLAS/cuDNN (cuDNN is opened at run time:
#                the log's first lines say whether it loaded, and the lab runs either way)
#   5 bench      bench_train_step for the four reference configurations (counters included),
#                eager and as a replayed CUDA graph (not the VAE: its noise is drawn on the
#                host), each in FP32 and BF16: bench_train_step[_bf16][_graph].csv
#   6 pytorch    benchmarks/pytorch_reference.py on the GPU with the system python3
#   7 nsys       an nsys summary of 30 pixelcnn-ref training steps
# cuBLAS, cuDNN and NCCL are searched in the CUDA toolkit's lib64 and in the nvidia-* pip
# packages beside PyTorch; one that cannot load is reported, and our own kernels run instead.
#
# Usage: scripts/gpu-run.sh [--emu] BUNDLE OUTDIR
#   --emu: on a CPU machine, the same stages on cuda-emu with tiny budgets (a cheap check of the
#   bundle and this script, scripts/test.sh stage 1); GPU-only stages are skipped.
set -uo pipefail

emu=0
if [ "${1:-}" = "--emu" ]; then
  emu=1
  shift
fi
[ $# -eq 2 ] || { echo "usage: $0 [--emu] BUNDLE OUTDIR" >&2; exit 2; }
bundle=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
bin=$out/bin
data="fashion-mnist:$bundle/data"
export OMP_WAIT_POLICY=passive
start=$SECONDS
summary=$out/SUMMARY
: > "$summary"

# The bundle's binaries and libraries, the big ones unpacked here.
mkdir -p "$out/bin" "$out/lib"
for dir in bin lib; do
  for f in "$bundle/$dir"/*; do
    case "$f" in
      *.xz) xz -dc "$f" > "$out/$dir/$(basename "$f" .xz)" ;;
      *) cp "$f" "$out/$dir/" ;;
    esac
  done
done
chmod +x "$out"/bin/*
libpath=$out/lib

# NVIDIA's libraries: the toolkit, then pip's nvidia-* packages (PyTorch's wheels bring them).
for d in /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
  /usr/lib/x86_64-linux-gnu; do
  [ -d "$d" ] && libpath=$libpath:$d
done
site=$(python3 -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
for s in $site; do
  for d in "$s"/nvidia/*/lib; do [ -d "$d" ] && libpath=$libpath:$d; done
done
export LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# stage NAME SECONDS COMMAND...: runs the command under `timeout`, output to NAME.log.
stage() {
  local name=$1 cap=$2
  shift 2
  local t0=$SECONDS
  echo "== $name (cap ${cap}s)"
  timeout --kill-after=5 "$cap" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  local verdict=ok
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && verdict="timed out"
  [ $rc -ne 0 ] && [ "$verdict" = ok ] && verdict="failed (exit $rc)"
  printf '%-24s %-18s %4ds\n' "$name" "$verdict" $((SECONDS - t0)) | tee -a "$summary"
  tail -3 "$out/$name.log" | sed 's/^/    /'
}
skip() { printf '%-24s %-18s (%s)\n' "$1" skipped "$2" | tee -a "$summary"; }

# Where `lib` (e.g. libcublas.so) is found on LD_LIBRARY_PATH and whether it loads.
library_status() {
  local dir file
  IFS=: read -ra dirs <<< "$LD_LIBRARY_PATH"
  for dir in "${dirs[@]}"; do
    for file in "$dir/$1".*; do
      [ -e "$file" ] || continue
      if python3 -c "import ctypes, sys; ctypes.CDLL(sys.argv[1])" "$file" 2> /dev/null; then
        echo "loads from $file"
      else
        echo "found at $file but does NOT load: our own kernels run where it would be used"
      fi
      return
    done
  done
  echo "NOT found: our own kernels run where it would be used"
}

facts() {
  date -u
  uname -a
  nproc
  command -v nvidia-smi > /dev/null && nvidia-smi && nvidia-smi -q | head -60
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  cat "$bundle/MANIFEST"
  for lib in libcublas.so libcudnn.so libnccl.so; do
    echo "$lib: $(library_status "$lib")"
  done
  "$bin/genmodel" list | sed -n '/^devices/,/^$/p'
}

# The training-step benchmark, eager and graph, in each precision of PRECISIONS:
#   bench_modes DEVICE PRECISIONS EAGER_MODELS GRAPH_MODELS EAGER_WARMUP [arguments for all]
# (the VAE has no graph step: its noise is drawn on the host). A graph run has two warm-up
# steps, one eager and the captured one, so that the timed steps are replays.
bench_modes() {
  local device=$1 precisions=$2 eager_models=$3 graph_models=$4 eager_warmup=$5 rc=0
  shift 5
  for precision in $precisions; do
    for mode in eager graph; do
      local name=bench_train_step
      [ "$precision" = bf16 ] && name+=_bf16
      local extra=(--models "$eager_models" --warmup "$eager_warmup")
      if [ "$mode" = graph ]; then
        name+=_graph
        extra=(--cuda-graph --models "$graph_models" --warmup 2)
      fi
      echo "-- $precision $mode, GM_CUDA_GEMM=${GM_CUDA_GEMM:-default}"
      GM_CUDA_PRECISION=$precision "$bin/bench_train_step" --devices "$device" --data "$data" \
        "$@" "${extra[@]}" --csv "$out/$name.csv" || rc=1
    done
  done
  return $rc
}

# `timeout` runs programs, not shell functions: the stages that are functions run in a child
# bash that sees them.
export bundle bin out data
export -f library_status facts bench_modes

if [ "$emu" = 1 ]; then
  device=cuda-emu
  stage 0-facts 20 bash -c facts
  skip 1-gpu "no GPU: --emu"
  stage 2-ops-emu 60 bash -c 'export GM_TEST_DEVICES=cuda-emu; "$bin/test_optim" &&
    "$bin/test_cuda_graph" "cuda graphs: replayed*"'
  skip 3-sanitizer "no GPU: --emu"
  stage 4-lab-emu 30 "$bin/kernel_lab" --quick --csv "$out/kernel_lab.csv"
  # FP32 only: the emulated BF16 tensor cores take half a minute per step.
  stage 5-bench-emu 120 bash -c 'bench_modes cuda-emu fp32 pixelcnn-ref pixelcnn-ref 0 --emu \
    --batch 4 --steps 1 --min-seconds 0'
  skip 6-pytorch "no GPU: --emu"
  stage 7-profile-emu 60 "$bin/genmodel" train --model pixelcnn-ref --device cuda-emu --steps 1 \
    --batch 4 --train-limit 8 --eval-limit 2 --data "$data" --out "$out/run" --profile
else
  device=cuda
  stage 0-facts 20 bash -c facts
  stage 1-gpu 30 env GM_REQUIRE_CUDA=1 "$bin/test_cuda_backend" "[gpu]"
  ops() {
    local rc=0
    for gemm in tiled cublas; do
      for t in test_cuda_conformance test_elementwise test_conv test_masked_conv test_softmax_xent \
        test_lstm_cell test_gaussian test_likelihoods test_shape_reduce test_optim; do
        echo "-- $t, GM_CUDA_GEMM=$gemm"
        GM_TEST_DEVICES=cuda GM_CUDA_GEMM=$gemm "$bin/$t" || rc=1
      done
      # A captured and replayed training step against the eager one, bit for bit: with cuBLAS
      # this is the check that its GEMMs capture (a fixed workspace, no cudaMalloc inside).
      echo "-- test_cuda_graph, GM_CUDA_GEMM=$gemm"
      GM_TEST_DEVICES=cuda GM_CUDA_GEMM=$gemm "$bin/test_cuda_graph" "cuda graphs: replayed*" ||
        rc=1
    done
    return $rc
  }
  export -f ops
  stage 2-ops 85 bash -c ops
  if command -v compute-sanitizer > /dev/null; then
    stage 3-memcheck 40 env GM_TEST_DEVICES=cuda compute-sanitizer --tool memcheck \
      --error-exitcode 1 "$bin/test_elementwise"
    stage 3-racecheck 40 env GM_TEST_DEVICES=cuda compute-sanitizer --tool racecheck \
      --error-exitcode 1 "$bin/test_shape_reduce"
  else
    skip 3-sanitizer "compute-sanitizer not found"
  fi
  stage 4-lab 35 "$bin/kernel_lab_cuda" --reps 3 --csv "$out/kernel_lab.csv"
  stage 5-bench 110 bash -c 'bench_modes cuda "fp32 bf16" \
    pixelcnn-ref,rowlstm-ref,diaglstm-ref,vae-ref pixelcnn-ref,rowlstm-ref,diaglstm-ref 2 \
    --steps 5 --min-seconds 0'
  stage 6-pytorch 50 python3 "$bundle/benchmarks/pytorch_reference.py" --device cuda --steps 5 \
    --min-seconds 0 --skip-sampling --data "$bundle/data" --csv "$out/pytorch.csv"
  if command -v nsys > /dev/null; then
    stage 7-nsys 60 nsys profile --stats=true --force-overwrite true -o "$out/nsys" \
      "$bin/genmodel" train --model pixelcnn-ref --device cuda --steps 30 --batch 32 \
      --eval-limit 32 --data "$data" --out "$out/run" --profile
  else
    skip 7-nsys "nsys not found"
  fi
fi
echo "total $((SECONDS - start))s on $device; logs in $out" | tee -a "$summary"
! grep -q "failed\|timed out" "$summary"
