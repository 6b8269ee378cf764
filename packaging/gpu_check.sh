#!/usr/bin/env bash
# The checks only a CUDA machine can do: the test suite with the GPU as the device, and the speed
# benchmarks on it. In under 8 minutes (each step has its own time limit).
#
#   packaging/gpu_check.sh LOG_FOLDER
#
# Writes LOG_FOLDER/gpu_check.log (and one log per step). Without CUDA it says so and exits 0:
# a CPU-only machine has nothing to check here. Exit 1 when a step fails.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -eq 1 ]] || { echo "usage: packaging/gpu_check.sh LOG_FOLDER" >&2; exit 2; }
LOGS="$(mkdir -p "$1" && cd "$1" && pwd)" || { echo "gpu_check: cannot write to $1" >&2; exit 2; }
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
DATA="${STUDIO_SHARED_DATA:-$ROOT/../shared/data}"
exec > >(tee "$LOGS/gpu_check.log") 2>&1
tee_pid=$!
trap 'exec >&- 2>&-; wait "$tee_pid"' EXIT  # the log is complete when the script returns

if ! gpu="$("$PY" -c 'import torch, sys
sys.exit(1) if not torch.cuda.is_available() else print(torch.cuda.get_device_name(0))' 2>/dev/null)"; then
    echo "gpu_check: skipped: PyTorch sees no CUDA GPU on this machine; nothing to check"
    exit 0
fi
echo "gpu_check: $gpu, $("$PY" -c 'import torch; print("torch", torch.__version__)')"
# devices.pick_device: STUDIO_DEVICE stands in for "auto", so every engine the tests build runs on the GPU.
export STUDIO_DEVICE=cuda
cd "$ROOT"
failures=0
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to LOGS/NAME.log
    local name="$1" limit="$2"; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
    local rc=$?
    tail -n 5 "$LOGS/$name.log"
    if [[ $rc -eq 0 ]]; then echo "  ok    $name ($((SECONDS - t0)) s)"
    else echo "  FAIL  $name (exit $rc$([[ $rc -eq 124 ]] && echo ", over ${limit} s"); see $LOGS/$name.log)"
         failures=$((failures + 1)); fi
}
step tests 300 "$PY" -m pytest -q -x -p no:cacheprovider
step bench-sr-speed 60 "$PY" -m studio bench sr --speed --device cuda
if [[ -d "$DATA/photos/bsds500/test" ]]; then
    step bench-inpaint-speed 80 "$PY" -m studio bench inpaint --photos "$DATA/photos/bsds500/test" --n 5 \
        --bins 2 --speed --device cuda
else
    echo "  skip  bench-inpaint-speed: no photos at $DATA/photos/bsds500/test"
fi
echo "gpu_check: $failures step(s) failed; logs in $LOGS"
[[ $failures -eq 0 ]]
