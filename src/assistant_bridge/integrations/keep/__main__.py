"""``python -m assistant_bridge.integrations.keep install``: add the provider to Keep.

Run it with the Python that runs Keep (its venv, or inside its container image); it copies the
``openaiassistant`` provider into Keep's package and prints where.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.integrations.keep._install import install_provider


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and install; 0 on success, 1 with the reason on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m assistant_bridge.integrations.keep",
        description="Add the openaiassistant provider to the Keep of this Python environment.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="copy the provider into Keep's package")
    install.add_argument(
        "--providers-dir",
        type=Path,
        help="Keep's keep/providers folder (default: found in this environment)",
    )
    args = parser.parse_args(argv)
    try:
        target = install_provider(args.providers_dir)
    except (ConfigurationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"installed the openaiassistant provider: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
