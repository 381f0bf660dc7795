"""Start-up time: what a user's first import and the command line cost, against ``import openai``.

    python bench/import_time.py              # the table, and the slowest of our modules
    python bench/import_time.py --check      # exit 1 when a target is missed (for CI)

Each row is a whole process (interpreter start-up included), timed from outside, ``--repeat``
times, the rows interleaved so that a busy moment of a shared machine hits them all alike; the
targets are judged on the medians:

* ``from assistant_bridge import ThreadSession, OpenAITransport`` at most 50 ms over
  ``import openai`` (``openai`` itself is imported when the first transport is built);
* and, as an aim beyond the targets (printed, not gated by ``--check``), ready to ask (that
  import and ``OpenAITransport(api_key=...)`` built) at most 50 ms over ``import openai;
  openai.OpenAI(api_key=...)``: what a user's first call pays beyond openai's;
* ``assistant-bridge --help`` and ``--version`` under 40% of ``import openai``: the command does
  not import ``openai`` or the emulator until a subcommand needs them.

``-X importtime`` then names the slowest of our modules (cumulative, so the first of ours to
import ``openai`` carries its time too), and which heavy modules each row loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_MS = 50.0
"""The most ``from assistant_bridge import ThreadSession, OpenAITransport`` may add."""
CLI_SHARE = 0.40
"""``--help`` / ``--version`` must take under this share of ``import openai``."""

FIRST_IMPORT = "from assistant_bridge import ThreadSession, OpenAITransport"
HEAVY = ("openai", "httpx", "pydantic", "assistant_bridge.testing._emulator", "attrs")
"""Modules whose presence after a row says what it paid for."""


def _command() -> list[str]:
    """The ``assistant-bridge`` script next to this interpreter (as a user runs it), else
    ``python -m assistant_bridge``."""
    script = Path(sys.executable).with_name("assistant-bridge")
    return [str(script)] if script.exists() else [sys.executable, "-m", "assistant_bridge"]


READY_OURS = f"{FIRST_IMPORT}; OpenAITransport(api_key='sk-bench')"
"""Ready to ask: the first import and a transport built (which imports ``openai``)."""
READY_THEIRS = "import openai; openai.OpenAI(api_key='sk-bench')"
"""The peer's ready to ask: ``openai`` imported and its client built."""

ROWS: dict[str, list[str]] = {
    "`python -c pass` (the interpreter alone)": [sys.executable, "-c", "pass"],
    "`import openai`": [sys.executable, "-c", "import openai"],
    f"`{FIRST_IMPORT}`": [sys.executable, "-c", FIRST_IMPORT],
    "`openai.OpenAI(...)` built (ready to ask, openai alone)": [
        sys.executable,
        "-c",
        READY_THEIRS,
    ],
    "`OpenAITransport(...)` built (ready to ask, with assistant_bridge)": [
        sys.executable,
        "-c",
        READY_OURS,
    ],
    "`import assistant_bridge`": [sys.executable, "-c", "import assistant_bridge"],
    "`assistant-bridge --help`": [*_command(), "--help"],
    "`assistant-bridge --version`": [*_command(), "--version"],
}


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The rows' environment: bytecode is cached, as it is for a user (pip compiles a wheel's
modules when it installs them; an editable install writes ``__pycache__`` on first import)."""


def whole_process_ms(argv: list[str]) -> float:
    """Milliseconds from starting ``argv`` to its exit; it must succeed."""
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=True)
    return (time.perf_counter() - began) * 1000


def measure(repeat: int) -> dict[str, list[float]]:
    """Every row ``repeat`` times, interleaved (one of each, then again), after a warm-up."""
    for argv in ROWS.values():
        whole_process_ms(argv)  # byte-compile and fill the file cache first
    times: dict[str, list[float]] = {name: [] for name in ROWS}
    for _ in range(repeat):
        for name, argv in ROWS.items():
            times[name].append(whole_process_ms(argv))
    return times


OURS_AFTER_OPENAI = f"""
import time
import openai
began = time.perf_counter()
{FIRST_IMPORT}
print((time.perf_counter() - began) * 1000)
"""


def ours_after_openai_ms() -> float:
    """Milliseconds the first import takes in a fresh process where ``openai`` is already
    imported: what we add, without the noise of timing ``openai`` twice."""
    out = subprocess.run(
        [sys.executable, "-c", OURS_AFTER_OPENAI],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    ).stdout
    return float(out)


def loaded(code: str) -> list[str]:
    """Which of :data:`HEAVY` a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    err = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=ENV, check=True
    ).stderr
    modules = set(json.loads(err.splitlines()[-1]))
    return [name for name in HEAVY if name in modules]


