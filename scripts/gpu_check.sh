#!/usr/bin/env bash
# One prepared check for a Linux x86_64 machine with an NVIDIA GPU and no
# network access.  Python packages come from wheels/ at the repository root
# (fill it beforehand with scripts/fetch_wheels.sh on a machine with network).
#
#   scripts/gpu_check.sh
#
# 1. Python.  Where `python3` is a 3.12 that already holds the scientific
#    stack (numpy, sympy, scipy, scikit-learn, matplotlib, jinja2, pyparsing;
#    an image made for GPU work usually does), only the wheels of the
#    distributions it lacks are installed, into a folder on PYTHONPATH
#    (`scripts/fetch_wheels.sh --image` fetches just brian2, brian2cuda and
#    mlxtend, about 4 MB).  Otherwise a fresh venv gets everything from wheels/.
# 2. It prints nvidia-smi and `brianrules info`, trains dfa on digits for 2
#    epochs on cuda_standalone and on cpp_standalone (side by side), prints
#    the test accuracy and samples/s of each from its metrics.csv and their
#    difference, then times the large 784-1000-10 network on the GPU beside
#    C++ (`brianrules bench --device cuda_standalone --networks large --rules
#    dfa`).  Everything ends within GPU_CHECK_LIMIT seconds (default 480).
#
# Build folders and runs go to GPU_CHECK_WORK (default /tmp/brianrules-gpu-check);
# this script's log, the CUDA tests' log, the training logs, both metrics.csv and
# the bench report and the batched training's log (at most 9 files, no folders) are copied to $OUT when it is set.
# Exit status 0 when the CUDA tests passed and both trainings finished.
# Before the training it runs tests/test_cuda.py on the GPU (GPU_CHECK_TESTS=0
# skips it), with at most a third of the time left.
# Other settings: GPU_CHECK_EPOCHS (2), GPU_CHECK_DEVICES ("cuda_standalone
# cpp_standalone"), GPU_CHECK_BENCH (1; 0 skips the large network),
# GPU_CHECK_BATCH (32; 1 skips the batched training on the GPU, which does not
# enter the exit status), GPU_CHECK_PYTHON (auto | image | venv), GPU_CHECK_TOOLKIT=wheels (compile with
# the CUDA compiler wheels from wheels/ even where the machine has an nvcc),
# GPU_CHECK_VENV (default /tmp/brianrules-gpu-venv).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIMIT=${GPU_CHECK_LIMIT:-480}
deadline=$((SECONDS + LIMIT))
left() { echo $((deadline - SECONDS)); }
WORK=${GPU_CHECK_WORK:-/tmp/brianrules-gpu-check}
rm -rf "$WORK"
mkdir -p "$WORK"
RESULTS=${OUT:-}
VENV=${GPU_CHECK_VENV:-/tmp/brianrules-gpu-venv}
SITE=$WORK/site
EPOCHS=${GPU_CHECK_EPOCHS:-2}
read -r -a DEVICES <<<"${GPU_CHECK_DEVICES:-cuda_standalone cpp_standalone}"
WHEELS=$ROOT/wheels
step() { echo; echo "== $* ($((SECONDS))s)"; }
save() {  # the few files worth keeping, flat, into $OUT
  [ -n "$RESULTS" ] || return 0
  mkdir -p "$RESULTS"
  for dev in "${DEVICES[@]}"; do
    cp -f "$WORK/$dev.log" "$RESULTS/train_$dev.log" 2>/dev/null
    cp -f "$WORK/$dev/metrics.csv" "$RESULTS/metrics_$dev.csv" 2>/dev/null
  done
  cp -f "$WORK/bench_large.md" "$RESULTS/" 2>/dev/null
  cp -f "$WORK/tests_cuda.log" "$RESULTS/" 2>/dev/null
  cp -f "$WORK/gpu_check.log" "$RESULTS/" 2>/dev/null
  cp -f "$WORK/batch.log" "$RESULTS/train_batch.log" 2>/dev/null
  return 0
}
main() {
step "GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv
else
  echo "nvidia-smi not found"; ls -l /dev/nvidia* 2>&1 | head -5
fi

step "Python environment from wheels/"
if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  echo "error: no wheels in $WHEELS (run scripts/fetch_wheels.sh where there is network)" >&2
  return 1
fi
# what brianrules needs that an image for GPU work may already hold (import names)
STACK="numpy sympy scipy sklearn matplotlib jinja2 pyparsing"
MODE=${GPU_CHECK_PYTHON:-auto}
if [ "$MODE" = auto ]; then
  MODE=venv
  if command -v python3 >/dev/null 2>&1 && python3 -c '
import importlib.util, sys
sys.exit(sys.version_info[:2] != (3, 12) or any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))
' $STACK 2>/dev/null; then
    MODE=image
  fi
