#!/usr/bin/env python3
"""A stand-in for SSM and Secrets Manager that answers recorded answers in microseconds.

usage: bench/stub_aws.py RECORDINGS [--tls CERT KEY]

RECORDINGS is a JSON list of {"target", "body", "status", "content_type", "answer"}: what moto
answered to each request (X-Amz-Target and the request's JSON body) when bench/bench.py ran the
contenders against it. The stub answers the same request with the same bytes, on connections it
keeps open as AWS does, so that a client's own cost shows without the server's: moto spends 5 to
30 ms on a request, this stub tens of microseconds. A client that groups the same names into
other batches from run to run (fnox groups them in hash order) asks for combinations that were
not recorded as such: a `GetParameters` of names, or a `BatchGetSecretValue` of secret ids,
whose every name or id was in a recorded answer is answered from those recorded entries, in
moto's form. Any other request that was not recorded is answered 500 and counted as a miss
(bench.py stops the run on any miss).

It listens on 127.0.0.1, on a port of the system's choosing, and prints the port on its first
line of stdout. `GET /__stats` answers (and resets) what it saw since the last call: requests,
misses, connections, TLS handshakes (full and resumed) and the time it spent answering.
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time


def key_of(target, body):
    """The request as a lookup key: its operation and its JSON body in canonical form (the
    same request serialized by another client's member order is the same request)."""
    try:
        canonical = json.dumps(json.loads(body or b"{}"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("latin-1")
    return f"{target}\n{canonical}"


def answer_bytes(status, content_type, body):
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    head = (f"HTTP/1.1 {status} {reason.get(status, 'Status')}\r\n"
            f"Content-Type: {content_type}\r\n"
            "x-amzn-RequestId: 00000000-0000-4000-8000-000000000000\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n")
    return head.encode("latin-1") + body


class Stub:
    def __init__(self, recordings, context):
        self.answers = {}
        # Every parameter and secret value a recorded answer held, by name (and by ARN).
        self.parameters, self.secrets = {}, {}
        for r in recordings:
            self.answers[key_of(r["target"], r["body"].encode())] = answer_bytes(
                r["status"], r["content_type"], r["answer"].encode())
            if r["status"] != 200:
                continue
            answer = json.loads(r["answer"] or "{}")
            for parameter in answer.get("Parameters", []):
                self.parameters[parameter["Name"]] = parameter
            values = answer.get("SecretValues", [])
            if r["target"].endswith(".GetSecretValue"):
                values = [answer]
            for value in values:
                self.secrets[value["Name"]] = value
                self.secrets[value["ARN"]] = value
        self.missing = answer_bytes(
            500, "application/x-amz-json-1.1",
            b'{"__type":"InternalFailure","message":"no recorded answer for this request"}')
        self.context = context
        self.lock = threading.Lock()
        self.reset()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]

    def reset(self):
        self.stats = {"requests": 0, "misses": 0, "missed": [], "connections": 0,
                      "handshakes": 0, "resumed": 0, "answering_s": 0.0}

    def assembled(self, target, body):
        """A batch of known names or ids, answered from the recorded entries."""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None
        if target == "AmazonSSM.GetParameters":
            names = request.get("Names", [])
            if names and all(n in self.parameters for n in names):
                found = [self.parameters[n] for n in dict.fromkeys(names)]
                return answer_bytes(200, "application/x-amz-json-1.1", json.dumps(
                    {"Parameters": found, "InvalidParameters": []}).encode())
        if target == "secretsmanager.BatchGetSecretValue" and "SecretIdList" in request:
            ids = request["SecretIdList"]
            if ids and all(i in self.secrets for i in ids):
                found = [self.secrets[i] for i in dict.fromkeys(ids)]
                return answer_bytes(200, "application/x-amz-json-1.1", json.dumps(
                    {"SecretValues": found, "Errors": []}).encode())
        return None

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.connection, args=(conn,), daemon=True).start()

    def connection(self, conn):
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
                with self.lock:
                    self.stats["handshakes"] += 1
                    self.stats["resumed"] += int(conn.session_reused)
            with self.lock:
                self.stats["connections"] += 1
            buffered = b""
            while True:
                while b"\r\n\r\n" not in buffered:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                started = time.perf_counter()
                end = buffered.index(b"\r\n\r\n")
                lines = buffered[:end].decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                while len(buffered) < end + 4 + length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                body = buffered[end + 4:end + 4 + length]
                buffered = buffered[end + 4 + length:]
                if lines[0].startswith("GET /__stats"):
                    with self.lock:
                        stats = json.dumps(self.stats).encode()
                        self.reset()
                    conn.sendall(answer_bytes(200, "application/json", stats))
                    continue
                target = headers.get("x-amz-target", "")
                answer = self.answers.get(key_of(target, body)) or self.assembled(target, body)
                if answer is None:
                    answer = self.missing
                with self.lock:
                    self.stats["requests"] += 1
                    if answer is self.missing:
                        self.stats["misses"] += 1
                        self.stats["missed"] = (self.stats["missed"] + [target])[:5]
                conn.sendall(answer)
                with self.lock:
                    self.stats["answering_s"] += time.perf_counter() - started
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recordings")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    with open(args.recordings, encoding="utf-8") as f:
        recordings = json.load(f)
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
    stub = Stub(recordings, context)
    print(stub.port, flush=True)
    stub.serve()


if __name__ == "__main__":
    sys.exit(main())
