#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, docs/fuzzing.md) with clang, AddressSanitizer and UBSan
# in build-fuzz/, writes the seed corpora from our own writers and the Fashion-MNIST files, and
# runs every harness for SECONDS, two at a time. Any finding (a crash, a sanitizer report, an
# exception other than gm::Error, an allocation above 2 GiB, an input slower than 10 s) fails
# the script; the input that found it is left in build-fuzz/findings/<harness>/.
# Usage: scripts/fuzz.sh [SECONDS [HARNESS...]]     (default: 25 s each, every harness)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-25}
shift $(($# > 0 ? 1 : 0))
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(safetensors idx cifar image run_log checkpoint)

# -O1 with line tables only: what libFuzzer's documentation suggests, quick to compile, and
# enough for the sanitizers' reports to name files and lines.
flags="-O1 -gline-tables-only"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_FLAGS_FUZZ="$flags" \
  -DCMAKE_C_FLAGS_FUZZ="$flags" -DGENMODEL_CUDA=OFF -DGENMODEL_FUZZ=ON \
  -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_C_COMPILER=clang-16 >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target genmodel_fuzz_seeds "${harnesses[@]/#/fuzz_}"

export OMP_NUM_THREADS=1
rm -rf build-fuzz/seeds build-fuzz/findings
build-fuzz/fuzz/genmodel_fuzz_seeds build-fuzz/seeds
for h in "${harnesses[@]}"; do mkdir -p "build-fuzz/corpus/$h" "build-fuzz/findings/$h"; done

# One harness: new inputs go to build-fuzz/corpus/<h> (kept between runs, so longer runs
# build on shorter ones); the seeds and the kept regression inputs are read only.
run_one() {
  local h=$1 seconds=$2 log=build-fuzz/findings/$1.log
  if build-fuzz/fuzz/fuzz_"$h" "build-fuzz/corpus/$h" "build-fuzz/seeds/$h" "fuzz/regressions/$h" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$h/" >"$log" 2>&1; then
    echo "fuzz_$h: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') inputs, no finding"
  else
    tail -n 40 "$log"
    echo "FINDING: fuzz_$h (input in build-fuzz/findings/$h/; copy it to fuzz/regressions/$h/ once fixed)"
    return 1
  fi
}
export -f run_one
printf '%s\n' "${harnesses[@]}" | xargs -P 2 -I{} bash -c "run_one {} $seconds"
