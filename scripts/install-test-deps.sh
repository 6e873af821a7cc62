#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: the shells the export
# format is evaluated by, PostgreSQL and its client for the URL round-trip, and node's
# pg-connection-string. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v busybox >/dev/null || missing+=(busybox)
command -v dash >/dev/null || missing+=(dash)
command -v psql >/dev/null || missing+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
command -v setpriv >/dev/null || missing+=(util-linux)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f tests/node/package.json ]; then
  (cd tests/node && npm ci --silent --no-audit --no-fund)
fi
