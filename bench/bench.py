#!/usr/bin/env python3
"""Benchmarks fetch-env against the approaches it replaces, on moto's server on loopback.

usage: bench/bench.py [--sizes 10,100,1000] [--runs 11] [--slow-runs 5] [--slow-budget 60]
                      [--skip naive@1000@20] [--latencies 0,20] [--contenders NAME,...]
                      [--max-load 1.5] [--load-wait 900]
                      [--no-keep-alive] [--output BENCHMARKS.md | --no-write]
                      [--results FILE] [--render-only]

For each size, a fresh moto server on loopback holds a synthetic service of that many
variables: SSM String and SecureString parameters, one to three JSON bundles under the service
prefix, one to three RDS-style secrets read through `arn_from`, a default and a composed
DATABASE_URL. In front of moto sits a counting proxy (one request per connection, counted by
`X-Amz-Target`); for the runs with added latency, a delaying proxy sits in front of that one.
Every contender runs against that chain; each run gives its wall time, its peak RSS (GNU
time's %M: the largest single process of the run's process tree) and the requests the proxy
counted. Every contender's output is checked against fetch-env's: byte for byte for the shell
scripts, value by value for teller on the variables it can produce. Then fetch-env and teller
run once more with the 20 ms round trip against a server that keeps connections open, as AWS
does (a keep-alive proxy between the delaying proxy and the counting one), which shows what
moto's closing of every connection costs them.

The results go to stdout and replace the generated part of BENCHMARKS.md (from the line
starting with `<!-- bench:begin` to the line `<!-- bench:end -->`), so the table, the machine,
the versions and the target checks always come from one run; the raw results are kept in
target/bench-results.json for --render-only.

Installs what it needs when missing: scripts/install-test-deps.sh --bench (moto, the aws CLI,
jq, yq, GNU time, protoc), fetch-env in release mode (FETCH_ENV_BIN names another binary) and
teller 2.0.7 from crates.io under target/bench-tools (TELLER_BIN names another binary). Before
measuring it waits while the 1-minute load average is above --max-load (other work on the
machine), for --load-wait seconds at most, and reports the load it saw.
"""
import argparse
import collections
import json
import math
import os
import queue
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("FETCH_ENV_TEST_VENV", ROOT / "target/test-venv"))
BINARY = Path(os.environ.get("FETCH_ENV_BIN", ROOT / "target/release/fetch-env"))
TOOLS = ROOT / "target/bench-tools"
TELLER_VERSION = "2.0.7"
TELLER = Path(os.environ.get("TELLER_BIN", TOOLS / "bin/teller"))
REGION = "eu-central-1"
LOOPBACK = "127.0.0.1"

# The added round trip: 10 ms each way, and one more round trip before each upstream connect
# for the TCP handshake (moto closes the connection after every answer, so every request pays
# a handshake, as a client talking to it through a real network would).
ONE_WAY = 0.010
HANDSHAKE = 0.020

CONTENDERS = ["fetch-env by path", "fetch-env by name", "shell", "naive", "teller"]
# Those that start an aws CLI process (Python and botocore, about half a second) per request:
# a case of theirs stops adding runs once its runs have taken --slow-budget seconds (the naive
# script needs about a minute a run at 100 variables and 11 minutes at 1000), or a run of the
# harness would take hours. The runs column of the table says how many were made.
SLOW = {"shell", "naive"}


# --------------------------------------------------------------------------------------------
# Proxies

def read_request(conn):
    """One whole HTTP/1 request: the head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head_end = data.index(b"\r\n\r\n") + 4
    head = data[:head_end].decode("latin-1")
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(data) < head_end + length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    # One request per connection, as moto's server answers (it closes after each answer).
    head = re.sub(r"(?im)^connection:.*\r\n", "", head)
    head = head[:-2] + "Connection: close\r\n\r\n"
    return head, data[head_end:]


class Answer:
    """Tells when an HTTP/1 answer fed to it chunk by chunk is complete."""

    def __init__(self):
        self.data = b""
        self.done = False

    def feed(self, chunk):
        """True once, when the chunk completing the answer arrives."""
        if self.done:
            return False
        self.data += chunk
        end = self.data.find(b"\r\n\r\n")
        if end < 0:
            return False
        length = 0
        for line in self.data[:end].decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        self.done = len(self.data) >= end + 4 + length
        return self.done


class Listener:
    """A thread accepting connections on a loopback port, one thread per connection."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://{LOOPBACK}:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            accepted = time.monotonic()
            threading.Thread(target=self._guarded, args=(conn, accepted), daemon=True).start()

    def _guarded(self, conn, accepted):
        try:
            self.handle(conn, accepted)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


