#!/usr/bin/env bash
# Download into wheels/ (at the repository root) every wheel that
# scripts/gpu_check.sh installs, for CPython 3.12 on Linux x86_64.  Run it on
# a machine with network access; the GPU machine then installs offline with
#     pip install --no-index --find-links wheels ...
#
# Usage: scripts/fetch_wheels.sh [--no-toolkit | --image]
#   --no-toolkit   leave out NVIDIA's CUDA 13 compiler wheels (nvcc, nvvm, CUDA
#                  runtime and CCCL headers, about 100 MB).  gpu_check.sh uses them
#                  only where the GPU machine has no nvcc of its own.
#   --image        only what an image made for GPU work lacks: brian2, brian2cuda
#                  and mlxtend (about 4 MB), for a machine whose python3 is a 3.12
#                  with numpy, sympy, scipy, scikit-learn, matplotlib, jinja2,
#                  pyparsing, nvidia-curand and a CUDA toolkit (gpu_check.sh then
#                  installs into a folder on PYTHONPATH).
# Environment: GLIBC_MINOR (default 28: wheels that need at most glibc 2.28),
#              CUDA_TOOLKIT (default 13.0).
set -euo pipefail
cd "$(dirname "$0")/.."

toolkit=1
image=0
for arg in "$@"; do
  case "$arg" in
    --no-toolkit) toolkit=0 ;;
    --image) image=1; toolkit=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--no-toolkit | --image]" >&2; exit 2 ;;
  esac
done
GLIBC_MINOR=${GLIBC_MINOR:-28}
# every manylinux tag up to glibc 2.GLIBC_MINOR (pip does not widen one --platform
# to the older tags, and a package may then resolve to a placeholder wheel)
platforms=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for ((m = GLIBC_MINOR; m >= 5; m--)); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
CUDA_TOOLKIT=${CUDA_TOOLKIT:-13.0}

# a Python 3.12 gives the right environment markers; another Python 3 works for
# most packages (pip evaluates markers with the interpreter that runs it)
PY=$(scripts/find_python312.sh 2>/dev/null || command -v python3)
echo "using $PY ($("$PY" -V 2>&1))"

# the project's requirements and its cuda extra, read from setup.py
mapfile -t reqs < <("$PY" - <<'EOF'
import ast

tree = ast.parse(open("setup.py").read())
call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
kw = {k.arg: k.value for k in call.keywords}
for r in ast.literal_eval(kw["install_requires"]) + ast.literal_eval(kw["extras_require"])["cuda"]:
    print(r)
EOF
)
# setuptools and wheel: pip builds the project itself from the tree, offline
reqs+=(setuptools wheel)
if [ "$image" = 1 ]; then
  # the requirements that are not part of a scientific Python stack, as pinned in setup.py
  mapfile -t reqs < <(printf '%s\n' "${reqs[@]}" | grep -E '^(brian2|brian2cuda|mlxtend)([=<>!~ ]|$)')
  nodeps=(--no-deps)
else
  nodeps=()
fi
if [ "$toolkit" = 1 ]; then
  # the pieces of a CUDA toolkit that NVIDIA ships as wheels (all under nvidia/cu13/)
  for p in nvidia-cuda-nvcc nvidia-cuda-crt nvidia-nvvm nvidia-cuda-cccl nvidia-cuda-runtime nvidia-cuda-culibos \
           nvidia-cuda-profiler-api; do
    reqs+=("$p==$CUDA_TOOLKIT.*")
  done
fi
printf 'requirements:'; printf ' %q' "${reqs[@]}"; echo

mkdir -p wheels
"$PY" -m pip download --dest wheels --only-binary=:all: ${nodeps[@]+"${nodeps[@]}"} \
  --python-version 3.12 --implementation cp \
  --abi cp312 --abi abi3 --abi none \
  "${platforms[@]}" \
  "${reqs[@]}"
echo "wheels/: $(ls wheels/*.whl | wc -l) wheels, $(du -sh wheels | cut -f1)"