fi
if [ "$MODE" = image ]; then
  PY=$(command -v python3)
  echo "using $PY ($("$PY" -V 2>&1)), which holds $STACK"
  # the wheels of distributions that python3 does not have (by name; the image's versions are kept)
  mapfile -t needed < <("$PY" -c '
import os, re, sys
from importlib import metadata

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

have = {norm(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]}
for path in sys.argv[1:]:
    if norm(os.path.basename(path).split("-")[0]) not in have:
        print(path)
' "$WHEELS"/*.whl)
  add() { "$PY" -m pip install --quiet --no-index --no-deps --no-cache-dir --target "$SITE" "$@"; }
  echo "installing ${#needed[@]} wheel(s) into $SITE:" $(for w in "${needed[@]}"; do basename "$w" | cut -d- -f1-2; done)
  if [ "${#needed[@]}" -gt 0 ]; then add "${needed[@]}" || return 1; fi
  export PYTHONPATH=$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}
  mkdir -p "$WORK/bin"
  printf '#!/bin/sh\nexec %q -m brianrules.cli "$@"\n' "$PY" >"$WORK/bin/brianrules"
  chmod +x "$WORK/bin/brianrules"
  export PATH=$WORK/bin:$PATH
else
  PY312=$(scripts/find_python312.sh) || return 1
  rm -rf "$VENV"
  "$PY312" -m venv "$VENV" || return 1
  PIP=("$VENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS")
  add() { "${PIP[@]}" "$@"; }
  "${PIP[@]}" setuptools wheel || return 1
  # built from the tree with the setuptools just installed: no index needed
  "${PIP[@]}" --no-build-isolation -e ".[cuda]" || return 1
  PY=$VENV/bin/python
  export PATH=$VENV/bin:$PATH
fi
if ! "$PY" -c 'import brianrules, brian2, brian2cuda'; then
  echo "error: brianrules, brian2 or brian2cuda cannot be imported (their wheels missing from $WHEELS?)" >&2
  return 1
fi
echo "Python ready ($MODE, $((SECONDS))s)"

step "CUDA toolkit"
NVCC=""
if [ "${GPU_CHECK_TOOLKIT:-}" != wheels ]; then
  for c in "${CUDA_PATH:+$CUDA_PATH/bin/nvcc}" "$(command -v nvcc 2>/dev/null)" /usr/local/cuda/bin/nvcc /opt/cuda/bin/nvcc; do
    if [ -n "$c" ] && [ -x "$c" ]; then NVCC=$c; break; fi
  done
