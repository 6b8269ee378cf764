#!/usr/bin/env bash
# Smoke check of the built bundle: does it start and work on a machine without Python?
#
#   packaging/check_bundle.sh [dist/gan-studio/gan-studio]
#
# Every run uses an empty environment (env -i, PATH=/usr/bin:/bin, a fresh HOME, Qt offscreen),
# so no venv, PYTHONPATH or user models folder can stand in for what the bundle lacks.
# Checks: the GUI opens an image and quits by itself (STUDIO_QUIT_AFTER_LOAD, see
# studio/ui/app.py) and refuses a damaged one; `upscale` writes a 4x image; `models` lists every
# shipped checkpoint; face detection finds OpenCV's Haar cascade; `inpaint --engine auto` works;
# the face engine's latent search runs; `edit` works when an IcGAN checkpoint is shipped.
# Exit 0 when all pass. Takes under a minute (torch runs on one thread).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXE="$(readlink -f "${1:-$ROOT/dist/gan-studio/gan-studio}")"
[[ -x "$EXE" ]] || { echo "check: $EXE not found: run packaging/build.sh first" >&2; exit 2; }
SHIPPED="$(dirname "$EXE")/_internal/checkpoints"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"
cp "$ROOT/packaging/smoke.png" "$ROOT/packaging/smoke-mask.png" "$tmp/"
printf 'not an image' > "$tmp/damaged.png"
cd "$tmp"

failures=0
pass() { echo "  ok    $*"; }
fail() { echo "  FAIL  $*"; failures=$((failures + 1)); }

bundle() {  # run the bundle in a clean environment; stdout+stderr to $tmp/out, the exit code returned
    env -i PATH=/usr/bin:/bin HOME="$tmp/home" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$@" >"$tmp/out" 2>&1
}

png_size() {  # "WxH" from a PNG's IHDR (bytes 16..23, big-endian), no Python needed
    od -An -tu1 -j16 -N8 "$1" | awk '{printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}

echo "check: $EXE"

# (a) GUI: shown, smoke.png loaded, quit with 0; a damaged file must give non-zero.
t0=$(date +%s%N)
bundle STUDIO_QUIT_AFTER_LOAD=1 STUDIO_TIMING=1 timeout 120 "$EXE" smoke.png
rc=$?
t1=$(date +%s%N)
shown=$(grep -o 'window shown.*' "$tmp/out" | head -1)
if [[ $rc == 0 ]]; then pass "GUI opened smoke.png and quit (exit 0 after $(( (t1 - t0) / 1000000 )) ms; $shown)"
else fail "GUI with smoke.png: exit $rc"; cat "$tmp/out"; fi

bundle STUDIO_QUIT_AFTER_LOAD=1 timeout 120 "$EXE" damaged.png
rc=$?
if [[ $rc != 0 && $rc != 124 ]] && grep -q "cannot read" "$tmp/out"; then pass "GUI refused damaged.png (exit $rc)"
else fail "GUI with damaged.png: exit $rc"; cat "$tmp/out"; fi

# (b) upscale: 64x64 -> 256x256
bundle timeout 300 "$EXE" upscale smoke.png -o up.png --quiet
rc=$?
if [[ $rc == 0 && -f up.png && "$(png_size up.png)" == 256x256 ]]; then pass "upscale: smoke.png 64x64 -> up.png $(png_size up.png)"
else fail "upscale: exit $rc, up.png $( [[ -f up.png ]] && png_size up.png || echo missing)"; cat "$tmp/out"; fi

# (c) models: every checkpoint shipped in the bundle is listed
bundle timeout 120 "$EXE" models
rc=$?
missing=()
for f in "$SHIPPED"/*.safetensors; do
    name="$(basename "$f" .safetensors)"
    grep -q -- "$name" "$tmp/out" || missing+=("$name")
done
count=$(ls "$SHIPPED"/*.safetensors 2>/dev/null | wc -l)
if [[ $rc == 0 && $count -gt 0 && ${#missing[@]} == 0 ]]; then pass "models: all $count shipped checkpoints listed ($(ls "$SHIPPED" | sed -n 's/\.safetensors$//p' | tr '\n' ' '))"
else fail "models: exit $rc, $count shipped, not listed: ${missing[*]:-}"; cat "$tmp/out"; fi

# (d) face detection: with the cascade present, a face-less image gives "no face found";
#     without it the error would say the detector is missing.
bundle timeout 120 "$EXE" inpaint smoke.png smoke-mask.png -o face.png --engine face --quiet
rc=$?
if [[ $rc == 2 ]] && grep -q "no face found" "$tmp/out" && ! grep -qi "missing" "$tmp/out"; then
    pass "face detection ran (Haar cascade found; no face in smoke.png, as expected)"
else fail "face detection: exit $rc"; cat "$tmp/out"; fi

# (e) inpaint --engine auto picks an engine and fills the hole
bundle timeout 300 "$EXE" inpaint smoke.png smoke-mask.png -o filled.png --engine auto
rc=$?
if [[ $rc == 0 && "$(png_size filled.png 2>/dev/null)" == 64x64 ]]; then pass "inpaint --engine auto: $(grep -o 'photo engine\|face engine\|classic engine' "$tmp/out" | head -1 || true) -> filled.png 64x64"
else fail "inpaint --engine auto: exit $rc"; cat "$tmp/out"; fi

# (f) the face engine's latent search with a given box (no detection): runs torch.optim.Adam,
#     which pulls in torch._dynamo and sympy at run time
bundle timeout 300 "$EXE" inpaint smoke.png smoke-mask.png -o face-box.png --engine face --box 0,0,64,64 \
    --steps 5 --seed 1 --quiet
rc=$?
if [[ $rc == 0 && "$(png_size face-box.png 2>/dev/null)" == 64x64 ]]; then pass "inpaint --engine face --box: latent search ran -> face-box.png 64x64"
else fail "inpaint --engine face --box: exit $rc"; cat "$tmp/out"; fi

# (g) the attribute editor, when its checkpoint is shipped
if ls "$SHIPPED"/icgan*.safetensors >/dev/null 2>&1; then
    bundle timeout 300 "$EXE" edit smoke.png --set Smiling=1 --box 0,0,64,64 -o edited.png --quiet
    rc=$?
    if [[ $rc == 0 && "$(png_size edited.png 2>/dev/null)" == 64x64 ]]; then pass "edit --set Smiling=1 --box: -> edited.png 64x64"
    else fail "edit: exit $rc"; cat "$tmp/out"; fi
else
    echo "  skip  edit: no icgan checkpoint in this bundle"
fi

if [[ $failures == 0 ]]; then echo "check: all passed"; exit 0; fi
echo "check: $failures failed"; exit 1
