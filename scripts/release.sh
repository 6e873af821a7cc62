#!/usr/bin/env bash
# Builds the release artifacts into target/dist, from the working tree as it is:
#
#   fetch-env-<version>-x86_64-linux   the binary, for every x86_64 Linux host with glibc 2.17 or
#                                      newer: it links no shared library but glibc's own
#   fetch-env_<version>_amd64.deb      the Debian package: the binary, its man page, bash, zsh
#                                      and fish completions, the JSON Schema of vars.yaml, the
#                                      license, the fetch-env@.service unit, and the
#                                      fetch-env-changed@ timer with its service
#   SHA256SUMS                         of both, for `sha256sum -c`
#
# The binary is built by cargo-zigbuild, with zig as the linker against glibc 2.17's symbol
# versions (the target x86_64-unknown-linux-gnu.2.17), in the workspace's [profile.release];
# both tools come from PyPI, pinned, into a venv under target/ (FETCH_ENV_RELEASE_VENV). The man
# page, the completions and the schema are what the built binary prints, never files of ours.
#
# `scripts/release.sh --tools` only installs the two tools (scripts/install-test-deps.sh runs it);
# `scripts/release.sh --source-hash` prints the hash of every file the artifacts are made from;
# target/dist/.source-sha256 holds the hash they were made from, so that the tests of the
# artifacts (crates/fetch-env/tests/release.rs) rebuild them only when the source changed.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
RUST_TARGET=x86_64-unknown-linux-gnu
GLIBC=2.17
TARGET=$RUST_TARGET.$GLIBC
LICENSE='MIT OR Apache-2.0'

# Every file that goes into an artifact: the workspace's manifests, lock file and sources, the
# packaging files and this script. Tests, examples and docs do not.
source_hash() {
  {
    printf '%s\n' Cargo.toml Cargo.lock scripts/release.sh
    find crates packaging -type f \( -name Cargo.toml -o -name build.rs -o -path 'crates/*/src/*' \
      -o -path 'packaging/*' \)
  } | LC_ALL=C sort -u | while read -r file; do sha256sum "$file"; done | sha256sum | cut -d' ' -f1
}

install_tools() {
  if ! "$venv/bin/python" -c "
import importlib.metadata as m
assert m.version('cargo-zigbuild') == '$CARGO_ZIGBUILD_VERSION'
assert m.version('ziglang') == '$ZIGLANG_VERSION'" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
  fi
}
venv=${FETCH_ENV_RELEASE_VENV:-target/release-venv}

case "${1:-}" in
--source-hash)
  source_hash
  exit 0
  ;;
--tools)
  install_tools
  exit 0
  ;;
"") ;;
*)
  echo "usage: scripts/release.sh [--source-hash | --tools]" >&2
  exit 2
  ;;
esac

fail() {
  echo "release.sh: $*" >&2
  exit 1
}

for tool in python3 dpkg-deb gzip sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-test-deps.sh installs it)"
done

install_tools

# Run by cargo (a test of the artifacts), this script inherits the variables cargo sets for one
# package; build scripts watch some of them (ring's build.rs watches CARGO_PKG_NAME and
# CARGO_MANIFEST_DIR), and the cargo below would rebuild them for nothing.
for variable in $(compgen -e); do
  case $variable in
  CARGO_PKG_* | CARGO_MANIFEST_* | CARGO_CRATE_* | CARGO_BIN_* | CARGO_PRIMARY_PACKAGE | \
    CARGO_TARGET_TMPDIR | OUT_DIR) unset "$variable" ;;
  esac
done
# cargo-zigbuild runs zig as `python3 -m ziglang`: the venv's python3 comes first on PATH.
export PATH="$PWD/$venv/bin:$PATH"

metadata=$(cargo metadata --locked --no-deps --format-version 1)
field() {
  python3 -c "
import json, sys
meta = json.load(sys.stdin)
package = next(p for p in meta['packages'] if p['name'] == 'fetch-env')
print({'version': package['version'], 'license': package['license'],
       'target': meta['target_directory']}['$1'])" <<<"$metadata"
}
version=$(field version)
target_dir=$(field target)
[ "$(field license)" = "$LICENSE" ] ||
  fail "the license of crates/fetch-env is '$(field license)', packaging/copyright says '$LICENSE'"