class CountingProxy(Listener):
    """Forwards each request to moto and counts it by its X-Amz-Target header (the operation
    of the JSON protocols both SSM and Secrets Manager speak)."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.operations = collections.Counter()
        # How long moto took for each request, from connecting to it to its last byte.
        self.server_times = []
        super().__init__()

    def handle(self, conn, _accepted):
        request = read_request(conn)
        if request is None:
            return
        head, body = request
        operation = "other"
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "x-amz-target":
                operation = value.strip()
        with self.lock:
            self.operations[operation] += 1
        started = time.monotonic()
        answered = Answer()
        with socket.create_connection((LOOPBACK, self.upstream_port)) as upstream:
            upstream.sendall(head.encode("latin-1") + body)
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                conn.sendall(chunk)
                if answered.feed(chunk):
                    # The answer is whole (its Content-Length is in): what a client waits
                    # for. moto closes the connection about 10 ms later, which no client
                    # waits for.
                    with self.lock:
                        self.server_times.append(time.monotonic() - started)

    def take(self):
        """The requests counted since the last call, by operation."""
        with self.lock:
            counted = dict(self.operations)
            self.operations.clear()
            self.server_times.clear()
        return counted

    def take_times(self):
        with self.lock:
            times = self.server_times[:]
            self.server_times.clear()
        return times


class DelayProxy(Listener):
    """A TCP proxy adding a round trip of 2 * ONE_WAY: bytes in either direction are held
    ONE_WAY from the moment they arrive (a delay line: order kept, throughput not limited),
    and the upstream connection is opened HANDSHAKE after the client's, which holds the
    request back as a TCP handshake over that network would.

    The delays are counted from when the connection was accepted and when each chunk arrived,
    not from when a thread got round to it: the client is read from the moment of the accept
    (a thread started afterwards would see the request late and add its start-up time to the
    modelled delay), and every wait is until a deadline, not for a duration."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        super().__init__()

    def handle(self, client, accepted):
        opened = accepted + HANDSHAKE
        upstream = []
        connected = threading.Event()

        def upstream_socket():
            connected.wait()
            return upstream[0] if upstream else None

        forward = threading.Thread(target=self.pump, args=(client, upstream_socket, opened))
        forward.start()
        try:
            sleep_until(opened)
            upstream.append(socket.create_connection((LOOPBACK, self.upstream_port)))
        finally:
            connected.set()
        with upstream[0]:
            self.pump(upstream[0], lambda: client, opened)
            forward.join()

    @staticmethod
    def pump(src, destination, not_before):
        """Copies src to destination() through the delay line, until src ends."""
        line = queue.Queue()

        def deliver():
            dst = None
            while True:
                due, data = line.get()
                sleep_until(due)
                try:
                    dst = dst or destination()
                    if dst is None:
                        return
                    if data is None:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(data)
                except OSError:
                    return

        writer = threading.Thread(target=deliver)
        writer.start()
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            line.put((max(time.monotonic(), not_before) + ONE_WAY, data or None))
            if not data:
                break
        writer.join()


class KeepAliveProxy(Listener):
    """Keeps a client's connection open across requests, as AWS does, and forwards each
    request on a connection of its own to the counting proxy (moto closes every connection
    after one answer). Behind the delaying proxy it shows what a contender pays against a
    server that keeps connections: one handshake per connection, not per request."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.connections = 0
        super().__init__()

    def handle(self, client, _accepted):
        with self.lock:
            self.connections += 1
        while True:
            request = read_request(client)
            if request is None:
                return
            head, body = request
            answer = Answer()
            with socket.create_connection((LOOPBACK, self.upstream_port)) as upstream:
                upstream.sendall(head.encode("latin-1") + body)
                while not answer.done:
                    chunk = upstream.recv(65536)
                    if not chunk:
                        break
                    answer.feed(chunk)
            if not answer.done:
                return
            end = answer.data.index(b"\r\n\r\n")
            answer_head = re.sub(rb"(?im)^connection:.*\r\n", b"", answer.data[:end + 2])
            client.sendall(answer_head + b"Connection: keep-alive\r\n\r\n"
                           + answer.data[end + 4:])

    def take(self):
        """The client connections accepted since the last call."""
        with self.lock:
            counted, self.connections = self.connections, 0
        return counted


def sleep_until(deadline):
    wait = deadline - time.monotonic()
    if wait > 0:
        time.sleep(wait)


# --------------------------------------------------------------------------------------------
# The synthetic service

SPECIAL = [
    "spaces and 'single' and \"double\" quotes",
    "dollar $HOME, `backtick`, back\\slash",
    "Zürich ünïcödé 42%",
    "hash # semicolon ; ampersand & pipe | <angle>",
    "url?a=1&b=%20#frag:colon/slash",
]


def shape(size):
    """(bundles, arn secrets) of a service of `size` variables."""
    return (1, 1) if size < 50 else (2, 2) if size < 500 else (3, 3)


def make_service(size, workdir):
    """Writes vars.yaml and store.yaml; returns what the checks and the report need."""
    namespace, svc = f"bench/n{size}", "api"
    prefix = f"/{namespace}/{svc}/"
    n_bundles, n_arns = shape(size)
    arn_keys = [f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rds!cluster-bench{size}x{k}-AbC12{k}"
                for k in range(n_arns)]
    lines = [f"service: {svc}", "variables:"]
    params, bundles, arn_vars, secrets = {}, [{} for _ in range(n_bundles)], [], {}
    for k in range(n_arns):
        lines.append(f"  - {{ name: DB{k}_SECRET_ARN, source: local, required: true }}")
    for k in range(n_arns):
        user, password = ("DATABASE_USERNAME", "DATABASE_PASSWORD") if k == 0 else (
            f"DB{k}_USERNAME", f"DB{k}_PASSWORD")
        for name, key in ((user, "username"), (password, "password")):
            lines.append(f"  - {{ name: {name}, required: true, sensitive: true, "
                         f"secret: {{ arn_from: DB{k}_SECRET_ARN, type: json, key: {key} }} }}")
        arn_vars.append((arn_keys[k], {"username": user, "password": password}))
        # No ! * ' ( ) in what DATABASE_URL encodes: jq's @uri, which the shell scripts use,
        # leaves them as they are, where fetch-env encodes every byte outside RFC 3986's
        # unreserved set; with them the outputs could not be compared byte for byte.
        secrets[arn_keys[k]] = {"username": f"admin_{k}",
                                "password": f"p@ss:w/rd?#[]&=+% {k}\"Zürich$"}
    lines += [
        "  - { name: DATABASE_HOST, required: true }",
        "  - { name: DATABASE_NAME, required: true }",
        "  - { name: DATABASE_PORT, default: '5432' }",
    ]
    params[prefix + "DATABASE_HOST"] = f"db-n{size}.cluster-c1a2b3c4.{REGION}.rds.amazonaws.com"
    params[prefix + "DATABASE_NAME"] = {"value": "app", "type": "SecureString"}
    rest = size - (3 * n_arns + 4)
    for i in range(rest):
        name = f"VAR_{i:04d}"
        value = f"value-{i}" + (f" {SPECIAL[i % len(SPECIAL)]}" if i % 9 == 5 else "")
        lines.append(f"  - {{ name: {name}, required: true }}")
        if i < n_bundles or i % 8 == 0:
            bundles[i % n_bundles][name] = value
        elif i % 4 == 1:
            params[prefix + name] = {"value": value, "type": "SecureString"}
        else:
            params[prefix + name] = value
    lines += [
        "  - name: DATABASE_URL",
        "    required: true",
        "    sensitive: true",
        "    compose:",
        "      template: 'postgresql://${DATABASE_USERNAME}:${DATABASE_PASSWORD}@${DATABASE_HOST}:${DATABASE_PORT}/${DATABASE_NAME}'",
        "      encode: [DATABASE_USERNAME, DATABASE_PASSWORD]",
    ]
    (workdir / "vars.yaml").write_text("\n".join(lines) + "\n")
    bundle_names = [f"{namespace}/{svc}/bundle{b}" for b in range(n_bundles)]
    for name, bundle in zip(bundle_names, bundles):
        secrets[name] = bundle
    (workdir / "store.yaml").write_text(json.dumps({"parameters": params, "secrets": secrets},
                                                   indent=1, ensure_ascii=False))
    assert len(lines) - 2 - 5 == size, "the manifest has the size asked for"
    # The remote variables (neither local, composed nor arn_from); fetch-env asks SSM by name
    # for these and the arn_from variables (arn_var_count).
    by_name = sum(1 for l in lines if l.startswith("  - { name:") and "source: local" not in l
                  and "secret:" not in l)
    return {
        "namespace": namespace,
        "service": svc,
        "prefix": prefix,
        "arn_keys": arn_keys,
        "arn_vars": arn_vars,
        "bundle_names": bundle_names,
        "ssm_names": [p[len(prefix):] for p in params],
        "bundle_keys": [k for b in bundles for k in b],
        "by_name_count": by_name,
        "arn_var_count": 2 * n_arns,
        "secure": sum(1 for v in params.values() if isinstance(v, dict)),
        "n_params": len(params),
    }


PAGES = """
import json, sys, boto3
endpoint, path, prefix = sys.argv[1:4]
keys = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="%s")
ssm = boto3.client("ssm", endpoint_url=endpoint, **keys)
sm = boto3.client("secretsmanager", endpoint_url=endpoint, **keys)
ssm_pages = sum(1 for _ in ssm.get_paginator("get_parameters_by_path").paginate(
    Path=path, Recursive=True, WithDecryption=True, PaginationConfig={"PageSize": 10}))
