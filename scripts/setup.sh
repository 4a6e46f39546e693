#!/usr/bin/env bash
# One-time, idempotent setup shared by `make test`, `make build` and `make reproduce`:
#   1. Debian packages the toolkit shells out to (ffmpeg, espeak-ng), the C++ toolchain torch-sys needs and
#      nasm for libjpeg-turbo's SIMD (mozjpeg-sys);
#   2. the torch==2.9.0 virtualenv (libtorch for burn-tch, plus pyarrow/numpy/safetensors and the reference
#      image/audio readers for the interoperability tests), kept in a cache outside the clone and keyed by the torch version;
#   3. the links `.venv` and `.libtorch` in the repo root that .cargo/config.toml and the tests use.
# A second run installs nothing. Override the cache with LIPSYNC_CACHE=/path.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TORCH_VERSION=2.9.0
# torchvision, OpenCV and soundfile are the reference loaders the import test compares against
# (issue #15): torchvision 0.24.0 is the release built against torch 2.9.0; OpenCV 4.14 is the
# newest 4.x release (VocaLiST predates 5.x, a new major) and the first 4.x that allows numpy 2.4.
PY_PACKAGES=("torch==${TORCH_VERSION}" "pyarrow==26.0.1" "numpy==2.4.6" "safetensors==0.8.0"
             "torchvision==0.24.0" "opencv-python-headless==4.14.0.94" "soundfile==0.14.0"
             "scipy==1.17.1" "python_speech_features==0.6")
CACHE=${LIPSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lipsync}
VENV="$CACHE/venv-torch-${TORCH_VERSION}"

log() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages ---------------------------------------------------------------------------
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v nasm >/dev/null 2>&1 || missing+=(nasm)  # libjpeg-turbo's SIMD (mozjpeg-sys)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present (ffmpeg, espeak-ng, c++, nasm)"
fi

# 2. torch venv in the cache ---------------------------------------------------------------------
stamp="$VENV/.lipsync-complete"
want="${PY_PACKAGES[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing ${want} into $VENV (~6.6 GB, a few minutes)"
  mkdir -p "$CACHE"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
  got=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
  case "$got" in
    "${TORCH_VERSION}"|"${TORCH_VERSION}+"*) ;;
    *) log "error: torch $got installed, burn-tch 0.22 needs exactly ${TORCH_VERSION}"; exit 1 ;;
  esac
  printf '%s' "$want" > "$stamp"
else
  log "torch ${TORCH_VERSION} venv present at $VENV"
fi

# 3. links used by cargo (.cargo/config.toml: LIBTORCH=.libtorch) and by the tests (.venv) ----------
torch_dir=$("$VENV/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
ln -sfn "$VENV" "$ROOT/.venv"
ln -sfn "$torch_dir" "$ROOT/.libtorch"
log "linked .venv -> $VENV and .libtorch -> $torch_dir"

# Rust components used by `make lint`.
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" >/dev/null 2>&1 || true
  done
fi
