#!/usr/bin/env python3
"""Where fetch-env's own cost goes: instructions counted by valgrind's callgrind, which are the
same from run to run whatever else the machine does (wall times on a shared machine are not).

usage: bench/instructions.py [--sizes 100,1000]

For each size, the synthetic service of bench/bench.py on moto, every request recorded and
answered again by bench/stub_aws.py over TLS (as in bench.py's stub cases). Counted, one run
each under callgrind: the floor (one process start and one request of
crates/fetch-env-aws/examples/floor.rs), `fetch-env --version` (process start alone), fetch-env
by name as it is and with SSL_CERT_FILE naming the system's bundle (so that the system's roots
are read from that file alone, not from the bundle and then every file of /etc/ssl/certs), and
fetch-env by name with `--aws-max-in-flight 100`. Then the instructions of fetch-env by name
are split by what they were spent on, from a build with symbols (the release profile with
`strip = false`, `debug = "line-tables-only"`, thin LTO, under target/prof; built when
missing): the system's root certificates, the TLS handshakes, the manifest, request signing.

Needs valgrind (Debian's valgrind); everything else as bench/bench.py installs it.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

PROFILED = bench.ROOT / "target/prof/release/fetch-env"
PROFILE_ENV = {
    "CARGO_PROFILE_RELEASE_STRIP": "false",
    "CARGO_PROFILE_RELEASE_DEBUG": "line-tables-only",
    "CARGO_PROFILE_RELEASE_LTO": "thin",
    "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16",
}
# What the instructions of a resolve are spent on: a function's inclusive count, by the name
# callgrind_annotate gives it.
PARTS = [
    ("the system's root certificates (rustls-native-certs)",
     r"rustls_native_certs::load_native_certs \["),
    ("building the root store of each connector",
     r"RootCertStore::add_parsable_certificates \["),
    ("TLS handshakes", r"tokio_rustls::common::Stream<IO,C>::handshake \["),
    ("reading the manifest and the bootstrap file", r"fetch_env::context::Inputs::load \["),
    ("signing the requests (SigV4)", r"aws_sigv4::http_request::sign::sign \["),
]


def callgrind(command, env, out):
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    totals = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(out)],
                            capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", totals)[1].replace(",", ""))
    return total, totals


def parts(annotated):
    found = []
    for label, pattern in PARTS:
        counts = [int(m[1].replace(",", "")) for m in
                  re.finditer(r"^\s*([\d,]+) \([\d. ]+%\)\s+\S*" + pattern, annotated, re.M)]
        found.append((label, max(counts) if counts else 0))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000")
    args = parser.parse_args()
    if not (Path("/usr/bin/valgrind").exists() or
            subprocess.run(["which", "valgrind"], capture_output=True).returncode == 0):
        sys.exit("valgrind is needed: apt-get install valgrind")
    for build, env, target in ((["-p", "fetch-env"], {}, "target"),
                               (["-p", "fetch-env-aws", "--example", "floor"], {}, "target"),
                               (["-p", "fetch-env"], PROFILE_ENV, "target/prof")):
        subprocess.run(["nice", "cargo", "build", "--release", "--locked", *build,
                        "--target-dir", target], cwd=bench.ROOT, env=dict(os.environ, **env),
                       check=True)
    print("| variables | run | instructions | × floor |")
    print("|---:|---|---:|---:|")
    breakdowns = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix=f"fetch-env-instructions-{size}-"))
        tls = bench.make_tls(work)
        server, port = bench.start_moto()
        counting = bench.CountingProxy(port)
        stub = None
        try:
            svc = bench.make_service(size, work)
            bench.seed(f"http://{bench.LOOPBACK}:{port}", work, svc)
            recording = bench.commands(work, svc, counting.endpoint, None, "record")
            for name in ("fetch-env by name", "floor"):
                subprocess.run(recording[name], env=bench.contender_env(counting.endpoint),
                               check=True, capture_output=True)
            stub = bench.StubServer(list(counting.recorded.values()), tls, work)
            env = bench.contender_env(stub.endpoint, tls)
            cmds = bench.commands(work, svc, stub.endpoint, tls, "stub")
            system = dict(env, SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt")
            runs = [
                ("floor", cmds["floor"], env),
                ("`fetch-env --version`", [bench.BINARY, "--version"], env),
                ("fetch-env by name", cmds["fetch-env by name"], env),
                ("fetch-env by name, SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                 cmds["fetch-env by name"], system),
                ("fetch-env by name, `--aws-max-in-flight 100`",
                 cmds["fetch-env by name"] + ["--aws-max-in-flight", "100"], env),
            ]
            floor = None
            for label, command, run_env in runs:
                total, _ = callgrind(command, run_env, work / "callgrind.out")
                floor = floor or total
                print(f"| {size} | {label} | {total:,} | {total / floor:.1f}× |", flush=True)
            profiled = [PROFILED, *cmds["fetch-env by name"][1:]]
            total, annotated = callgrind(profiled, env, work / "callgrind-profiled.out")
            breakdowns[size] = (total, parts(annotated))
        finally:
            if stub:
                stub.close()
            counting.close()
            server.terminate()
            server.wait()
            subprocess.run(["rm", "-rf", str(work)])
    for size, (total, found) in breakdowns.items():
        print(f"\nfetch-env by name, {size} variables, the stub (build with symbols: "
              f"{total:,} instructions):\n")
        print("| spent on | instructions | share |")
        print("|---|---:|---:|")
        for label, count in found:
            print(f"| {label} | {count:,} | {100 * count / total:.0f} % |")
        rest = total - sum(count for _, count in found)
        print(f"| everything else (process start, runtime, SDK, parsing the answers, output) "
              f"| {rest:,} | {100 * rest / total:.0f} % |")


if __name__ == "__main__":
    main()