bundle_pages, token = 0, None
while True:
    args = dict(Filters=[{"Key": "name", "Values": [prefix]}], MaxResults=20)
    if token:
        args["NextToken"] = token
    page = sm.batch_get_secret_value(**args)
    bundle_pages += 1
    token = page.get("NextToken")
    if not token:
        break
print(json.dumps({"ssm_pages": ssm_pages, "bundle_pages": bundle_pages}))
""" % REGION


def seed(endpoint, workdir, svc):
    """Seeds moto (directly, not through the counting proxy); writes bootstrap.env with the
    ARNs moto assigned; returns the pages the server serves for the path and the prefix."""
    seeded = json.loads(subprocess.run(
        [VENV / "bin/python", ROOT / "tests/aws/seed.py", endpoint, workdir / "store.yaml"],
        check=True, capture_output=True).stdout)
    svc["arns"] = [seeded[key] for key in svc["arn_keys"]]
    bootstrap = [f"NAMESPACE={svc['namespace']}"] + [
        f"DB{k}_SECRET_ARN={arn}" for k, arn in enumerate(svc["arns"])]
    (workdir / "bootstrap.env").write_text("\n".join(bootstrap) + "\n")
    pages = json.loads(subprocess.run(
        [VENV / "bin/python", "-c", PAGES, endpoint, svc["prefix"].rstrip("/"),
         svc["prefix"].lstrip("/")],
        check=True, capture_output=True).stdout)
    svc.update(pages)


def teller_config(svc, endpoint, path):
    """teller's configuration for the same data, as far as it can express it: the SSM path,
    each bundle by its name (teller cannot list a prefix) and each arn_from secret by its
    literal ARN with its keys mapped to the variable names (teller cannot take the ARN from the
    bootstrap file)."""
    options = (f"{{ region: {REGION}, access_key_id: testing, secret_access_key: testing, "
               f"endpoint_url: '{endpoint}' }}")
    lines = [
        "providers:",
        "  ssm:",
        "    kind: ssm",
        f"    options: {options}",
        "    maps:",
        "      - id: params",
        f"        path: {svc['prefix'].rstrip('/')}",
        "        decrypt: true",
        "  secrets:",
        "    kind: aws_secretsmanager",
        f"    options: {options}",
        "    maps:",
    ]
    for b, name in enumerate(svc["bundle_names"]):
        lines += [f"      - id: bundle{b}", f"        path: {name}"]
    for k, ((_, keys), arn) in enumerate(zip(svc["arn_vars"], svc["arns"])):
        lines += [f"      - id: db{k}", f"        path: '{arn}'", "        keys:"]
        lines += [f"          {key}: {name}" for key, name in keys.items()]
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# Running

def start_moto():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([VENV / "bin/moto_server", "-H", LOOPBACK, "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.05)
    server.kill()
    sys.exit("moto_server did not start")


def contender_env(endpoint):
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        LC_ALL="C.UTF-8",
        PATH=f"{VENV / 'bin'}:{os.environ['PATH']}",
    )
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                "NAMESPACE", "AWS_PROFILE", "FETCH_ENV_SSM_LOOKUP", "FETCH_ENV_SECRETS_LOOKUP",
                "FETCH_ENV_STORE"):
        env.pop(key, None)
    return env


def commands(workdir, teller_cfg):
    manifest, bootstrap = workdir / "vars.yaml", workdir / "bootstrap.env"
    base = [BINARY, "--store", "aws", "--manifest", manifest, "--bootstrap", bootstrap]
    script = ["--manifest", manifest, "--bootstrap", bootstrap, "--format", "export"]
    return {
        "fetch-env by path": base + ["--ssm-lookup", "by-path"],
        "fetch-env by name": base + ["--ssm-lookup", "by-name"],
        "shell": ["bash", ROOT / "bench/fetch-env.sh"] + script,
        "naive": ["bash", ROOT / "bench/naive.sh"] + script,
        "teller": [TELLER, "--config", teller_cfg, "export", "json"],
    }


def calibrate(endpoint, path, count=7):
    """The median time of one GetParametersByPath page through the proxies and moto, from a
    raw socket client that costs next to nothing itself (it stops reading when the answer's
    Content-Length is in, as HTTP clients do): what a sequential request costs at least,
    whoever sends it."""
    host, port = endpoint.split("//")[1].split(":")
    body = json.dumps({"Path": path, "Recursive": True, "WithDecryption": True,
                       "MaxResults": 10}).encode()
    head = (f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "X-Amz-Target: AmazonSSM.GetParametersByPath\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/ssm/"
            "aws4_request, SignedHeaders=host, Signature=0\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        answer = Answer()
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(head + body)
            while not answer.done:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer.feed(chunk)
        samples.append(time.perf_counter() - started)
        if not answer.done or b" 200 " not in answer.data.split(b"\r\n", 1)[0]:
            sys.exit(f"calibration request failed: {answer.data[:300]!r}")
    return statistics.median(samples)


def run_once(command, env, out_path):
    """Wall time (s), peak RSS (KiB) and exit status of one run.

    The peak RSS is GNU time's %M: the ru_maxrss that wait4 reports for its child, which for a
    script is its largest single process (an aws CLI). The child is not waited for from this
    process: a child started by Python (fork, vfork or posix_spawn alike) carries Python's own
    resident size as its high-water mark into exec, which would put a floor of this harness's
    size (15-20 MiB) under every number. GNU time is small, so its floor is about 2 MiB; its
    fork and exec are in every contender's wall time alike (about a millisecond)."""
    rss_path = str(out_path) + ".rss"
    with open(out_path, "wb") as out, open(str(out_path) + ".err", "wb") as err:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_path, *command], env=env,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        wall = time.perf_counter() - started
    rss = Path(rss_path).read_text().split()
    # GNU time writes "Command exited with non-zero status N" before %M when it fails.
    return wall, int(rss[-1]) if rss and rss[-1].isdigit() else 0, done.returncode


