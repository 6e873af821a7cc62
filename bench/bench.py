#!/usr/bin/env python3
"""Times fetch-env against the shell approach it replaces, on moto's server on loopback.

usage: bench/bench.py [--sizes 10,100,1000] [--runs 5] [--contenders a,b,...]

Creates, for each size, a synthetic service in a fresh moto server (SSM String and
SecureString parameters, three JSON bundles under the service prefix, two RDS-style secrets
used through arn_from, and a composed DATABASE_URL), checks that every contender prints the
same exports, then reports the median wall time of --runs runs and the ratio to fetch-env.
Needs scripts/install-test-deps.sh (moto, the aws CLI, jq, yq) and a release build of
fetch-env (built when missing).
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("FETCH_ENV_TEST_VENV", ROOT / "target/test-venv"))
BINARY = Path(os.environ.get("FETCH_ENV_BIN", ROOT / "target/release/fetch-env"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    server = subprocess.Popen(
        [VENV / "bin/moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    sys.exit("moto_server did not start")


def service(size, workdir):
    """Writes vars.yaml, bootstrap.env and store.yaml for a service of `size` variables."""
    namespace = f"bench/n{size}"
    svc = "api"
    arns = [
        f"arn:aws:secretsmanager:eu-central-1:123456789012:secret:bench-n{size}-rds-{i}-AbC12{i}"
        for i in range(2)
    ]
    lines = [f"service: {svc}", "variables:"]
    for i, arn in enumerate(arns):
        lines += [f"  - {{ name: DB{i}_SECRET_ARN, source: local, required: true }}"]
    params, bundles = {}, [{}, {}, {}]
    fixed = 2 + 3  # the ARN variables, USER, PASSWORD, URL
    remote = size - fixed
    for i in range(remote):
        name = f"VAR_{i:04d}"
        lines.append(f"  - {{ name: {name}, required: true }}")
        if i % 7 == 0:
            bundles[i % 3][name] = f"bundle-value-{i}"
        elif i % 5 == 0:
            params[f"/{namespace}/{svc}/{name}"] = {"value": f"secure-{i}", "type": "SecureString"}
        else:
            params[f"/{namespace}/{svc}/{name}"] = f"value-{i}"
    lines += [
        "  - { name: DATABASE_USERNAME, required: true, secret: { arn_from: DB0_SECRET_ARN, type: json, key: username } }",
        "  - { name: DATABASE_PASSWORD, required: true, sensitive: true, secret: { arn_from: DB0_SECRET_ARN, type: json, key: password } }",
        "  - name: DATABASE_URL",
        "    required: true",
        "    compose:",
        "      template: 'postgresql://${DATABASE_USERNAME}:${DATABASE_PASSWORD}@db:5432/app'",
        "      encode: [DATABASE_USERNAME, DATABASE_PASSWORD]",
    ]
    (workdir / "vars.yaml").write_text("\n".join(lines) + "\n")
    store = {"parameters": params, "secrets": {}}
    for i, bundle in enumerate(bundles):
        store["secrets"][f"{namespace}/{svc}/bundle{i}"] = bundle
    for i, arn in enumerate(arns):
        store["secrets"][arn] = {"username": f"admin{i}", "password": f"p@ss:w/rd{i}&%"}
    (workdir / "store.yaml").write_text(json.dumps(store, indent=1))
    return namespace, arns


def contenders(workdir, endpoint):
    manifest, bootstrap = workdir / "vars.yaml", workdir / "bootstrap.env"
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="eu-central-1",
        AWS_DEFAULT_REGION="eu-central-1",
        AWS_EC2_METADATA_DISABLED="true",
        PATH=f"{VENV / 'bin'}:{os.environ['PATH']}",
    )
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NAMESPACE"):
        env.pop(key, None)
    base = [BINARY, "--store", "aws", "--manifest", manifest, "--bootstrap", bootstrap]
    return env, {
        "fetch-env (by path)": base,
        "fetch-env (by name)": base + ["--ssm-lookup", "by-name"],
        "shell (bash + aws CLI + jq)": [ROOT / "bench/fetch-env.sh", "--manifest", manifest,
                                        "--bootstrap", bootstrap, "--format", "export"],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shell-runs", type=int, default=None,
                        help="runs for the shell contender (default: --runs)")
    args = parser.parse_args()
    subprocess.run([ROOT / "scripts/install-test-deps.sh"], check=True)
    if not BINARY.exists():
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "fetch-env"],
                       cwd=ROOT, check=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        server, endpoint = start_moto()
        try:
            workdir = Path(tempfile.mkdtemp(prefix=f"fetch-env-bench-{size}-"))
            namespace, arns = service(size, workdir)
            seeded = json.loads(subprocess.run(
                [VENV / "bin/python", ROOT / "tests/aws/seed.py", endpoint, workdir / "store.yaml"],
                check=True, capture_output=True).stdout)
            bootstrap = [f"NAMESPACE={namespace}"] + [
                f"DB{i}_SECRET_ARN={seeded[arn]}" for i, arn in enumerate(arns)]
            (workdir / "bootstrap.env").write_text("\n".join(bootstrap) + "\n")
            env, commands = contenders(workdir, endpoint)
            outputs, times = {}, {}
            for name, command in commands.items():
                runs = args.shell_runs if (args.shell_runs and name.startswith("shell")) else args.runs
                samples = []
                for _ in range(runs):
                    started = time.perf_counter()
                    done = subprocess.run(command, env=env, capture_output=True)
                    samples.append(time.perf_counter() - started)
                    if done.returncode != 0:
                        sys.exit(f"{name} failed:\n{done.stderr.decode()}")
                outputs[name] = done.stdout
                times[name] = statistics.median(samples)
            reference = outputs["fetch-env (by path)"]
            for name, out in outputs.items():
                if out != reference:
                    sys.exit(f"{name} printed different exports than fetch-env")
            for name, seconds in times.items():
                rows.append((size, name, seconds, seconds / times["fetch-env (by path)"]))
            shutil.rmtree(workdir)
        finally:
            server.terminate()
            server.wait()
    print(f"| variables | contender | median wall time ({args.runs} runs) | vs fetch-env by path |")
    print("|---:|---|---:|---:|")
    for size, name, seconds, ratio in rows:
        print(f"| {size} | {name} | {seconds * 1000:.0f} ms | {ratio:.1f}x |")


main()
