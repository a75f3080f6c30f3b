#!/usr/bin/env bash
# Print the path of a Python 3.12 interpreter, or explain and fail.
# brian2cuda 1.0b1 pins brian2 2.10.1, which needs Python >= 3.12, and
# brian2 2.11 (Python >= 3.13) is not allowed by brian2cuda: so 3.12.
candidates=("${PYTHON312:-}" python3.12)
for p in "$HOME"/.pyenv/versions/3.12*/bin/python3 /usr/local/bin/python3.12 /usr/bin/python3.12; do
  candidates+=("$p")
done
if command -v pyenv >/dev/null 2>&1; then
  prefix=$(pyenv prefix 3.12 2>/dev/null || true)
  [ -n "$prefix" ] && candidates+=("$prefix/bin/python3")
fi
for p in "${candidates[@]}"; do
  [ -n "$p" ] || continue
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
    command -v "$p"
    exit 0
  fi
done
echo "error: no Python 3.12 found (looked for \$PYTHON312, python3.12 on PATH, ~/.pyenv/versions/3.12*)." >&2
echo "Install it (e.g. 'pyenv install 3.12') or set PYTHON312=/path/to/python3.12." >&2
exit 1
