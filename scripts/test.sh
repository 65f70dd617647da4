#!/usr/bin/env bash
# Set up, then lint, type-check and run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -n "${NASFORGE_TEST_POSTGRES:-}" ] || bash scripts/setup_postgres.sh
.venv/bin/ruff check nasforge tests benchmarks
.venv/bin/ruff format --check nasforge tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
