#!/usr/bin/env bash
# npm run test:integration — the distributed adapters and the cluster against real servers.
# Installs the tools it needs (Debian packages), starts or reuses the services (scripts/services),
# points the tests at them, and runs test/integration/. A service that cannot start fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null; then
  echo "installing docker-compose (validates docker-compose.yml; no engine needed)" >&2
  apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null
fi

bash scripts/services/up.sh
set -a
# shellcheck disable=SC1091
. .services/env
set +a

node --import tsx --test --test-reporter=spec --test-concurrency=1 test/integration/*.test.ts