def run_or_exit(name, command, env, out_path, where):
    """run_once, stopping the harness with the contender's stderr when it fails; returns the
    wall time, the peak RSS and the output."""
    wall, maxrss, code = run_once(command, env, out_path)
    if code != 0:
        err = Path(str(out_path) + ".err").read_text(errors="replace")
        sys.exit(f"{name} failed ({code}) {where}:\n{err[-3000:]}")
    return wall, maxrss, out_path.read_bytes()


class LoadSampler:
    """The 1-minute load average, sampled every 5 s while the benchmark runs."""

    def __init__(self):
        self.samples = []
        self.stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while not self.stop.is_set():
            self.samples.append(load1())
            self.stop.wait(5)


def load1():
    return float(Path("/proc/loadavg").read_text().split()[0])


def check_output(name, out, reference, reference_json, svc):
    """None when the output is what it must be, else the reason."""
    if name == "teller":
        try:
            got = json.loads(out)
        except ValueError:
            return "teller did not print JSON"
        expected_keys = set(svc["ssm_names"]) | set(svc["bundle_keys"]) | {
            v for _, keys in svc["arn_vars"] for v in keys.values()}
        if set(got) != expected_keys:
            return (f"teller printed {len(got)} keys, {len(expected_keys)} expected; "
                    f"missing {sorted(expected_keys - set(got))[:5]}, "
                    f"extra {sorted(set(got) - expected_keys)[:5]}")
        wrong = [k for k in got if got[k] != reference_json.get(k)]
        return f"teller's values differ for {wrong[:5]}" if wrong else None
    if out != reference:
        return f"{name} printed other exports than fetch-env by path"
    return None


