#!/usr/bin/env python3
"""Chooses a target's seed corpus from libFuzzer's merge control file.

`scripts/fuzz.sh --reseed` runs a set-cover merge of the grown corpus (`-set_cover_merge=1
-use_counters=0 -merge_control_file=FILE`), which writes every input's coverage features to
FILE. libFuzzer's own set cover keeps every input that adds one edge, hundreds of them for the
YAML readers; the seeds in the repository are meant to be tens. This takes inputs greedily,
each time the one that adds the most features not yet covered (the smaller one on a tie), and
stops at MAX inputs or when nothing is left to add. It prints the chosen paths, one a line, and
the share of the features they cover on stderr.

usage: fuzz-seeds.py CONTROL_FILE MAX
"""

import os
import sys


def main() -> None:
    control, limit = sys.argv[1], int(sys.argv[2])
    lines = open(control, encoding="utf-8").read().split("\n")
    # The control file: the number of inputs, the number in the first corpus, the paths, then
    # lines "STARTED i size", "FT i feature..." and "COV i edge..." as the inputs are run.
    count = int(lines[0])
    paths = lines[2 : 2 + count]
    features: dict[int, set[int]] = {}
    for line in lines[2 + count :]:
        fields = line.split()
        if fields and fields[0] == "FT":
            features[int(fields[1])] = set(map(int, fields[2:]))
    every = set().union(*features.values()) if features else set()

    covered: set[int] = set()
    chosen = []
    while len(chosen) < limit and features:
        best = max(
            features,
            key=lambda i: (len(features[i] - covered), -os.path.getsize(paths[i])),
        )
        if not features[best] - covered:
            break
        covered |= features.pop(best)
        chosen.append(paths[best])
    for path in chosen:
        print(path)
    share = 100 * len(covered) / len(every) if every else 100
    print(
        f"{len(chosen)} inputs cover {len(covered)} of {len(every)} features ({share:.1f}%)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
