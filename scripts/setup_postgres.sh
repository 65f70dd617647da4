#!/usr/bin/env bash
# PostgreSQL's server binaries for the storage tests (Debian's postgresql package). The tests start their own
# throwaway cluster on 127.0.0.1 (tests/postgres.py); nothing here starts a service. Idempotent.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Debian package postgresql (for the storage tests)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # the package may start a cluster of its own; the tests do not use it
  (command -v service >/dev/null 2>&1 && service postgresql stop >/dev/null 2>&1) || true
else
  echo "setup: PostgreSQL not found; install it (sudo apt-get install postgresql) or set NASFORGE_TEST_POSTGRES" >&2
  exit 1
fi