def measure(args, sizes, latencies, names):
    results, notes = [], {"service": {}, "request": {}, "verbose": {}, "kept": {}}
    for size in sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"fetch-env-bench-{size}-"))
        server, moto_port = start_moto()
        counting = CountingProxy(moto_port)
        delaying = DelayProxy(counting.port)
        try:
            svc = make_service(size, workdir)
            seed(f"http://{LOOPBACK}:{moto_port}", workdir, svc)
            # The reference: fetch-env's own JSON, for teller's values.
            env = contender_env(counting.endpoint)
            ref_json = json.loads(subprocess.run(
                [BINARY, "--store", "aws", "--manifest", workdir / "vars.yaml", "--bootstrap",
                 workdir / "bootstrap.env", "--format", "json"],
                env=env, check=True, capture_output=True).stdout)
            counting.take()
            reference = None
            for latency in latencies:
                endpoint = delaying.endpoint if latency else counting.endpoint
                env = contender_env(endpoint)
                teller_cfg = workdir / f"teller-{latency}.yml"
                teller_config(svc, endpoint, teller_cfg)
                cmds = commands(workdir, teller_cfg)
                notes["request"][(size, latency)] = calibrate(endpoint, svc["prefix"].rstrip("/"))
                counting.take()
                skipped = [n for n in names if f"{n}@{size}@{latency}" in args.skip.split(",")]
                fast = [n for n in names if n not in SLOW and n not in skipped]
                slow = [n for n in names if n in SLOW and n not in skipped]
                runs = {n: {"samples": [], "rss": [], "requests": [], "server": []} for n in names}
                out_path = workdir / "out"

                def one_run(name):
                    nonlocal reference
                    wall, maxrss, out = run_or_exit(name, cmds[name], env, out_path,
                                                    f"at {size} variables")
                    server = counting.take_times()
                    ops = counting.take()
                    if reference is None:
                        if name != "fetch-env by path":
                            sys.exit("fetch-env by path must run first: it is the reference")
                        reference = out
                    problem = check_output(name, out, reference, ref_json, svc)
                    if problem:
                        sys.exit(f"{problem} ({size} variables, {latency} ms)")
                    for key, value in (("samples", wall), ("rss", maxrss), ("requests", ops)):
                        runs[name][key].append(value)
                    runs[name]["server"] += server

                # The compiled contenders: one untimed run each (the binary and its libraries
                # in the page cache), then their runs interleaved, round by round, so that a
                # burst of other work on the machine falls on all of them alike.
                for name in fast:
                    run_once(cmds[name], env, out_path)
                    counting.take()
                for _ in range(args.runs):
                    for name in fast:
                        one_run(name)
                for name in slow:
                    while len(runs[name]["samples"]) < args.slow_runs and not (
                            sum(runs[name]["samples"]) >= args.slow_budget):
                        one_run(name)
                for name in names:
                    if name in skipped:
                        results.append({"size": size, "latency": latency, "contender": name,
                                        "skipped": True})
                        print(f"  {size:>5} vars {latency:>2} ms  {name:<18} not run (--skip)",
                              file=sys.stderr, flush=True)
                        continue
                    samples, requests = runs[name]["samples"], runs[name]["requests"]
                    totals = sorted(sum(ops.values()) for ops in requests)
                    results.append({
                        "size": size, "latency": latency, "contender": name, "runs": len(samples),
                        "median": statistics.median(samples), "min": min(samples),
                        "max": max(samples), "rss_kib": max(runs[name]["rss"]),
                        "requests": totals[len(totals) // 2], "requests_range": (totals[0], totals[-1]),
                        "operations": requests[len(requests) // 2],
                        "server_median": (statistics.median(runs[name]["server"])
                                          if runs[name]["server"] else 0),
                    })
                    r = results[-1]
                    print(f"  {size:>5} vars {latency:>2} ms  {name:<18} {r['median'] * 1000:8.0f} ms"
                          f"  {r['rss_kib'] / 1024:6.1f} MiB  {r['requests']:>5} requests"
                          f"  ({len(samples)} runs)", file=sys.stderr, flush=True)
                # fetch-env's own account of the last by-path and by-name runs: requests per
                # operation and the time of each phase.
                for mode in ("by-path", "by-name"):
                    if f"fetch-env {mode.replace('-', ' ')}" not in names:
                        continue
                    verbose = subprocess.run(
                        [BINARY, "--store", "aws", "--manifest", workdir / "vars.yaml",
                         "--bootstrap", workdir / "bootstrap.env", "--ssm-lookup", mode,
                         "--verbose"], env=env, capture_output=True)
                    counting.take()
                    notes["verbose"][(size, latency, mode)] = verbose.stderr.decode(errors="replace").strip()
            if args.keep_alive and 20 in latencies and reference is not None:
                notes["kept"][size] = kept_connections(args, size, names, svc, workdir, counting,
                                                       reference, ref_json)
            notes["service"][size] = svc
        finally:
            delaying.close()
            counting.close()
            server.terminate()
            server.wait()
            subprocess.run(["rm", "-rf", str(workdir)])
    return results, notes


def kept_connections(args, size, names, svc, workdir, counting, reference, ref_json):
    """The compiled contenders with the 20 ms round trip against a server that keeps
    connections open: the delaying proxy in front of a keep-alive proxy in front of the
    counting one. Their runs interleaved, as in the main measurement."""
    kept = KeepAliveProxy(counting.port)
    delaying = DelayProxy(kept.port)
    try:
        env = contender_env(delaying.endpoint)
        teller_cfg = workdir / "teller-kept.yml"
        teller_config(svc, delaying.endpoint, teller_cfg)
        cmds = commands(workdir, teller_cfg)
        fast = [n for n in names if n not in SLOW]
        out_path = workdir / "out"
        runs = {n: {"samples": [], "connections": [], "requests": []} for n in fast}
        for name in fast:
            run_once(cmds[name], env, out_path)
        counting.take()
        kept.take()
        for _ in range(args.runs):
            for name in fast:
                wall, _, out = run_or_exit(name, cmds[name], env, out_path,
                                           "with connections kept")
                problem = check_output(name, out, reference, ref_json, svc)
                if problem:
                    sys.exit(f"{problem} (connections kept)")
                runs[name]["samples"].append(wall)
                runs[name]["connections"].append(kept.take())
                runs[name]["requests"].append(sum(counting.take().values()))
        found = {}
        for name, r in runs.items():
            found[name] = {"median": statistics.median(r["samples"]), "runs": len(r["samples"]),
                           "connections": statistics.median(r["connections"]),
                           "requests": statistics.median(r["requests"])}
            print(f"  {size:>5} vars 20 ms  {name:<18} "
                  f"{found[name]['median'] * 1000:8.0f} ms  connections kept: "
                  f"{found[name]['connections']:g} for {found[name]['requests']:g} requests",
                  file=sys.stderr, flush=True)
        return found
    finally:
        delaying.close()
        kept.close()


# --------------------------------------------------------------------------------------------
# Setting up

def setup(args):
    subprocess.run([ROOT / "scripts/install-test-deps.sh", "--bench"], check=True)
    if not BINARY.exists():
        print("building fetch-env (release)", file=sys.stderr, flush=True)
        subprocess.run(["nice", "cargo", "build", "--release", "--locked", "-p", "fetch-env"],
                       cwd=ROOT, check=True)
    if "teller" in args.contenders.split(","):
        version = ""
        if TELLER.exists():
            version = subprocess.run([TELLER, "--version"], capture_output=True,
                                     text=True).stdout
        if TELLER_VERSION not in version:
            # Built from crates.io with its own lock file; it needs protoc (protobuf-compiler).
            # Low priority: it takes a while on two cores and others may be working.
            print(f"building teller {TELLER_VERSION} under {TOOLS}", file=sys.stderr, flush=True)
            subprocess.run(["nice", "-n", "19", "cargo", "install", "teller", "--version",
                            TELLER_VERSION, "--locked", "--root", TOOLS], check=True)


def wait_for_quiet(args):
    """Waits while the machine is busy with other work; returns what was seen."""
    first = load1()
    waited = 0
    while load1() > args.max_load and waited < args.load_wait:
        print(f"load average {load1():.2f} > {args.max_load}: waiting", file=sys.stderr,
              flush=True)
        time.sleep(30)
        waited += 30
    return {"before": first, "waited": waited, "start": load1()}


def versions():
    def out(cmd):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            return (done.stdout + done.stderr).strip()
        except OSError:
            return "?"
    moto = out([VENV / "bin/python", "-c", "import moto; print(moto.__version__)"])
    return {
        "moto": moto,
        "aws": out([VENV / "bin/aws", "--version"]),
        "teller": out([TELLER, "--version"]),
        "rustc": out(["rustc", "--version"]),
        "commit": out(["git", "rev-parse", "--short", "HEAD"]),
        "dirty": bool(out(["git", "status", "--porcelain", "--untracked-files=no", "--", "crates",
                           "Cargo.toml", "Cargo.lock"])),
        "python": out(["python3", "--version"]),
        "jq": out(["jq", "--version"]),
        "yq": out(["dpkg-query", "-W", "-f=${Version}", "yq"]),
        "bash": out(["bash", "-c", "echo $BASH_VERSION"]),
    }


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": mem / 1024 / 1024,
            "kernel": os.uname().release}


# --------------------------------------------------------------------------------------------
# Reporting

LABELS = {
    "fetch-env by path": "fetch-env (by path)",
    "fetch-env by name": "fetch-env (`--ssm-lookup by-name`)",
    "shell": "shell: `bench/fetch-env.sh`",
    "naive": "naive: `bench/naive.sh`",
    "teller": "teller 2.0.7 (partial, see below)",
}


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def find(results, size, latency, name):
    for r in results:
        if (r["size"], r["latency"], r["contender"]) == (size, latency, name) and not r.get("skipped"):
            return r
    return None


def table(results):
    lines = [
        "| variables | added RTT | contender | median wall | runs | peak RSS | requests | × fetch-env by path |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.get("skipped"):
            lines.append(f"| {r['size']} | {r['latency']} ms | {LABELS[r['contender']]} | "
                         "not run (`--skip`) | 0 | – | – | – |")
            continue
        base = find(results, r["size"], r["latency"], "fetch-env by path")
        ratio = f"{r['median'] / base['median']:.1f}×" if base else "–"
        lo, hi = r["requests_range"]
        requests = str(r["requests"]) if lo == hi else f"{r['requests']} ({lo}–{hi})"
        lines.append(f"| {r['size']} | {r['latency']} ms | {LABELS[r['contender']]} | "
                     f"{ms(r['median'])} | {r['runs']} | {mib(r['rss_kib'])} | {requests} | {ratio} |")
    return lines


def short_op(op):
    return op.split(".")[-1] if op != "other" else op


def operations_table(results, notes, sizes):
    lines = [
        "| variables | contender | requests by operation (no added RTT) | expected |",
        "|---:|---|---|---|",
    ]
    for size in sizes:
        svc = notes["service"].get(size)
        for r in results:
            if r["size"] != size or r["latency"] != min(x["latency"] for x in results) or r.get("skipped"):
                continue
            ops = ", ".join(f"{short_op(k)} {v}" for k, v in sorted(r["operations"].items()))
            expected = ""
            if svc and r["contender"] in ("fetch-env by path", "fetch-env by name"):
                total, why = expected_requests(svc, r["contender"])
                expected = f"{total} = {why}"
            lines.append(f"| {size} | {LABELS[r['contender']]} | {ops} | {expected} |")
    return lines


def expected_requests(svc, contender):
    """The requests the targets allow: SSM pages (or name batches) + bundle discovery calls +
    distinct ARN secrets."""
    arns = len(svc["arns"])
    if contender == "fetch-env by path":
        ssm, what = svc["ssm_pages"], f"{svc['ssm_pages']} SSM pages"
    else:
        # Every variable that is not `source: local` is asked for by name: the remote ones and
        # those read from an arn_from secret, for which SSM is the earlier layer (SPEC 3.1: an
        # empty key in the secret, or an unset ARN variable, leaves the SSM value standing), so
        # that both lookups resolve a flat layout alike. The batches go out together.
        asked = svc["by_name_count"] + svc["arn_var_count"]
        ssm = math.ceil(asked / 10)
        what = (f"{ssm} batches of ≤ 10 of the {asked} names ({svc['by_name_count']} remote, "
                f"{svc['arn_var_count']} arn_from)")
    return ssm + svc["bundle_pages"] + arns, (
        f"{what} + {svc['bundle_pages']} BatchGetSecretValue page + {arns} ARN secrets")


def critical_path(svc, contender):
    """Sequential requests on the longest of the three concurrent groups."""
    ssm = svc["ssm_pages"] if contender == "fetch-env by path" else 1
    return max(ssm, svc["bundle_pages"], 1 if svc["arns"] else 0)


def targets(results, notes):
    """Each target: (text, met, numbers)."""
    out = []

    def get(size, latency, name):
        return find(results, size, latency, name)

    fp, fn, sh, te = (get(100, 0, n) for n in
                      ("fetch-env by path", "fetch-env by name", "shell", "teller"))
    if fp and sh:
        ratio = sh["median"] / fp["median"]
        out.append(("100 variables, no added latency: fetch-env by path ≥ 40× faster than the shell script",
                    ratio >= 40, f"{ratio:.1f}× ({ms(sh['median'])} / {ms(fp['median'])})"))
    if fn and sh:
        ratio = sh["median"] / fn["median"]
        out.append(("100 variables, no added latency: fetch-env by name ≥ 60× faster than the shell script",
                    ratio >= 60, f"{ratio:.1f}× ({ms(sh['median'])} / {ms(fn['median'])})"))
    if fp and fn and te:
        out.append(("100 variables, no added latency: both fetch-env modes faster than teller",
                    fp["median"] < te["median"] and fn["median"] < te["median"],
                    f"by path {ms(fp['median'])}, by name {ms(fn['median'])}, teller {ms(te['median'])}"))
    for r in results:
        if r["contender"] not in ("fetch-env by path", "fetch-env by name") or r.get("skipped"):
            continue
        svc = notes["service"].get(r["size"])
        total, why = expected_requests(svc, r["contender"])
        lo, hi = r["requests_range"]
        out.append((f"{r['size']} variables, {r['latency']} ms: {LABELS[r['contender']]} makes "
                     f"SSM pages (or name batches) + bundle calls + distinct ARN secrets, nothing more",
                     lo == hi == total, f"{r['requests']} counted, {total} = {why}"))
    svc = notes["service"].get(100)
    fn20, fp20 = get(100, 20, "fetch-env by name"), get(100, 20, "fetch-env by path")
    if fn20:
        out.append(("20 ms RTT, 100 variables: fetch-env by name ≤ 150 ms",
                    fn20["median"] <= 0.150, ms(fn20["median"])))
    if fp20 and svc:
        seq = critical_path(svc, "fetch-env by path")
        bound = (2 * seq) * 0.020 + 0.080
        out.append((f"20 ms RTT, 100 variables: fetch-env by path ≤ (2 × {seq} sequential requests) × 20 ms + 80 ms = {ms(bound)}",
                    fp20["median"] <= bound, ms(fp20["median"])))
    for name in ("fetch-env by path", "fetch-env by name"):
        worst = [r for r in results if r["size"] == 1000 and r["contender"] == name
                 and not r.get("skipped")]
        if worst:
            peak = max(r["rss_kib"] for r in worst)
            out.append((f"peak RSS ≤ 30 MiB at 1000 variables: {LABELS[name]}",
                        peak <= 30 * 1024, mib(peak)))
    return out


def latency_growth(results, notes, sizes):
    """fetch-env's added wall time at 20 ms against its sequential requests."""
    lines = [
        "| variables | contender | sequential requests on the critical path | wall, no added RTT | wall, 20 ms RTT | added | added per sequential request | one request, raw client (0 / 20 ms) | moto per request |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        svc = notes["service"].get(size)
        for name in ("fetch-env by path", "fetch-env by name"):
            a, b = find(results, size, 0, name), find(results, size, 20, name)
            if not (a and b and svc):
                continue
            seq = critical_path(svc, name)
            added = b["median"] - a["median"]
            raw = " / ".join(ms(notes["request"][(size, x)]) for x in (0, 20))
            lines.append(f"| {size} | {LABELS[name]} | {seq} | {ms(a['median'])} | "
                         f"{ms(b['median'])} | {ms(added)} | {added / seq * 1000:.0f} ms | "
                         f"{raw} | {a['server_median'] * 1000:.1f} ms |")
    return lines


def kept_table(results, notes):
    lines = [
        "| variables | contender | connections | requests | wall, a connection per request | wall, connections kept |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for size, found in sorted(notes["kept"].items()):
        for name, k in found.items():
            each = find(results, size, 20, name)
            lines.append(f"| {size} | {LABELS[name]} | {k['connections']:g} | {k['requests']:g} | "
                         f"{ms(each['median']) if each else '–'} | {ms(k['median'])} |")
    return lines


def report(args, results, notes, env_info, started, finished):
    sizes = sorted({r["size"] for r in results})
    v, m, load = env_info["versions"], env_info["machine"], env_info["load"]
    samples = env_info["load_samples"] or [load["start"]]
    out = ["<!-- bench:begin (generated by bench/bench.py: edits here are overwritten) -->", ""]
    out += [
        "```sh",
        " ".join(["bench/bench.py", *args.argv]),
        "```",
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(started))}, "
        f"{(finished - started) / 60:.1f} minutes for the whole run (set-up included), "
        f"fetch-env at commit {v['commit']}{' with uncommitted changes' if v['dirty'] else ''}.",
        "",
        f"- machine: {m['nproc']} cores ({m['cpu']}), {m['mem_gib']:.1f} GiB of memory, "
        f"Linux {m['kernel']}",
        f"- 1-minute load average: {load['before']:.2f} before the run, "
        + (f"waited {load['waited']} s for it to fall, " if load["waited"] else "")
        + f"{load['start']:.2f} at the start; during the run min {min(samples):.2f}, "
        f"median {statistics.median(samples):.2f}, max {max(samples):.2f} "
        f"({len(samples)} samples, every 5 s; the harness's own proxies and moto count in it)",
        f"- moto {v['moto']} (`moto_server`, plain HTTP on 127.0.0.1), {v['aws']}, "
        f"{v['teller']}, {v['rustc']}, {v['jq']}, yq {v['yq']} (Debian's, the jq wrapper), "
        f"bash {v['bash']}",
        f"- runs: {args.runs} per case for fetch-env and teller, after one untimed run each, "
        f"interleaved round by round; up to {args.slow_runs} for the shell and naive scripts, "
        f"which stop adding runs once a case has taken {args.slow_budget:g} s (the runs column "
        f"says how many were made)"
        + (f"; not run: {args.skip.replace(',', ', ')} (contender@variables@RTT ms)"
           if args.skip else "") + "; the median is shown",
        "",
    ]
    out += table(results)
    out += ["", "Requests as the counting proxy saw them, by operation:", ""]
    out += operations_table(results, notes, sizes)
    out += ["", "fetch-env's wall time against the added round trip:", ""]
    out += latency_growth(results, notes, sizes)
    if notes.get("kept"):
        out += ["", "With the same 20 ms round trip against a server that keeps connections open, "
                "as AWS does (a keep-alive proxy between the delaying proxy and the counting "
                "one; moto itself closes every connection):", ""]
        out += kept_table(results, notes)
    out += ["", "### Targets", ""]
    for text, met, numbers in targets(results, notes):
        out.append(f"- {'met' if met else '**missed**'}: {text}: {numbers}")
    out += ["", "### fetch-env --verbose (one extra run per case)", ""]
    for key, text in sorted(notes["verbose"].items()):
        size, latency, mode = key
        if size not in (100, max(sizes)):
            continue
        out += [f"{size} variables, {latency} ms, {mode}:", "", "```",
                *[l for l in text.splitlines() if not l.startswith("export ")], "```", ""]
    out += ["<!-- bench:end -->"]
    return "\n".join(out)


def write_report(path, block):
    """Replaces the generated block: from the line starting with `<!-- bench:begin` to the line
    `<!-- bench:end -->` (markers quoted inside a line are text, not markers)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find("\n<!-- bench:begin") + 1
    end = text.find("\n<!-- bench:end -->", start) + 1
    if start > 0 and end > start:
        text = text[:start] + block + text[end + len("<!-- bench:end -->"):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--runs", type=int, default=11,
                        help="runs of fetch-env and teller per case, interleaved")
    parser.add_argument("--slow-runs", type=int, default=5,
                        help="runs of the shell and naive scripts per case, at most")
    parser.add_argument("--slow-budget", type=float, default=60,
                        help="seconds after which a case of the shell or naive script stops "
                             "adding runs (at least one run is made)")
    parser.add_argument("--skip", default="naive@1000@20",
                        help="cases not run, as contender@variables@RTT: the naive script "
                             "takes about 11 minutes a run at 1000 variables")
    parser.add_argument("--latencies", default="0,20",
                        help="added round-trip times in ms (0 or 20)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="wait while the 1-minute load average is above this")
    parser.add_argument("--load-wait", type=int, default=900,
                        help="seconds to wait at most for the load to fall")
    parser.add_argument("--no-keep-alive", dest="keep_alive", action="store_false",
                        help="skip the runs with the 20 ms round trip against a server that "
                             "keeps connections open")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--results", default=str(ROOT / "target/bench-results.json"),
                        help="where the raw results of the run are kept")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: render the report again from --results")
    args = parser.parse_args()
    if args.render_only:
        saved = json.loads(Path(args.results).read_text())
        run_args = argparse.Namespace(**saved["args"])
        notes = {"service": {int(k): v for k, v in saved["notes"]["service"]},
                 "request": {tuple(k): v for k, v in saved["notes"]["request"]},
                 "verbose": {tuple(k): v for k, v in saved["notes"]["verbose"]},
                 "kept": {int(k): v for k, v in saved["notes"].get("kept", [])}}
        for r in saved["results"]:
            if "requests_range" in r:
                r["requests_range"] = tuple(r["requests_range"])
        block = report(run_args, saved["results"], notes, saved["env_info"], saved["started"],
                       saved["finished"])
    else:
        block = run(args)
    print(block)
    if not args.no_write:
        write_report(Path(args.output), block)
        print(f"wrote {args.output}", file=sys.stderr)


def run(args):
    args.argv = sys.argv[1:]
    started = time.time()
    names = [n for n in CONTENDERS if n in args.contenders.split(",")]
    unknown = set(args.contenders.split(",")) - set(CONTENDERS)
    if unknown or names[:1] != ["fetch-env by path"]:
        sys.exit(f"contenders: {', '.join(CONTENDERS)}; fetch-env by path is the reference and "
                 f"must be one of them")
    latencies = [int(x) for x in args.latencies.split(",")]
    if any(x not in (0, 20) for x in latencies):
        sys.exit("--latencies: 0 and/or 20")
    setup(args)
    load = wait_for_quiet(args)
    sampler = LoadSampler()
    results, notes = measure(args, [int(s) for s in args.sizes.split(",")], latencies, names)
    sampler.stop.set()
    env_info = {"versions": versions(), "machine": machine(), "load": load,
                "load_samples": sampler.samples}
    finished = time.time()
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps({
        "args": vars(args), "results": results, "env_info": env_info,
        "started": started, "finished": finished,
        "notes": {"service": list(notes["service"].items()),
                  "request": list(notes["request"].items()),
                  "verbose": list(notes["verbose"].items()),
                  "kept": list(notes["kept"].items())},
    }, indent=1, ensure_ascii=False))
    return report(args, results, notes, env_info, started, finished)


if __name__ == "__main__":
    main()