dist=target/dist
rm -rf "$dist"
mkdir -p "$dist"
hash=$(source_hash)

echo "release.sh: building fetch-env $version for $TARGET (cargo zigbuild --release)" >&2
cargo zigbuild --locked --release -p fetch-env --target "$TARGET"
built="$target_dir/$RUST_TARGET/release/fetch-env"
binary=fetch-env-$version-x86_64-linux
install -m 0755 "$built" "$dist/$binary"

# What the binary prints about itself; each is a command of fetch-env's own.
generated() {
  local what=$1
  shift
  if ! "$dist/$binary" "$@"; then
    fail "the built binary cannot print its $what: \`fetch-env $*\` failed (above). The \
commands manpage, completions SHELL and schema must exist in crates/fetch-env before a package \
can be built; nothing is written in their place."
  fi
}

root=$(mktemp -d "${TMPDIR:-/tmp}/fetch-env-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/fetch-env" \
  "$root/usr/share/doc/fetch-env" "$root/lib/systemd/system"
install -m 0755 "$dist/$binary" "$root/usr/bin/fetch-env"
generated "man page" manpage >"$root/usr/share/man/man1/fetch-env.1"
gzip -9n "$root/usr/share/man/man1/fetch-env.1"
generated "bash completion" completions bash >"$root/usr/share/bash-completion/completions/fetch-env"
generated "zsh completion" completions zsh >"$root/usr/share/zsh/vendor-completions/_fetch-env"
generated "fish completion" completions fish >"$root/usr/share/fish/vendor_completions.d/fetch-env.fish"
generated "JSON Schema" schema >"$root/usr/share/fetch-env/vars.schema.json"
for file in "$root/usr/share/man/man1/fetch-env.1.gz" \
  "$root/usr/share/bash-completion/completions/fetch-env" \
  "$root/usr/share/zsh/vendor-completions/_fetch-env" \
  "$root/usr/share/fish/vendor_completions.d/fetch-env.fish" \
  "$root/usr/share/fetch-env/vars.schema.json"; do
  [ -s "$file" ] || fail "the built binary printed nothing for ${file#"$root"}"
done
install -m 0644 packaging/copyright "$root/usr/share/doc/fetch-env/copyright"
for unit in fetch-env@.service fetch-env-changed@.service fetch-env-changed@.timer; do
  install -m 0644 "packaging/$unit" "$root/lib/systemd/system/$unit"
done

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: fetch-env
Version: $version
Architecture: amd64
Maintainer: fetch-env maintainers <fetch-env@localhost>
Installed-Size: $installed_size
Depends: libc6 (>= 2.17)
Section: admin
Priority: optional
Description: resolve a service host's environment from its manifest and AWS
 fetch-env reads a service's vars.yaml, resolves every variable from the host's
 bootstrap file, AWS SSM Parameter Store and AWS Secrets Manager, composes
 derived values such as DATABASE_URL, checks that nothing required is missing
 and hands the result to eval, a file or docker compose, without writing a
 secret to disk. The fetch-env@.service unit runs it at boot for one service;
 the fetch-env-changed@.timer recreates the containers whose values changed.
CONTROL
(cd "$root" && find usr lib -type f | LC_ALL=C sort | xargs md5sum >DEBIAN/md5sums)
# Every file dated by the last commit, so that the package depends on the source only.
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
find "$root" -exec touch -h -d "@$epoch" {} +
deb=fetch-env_${version}_amd64.deb
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$root" "$dist/$deb" >/dev/null

(cd "$dist" && sha256sum "$binary" "$deb" >SHA256SUMS)
echo "$hash" >"$dist/.source-sha256"
echo "release.sh: built $dist/$binary, $dist/$deb and $dist/SHA256SUMS" >&2
