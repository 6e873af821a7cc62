#!/usr/bin/env bash
# Fuzzes every parser of outside input for SECONDS each (default 600), one after another, with
# libFuzzer through cargo-fuzz. A crash stops the script with libFuzzer's report and the input
# in fuzz/artifacts/TARGET.
#
# Two corpora per target. The seeds, fuzz/seeds/TARGET, are in the repository: tens of small
# inputs that reach most of the target's code. The grown corpus, target/fuzz-corpus/TARGET, is
# not (target/ is ignored): the script creates it, adds the seeds it lacks, and libFuzzer writes
# every input it finds there. A fresh clone fuzzes at once; a machine that fuzzes for days keeps
# what it has found.
#
# --reseed chooses each target's seeds anew from its grown corpus and the current seeds: a
# set-cover merge by libFuzzer, then scripts/fuzz-seeds.py keeps the inputs that add the most
# edges, at most 80 (docs/fuzzing.md).
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#        scripts/fuzz.sh --reseed [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fuzz
if [ "${1:-}" = --reseed ]; then
  mode=reseed
  shift
else
  seconds=${1:-600}
  shift || true
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
  targets=(manifest bootstrap template file_store export_quoting compose_file secret_json)

tools=target/fuzz-tools
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
export PATH="$PWD/$tools/bin:$PATH"
# cargo-fuzz passes unstable flags to rustc; the toolchain here is stable, whose compiler
# accepts them when told it is building itself. The code is safe Rust (unsafe is forbidden),
# so the fuzzers look for panics, aborts and hangs; no sanitizer is needed (-s none).
export RUSTC_BOOTSTRAP=1
limits=(-max_len=8192 -timeout=10)

for target in "${targets[@]}"; do
  seeds=fuzz/seeds/$target
  grown=target/fuzz-corpus/$target
  mkdir -p "$grown"
  if [ "$mode" = reseed ]; then
    mkdir -p "$seeds"
    work=$(mktemp -d)
    mkdir "$work/cover"
    # -use_counters=0: edges, not hit counts, or every loop count would be a feature to keep.
    if ! cargo fuzz run -s none "$target" "$work/cover" "$grown" "$seeds" -- \
      -set_cover_merge=1 -use_counters=0 -merge_control_file="$work/control" "${limits[@]}" \
      >"$work/log" 2>&1; then
      cat "$work/log" >&2
      exit 1
    fi
    scripts/fuzz-seeds.py "$work/control" 80 >"$work/chosen"
    mkdir "$work/seeds"
    while IFS= read -r input; do cp "$input" "$work/seeds/"; done <"$work/chosen"
    rm -rf "$seeds"
    mv "$work/seeds" "$seeds"
    rm -rf "$work"
    echo "$target: $(find "$seeds" -type f | wc -l) seeds"
    continue
  fi
  # Under libFuzzer's own naming (the SHA-1 of the content), so that a seed the fuzzer has
  # found again, or one copied on an earlier run, is not added twice.
  for seed in "$seeds"/*; do
    [ -f "$seed" ] || continue
    name=$(sha1sum "$seed" | cut -c1-40)
    [ -e "$grown/$name" ] || cp "$seed" "$grown/$name"
  done
  echo "== $target: ${seconds}s"
  cargo fuzz run -s none "$target" "$grown" -- \
    -max_total_time="$seconds" "${limits[@]}" -print_final_stats=1 2>&1 |
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|SUMMARY|INFO: seed corpus)|panicked|ERROR' || true
  if compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
    echo "crash found: fuzz/artifacts/$target" >&2
    exit 1
  fi
done
