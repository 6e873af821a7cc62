#!/usr/bin/env bash
# Fuzzes every parser of outside input for SECONDS each (default 600), one after another, with
# libFuzzer through cargo-fuzz; the corpus grows in fuzz/corpus/TARGET and is kept in the
# repository. A crash stops the script with libFuzzer's report and the input in
# fuzz/artifacts/TARGET.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(manifest bootstrap template file_store export_quoting)

tools=target/fuzz-tools
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
export PATH="$PWD/$tools/bin:$PATH"
# cargo-fuzz passes unstable flags to rustc; the toolchain here is stable, whose compiler
# accepts them when told it is building itself. The code is safe Rust (unsafe is forbidden),
# so the fuzzers look for panics, aborts and hangs; no sanitizer is needed (-s none).
export RUSTC_BOOTSTRAP=1

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target: ${seconds}s"
  cargo fuzz run -s none "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 2>&1 |
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|INFO: seed corpus)|panicked|ERROR' || true
  if compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
    echo "crash found: fuzz/artifacts/$target" >&2
    exit 1
  fi
done
