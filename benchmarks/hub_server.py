"""Download speed of `zoo hub serve` at 8 concurrent clients, next to Python's `http.server` on the same files.

All in one run, on loopback: each server runs in a process of its own and serves the same two files, a small one
(1 KiB, like a config.json) and a 5 MiB one (a model zip). Eight client processes each keep one connection open
(HTTP/1.1 keep-alive where the server allows it) and download the file in a loop, for ``--seconds`` or
``--max-requests`` each, whichever ends first. Servers measured:

- ``zoo hub serve``: ``GET /ORG/NAME/resolve/main/FILE`` (looks up the branch, the commit, the blob);
- ``zoo hub serve, as before the fix``: the same server with Nagle's algorithm on and headers and body sent in
  separate writes (how it answered before issue 10: each kept-alive answer waited ~40 ms for a delayed ACK);
- reference ``http.server``: ``python -m http.server`` as shipped (HTTP/1.0: one connection per request);
- ``http.server keep-alive``: the same handler speaking HTTP/1.1 (it sends headers and body in two writes too).

Prints requests/s, p50 and p99 latency in ms for each, and each server's ratio to the reference, and writes it to
``benchmarks/results/hub_server.txt``. Usage::

    nice -n 10 python benchmarks/hub_server.py [--seconds 3] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "hub_server.txt"
REPO = "bench/agent"
FILES = {"small": ("config.json", 1024), "5 MiB": ("model.zip", 5 << 20)}

# Run in the server processes (python -c): each prints its port on stdout once it listens.
ZOO_SERVER = """
import sys
from hub.server import HubServer, handler
if sys.argv[2] == "before":  # Nagle on, headers and body in separate writes: the server before issue 10
    handler._Handler.disable_nagle_algorithm = False
    handler.SMALL_FILE = -1
    def separate_writes(self, body):
        self.end_headers()
        if body:
            self.wfile.write(body)
    handler._Handler._end_headers_with = separate_writes
server = HubServer(sys.argv[1], port=0).bind()
print(server.port, flush=True)
server.serve_forever()
"""
STATIC_SERVER = """
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
class Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
if sys.argv[2] == "keep-alive":
    Handler.protocol_version = "HTTP/1.1"
server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def client(port: int, path: str, seconds: float, max_requests: int, start_at: float) -> tuple[list[float], float]:
    """One client: download ``path`` in a loop on one kept-alive connection; (latencies in s, elapsed s)."""
    while time.time() < start_at:  # all clients start together
        time.sleep(0.001)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, begin = [], time.perf_counter()
    for _ in range(max_requests):
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or not body:
            raise RuntimeError(f"GET {path}: {response.status}")
        latencies.append(time.perf_counter() - started)
        if started - begin > seconds:
            break
    connection.close()
    return latencies, time.perf_counter() - begin


def measure(port: int, path: str, clients: int, seconds: float, max_requests: int) -> tuple[float, list[float]]:
    """``clients`` processes download ``path`` together: (requests/s, every latency in s)."""
    start_at = time.time() + 0.3
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.starmap(client, [(port, path, seconds, max_requests, start_at)] * clients)
    latencies = [t for times, _ in results for t in times]
    return len(latencies) / max(e for _, e in results), latencies


def summary(rounds: list[tuple[float, list[float]]]) -> dict[str, float]:
    """Median requests/s over the rounds; p50 and p99 latency (ms) over all requests of all rounds."""
    latencies = sorted(t for _, times in rounds for t in times)

    def quantile(q: float) -> float:
        return latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000

    return {"rps": statistics.median(r for r, _ in rounds), "p50": quantile(0.5), "p99": quantile(0.99),
            "n": len(latencies)}


def start(code: str, *args: str) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measurement, per client")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per server and file, interleaved")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=20_000, help="per client and measurement, at most")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from hub.server import Storage

    work = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    static = work / "static"
    static.mkdir()
    data = {name: os.urandom(size) for name, size in FILES.values()}
    for name, content in data.items():
        (static / name).write_bytes(content)
    for root in ("root-now", "root-before"):  # one server per root: two roots with the same repository
        storage = Storage(work / root)
        storage.create("models", REPO, files=data)
        storage.close()

    servers = [
        ("zoo hub serve", ZOO_SERVER, (str(work / "root-now"), "now"), f"/{REPO}/resolve/main/"),
        ("zoo hub serve, as before the fix", ZOO_SERVER, (str(work / "root-before"), "before"),
         f"/{REPO}/resolve/main/"),
        ("http.server (reference)", STATIC_SERVER, (str(static), "stock"), "/"),
        ("http.server keep-alive", STATIC_SERVER, (str(static), "keep-alive"), "/"),
    ]
    # Rounds interleave the servers, so that a change in the machine's load reaches all of them alike.
    measured: dict[tuple[str, str], list] = {}
    procs = []
    try:
        ports = {}
        for label, code, server_args, prefix in servers:
            proc, ports[label] = start(code, *server_args)
            procs.append(proc)
            for name, _ in FILES.values():
                measure(ports[label], prefix + name, 2, 0.2, 20)  # warm-up
        for round_ in range(args.rounds):
            for size, (name, _) in FILES.items():
                for label, _, _, prefix in servers:
                    rps, latencies = measure(ports[label], prefix + name, args.clients, args.seconds,
                                             args.max_requests)
                    measured.setdefault((label, size), []).append((rps, latencies))
                    print(f"round {round_ + 1}: {label}, {size}: {rps:.0f} requests/s", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    rows = {key: summary(rounds) for key, rounds in measured.items()}

    reference = "http.server (reference)"
    lines = [
        f"Hub server downloads, {args.clients} concurrent clients (processes), {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s (req/s: median of the rounds; p50/p99: over all requests), loopback; "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs "
        f"(shared with other work: figures vary from run to run), host {socket.gethostname()}",
        "Command: nice -n 10 python benchmarks/hub_server.py "
        f"--seconds {args.seconds:g} --rounds {args.rounds} --clients {args.clients}",
        "",
        f"{'server':36} {'file':6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s vs ref':>13} {'p50 vs ref':>11}",
    ]
    for size in FILES:
        for label, *_ in servers:
            row, ref = rows[label, size], rows[reference, size]
            lines.append(f"{label:36} {size:6} {row['rps']:8.0f} {row['p50']:8.2f} {row['p99']:8.2f} "
                         f"{row['rps'] / ref['rps']:12.2f}x {row['p50'] / ref['p50']:10.2f}x")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
