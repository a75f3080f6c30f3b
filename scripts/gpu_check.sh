#!/usr/bin/env bash
# One prepared check for a Linux x86_64 machine with an NVIDIA GPU and no
# network access.  Python packages come from wheels/ at the repository root
# (fill it beforehand with scripts/fetch_wheels.sh on a machine with network).
#
#   scripts/gpu_check.sh
#
# It makes a fresh venv, installs brianrules with its cuda extra from wheels/,
# prints nvidia-smi, trains dfa on digits for 2 epochs on cuda_standalone and
# on cpp_standalone (side by side), and prints the test accuracy and samples/s
# of each from its metrics.csv.  Everything ends within GPU_CHECK_LIMIT seconds
# (default 480).  Results and logs go to $OUT when it is set, else to a new
# folder under /tmp.  Exit status 0 when both trainings finished.
# Other settings: GPU_CHECK_EPOCHS (2), GPU_CHECK_DEVICES ("cuda_standalone
# cpp_standalone"), GPU_CHECK_TOOLKIT=wheels (compile with the CUDA compiler
# wheels from wheels/ even where the machine has an nvcc), GPU_CHECK_VENV.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIMIT=${GPU_CHECK_LIMIT:-480}
deadline=$((SECONDS + LIMIT))
left() { echo $((deadline - SECONDS)); }
OUT=${OUT:-$(mktemp -d /tmp/brianrules-gpu-check.XXXXXX)}
mkdir -p "$OUT"
VENV=${GPU_CHECK_VENV:-/tmp/brianrules-gpu-venv}
EPOCHS=${GPU_CHECK_EPOCHS:-2}
read -r -a DEVICES <<<"${GPU_CHECK_DEVICES:-cuda_standalone cpp_standalone}"
WHEELS=$ROOT/wheels
step() { echo; echo "== $* ($((SECONDS))s)"; }

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
  exit 1
fi
PY312=$(scripts/find_python312.sh) || exit 1
rm -rf "$VENV"
"$PY312" -m venv "$VENV" || exit 1
PIP=("$VENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS")
"${PIP[@]}" setuptools wheel || exit 1
# built from the tree with the setuptools just installed: no index needed
"${PIP[@]}" --no-build-isolation -e ".[cuda]" || exit 1
echo "installed in $VENV ($((SECONDS))s)"

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
  "${PIP[@]}" nvidia-cuda-nvcc nvidia-cuda-crt nvidia-nvvm nvidia-cuda-cccl nvidia-cuda-runtime \
    nvidia-cuda-culibos nvidia-cuda-profiler-api || exit 1
  TK=$("$VENV/bin/python" -c 'import glob, nvidia; print(sorted(p for d in nvidia.__path__ for p in glob.glob(d + "/cu*") if glob.glob(p + "/bin/nvcc"))[-1])') || exit 1
  mkdir -p "$TK/targets/x86_64-linux"
  ln -sfn ../../include "$TK/targets/x86_64-linux/include"
  ln -sfn ../../lib "$TK/targets/x86_64-linux/lib"
  [ -e "$TK/lib64" ] || ln -s lib "$TK/lib64"
  [ -e "$TK/lib/libcudart.so" ] || ln -sf "$(basename "$(ls "$TK"/lib/libcudart.so.* | head -1)")" "$TK/lib/libcudart.so"
  NVCC=$TK/bin/nvcc
fi
if [ -z "$NVCC" ]; then
  echo "error: no nvcc (no CUDA toolkit, and no nvidia_cuda_nvcc wheel in wheels/)" >&2
  exit 1
fi
export CUDA_PATH=$(dirname "$(dirname "$NVCC")")
export PATH=$CUDA_PATH/bin:$VENV/bin:$PATH
nvcc --version | tail -2
echo "host compiler: $(${CXX:-g++} --version | head -1)"
drv=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
cuda_rel=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
if [ -n "$drv" ] && [ "${cuda_rel:-0}" -ge 13 ] && [ "${drv%%.*}" -lt 580 ]; then
  echo "warning: CUDA $cuda_rel programs need NVIDIA driver >= 580, this one is $drv: the CUDA run may fail"
fi
brianrules info

step "training dfa on digits, $EPOCHS epochs: ${DEVICES[*]} side by side"
export BRIANRULES_CACHE=$OUT/cache   # fresh builds, timed
budget=$(( $(left) - 20 ))
echo "time left for training: ${budget}s"
if [ "$budget" -lt 60 ]; then echo "error: not enough time left to train" >&2; exit 1; fi
pids=()
for dev in "${DEVICES[@]}"; do
  timeout -k 10 "$budget" brianrules train --rule dfa --dataset digits --epochs "$EPOCHS" \
    --device "$dev" --seed 0 --out "$OUT/$dev" --force --quiet >"$OUT/$dev.log" 2>&1 &
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
  echo "--- $dev (log: $OUT/$dev.log)"
  grep -E "^build:|compiling" "$OUT/$dev.log"
  if [ "$status" != 0 ]; then tail -n 15 "$OUT/$dev.log"; fi
done
"$VENV/bin/python" - "$OUT" "${DEVICES[@]}" <<'EOF'
import csv, json, os, sys

out = sys.argv[1]
print(f"{'device':<16} {'epoch':>5} {'train_acc':>9} {'test_acc':>8} {'samples/s':>10} {'run_s':>7} {'compile_s':>9}")
for dev in sys.argv[2:]:
    path = os.path.join(out, dev, "metrics.csv")
    if not os.path.exists(path):
        print(f"{dev:<16} no metrics.csv")
        continue
    compile_s = ""
    try:
        compile_s = f"{json.load(open(os.path.join(out, dev, 'config.json')))['compile_s']:.1f}"
    except (OSError, KeyError, ValueError):
        pass
    for r in csv.DictReader(open(path)):
        print(f"{dev:<16} {r['epoch']:>5} {float(r['train_acc']):>9.3f} {float(r['test_acc']):>8.3f} "
              f"{float(r['samples_per_s']):>10.0f} {float(r['run_s']):>7.1f} {compile_s:>9}")
EOF
echo "total ${SECONDS}s; results in $OUT"
exit $status
