#!/usr/bin/env bash
# The main job: set up, then search Fashion-MNIST with the default preset and export the best model.
# Extra arguments go to `nasforge run` (e.g. --timeout 120).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh main   # the runtime only; scripts/test.sh adds the dev tools
exec .venv/bin/nasforge run fashion_mnist "$@"