fi
if [ -z "$NVCC" ] && ls "$WHEELS"/nvidia_cuda_nvcc-*.whl >/dev/null 2>&1; then
  # no toolkit here: assemble one from NVIDIA's wheels (they all install under
  # nvidia/cu13/), with the targets/x86_64-linux folder that nvcc.profile expects
  echo "using the CUDA compiler wheels from wheels/ (no nvcc here, or GPU_CHECK_TOOLKIT=wheels)"
  add "$WHEELS"/nvidia_cuda_nvcc-*.whl "$WHEELS"/nvidia_cuda_crt-*.whl "$WHEELS"/nvidia_nvvm-*.whl \
    "$WHEELS"/nvidia_cuda_cccl-*.whl "$WHEELS"/nvidia_cuda_runtime-*.whl "$WHEELS"/nvidia_cuda_culibos-*.whl \
    "$WHEELS"/nvidia_cuda_profiler_api-*.whl || return 1
  TK=$("$PY" -c 'import glob, nvidia; print(sorted(p for d in nvidia.__path__ for p in glob.glob(d + "/cu*") if glob.glob(p + "/bin/nvcc"))[-1])') || return 1
  mkdir -p "$TK/targets/x86_64-linux"
  ln -sfn ../../include "$TK/targets/x86_64-linux/include"
  ln -sfn ../../lib "$TK/targets/x86_64-linux/lib"
  [ -e "$TK/lib64" ] || ln -s lib "$TK/lib64"
  [ -e "$TK/lib/libcudart.so" ] || ln -sf "$(basename "$(ls "$TK"/lib/libcudart.so.* | head -1)")" "$TK/lib/libcudart.so"
  NVCC=$TK/bin/nvcc
fi
if [ -z "$NVCC" ]; then
  echo "error: no nvcc (no CUDA toolkit, and no nvidia_cuda_nvcc wheel in wheels/)" >&2
  return 1
fi
export CUDA_PATH=$(dirname "$(dirname "$NVCC")")
export PATH=$CUDA_PATH/bin:$PATH
nvcc --version | tail -2
echo "host compiler: $(${CXX:-g++} --version | head -1)"
drv=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
cuda_rel=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
if [ -n "$drv" ] && [ "${cuda_rel:-0}" -ge 13 ] && [ "${drv%%.*}" -lt 580 ]; then
  echo "warning: CUDA $cuda_rel programs need NVIDIA driver >= 580, this one is $drv: the CUDA run may fail"
fi
brianrules info

tests_rc=0
if [ "${GPU_CHECK_TESTS:-1}" = 1 ] && ! "$PY" -c 'import pytest' 2>/dev/null; then
  echo "(no pytest in this Python: the CUDA tests are skipped)"
elif [ "${GPU_CHECK_TESTS:-1}" = 1 ]; then
  # on a GPU, test_run_needs_a_gpu runs the CUDA program beside the C++ one: the same spike
  # counts, the same weights to rounding, every layer learning
  step "tests/test_cuda.py on the GPU"
  budget=$(( $(left) / 3 ))
  BRIANRULES_CACHE=$WORK/test-cache timeout -k 10 "$budget" "$PY" -m pytest -q -x -p no:cacheprovider \
    tests/test_cuda.py >"$WORK/tests_cuda.log" 2>&1
  tests_rc=$?
  grep -E "passed|failed|error|^E " "$WORK/tests_cuda.log" | tail -n 15
  echo "tests: exit status $tests_rc$([ "$tests_rc" = 124 ] && echo ' (out of time)')"
fi

step "training dfa on digits, $EPOCHS epochs: ${DEVICES[*]} side by side"
export BRIANRULES_CACHE=$WORK/cache   # fresh builds, timed
budget=$(( $(left) - 20 ))
echo "time left for training: ${budget}s"
if [ "$budget" -lt 60 ]; then echo "error: not enough time left to train" >&2; return 1; fi
pids=()
for dev in "${DEVICES[@]}"; do
  timeout -k 10 "$budget" brianrules train --rule dfa --dataset digits --epochs "$EPOCHS" \
    --device "$dev" --seed 0 --out "$WORK/$dev" --force --quiet >"$WORK/$dev.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!DEVICES[@]}"; do
  wait "${pids[$i]}"; rc=$?
  dev=${DEVICES[$i]}
  echo "$dev: exit status $rc$([ "$rc" = 124 ] && echo ' (out of time)')"
  [ "$rc" = 0 ] || status=1
