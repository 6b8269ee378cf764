#!/usr/bin/env bash
# Build the standalone bundle: dist/gan-studio/ (run it as dist/gan-studio/gan-studio).
#
#   packaging/build.sh            uses the active venv's python, else ./.venv/bin/python, else python3
#   PYTHON=/path/python packaging/build.sh
#
# Installs PyInstaller into that environment if it is missing (the `package` extra), builds from
# packaging/gan-studio.spec, then prints the bundle's size and its 15 largest parts.
# Build from a CPU-only torch: a CUDA torch adds several GB of CUDA libraries.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then PYTHON="$VIRTUAL_ENV/bin/python"
    elif [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"
    else PYTHON=python3
    fi
fi

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build: installing PyInstaller into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install -q "pyinstaller>=6"
fi

# The analysis imports torch in helper processes: keep them to one thread each.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export PYTHONWARNINGS="ignore::DeprecationWarning"  # torch submodule scans are noisy

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
    "$ROOT/packaging/gan-studio.spec"
end=$(date +%s)

BUNDLE="$ROOT/dist/gan-studio"
echo
echo "build: done in $((end - start)) s: $BUNDLE/gan-studio"
echo "build: bundle size $(du -sh "$BUNDLE" | cut -f1)"
echo "build: largest parts:"
(cd "$BUNDLE/_internal" && du -s --block-size=1M -- * | sort -rn | head -15 |
    awk '{printf "  %6d MB  %s\n", $1, $2}')

cuda=$(find "$BUNDLE" -name 'libcud*' -o -name 'libcublas*' -o -name 'libnccl*' | head -3)
if [[ -n "$cuda" ]]; then
    echo "build: warning: CUDA libraries are in the bundle (built from a CUDA torch):" >&2
    echo "$cuda" >&2
fi
echo "build: check it with packaging/check_bundle.sh"
