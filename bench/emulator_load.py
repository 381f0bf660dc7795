"""Load benchmark: many concurrent polling clients against the emulator, and against a peer.

    python bench/emulator_load.py [--clients 1000] [--seconds 10] [--interval 1.0]

The emulator runs in its own process (``assistant-bridge emulator``), so the server has one
core and the clients the other, as on a 2-core machine. Each client holds one keep-alive
connection and polls a run (``GET /v1/threads/{t}/runs/{r}``) every ``interval`` seconds; with
``--interval 0`` they poll as fast as answers come, which measures the ceiling. The peer is the
standard library's ThreadingHTTPServer answering the same run JSON from memory (no state, no
routing), in its own process: the ratio says what the emulation costs against a bare server.
Prints one line per server and the ratio; loopback traffic only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

KEY = "sk-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, path: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}",
                headers={"authorization": f"Bearer {KEY}", "openai-beta": "assistants=v2"},
            )
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def call(port: int, method: str, path: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        json.dumps(body).encode(),
        {
            "authorization": f"Bearer {KEY}",
            "content-type": "application/json",
            "openai-beta": "assistants=v2",
        },
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, object] = json.load(answer)
        return result


def setup_runs(port: int, count: int) -> list[str]:
    """Create an assistant and ``count`` threads with a run each; their run paths."""
    assistant = call(port, "POST", "/v1/assistants", {"model": "gpt-4o-mini"})["id"]
    paths = []
    for n in range(count):
        run = call(port, "POST", "/v1/threads/runs", {
            "assistant_id": assistant,
            "thread": {"messages": [{"role": "user", "content": f"Alert {n}: CPU at 100%"}]},
        })  # fmt: skip
        paths.append(f"/v1/threads/{run['thread_id']}/runs/{run['id']}")
    return paths


async def poller(port: int, path: str, until: float, interval: float,
                 latencies: list[float], errors: list[str]) -> None:  # fmt: skip
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        errors.append(f"connect: {exc}")
        return
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        "OpenAI-Beta: assistants=v2\r\n\r\n"
    ).encode()
    try:
        while time.monotonic() < until:
            began = time.monotonic()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or b'"thread.run"' not in body:
                errors.append(head.split(b"\r\n")[0].decode())
            latencies.append(time.monotonic() - began)
            if interval:
                await asyncio.sleep(interval)
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(f"read: {exc!r}")
    finally:
        writer.close()


async def load(port: int, paths: list[str], seconds: float, interval: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    began = time.monotonic()
    until = began + seconds
    await asyncio.gather(*(poller(port, p, until, interval, latencies, errors) for p in paths))
    elapsed = time.monotonic() - began
    ordered = sorted(latencies) or [0.0]
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000 if len(ordered) > 1 else 0.0,
        "errors": len(errors),
    }


PEER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BODY = json.dumps({"id": "run_x", "object": "thread.run", "status": "completed"}).encode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
ThreadingHTTPServer.request_queue_size = 2048
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def measure(name: str, command: list[str], port: int, make_paths: object,
            args: argparse.Namespace) -> dict[str, float]:  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            wait_ready(port, "/v1/assistants" if name == "emulator" else "/")
            paths = make_paths(port) if callable(make_paths) else make_paths
            result = asyncio.run(load(port, paths, args.seconds, args.interval))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"{name:>9}: {args.clients} clients, interval {args.interval:g}s, {args.seconds:g}s: "
        f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, {result['requests']:.0f} requests, "
        f"{result['errors']:.0f} errors"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    port = free_port()
    emulator = [sys.executable, "-m", "assistant_bridge", "emulator", "--port", str(port),
                "--api-key", KEY]  # fmt: skip
    ours = measure("emulator", emulator, port,
                   lambda p: setup_runs(p, args.clients), args)  # fmt: skip

    peer_port = free_port()
    peer = [sys.executable, "-c", PEER, str(peer_port)]
    theirs = measure("stdlib", peer, peer_port, ["/v1/run"] * args.clients, args)
    ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else float("nan")
    print(f"    ratio: emulator / stdlib ThreadingHTTPServer throughput = {ratio:.2f}")
    return 0 if ours["errors"] == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