def cli_loaded(flag: str) -> list[str]:
    """Which of :data:`HEAVY` the command holds when it has handled ``flag``."""
    code = (
        "import sys\nfrom assistant_bridge._cli.main import main\n"
        f"sys.argv = ['assistant-bridge', {flag!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    return loaded(code)


def slowest(code: str, count: int) -> list[tuple[int, str]]:
    """Our modules with the largest cumulative import time (microseconds), from -X importtime."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2].startswith("assistant_bridge"):
            rows.append((int(parts[1]), parts[2]))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each row (default 10)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    times = measure(args.repeat)
    median = {name: statistics.median(runs) for name, runs in times.items()}
    openai_ms = median["`import openai`"]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the last row\n")
    print(
        f"| whole process ({args.repeat} runs each) | median | fastest | against `import openai` |"
    )
    print("|---|---|---|---|")
    for name, runs in times.items():
        share = f"{median[name] - openai_ms:+.0f} ms, {median[name] / openai_ms:.0%}"
        print(f"| {name} | {median[name]:.0f} ms | {min(runs):.0f} ms | {share} |")

    # Paired: each round's first import against the same round's `import openai`, so that a
    # busy stretch of a shared machine cancels out; the target is judged on these.
    paired = [
        ours - theirs
        for ours, theirs in zip(times[f"`{FIRST_IMPORT}`"], times["`import openai`"], strict=True)
    ]
    added = statistics.median(paired)
    after = sorted(ours_after_openai_ms() for _ in range(args.repeat))
    print(
        f"\nthe first import over `import openai`: {added:+.0f} ms (median of {args.repeat} "
        f"paired whole-process runs; {median[f'`{FIRST_IMPORT}`'] - openai_ms:+.0f} ms between "
        f"the medians); in a process that has imported openai, it takes "
        f"{statistics.median(after):.0f} ms (median, fastest {after[0]:.0f} ms)"
    )
    ready = statistics.median(
        ours - theirs
        for ours, theirs in zip(
            times["`OpenAITransport(...)` built (ready to ask, with assistant_bridge)"],
            times["`openai.OpenAI(...)` built (ready to ask, openai alone)"],
            strict=True,
        )
    )
    print(
        f"ready to ask (a transport built against openai's client built): {ready:+.0f} ms "
        f"(median of {args.repeat} paired runs); openai is imported when the first transport "
        "is built, so this is what a user's first call pays beyond openai's own"
    )
    shares = {
        flag: median[f"`assistant-bridge {flag}`"] / openai_ms for flag in ("--help", "--version")
    }
    missed: list[str] = []
    print()
    verdict = "met" if added <= BUDGET_MS else "missed"
    if added > BUDGET_MS:
        missed.append("first import")
    print(
        f"target: the first import at most {BUDGET_MS:.0f} ms over openai: "
        f"{verdict} ({added:+.0f} ms)"
    )
    print(
        f"aim (not gated by --check): ready to ask at most {BUDGET_MS:.0f} ms over openai's "
        f"client: {'met' if ready <= BUDGET_MS else 'missed'} ({ready:+.0f} ms)"
    )
    for flag, share in shares.items():
        ok = share < CLI_SHARE
        if not ok:
            missed.append(flag)
        print(
            f"target: `assistant-bridge {flag}` under {CLI_SHARE:.0%} of openai: "
            f"{'met' if ok else 'missed'} ({share:.0%})"
        )
    print("\nloaded by each (of " + ", ".join(HEAVY) + "):")
    print(f"  import assistant_bridge: {', '.join(loaded('import assistant_bridge')) or 'none'}")
    print(f"  {FIRST_IMPORT}: {', '.join(loaded(FIRST_IMPORT)) or 'none'}")
    for flag in ("--help", "--version"):
        heavy = cli_loaded(flag)
        if "openai" in heavy or "assistant_bridge.testing._emulator" in heavy:
            missed.append(f"{flag} loads {heavy}")
        print(f"  assistant-bridge {flag}: {', '.join(heavy) or 'none'}")
    print("\nslowest of our modules in the first import (-X importtime, cumulative):")
    for micros, name in slowest(FIRST_IMPORT, 8):
        print(f"  {micros / 1000:7.1f} ms  {name}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
