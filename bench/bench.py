#!/usr/bin/env python3
"""Benchmarks fetch-env against the approaches it replaces, on moto's server on loopback.

usage: bench/bench.py [--sizes 10,100,1000] [--runs 11] [--slow-runs 5] [--slow-budget 60]
                      [--skip PATTERN,...] [--latencies 0,20] [--transports http,https,stub]
                      [--contenders NAME,...]
                      [--max-load 1.5] [--load-wait 900]
                      [--no-keep-alive] [--output BENCHMARKS.md | --no-write]
                      [--results FILE] [--render-only]

For each size, a fresh moto server on loopback holds a synthetic service of that many
variables: SSM String and SecureString parameters, one to three JSON bundles under the service
prefix, one to three RDS-style secrets read through `arn_from`, a default and a composed
DATABASE_URL. In front of moto sits a counting proxy (one request per connection, counted by
`X-Amz-Target`); for the runs with added latency, a delaying proxy sits in front of that one.
Every case runs against three servers: moto over plain HTTP; moto behind a TLS-terminating
proxy that keeps connections open, as AWS does (a certificate and CA made for the run by
openssl, trusted by each contender through its usual setting); and bench/stub_aws.py, which
answers moto's recorded answers over the same TLS in microseconds, so that the client's own
cost shows. Each run gives its wall time, its CPU time (the whole process tree's), its peak
RSS (GNU time's %M: the largest single process of the run's process tree), the requests the
proxy counted and the connections and TLS handshakes it saw. The floor (one process start and
one request of crates/fetch-env-aws/examples/floor.rs) runs beside the contenders. Every
contender's output is checked against fetch-env's: byte for byte for the shell scripts, value
by value for teller and fnox on the variables they can produce. Unless --no-keep-alive, fetch-env,
teller and fnox run once more with the 20 ms round trip against a plain-HTTP server that keeps
connections open (a keep-alive proxy between the delaying proxy and the counting one).

The results go to stdout and replace the generated part of BENCHMARKS.md (from the line
starting with `<!-- bench:begin` to the line `<!-- bench:end -->`), so the table, the machine,
the versions and the target checks always come from one run; the raw results are kept in
target/bench-results.json for --render-only.

Installs what it needs when missing: scripts/install-test-deps.sh --bench (moto, the aws CLI,
jq, yq, GNU time, protoc, libudev-dev), fetch-env in release mode (FETCH_ENV_BIN names another
binary), the floor client, and teller 2.0.7 and fnox 1.40.0 from crates.io under
target/bench-tools (TELLER_BIN and FNOX_BIN name other binaries). Before
measuring it waits while the 1-minute load average is above --max-load (other work on the
machine), for --load-wait seconds at most, and reports the load it saw.
"""
import argparse
import collections
import fnmatch
import json
import math
import os
import queue
import re
import resource
import socket
import ssl
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
# fnox: the newest release that builds from crates.io with its own lock file (1.46.0 fails at
# resolution: its lock names a webpki-roots release the registry no longer has). It needs
# libudev-dev and pkg-config (hidapi) and takes about 35 minutes on two cores.
FNOX_VERSION = "1.40.0"
FNOX = Path(os.environ.get("FNOX_BIN", TOOLS / "bin/fnox"))
# The floor: one process start and one request of a minimal client (rustls and ring, as
# fetch-env uses, and nothing else), crates/fetch-env-aws/examples/floor.rs.
FLOOR = ROOT / "target/release/examples/floor"
REGION = "eu-central-1"
LOOPBACK = "127.0.0.1"

# The added round trip: 10 ms each way, and one more round trip before each upstream connect
# for the TCP handshake (moto closes the connection after every answer, so every request pays
# a handshake, as a client talking to it through a real network would).
ONE_WAY = 0.010
HANDSHAKE = 0.020

CONTENDERS = ["fetch-env by path", "fetch-env by name", "shell", "naive", "teller", "fnox",
              "floor", "by name 4 in flight", "by name 100 in flight"]
# fetch-env by name with other --aws-max-in-flight than its default (16): the alternatives of
# the "Requests in flight" table.
IN_FLIGHT = {"by name 4 in flight": 4, "fetch-env by name": 16, "by name 100 in flight": 100}
# The servers a case runs against: moto over plain HTTP (it closes every connection after one
# answer, so every request pays a TCP handshake), moto behind a TLS-terminating proxy that keeps
# connections open as AWS does (every new connection pays a TCP and a TLS handshake), and the
# stub (bench/stub_aws.py) over the same TLS: moto's recorded answers in microseconds, so that
# what remains is the client's own cost.
TRANSPORTS = ["http", "https", "stub"]
TRANSPORT_LABELS = {
    "http": "moto, plain HTTP, a connection per request",
    "https": "moto behind TLS, connections kept",
    "stub": "stub of recorded answers, TLS, connections kept",
}
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


