"""Write pip constraints from a Keep checkout's poetry.lock: every locked package at its version.

Keep pins its dependencies with Poetry; CI installs Keep with pip, so the lock's pins become a
constraints file (``pip install -c``) and pip installs exactly what Keep's lock resolved. Usage:
``python scripts/keep_constraints.py KEEP_DIR [--groups main,dev] > constraints.txt``.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path


def constraints(lock: Path, groups: set[str]) -> list[str]:
    """``name==version`` for each package of the lock in one of ``groups``, sorted by name."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    lines = {
        f"{package['name']}=={package['version']}"
        for package in data["package"]
        if groups & set(package.get("groups", ["main"]))
        and package.get("source", {}).get("type") in (None, "legacy")
    }
    return sorted(lines, key=str.lower)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("keep_dir", type=Path, help="a Keep checkout (holds poetry.lock)")
    parser.add_argument("--groups", default="main", help="lock groups, comma-separated")
    args = parser.parse_args()
    lock = args.keep_dir / "poetry.lock"
    if not lock.is_file():
        sys.exit(f"no poetry.lock in {args.keep_dir}")
    pins = constraints(lock, set(args.groups.split(",")))
    sys.stdout.write(f"# pins of {lock.name} in {args.keep_dir.name}, groups {args.groups}\n")
    sys.stdout.write("".join(f"{pin}\n" for pin in pins))


if __name__ == "__main__":
    main()