done

step "results"
for dev in "${DEVICES[@]}"; do
  echo "--- $dev (log: $WORK/$dev.log)"
  grep -E "^build:|compiling" "$WORK/$dev.log"
  if [ "$status" != 0 ]; then tail -n 15 "$WORK/$dev.log"; fi
done
"$PY" - "$WORK" "${DEVICES[@]}" <<'EOF'
import csv, json, os, sys

out = sys.argv[1]
final = {}
print(f"{'device':<16} {'epoch':>5} {'train_acc':>9} {'test_acc':>8} {'samples/s':>10} {'run_s':>7} {'compile_s':>9}")
for dev in sys.argv[2:]:
    path = os.path.join(out, dev, "metrics.csv")
    if not os.path.exists(path):
        print(f"{dev:<16} no metrics.csv")
        continue
    compile_s = ""
    try:
        compile_s = f"{json.load(open(os.path.join(out, dev, 'config.json')))['compile_s']:.1f}"
    except (OSError, KeyError, ValueError, TypeError):
        pass
    for r in csv.DictReader(open(path)):
        print(f"{dev:<16} {r['epoch']:>5} {float(r['train_acc']):>9.3f} {float(r['test_acc']):>8.3f} "
              f"{float(r['samples_per_s']):>10.0f} {float(r['run_s']):>7.1f} {compile_s:>9}")
        final[dev] = float(r["test_acc"])
if len(final) == 2:
    (a, x), (b, y) = final.items()
    print(f"final test accuracy: {a} {100 * x:.1f}%, {b} {100 * y:.1f}%, difference "
          f"{100 * abs(x - y):.1f} points ({'within' if abs(x - y) <= 0.02 else 'NOT within'} 2 points)")
EOF

if [ "${GPU_CHECK_BENCH:-1}" = 1 ] && [[ " ${DEVICES[*]} " == *" cuda_standalone "* ]]; then
  step "large network 784-1000-10 on the GPU, beside C++ (1 thread) and the NumPy reference"
  budget=$(( $(left) - 10 ))
  if [ "$budget" -lt 90 ]; then
    echo "skipped: ${budget}s left, too little to compile and time the large network"
  else
    timeout -k 10 "$budget" brianrules bench --device cuda_standalone --networks large --rules dfa \
      --out "$WORK/bench_large.md" >"$WORK/bench_large.log" 2>&1
    brc=$?
    grep -v "^ *$" "$WORK/bench_large.log" | tail -n 12
    echo "bench: exit status $brc$([ "$brc" = 124 ] && echo ' (out of time)')"
  fi
fi
BATCH=${GPU_CHECK_BATCH:-32}
if [ "$BATCH" -gt 1 ] && [[ " ${DEVICES[*]} " == *" cuda_standalone "* ]]; then
  # B copies of the network sharing their weights (build.batch): what a GPU's width is for; not
  # part of the exit status (a check of what the C++ program was never measured against)
  step "dfa on digits in batches of $BATCH on the GPU, 1 epoch (--lr-scale $BATCH)"
  budget=$(( $(left) - 10 ))
  if [ "$budget" -lt 90 ]; then
    echo "skipped: ${budget}s left, too little to compile and train"
  else
    timeout -k 10 "$budget" brianrules train --rule dfa --dataset digits --epochs 1 --batch "$BATCH" \
      --lr-scale "$BATCH" --device cuda_standalone --seed 0 --out "$WORK/batch" --force --quiet \
      >"$WORK/batch.log" 2>&1
    echo "batch: exit status $?"
    tail -n 4 "$WORK/batch.log"
  fi
fi
echo "total ${SECONDS}s; work folder $WORK"
[ "$tests_rc" = 0 ] || status=1
return $status
}
main 2>&1 | tee "$WORK/gpu_check.log"
rc=${PIPESTATUS[0]}
save
exit "$rc"