def no_delay(sock):
    """Sends each write at once: without TCP_NODELAY, a small write that follows another one
    not yet acknowledged (a TLS handshake's flights, its session tickets, then an answer) waits
    for the peer's delayed ACK, up to 40 ms on Linux, which no network between a client and AWS
    adds."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


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
                no_delay(conn)
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
        # Every answer moto gave, by request: what the stub answers with (record()).
        self.recorded = {}
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
        with no_delay(socket.create_connection((LOOPBACK, self.upstream_port))) as upstream:
            upstream.sendall(head.encode("latin-1") + body)
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                if answered.feed(chunk):
                    # The answer is whole (its Content-Length is in): what a client waits
                    # for. moto closes the connection about 10 ms later, which no client
                    # waits for. Recorded before the client has it, so that the stub holds
                    # every answer a finished run was given.
                    with self.lock:
                        self.server_times.append(time.monotonic() - started)
                    self.record(operation, body, answered.data)
                conn.sendall(chunk)

    def record(self, operation, body, answer):
        end = answer.index(b"\r\n\r\n")
        head = answer[:end].decode("latin-1").split("\r\n")
        content_type = "application/x-amz-json-1.1"
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.strip()
        entry = {"target": operation if operation != "other" else "", "body": body.decode(),
                 "status": int(head[0].split()[1]), "content_type": content_type,
                 "answer": answer[end + 4:].decode()}
        with self.lock:
            self.recorded[(entry["target"], body)] = entry

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

    def __init__(self, upstream_port, scheme="http"):
        self.upstream_port = upstream_port
        super().__init__()
        self.endpoint = f"{scheme}://{LOOPBACK}:{self.port}"

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
            upstream.append(no_delay(socket.create_connection((LOOPBACK, self.upstream_port))))
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
    server that keeps connections: one handshake per connection, not per request.

    With a TLS context it terminates TLS too (the certificate of make_tls), and counts the
    handshakes, full and resumed: what every contender pays for HTTPS on each new connection."""

    def __init__(self, upstream_port, context=None):
        self.upstream_port = upstream_port
        self.context = context
        self.lock = threading.Lock()
        self.connections = 0
        self.handshakes = 0
        self.resumed = 0
        super().__init__()
        if context is not None:
            self.endpoint = f"https://{LOOPBACK}:{self.port}"

    def handle(self, client, _accepted):
        with self.lock:
            self.connections += 1
        if self.context is not None:
            client = self.context.wrap_socket(client, server_side=True)
            with self.lock:
                self.handshakes += 1
                self.resumed += int(client.session_reused)
        while True:
            request = read_request(client)
            if request is None:
                return
            head, body = request
            answer = Answer()
            with no_delay(socket.create_connection((LOOPBACK, self.upstream_port))) as upstream:
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

    def take_tls(self):
        """(connections, TLS handshakes, resumed handshakes) since the last call."""
        with self.lock:
            counted = (self.connections, self.handshakes, self.resumed)
            self.connections = self.handshakes = self.resumed = 0
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
        "bundle_keys_by_bundle": [list(b) for b in bundles],
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


def fnox_config(svc, endpoint, path):
    """fnox's configuration for the same data, as far as it can express it: each SSM parameter
    by its name under the service prefix (fnox has no lookup by path), each bundle key by the
    bundle's name and a JSON path (fnox cannot list a prefix), and each arn_from secret by the
    secret's name with its keys as JSON paths (fnox cannot take the ARN from the bootstrap file,
    and it matches BatchGetSecretValue's answers by name, so an ARN it asks for is not found)."""
    def quoted(text):
        return json.dumps(text)
    lines = [
        "[providers.ps]", 'type = "aws-ps"', f"region = {quoted(REGION)}",
        f"prefix = {quoted(svc['prefix'])}", f"endpoint = {quoted(endpoint)}", "",
        "[providers.sm]", 'type = "aws-sm"', f"region = {quoted(REGION)}",
        f"endpoint = {quoted(endpoint)}", "", "[secrets]",
    ]
    for name in svc["ssm_names"]:
        lines.append(f'{name} = {{ provider = "ps", value = {quoted(name)} }}')
    for bundle_name, keys in zip(svc["bundle_names"], svc["bundle_keys_by_bundle"]):
        for key in keys:
            lines.append(f'{key} = {{ provider = "sm", value = {quoted(bundle_name)}, '
                         f'json_path = {quoted(key)} }}')
    for arn_key, keys in svc["arn_vars"]:
        secret_name = arn_key.split(":secret:", 1)[1].rsplit("-", 1)[0]
        for json_key, name in keys.items():
            lines.append(f'{name} = {{ provider = "sm", value = {quoted(secret_name)}, '
                         f'json_path = {quoted(json_key)} }}')
    path.write_text("\n".join(lines) + "\n")


def floor_request(svc):
    """The floor's one request: GetParameters of one name, the smallest a resolve can make."""
    return json.dumps({"Names": [svc["prefix"] + "DATABASE_HOST"], "WithDecryption": True})


