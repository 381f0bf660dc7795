"""Peak memory of syncing one large file into a knowledge base, next to its peers, in one run.

    python bench/kb_sync.py            # a 500 MB file (the service takes up to 512 MB)
    python bench/kb_sync.py --mb 50    # smaller, quicker

The emulator runs in its own process with its request body cap raised above the file's size
(``http.MAX_BODY_BYTES``, a module constant of the emulator's HTTP layer: the emulator has no
parameter for it yet). Each client runs in a fresh process of its own, which reports its peak
resident memory (``ru_maxrss``) before and after its one upload:

* ``KnowledgeBase.sync``: hashes the file in chunks, streams it, waits for indexing;
* ``openai files.create(open(...))``: a plain openai-python upload of an open file (streamed);
* ``openai files.create(Path)``: openai-python given a path, which it reads whole;
* ``read whole, then upload``: what ``KnowledgeBase.sync`` did before it streamed.

The file is sparse (it takes no disk space): its bytes are zeros, read like any other.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

MB = 1024 * 1024
KEY = "sk-bench"
CLIENTS = {
    "kb": "KnowledgeBase.sync (streamed)",
    "openai-stream": "openai files.create(open(...))",
    "openai-path": "openai files.create(Path)",
    "read-whole": "read whole, then upload (before)",
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def serve(cap: int) -> int:
    """The emulator with its body cap raised to ``cap`` bytes, until stdin closes."""
    from assistant_bridge.testing import Emulator
    from assistant_bridge.testing._emulator import http

    http.MAX_BODY_BYTES = cap
    with Emulator(api_key=KEY) as emulator:
        print(emulator.base_url, flush=True)
        sys.stdin.read()
    return 0


def client(kind: str, base_url: str, path: Path, state: str) -> int:
    """Upload ``path`` one way; print a JSON line of peak memory before and after."""
    import openai

    from assistant_bridge.knowledge import KnowledgeBase

    api = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=600)
    api.models.list()  # connect first: the baseline includes a warm client
    before = _peak_mb()
    started = time.perf_counter()
    if kind == "kb":
        kb = KnowledgeBase(api, "bench", poll_interval=0.05, state_dir=state)
        result = kb.sync([path], timeout=600)
        assert result.uploaded == (path.name,), result
        kb.delete()
    else:
        if kind == "openai-stream":
            with path.open("rb") as stream:
                created = api.files.create(file=(path.name, stream), purpose="assistants")
        elif kind == "openai-path":
            created = api.files.create(file=path, purpose="assistants")
        else:
            created = api.files.create(file=(path.name, path.read_bytes()), purpose="assistants")
        api.files.delete(created.id)
    seconds = time.perf_counter() - started
    api.close()
    print(json.dumps({"before": before, "peak": _peak_mb(), "seconds": seconds}), flush=True)
    return 0


def _run_client(kind: str, base_url: str, path: Path, state: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--client", kind, "--url", base_url, "--file", str(path),
         "--state", state],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        msg = f"the {kind} client failed:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=500, help="the file's size in MB (500)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=sorted(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    if args.client is not None:
        return client(args.client, args.url, Path(args.file), args.state)

    size = args.mb * MB
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big-runbook.txt"
        with path.open("wb") as handle:
            handle.truncate(size)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(size + 16 * MB)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            rows = {k: _run_client(k, base_url, path, folder) for k in CLIENTS}
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=60)
    peer = rows["openai-stream"]["peak"]
    print(f"peak RSS uploading one {args.mb} MB file (each client in its own process)\n")
    print("| client | RSS before (MB) | peak RSS (MB) | added (MB) | peak vs openai stream | s |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, label in CLIENTS.items():
        row = rows[kind]
        added = row["peak"] - row["before"]
        ratio = f"{row['peak'] / peer:.2f}x"
        print(
            f"| {label} | {row['before']:.0f} | {row['peak']:.0f} | {added:.0f} | {ratio} "
            f"| {row['seconds']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    raise SystemExit(main())
