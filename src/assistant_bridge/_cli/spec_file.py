"""``assistant-bridge spec``: an assistant object, exported or fetched, as a spec file."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from assistant_bridge._cli.arguments import require_key

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Declare ``spec`` and its options."""
    spec = sub.add_parser(
        "spec", help="turn an assistant object into a spec file (.toml or .json) to keep in code"
    )
    source = spec.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-json", help="an assistant object as exported, or the API's list")
    source.add_argument(
        "--assistant-id", help="fetch it from the server OPENAI_API_KEY and OPENAI_BASE_URL name"
    )
    spec.add_argument("-o", "--output", required=True, help="the spec file to write")
    spec.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    spec.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Turn an assistant object (a JSON file, or fetched by id) into a spec file."""
    from assistant_bridge import AssistantSpec, OpenAITransport
    from assistant_bridge.exceptions import ConfigurationError

    if Path(args.output).exists() and not args.force:
        msg = f"{args.output} exists: pass --force to overwrite it, or choose another -o FILE"
        raise ConfigurationError(msg)
    if args.from_json:
        try:
            with open(args.from_json, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            msg = f"Cannot read assistant JSON from {args.from_json}: {exc}"
            raise ConfigurationError(msg) from None
        if isinstance(data, dict) and data.get("object") == "list":
            data = (data.get("data") or [{}])[0]
    else:
        require_key(os.environ, "spec --assistant-id")
        with OpenAITransport.from_env() as transport:
            data = dict(transport.get_assistant(args.assistant_id).raw)
    spec = AssistantSpec.from_assistant_json(data)
    spec.save(args.output)
    out.write(f"wrote {args.output}: {spec.name!r} on {spec.model}, {len(spec.tools)} tool(s)\n")
    return 0