def make_tls(directory):
    """A CA and a certificate for 127.0.0.1 it signs, made by openssl with RSA 2048 keys as
    AWS's endpoints present them (what a client verifies in each handshake), and the system's
    CA bundle with that CA added (for the contenders that read SSL_CERT_FILE)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-subj", "/O=fetch-env bench/CN=fetch-env bench CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "ca.key",
            "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=fetch-env bench/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr")
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-days", "3", "-extfile", "server.ext", "-out", "server.crt")
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    (directory / "system-and-ca.crt").write_text(
        system.read_text() + (directory / "ca.crt").read_text())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.crt", directory / "server.key")
    return {"ca": directory / "ca.crt", "cert": directory / "server.crt",
            "key": directory / "server.key", "system_and_ca": directory / "system-and-ca.crt",
            "context": context}


class StubServer:
    """bench/stub_aws.py in a process of its own, answering the recorded answers over TLS."""

    def __init__(self, recordings, tls, directory):
        path = directory / "recordings.json"
        path.write_text(json.dumps(recordings, ensure_ascii=False))
        self.process = subprocess.Popen(
            [sys.executable, ROOT / "bench/stub_aws.py", path, "--tls", tls["cert"], tls["key"]],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        self.endpoint = f"https://{LOOPBACK}:{self.port}"
        self.client = ssl.create_default_context(cafile=str(tls["ca"]))

    def take(self):
        """What the stub saw since the last call (stub_aws.py's /__stats)."""
        with socket.create_connection((LOOPBACK, self.port)) as raw:
            with self.client.wrap_socket(raw, server_hostname=LOOPBACK) as conn:
                conn.sendall(b"GET /__stats HTTP/1.1\r\nHost: stub\r\nContent-Length: 0\r\n\r\n")
                answer = Answer()
                while not answer.done:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    answer.feed(chunk)
        stats = json.loads(answer.data[answer.data.index(b"\r\n\r\n") + 4:])
        # Less the connection and handshake of this very request.
        stats["connections"] -= 1
        stats["handshakes"] -= 1
        return stats

    def close(self):
        self.process.terminate()
        self.process.wait()


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


def contender_env(endpoint, tls=None):
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
                "FETCH_ENV_STORE", "AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(key, None)
    if tls:
        # The CA as each contender is usually told of one: AWS_CA_BUNDLE for fetch-env and the
        # aws CLI (both add it to what they trust).
        env["AWS_CA_BUNDLE"] = str(tls["ca"])
    return env


def contender_envs(endpoint, tls):
    """Each contender's environment. teller and fnox use the AWS SDK for Rust, which has no
    AWS_CA_BUNDLE: its TLS takes the system's roots from rustls-native-certs, which reads
    SSL_CERT_FILE instead of the system's bundle, so they get the system's bundle with the CA
    added (the same roots fetch-env has: the system's and the CA)."""
    env = contender_env(endpoint, tls)
    envs = {name: env for name in CONTENDERS}
    if tls:
        for name in ("teller", "fnox"):
            envs[name] = dict(env, SSL_CERT_FILE=str(tls["system_and_ca"]))
    return envs


def commands(workdir, svc, endpoint, tls, tag):
    """Each contender's command line against `endpoint` (teller's and fnox's configurations
    name it too)."""
    manifest, bootstrap = workdir / "vars.yaml", workdir / "bootstrap.env"
    base = [BINARY, "--store", "aws", "--manifest", manifest, "--bootstrap", bootstrap]
    script = ["--manifest", manifest, "--bootstrap", bootstrap, "--format", "export"]
    teller_cfg, fnox_cfg = workdir / f"teller-{tag}.yml", workdir / f"fnox-{tag}.toml"
    teller_config(svc, endpoint, teller_cfg)
    fnox_config(svc, endpoint, fnox_cfg)
    # The floor trusts the one CA it needs: loading the system's roots is part of what the
    # others spend beyond it.
    floor = [FLOOR, endpoint + "/", "AmazonSSM.GetParameters", floor_request(svc)] + (
        [tls["ca"]] if tls else [])
    return {
        "fetch-env by path": base + ["--ssm-lookup", "by-path"],
        "fetch-env by name": base + ["--ssm-lookup", "by-name"],
        "shell": ["bash", ROOT / "bench/fetch-env.sh"] + script,
        "naive": ["bash", ROOT / "bench/naive.sh"] + script,
        "teller": [TELLER, "--config", teller_cfg, "export", "json"],
        "fnox": [FNOX, "--config", fnox_cfg, "export", "--format", "json"],
        "floor": floor,
        **{name: base + ["--ssm-lookup", "by-name", "--aws-max-in-flight", str(n)]
           for name, n in IN_FLIGHT.items() if name != "fetch-env by name"},
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
    """Wall time (s), peak RSS (KiB), exit status and CPU time (user and system, s) of one run.

    The peak RSS is GNU time's %M: the ru_maxrss that wait4 reports for its child, which for a
    script is its largest single process (an aws CLI). The child is not waited for from this
    process: a child started by Python (fork, vfork or posix_spawn alike) carries Python's own
    resident size as its high-water mark into exec, which would put a floor of this harness's
    size (15-20 MiB) under every number. GNU time is small, so its floor is about 2 MiB; its
    fork and exec are in every contender's wall time alike (about a millisecond).

    The CPU time is what the run's whole process tree used, from getrusage(RUSAGE_CHILDREN)
    before and after (microseconds, where GNU time prints hundredths); it includes GNU time's
    own, under a millisecond, alike for every contender."""
    rss_path = str(out_path) + ".rss"
    with open(out_path, "wb") as out, open(str(out_path) + ".err", "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_path, *command], env=env,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = Path(rss_path).read_text().split()
    # GNU time writes "Command exited with non-zero status N" before %M when it fails.
    return wall, int(rss[-1]) if rss and rss[-1].isdigit() else 0, done.returncode, cpu


def run_or_exit(name, command, env, out_path, where):
    """run_once, stopping the harness with the contender's stderr when it fails; returns the
    wall time, the peak RSS, the output and the CPU time."""
    wall, maxrss, code, cpu = run_once(command, env, out_path)
    if code != 0:
        err = Path(str(out_path) + ".err").read_text(errors="replace")
        sys.exit(f"{name} failed ({code}) {where}:\n{err[-3000:]}")
    return wall, maxrss, out_path.read_bytes(), cpu


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
    if name == "floor":
        try:
            got = json.loads(out)["Parameters"][0]["Value"]
        except (ValueError, KeyError, IndexError, TypeError):
            return f"the floor's request did not return the parameter: {out[:300]!r}"
        return None if got == reference_json["DATABASE_HOST"] else "the floor's value differs"
    if name in ("teller", "fnox"):
        try:
            got = json.loads(out)
            if name == "fnox":
                got = got["secrets"]
        except (ValueError, KeyError, TypeError):
            return f"{name} did not print JSON"
        expected_keys = set(svc["ssm_names"]) | set(svc["bundle_keys"]) | {
            v for _, keys in svc["arn_vars"] for v in keys.values()}
        if set(got) != expected_keys:
            return (f"{name} printed {len(got)} keys, {len(expected_keys)} expected; "
                    f"missing {sorted(expected_keys - set(got))[:5]}, "
                    f"extra {sorted(set(got) - expected_keys)[:5]}")
        wrong = [k for k in got if got[k] != reference_json.get(k)]
        return f"{name}'s values differ for {wrong[:5]}" if wrong else None
    if out != reference:
        return f"{name} printed other exports than fetch-env by path"
    return None


def skip_key(name, size, latency, transport):
    """How --skip names a case: contender@variables@RTT, and @https or @stub after it for the
    cases not on plain HTTP."""
    return f"{name}@{size}@{latency}" + ("" if transport == "http" else f"@{transport}")


def skipped_by(args, key):
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in args.skip.split(",") if pattern)


class Chain:
    """The servers of one transport at one latency, and what they counted since the last
    take(): requests by operation, connections the client opened, TLS handshakes, and the
    stub's misses."""

    def __init__(self, transport, latency, counting, terminator, stub):
        self.transport, self.counting, self.terminator, self.stub = (
            transport, counting, terminator, stub)
        front = {"http": counting, "https": terminator, "stub": stub}[transport]
        scheme = "http" if transport == "http" else "https"
        self.delaying = DelayProxy(front.port, scheme) if latency else None
        self.endpoint = self.delaying.endpoint if latency else front.endpoint

    def take(self):
        if self.transport == "stub":
            stats = self.stub.take()
            return {"operations": {"(stub)": stats["requests"]}, "requests": stats["requests"],
                    "connections": stats["connections"], "handshakes": stats["handshakes"],
                    "resumed": stats["resumed"], "misses": stats["misses"],
                    "missed": stats["missed"], "answering_s": stats["answering_s"]}
        ops = self.counting.take()
        requests = sum(ops.values())
        if self.transport == "http":
            # moto closes every connection after its answer: one connection per request.
            connections, handshakes, resumed = requests, 0, 0
        else:
            connections, handshakes, resumed = self.terminator.take_tls()
        return {"operations": ops, "requests": requests, "connections": connections,
                "handshakes": handshakes, "resumed": resumed, "misses": 0}

    def close(self):
        if self.delaying:
            self.delaying.close()


def measure(args, sizes, latencies, names, transports):
    results = []
    notes = {"service": {}, "request": {}, "verbose": {}, "kept": {}}
    tls_dir = Path(tempfile.mkdtemp(prefix="fetch-env-bench-tls-"))
    tls = make_tls(tls_dir)
    try:
        for size in sizes:
            measure_size(args, size, latencies, names, transports, tls, results, notes)
    finally:
        subprocess.run(["rm", "-rf", str(tls_dir)])
    return results, notes


def measure_size(args, size, latencies, names, transports, tls, results, notes):
    workdir = Path(tempfile.mkdtemp(prefix=f"fetch-env-bench-{size}-"))
    server, moto_port = start_moto()
    counting = CountingProxy(moto_port)
    terminator = KeepAliveProxy(counting.port, tls["context"])
    stub = None
    try:
        svc = make_service(size, workdir)
        seed(f"http://{LOOPBACK}:{moto_port}", workdir, svc)
        notes["service"][size] = svc
        # The reference: fetch-env's own JSON, for the values of teller, fnox and the floor.
        ref_json = json.loads(subprocess.run(
            [BINARY, "--store", "aws", "--manifest", workdir / "vars.yaml", "--bootstrap",
             workdir / "bootstrap.env", "--format", "json"],
            env=contender_env(counting.endpoint), check=True, capture_output=True).stdout)
        counting.take()
        reference = None
        for transport in transports:
            if transport == "stub":
                # Everything the contenders asked moto over HTTP and HTTPS, answered again.
                stub = StubServer(list(counting.recorded.values()), tls, workdir)
            for latency in latencies:
                chain = Chain(transport, latency, counting, terminator, stub)
                try:
                    reference = measure_case(args, size, latency, transport, names, svc,
                                             workdir, chain, tls, reference, ref_json,
                                             results, notes)
                finally:
                    chain.close()
        if args.keep_alive and 20 in latencies and "http" in transports:
            notes["kept"][size] = kept_connections(args, size, names, svc, workdir, counting,
                                                   reference, ref_json)
    finally:
        if stub:
            stub.close()
        terminator.close()
        counting.close()
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", str(workdir)])


def measure_case(args, size, latency, transport, names, svc, workdir, chain, tls, reference,
                 ref_json, results, notes):
    """The runs of every contender against one chain; returns the reference output."""
    where = f"({size} variables, {latency} ms, {transport})"
    secure = tls if transport != "http" else None
    envs = contender_envs(chain.endpoint, secure)
    cmds = commands(workdir, svc, chain.endpoint, secure, f"{transport}-{latency}")
    if transport == "http":
        notes["request"][(size, latency)] = calibrate(chain.endpoint, svc["prefix"].rstrip("/"))
    chain.take()
    skipped = [n for n in names if skipped_by(args, skip_key(n, size, latency, transport))]
    if transport == "stub":
        # The stub measures the client; an aws CLI process per request measures Python.
        skipped += [n for n in names if n in SLOW and n not in skipped]
    fast = [n for n in names if n not in SLOW and n not in skipped]
    slow = [n for n in names if n in SLOW and n not in skipped]
    runs = {n: {"samples": [], "cpu": [], "rss": [], "counted": [], "server": []} for n in names}
    out_path = workdir / "out"

    def one_run(name):
        nonlocal reference
        wall, maxrss, out, cpu = run_or_exit(name, cmds[name], envs[name], out_path, where)
        server = chain.counting.take_times() if transport != "stub" else []
        counted = chain.take()
        if counted["misses"]:
            sys.exit(f"the stub had no recorded answer for {counted['missed']} of {name} {where}")
        if reference is None:
            if name != "fetch-env by path":
                sys.exit("fetch-env by path must run first: it is the reference")
            reference = out
        problem = check_output(name, out, reference, ref_json, svc)
        if problem:
            sys.exit(f"{problem} {where}")
        for key, value in (("samples", wall), ("cpu", cpu), ("rss", maxrss),
                           ("counted", counted)):
            runs[name][key].append(value)
        runs[name]["server"] += server

    # The compiled contenders: one untimed run each (the binary and its libraries in the page
    # cache), then their runs interleaved, round by round, so that a burst of other work on the
    # machine falls on all of them alike.
    for name in fast:
        run_or_exit(name, cmds[name], envs[name], out_path, where)
        chain.take()
    for _ in range(args.runs):
        for name in fast:
            one_run(name)
    for name in slow:
        while len(runs[name]["samples"]) < args.slow_runs and not (
                sum(runs[name]["samples"]) >= args.slow_budget):
            one_run(name)
    for name in names:
        base = {"size": size, "latency": latency, "transport": transport, "contender": name}
        if name in skipped:
            if transport != "stub" or name not in SLOW:
                results.append(dict(base, skipped=True))
            continue
        r = runs[name]
        counted = r["counted"]
        totals = sorted(c["requests"] for c in counted)
        middle = sorted(counted, key=lambda c: c["requests"])[len(counted) // 2]
        results.append(dict(
            base, runs=len(r["samples"]), median=statistics.median(r["samples"]),
            min=min(r["samples"]), max=max(r["samples"]), cpu=statistics.median(r["cpu"]),
            rss_kib=max(r["rss"]), requests=totals[len(totals) // 2],
            requests_range=(totals[0], totals[-1]), operations=middle["operations"],
            connections=statistics.median(c["connections"] for c in counted),
            handshakes=statistics.median(c["handshakes"] for c in counted),
            resumed=max(c["resumed"] for c in counted),
            server_median=statistics.median(r["server"]) if r["server"] else 0,
            stub_per_request=(sum(c["answering_s"] for c in counted)
                              / max(1, sum(c["requests"] for c in counted))
                              if transport == "stub" else None)))
        x = results[-1]
        print(f"  {size:>5} vars {latency:>2} ms {transport:<5} {name:<18} "
              f"{x['median'] * 1000:8.1f} ms  cpu {x['cpu'] * 1000:6.1f} ms  "
              f"{x['rss_kib'] / 1024:6.1f} MiB  {x['requests']:>5} requests  "
              f"{x['connections']:g} connections  {x['handshakes']:g} handshakes  "
              f"({len(r['samples'])} runs)", file=sys.stderr, flush=True)
    # fetch-env's own account of a by-path and a by-name run: requests per operation and the
    # time of each phase.
    for mode in ("by-path", "by-name"):
        if f"fetch-env {mode.replace('-', ' ')}" not in names:
            continue
        verbose = subprocess.run(
            [BINARY, "--store", "aws", "--manifest", workdir / "vars.yaml",
             "--bootstrap", workdir / "bootstrap.env", "--ssm-lookup", mode, "--verbose"],
            env=envs["fetch-env by path"], capture_output=True)
        chain.take()
        notes["verbose"][(size, latency, transport, mode)] = verbose.stderr.decode(
            errors="replace").strip()
    return reference


def kept_connections(args, size, names, svc, workdir, counting, reference, ref_json):
    """The compiled contenders with the 20 ms round trip against a plain-HTTP server that
    keeps connections open: the delaying proxy in front of a keep-alive proxy in front of the
    counting one. Their runs interleaved, as in the main measurement."""
    kept = KeepAliveProxy(counting.port)
    delaying = DelayProxy(kept.port)
    try:
        envs = contender_envs(delaying.endpoint, None)
        cmds = commands(workdir, svc, delaying.endpoint, None, "kept")
        fast = [n for n in names if n not in SLOW]
        out_path = workdir / "out"
        runs = {n: {"samples": [], "connections": [], "requests": []} for n in fast}
        for name in fast:
            run_or_exit(name, cmds[name], envs[name], out_path, "with connections kept")
        counting.take()
        kept.take()
        for _ in range(args.runs):
            for name in fast:
                wall, _, out, _ = run_or_exit(name, cmds[name], envs[name], out_path,
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
    if "floor" in args.contenders.split(","):
        subprocess.run(["nice", "cargo", "build", "--release", "--locked", "-p", "fetch-env-aws",
                        "--example", "floor"], cwd=ROOT, check=True)
    # Built from crates.io with their own lock files, at low priority: they take a while on two
    # cores (fnox about 35 minutes) and others may be working. teller needs protoc, fnox
    # libudev-dev and pkg-config (install-test-deps.sh --bench installs them).
    for name, version, binary in (("teller", TELLER_VERSION, TELLER),
                                  ("fnox", FNOX_VERSION, FNOX)):
        if name not in args.contenders.split(","):
            continue
        found = ""
        if binary.exists():
            found = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        if version not in found:
            print(f"building {name} {version} under {TOOLS}", file=sys.stderr, flush=True)
            subprocess.run(["nice", "-n", "19", "cargo", "install", name, "--version", version,
                            "--locked", "--root", TOOLS], check=True)


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
        "fnox": out([FNOX, "--version"]),
        "python_ssl": ssl.OPENSSL_VERSION,
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
    "teller": f"teller {TELLER_VERSION} (partial, see below)",
    "fnox": f"fnox {FNOX_VERSION} (partial, see below)",
    "floor": "floor: one request of `examples/floor.rs`",
    "by name 4 in flight": "fetch-env by name, `--aws-max-in-flight 4`",
    "by name 100 in flight": "fetch-env by name, `--aws-max-in-flight 100`",
}


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def ms1(seconds):
    return f"{seconds * 1000:,.1f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def transport_of(r):
    return r.get("transport", "http")


def find(results, size, latency, name, transport="http"):
    for r in results:
        if ((r["size"], r["latency"], r["contender"], transport_of(r))
                == (size, latency, name, transport) and not r.get("skipped")):
            return r
    return None


def table(results, transport):
    """One table per transport: every contender's wall and CPU time, memory, requests and
    connections, against fetch-env by path (and, for the stub, against the floor)."""
    against = "floor" if transport == "stub" else "fetch-env by path"
    lines = [
        f"| variables | added RTT | contender | median wall | CPU | runs | peak RSS | requests | connections | TLS handshakes | × {LABELS[against].split(':')[0]} |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if transport_of(r) != transport:
            continue
        if r.get("skipped"):
            lines.append(f"| {r['size']} | {r['latency']} ms | {LABELS[r['contender']]} | "
                         "not run (`--skip`) | – | 0 | – | – | – | – | – |")
            continue
        base = find(results, r["size"], r["latency"], against, transport)
        ratio = f"{r['median'] / base['median']:.1f}×" if base else "–"
        lo, hi = r["requests_range"]
        requests = str(r["requests"]) if lo == hi else f"{r['requests']} ({lo}–{hi})"
        handshakes = f"{r.get('handshakes', 0):g}" if transport != "http" else "–"
        lines.append(f"| {r['size']} | {r['latency']} ms | {LABELS[r['contender']]} | "
                     f"{ms1(r['median']) if r['median'] < 0.1 else ms(r['median'])} | "
                     f"{ms1(r['cpu']) if 'cpu' in r else '–'} | {r['runs']} | "
                     f"{mib(r['rss_kib'])} | {requests} | {r.get('connections', 0):g} | "
                     f"{handshakes} | {ratio} |")
    return lines


def short_op(op):
    return op.split(".")[-1] if op != "other" else op


def operations_table(results, notes, sizes):
    lines = [
        "| variables | contender | requests by operation (plain HTTP, no added RTT) | expected |",
        "|---:|---|---|---|",
    ]
    for size in sizes:
        svc = notes["service"].get(size)
        for r in results:
            if (r["size"] != size or r["latency"] != 0 or r.get("skipped")
                    or transport_of(r) != "http"):
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

    def get(size, latency, name, transport="http"):
        return find(results, size, latency, name, transport)

    fp, fn, sh, te = (get(100, 0, n) for n in
                      ("fetch-env by path", "fetch-env by name", "shell", "teller"))
    if fp and sh:
        ratio = sh["median"] / fp["median"]
        out.append(("100 variables, plain HTTP, no added latency: fetch-env by path ≥ 40× faster than the shell script",
                    ratio >= 40, f"{ratio:.1f}× ({ms(sh['median'])} / {ms(fp['median'])})"))
    if fn and sh:
        ratio = sh["median"] / fn["median"]
        out.append(("100 variables, plain HTTP, no added latency: fetch-env by name ≥ 60× faster than the shell script",
                    ratio >= 60, f"{ratio:.1f}× ({ms(sh['median'])} / {ms(fn['median'])})"))
    if fp and fn and te:
        out.append(("100 variables, plain HTTP, no added latency: both fetch-env modes faster than teller",
                    fp["median"] < te["median"] and fn["median"] < te["median"],
                    f"by path {ms(fp['median'])}, by name {ms(fn['median'])}, teller {ms(te['median'])}"))
    for r in results:
        if (r["contender"] not in ("fetch-env by path", "fetch-env by name") or r.get("skipped")
                or transport_of(r) == "stub"):
            continue
        svc = notes["service"].get(r["size"])
        total, why = expected_requests(svc, r["contender"])
        lo, hi = r["requests_range"]
        out.append((f"{r['size']} variables, {transport_of(r)}, {r['latency']} ms: "
                    f"{LABELS[r['contender']]} makes SSM pages (or name batches) + bundle calls "
                    f"+ distinct ARN secrets, nothing more",
                    lo == hi == total, f"{r['requests']} counted, {total} = {why}"))
    svc = notes["service"].get(100)
    fn20, fp20 = get(100, 20, "fetch-env by name"), get(100, 20, "fetch-env by path")
    if fn20:
        out.append(("20 ms RTT, plain HTTP, 100 variables: fetch-env by name ≤ 150 ms",
                    fn20["median"] <= 0.150, ms(fn20["median"])))
    if fp20 and svc:
        seq = critical_path(svc, "fetch-env by path")
        bound = (2 * seq) * 0.020 + 0.080
        out.append((f"20 ms RTT, plain HTTP, 100 variables: fetch-env by path ≤ (2 × {seq} sequential requests) × 20 ms + 80 ms = {ms(bound)}",
                    fp20["median"] <= bound, ms(fp20["median"])))
    for transport in ("https", "stub"):
        fn20 = get(100, 20, "fetch-env by name", transport)
        floor0 = get(100, 0, "floor", transport)
        if fn20 and floor0:
            bound = floor0["median"] + 3 * 0.020 + 0.020
            out.append((f"100 variables, 20 ms RTT, {TRANSPORT_LABELS[transport]}: fetch-env by name within 3 round trips + 20 ms of the floor (one process start and one request, no added RTT: {ms1(floor0['median'])}), ≤ {ms1(bound)}",
                        fn20["median"] <= bound, ms1(fn20["median"])))
        others = [get(100, 20, n, transport) for n in ("fnox", "teller")]
        if fn20 and all(others):
            out.append((f"100 variables, 20 ms RTT, {TRANSPORT_LABELS[transport]}: fetch-env by name faster than fnox and teller",
                        all(fn20["median"] < o["median"] for o in others),
                        f"by name {ms1(fn20['median'])}, fnox {ms1(others[0]['median'])}, "
                        f"teller {ms1(others[1]['median'])}"))
    fn0, floor0 = get(100, 0, "fetch-env by name", "stub"), get(100, 0, "floor", "stub")
    if fn0 and floor0:
        out.append(("100 variables, the stub, no added RTT: fetch-env by name's wall time ≤ 2 × the floor's (its CPU time beside it)",
                    fn0["median"] <= 2 * floor0["median"],
                    f"{ms1(fn0['median'])} = {fn0['median'] / floor0['median']:.2f}× the floor's "
                    f"{ms1(floor0['median'])}; CPU {ms1(fn0['cpu'])} against the floor's "
                    f"{ms1(floor0['cpu'])}"))
    for name in ("fetch-env by path", "fetch-env by name"):
        worst = [r for r in results if r["size"] == 1000 and r["contender"] == name
                 and not r.get("skipped")]
        if worst:
            peak = max(r["rss_kib"] for r in worst)
            out.append((f"peak RSS ≤ 30 MiB at 1000 variables: {LABELS[name]}",
                        peak <= 30 * 1024, mib(peak)))
    return out


def own_cost(results, sizes):
    """fetch-env against the floor on the stub: what it spends beyond one process start and
    one request."""
    lines = [
        "| variables | added RTT | floor: wall / CPU | fetch-env by path: wall / CPU | fetch-env by name: wall / CPU | by name beyond the floor: wall / CPU | stub per request |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for latency in (0, 20):
            fl = find(results, size, latency, "floor", "stub")
            fp = find(results, size, latency, "fetch-env by path", "stub")
            fn = find(results, size, latency, "fetch-env by name", "stub")
            if not (fl and fp and fn):
                continue
            per = fn.get("stub_per_request")
            per = f"{per * 1e6:.0f} µs" if per is not None else "–"
            lines.append(
                f"| {size} | {latency} ms | {ms1(fl['median'])} / {ms1(fl['cpu'])} | "
                f"{ms1(fp['median'])} / {ms1(fp['cpu'])} | {ms1(fn['median'])} / {ms1(fn['cpu'])} | "
                f"{ms1(fn['median'] - fl['median'])} / {ms1(fn['cpu'] - fl['cpu'])} | {per} |")
    return lines


def in_flight_table(results, sizes):
    """fetch-env by name with 4, 16 (the default) and 100 requests of one kind in flight."""
    names = list(IN_FLIGHT)
    lines = [
        "| variables | server | added RTT | " + " | ".join(
            f"{IN_FLIGHT[n]} in flight: wall / CPU / connections" for n in names) + " |",
        "|---:|---|---:|" + "---:|" * len(names),
    ]
    for size in sizes:
        for transport in TRANSPORTS:
            for latency in (0, 20):
                found = [find(results, size, latency, n, transport) for n in names]
                if not all(found):
                    continue
                best = min(f["median"] for f in found)
                cells = [(f"**{ms1(f['median'])}**" if f["median"] == best else ms1(f["median"]))
                         + f" / {ms1(f['cpu'])} / {f['connections']:g}" for f in found]
                lines.append(f"| {size} | {transport} | {latency} ms | " + " | ".join(cells) + " |")
    return lines


def latency_growth(results, notes, sizes):
    """fetch-env's added wall time at 20 ms against its sequential requests."""
    lines = [
        "| variables | server | contender | sequential requests on the critical path | wall, no added RTT | wall, 20 ms RTT | added | added per sequential request | floor: one request, no added RTT / 20 ms | moto per request |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        svc = notes["service"].get(size)
        for transport in TRANSPORTS:
            for name in ("fetch-env by path", "fetch-env by name"):
                a, b = (find(results, size, x, name, transport) for x in (0, 20))
                if not (a and b and svc):
                    continue
                seq = critical_path(svc, name)
                added = b["median"] - a["median"]
                floors = [find(results, size, x, "floor", transport) for x in (0, 20)]
                raw = (" / ".join(ms1(f["median"]) for f in floors) if all(floors) else "–")
                moto = f"{a['server_median'] * 1000:.1f} ms" if transport != "stub" else "–"
                lines.append(f"| {size} | {transport} | {LABELS[name]} | {seq} | "
                             f"{ms(a['median'])} | {ms(b['median'])} | {ms(added)} | "
                             f"{added / seq * 1000:.0f} ms | {raw} | {moto} |")
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
        f"- moto {v['moto']} (`moto_server`, plain HTTP on 127.0.0.1; TLS is terminated by the "
        f"harness's proxy, Python's ssl with {v.get('python_ssl', '?')}), {v['aws']}, "
        f"{v['teller']}, {v.get('fnox', '?')}, {v['rustc']}, {v['jq']}, "
        f"yq {v['yq']} (Debian's, the jq wrapper), bash {v['bash']}",
        f"- runs: {args.runs} per case for the compiled contenders and the floor, after one "
        f"untimed run each, interleaved round by round; up to {args.slow_runs} for the shell and "
        f"naive scripts, which stop adding runs once a case has taken {args.slow_budget:g} s "
        f"(the runs column says how many were made)"
        + (f"; not run: {args.skip.replace(',', ', ')} (contender@variables@RTT ms[@server])"
           if args.skip else "") + "; the median is shown",
        "",
    ]
    for transport in [t for t in TRANSPORTS if any(transport_of(r) == t for r in results)]:
        out += [f"#### {TRANSPORT_LABELS[transport].capitalize()}", ""]
        out += table(results, transport)
        out += [""]
    if any(transport_of(r) == "stub" for r in results):
        out += ["fetch-env's own cost: the stub against the floor (one process start and one "
                "request of a minimal client with fetch-env's TLS stack, trusting the one CA):",
                ""]
        out += own_cost(results, sizes)
        out += [""]
    if any(r["contender"] in IN_FLIGHT and r["contender"] != "fetch-env by name"
           for r in results):
        out += ["Requests in flight: fetch-env by name with `--aws-max-in-flight` 4, 16 (the "
                "default) and 100 (every batch at once up to 1000 names), the fastest in bold:",
                ""]
        out += in_flight_table(results, sizes)
        out += [""]
    out += ["Requests as the counting proxy saw them, by operation:", ""]
    out += operations_table(results, notes, sizes)
    out += ["", "fetch-env's wall time against the added round trip:", ""]
    out += latency_growth(results, notes, sizes)
    if notes.get("kept"):
        out += ["", "With the same 20 ms round trip against a plain-HTTP server that keeps "
                "connections open (a keep-alive proxy between the delaying proxy and the "
                "counting one; moto itself closes every connection):", ""]
        out += kept_table(results, notes)
    out += ["", "### Targets", ""]
    for text, met, numbers in targets(results, notes):
        out.append(f"- {'met' if met else '**missed**'}: {text}: {numbers}")
    out += ["", "### fetch-env --verbose (one extra run per case)", ""]
    for key, text in sorted(notes["verbose"].items()):
        size, latency, transport, mode = key
        if size not in (100, max(sizes)) or transport == "http":
            continue
        out += [f"{size} variables, {latency} ms, {TRANSPORT_LABELS[transport]}, {mode}:", "",
                "```", *[l for l in text.splitlines() if not l.startswith("export ")], "```", ""]
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
    parser.add_argument("--skip", default="naive@1000@*,naive@*@*@https,shell@*@*@https",
                        help="cases not run, as contender@variables@RTT[@https|@stub], shell "
                             "patterns allowed: the naive script takes about 11 minutes a run "
                             "at 1000 variables, and over HTTPS the scripts, which start an aws "
                             "CLI process per request, say nothing they do not say over HTTP "
                             "(they never run against the stub)")
    parser.add_argument("--transports", default=",".join(TRANSPORTS),
                        help="http (moto), https (moto behind TLS, connections kept), stub "
                             "(recorded answers over TLS; needs http or https before it, "
                             "which record them)")
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
    transports = [t for t in TRANSPORTS if t in args.transports.split(",")]
    if set(args.transports.split(",")) - set(TRANSPORTS) or transports in ([], ["stub"]):
        sys.exit("--transports: http, https, stub (stub needs one of the others before it)")
    setup(args)
    load = wait_for_quiet(args)
    sampler = LoadSampler()
    results, notes = measure(args, [int(s) for s in args.sizes.split(",")], latencies, names,
                             transports)
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
